"""AST checks: program shape, banned modules/names/attributes, and the answer grammar."""

import pytest

from azr_jax.executor.config import DEFAULT_BANNED_ATTRIBUTES as A, DEFAULT_BANNED_MODULES as M
from azr_jax.executor.config import DEFAULT_BANNED_NAMES as N
from azr_jax.executor.static_checks import (Rejected, answer_call, answer_value, check_banned, entry_function,
                                            input_call, parse_program)


def program(code):
    tree = parse_program(code, 20_000)
    check_banned(tree, M, N, A)
    return entry_function(tree)


@pytest.mark.parametrize("code", ["import os\ndef f(x):\n    return x", "from sys import argv\ndef f(x):\n    return x",
                                  "import os.path as p\ndef f(x):\n    return x",
                                  "def f(x):\n    import random\n    return x", "def f(x):\n    return open('a')",
                                  "def f(x):\n    return eval('1')", "def f(x):\n    return ().__class__",
                                  "def f(x):\n    return f.__globals__", "def f(x):\n    return getattr(x, 'y')",
                                  "def f(x):\n    return __builtins__", "from . import a\ndef f(x):\n    return x",
                                  "def f(x):\n    return x.gi_frame.f_back", "def f(x):\n    return __import__('math')",
                                  "import importlib\ndef f(x):\n    return x", "def f(x):\n    return x.__subclasses__()"])
def test_banned(code):
    with pytest.raises(Rejected) as e:
        program(code)
    assert e.value.status == "banned"


@pytest.mark.parametrize("code", ["x = 1", "def f(x):\n    return x\ndef g(y):\n    return y", "def f():\n    return 1",
                                  "def f(x):\n    print(x)", "async def f(x):\n    return x", "def f(x) return",
                                  "def f(x):\n    def g():\n        return 1\n    g()"])
def test_shape(code):
    with pytest.raises(Rejected) as e:
        program(code)
    assert e.value.status == "syntax"


def test_accepted_programs_and_entry_name():
    assert program("import math\nclass P:\n    def __init__(self, a):\n        self.a = a\n"
                   "def solve(x, *rest):\n    return math.floor(P(x).a)") == "solve"
    assert program("from collections import Counter\ndef f(s):\n    return sorted(Counter(s).items())") == "f"


def test_inputs_may_be_expressions_but_not_banned():
    input_call("[i * i for i in range(3)], 'x'", 4096, M, N, A)
    with pytest.raises(Rejected):
        input_call("open('/etc/passwd')", 4096, M, N, A)


def test_answers_are_data_and_task_classes_only():
    answer_call("1, [2, 3], {'a': (4,)}", 4096, frozenset())
    answer_call("P(1, 2), float('nan')", 4096, frozenset({"P"}))
    answer_value("P(1, Q(2))", 4096, frozenset({"P", "Q"}))
    for bad in ["__import__('os')", "P(1).x", "g(1)", "[i for i in range(3)]", "x", "1 * 2", "P(*[1])", "...",
                "not 1", "(lambda: 1)()"]:
        with pytest.raises(Rejected):
            answer_call(bad, 4096, frozenset({"P"}))
