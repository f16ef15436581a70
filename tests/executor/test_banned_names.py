"""A banned module's or builtin's name is refused only where it may mean that module or builtin (issue 21, 1).

One table of programs, judged three ways: by the AST check alone, by the service (a proposal's validation and an
induction answer, which go through the same check in a sandboxed child) and by the public batch CLI.
"""

import json

import pytest

from azr_jax.executor import CheckJob, ValidateJob
from azr_jax.executor.config import DEFAULT_BANNED_ATTRIBUTES as A, DEFAULT_BANNED_MODULES as M
from azr_jax.executor.config import DEFAULT_BANNED_NAMES as N
from azr_jax.executor.static_checks import Rejected, check_banned, input_call, parse_program

from test_cli import cli

# Honest programs: every banned name here is a variable of the function that reads it. Input 3.
HONEST = {
    "local_time": ("def f(x):\n    time = 0\n    for i in range(x):\n        time += i\n    return time", "3"),
    "parameter_code": ("def f(code):\n    return code * 2", "6"),
    "tuple_target": ("def f(x):\n    io, gc, signal = x, x + 1, x + 2\n    return [io, gc, signal]", "[3, 4, 5]"),
    "types_list": ("def f(x):\n    types = [type(v).__name__ for v in (x, 'a')]\n    return types", "['int', 'str']"),
    "comprehension_target": ("def f(x):\n    return [time * 2 for time in range(x)]", "[0, 2, 4]"),
    "builtin_shadowed": ("def f(x):\n    open, input = x, -x\n    return open - input", "6"),
    "walrus": ("def f(x):\n    if (random := x % 2):\n        return random\n    return 0", "1"),
    "walrus_in_comprehension": ("def f(x):\n    ys = [(time := v) for v in range(x)]\n    return ys + [time]", "[0, 1, 2, 2]"),
    "closure": ("def f(x):\n    calendar = {1: 'jan'}\n    def g(k):\n        return calendar.get(k, '?')\n"
                "    return g(1) + g(x)", "'jan?'"),
    "nonlocal": ("def f(x):\n    code = 0\n    def bump():\n        nonlocal code\n        code += x\n"
                 "    bump()\n    bump()\n    return code", "6"),
    "for_and_with_as": ("class Box:\n    def __enter__(self):\n        return 5\n    def __exit__(self, *a):\n"
                        "        return False\ndef f(x):\n    with Box() as sys:\n        pass\n"
                        "    for os in range(x):\n        pass\n    return sys + os", "7"),
    "except_as": ("def f(x):\n    try:\n        return 1 // (x - 3)\n    except ZeroDivisionError as logging:\n"
                  "        return type(logging).__name__", "'ZeroDivisionError'"),
    "import_as": ("def f(x):\n    from collections import Counter as hashlib\n    return hashlib('aab')['a'] + x", "5"),
    "lambda_parameter": ("def f(x):\n    g = lambda eval: eval * 2\n    return g(x)", "6"),
    "method_parameter": ("class Clock:\n    def tick(self, time):\n        return time + 1\n"
                         "def f(x):\n    return Clock().tick(x)", "4"),
    "class_in_function": ("def f(x):\n    datetime = x\n    class C:\n        when = datetime\n    return C.when", "3"),
}

# Real uses of a banned module or builtin, and the attribute escapes the filter exists for.
REAL_USES = {
    "import_inside": "def f(x):\n    import time\n    return time.time()",
    "from_import": "from random import randint\ndef f(x):\n    return randint(0, x)",
    "unbound_module": "def f(x):\n    time.sleep(0)\n    return x",
    "open": "def f(x):\n    return open('/etc/passwd').read()",
    "eval_in_nested": "def f(x):\n    def g():\n        return eval('x')\n    return g()",
    "getattr_escape": "def f(x):\n    return getattr(x, '__cl' + 'ass__')",
    "default_argument": "def f(x, reader=open):\n    return reader",
    "parameter_default_of_same_name": "def f(x, open=open):\n    return open",
    "decorator": "@exec\ndef f(x):\n    return x",
    "comprehension_reads_builtin": "def f(x):\n    return [compile for _ in range(x)]",
    "global_declared": "def f(x):\n    global open\n    open = x\n    return open",
    "class_body": "class C:\n    vars = 1\n    seen = vars\ndef f(x):\n    return x",
    "attribute_escape": "def f(x):\n    return x.__class__.__bases__",
    "builtins_name": "def f(x):\n    return __builtins__",
}

# Honest but refused on purpose: at module level a variable falls back to the builtin until it is set (and a
# function may `del` a global), so only a function's own variables are trusted.
MODULE_LEVEL = {
    "module_constant": "time = 0\ndef f(x):\n    return x + time",
    "set_after_use": "x = open('/etc/passwd')\nopen = 3\ndef f(y):\n    return y",
}


def verdict(code):
    try:
        check_banned(parse_program(code, 20_000), M, N, A)
    except Rejected as e:
        return e.status
    return "ok"


@pytest.mark.parametrize("name", sorted(HONEST))
def test_honest_names_pass_the_check(name):
    assert verdict(HONEST[name][0]) == "ok"


@pytest.mark.parametrize("name", sorted(REAL_USES) + sorted(MODULE_LEVEL))
def test_real_uses_are_refused(name):
    assert verdict({**REAL_USES, **MODULE_LEVEL}[name]) == "banned"


def test_inputs_follow_the_same_rule():
    input_call("[open for open in range(3)], (lambda time: time)(1)", 4096, M, N, A)
    for text in ("open", "[time for t in range(2)]", "(lambda: eval)()"):
        with pytest.raises(Rejected) as e:
            input_call(text, 4096, M, N, A)
        assert e.value.status == "banned"


def test_service_validates_and_checks_them(service):
    """Proposals (validated twice, under two hash seeds) and induction answers through real sandboxes."""
    names = sorted(HONEST)
    jobs = [ValidateJob("deduction", HONEST[n][0], ("3",), id=n) for n in names]
    jobs += [CheckJob("induction", HONEST[n][0], answer_code=HONEST[n][0], inputs=("3",), id=("answer", n))
             for n in names]
    bad = sorted(REAL_USES) + sorted(MODULE_LEVEL)
    every_bad = {**REAL_USES, **MODULE_LEVEL}
    jobs += [ValidateJob("abduction", every_bad[n], ("3",), id=("bad", n)) for n in bad]
    jobs += [CheckJob("induction", HONEST["parameter_code"][0], answer_code=every_bad[n], inputs=("3",),
                      id=("bad answer", n)) for n in bad]
    results = {r.id: r for r in service.run_batch(jobs)}
    assert {n: (results[n].status, results[n].output) for n in names} == {n: ("ok", HONEST[n][1]) for n in names}
    assert all(results[("answer", n)].correct for n in names), [results[("answer", n)] for n in names]
    assert {n: results[("bad", n)].status for n in bad} == {n: "banned" for n in bad}
    assert {n: (results[("bad answer", n)].status, results[("bad answer", n)].correct) for n in bad} == \
        {n: ("banned", False) for n in bad}


def test_batch_cli_judges_them_alike():
    lines = [{"id": n, "kind": "validate", "task": "deduction", "code": code, "input": "3"}
             for n, (code, _) in HONEST.items()]
    lines += [{"id": n, "kind": "validate", "task": "deduction", "code": code, "input": "3"}
              for n, code in REAL_USES.items()]
    lines.append({"id": "input", "kind": "validate", "task": "deduction", "code": HONEST["parameter_code"][0],
                  "input": "[code for code in 'ab']"})
    code, out = cli("batch", stdin="\n".join(json.dumps(x) for x in lines) + "\n")
    got = {o["id"]: (o["status"], o.get("output")) for o in out}
    assert code == 0
    assert {n: got[n] for n in HONEST} == {n: ("ok", HONEST[n][1]) for n in HONEST}
    assert {n: got[n][0] for n in REAL_USES} == {n: "banned" for n in REAL_USES}
    assert got["input"] == ("ok", "['a', 'b', 'a', 'b']")
