"""Task data: visible/hidden halves, normal forms for dedup, entry renaming, plain-data round trip."""

import time

import pytest

from azr_jax.azr.config import AZRConfig
from azr_jax.azr.grounding import executor_config, validate_proposals
from azr_jax.azr.tasks import (InductionTask, Proposal, TaskType, Triplet, identity_triplet, normalise_input,
                               normalise_program, rename_entry_to_f)
from azr_jax.executor import ExecutorService


def test_task_type_values():
    assert [t.value for t in TaskType] == ["code_o", "code_i", "code_f"]
    assert TaskType("code_i") is TaskType.ABDUCTION and TaskType.INDUCTION.executor_name == "induction"


def test_identity_seed():
    t = identity_triplet()
    assert t == Triplet("def f(a):\n    return a", "'Hello world'", "'Hello world'")


def test_normal_forms():
    a = "def f(a):\n    # comment\n\n    return a+1\n"
    b = 'def f(a):   return a + 1'
    assert normalise_program(a) == normalise_program(b)
    assert normalise_program("def f(:\n  x") == "def f(:\n  x"  # unparsable: as is
    assert normalise_input("1,[2 ,3], 'x'") == normalise_input(' 1, [2, 3], "x" ') == "1, [2, 3], 'x'"
    assert normalise_input("a=1, *b") == normalise_input("*b, a = 1") == "*b, a=1"
    assert normalise_input("1) + (2") == "1) + (2"  # not an argument list: stripped text
    assert Triplet(a, "1,2", "3").key() == Triplet(b, "1, 2", "4").key()


def test_normalising_hostile_text_is_bounded():
    for text in ("(" * 100_000, "1+" * 50_000 + "1", "x" * 200_000, "\x00", "\ud800"):
        start = time.perf_counter()
        assert type(normalise_program(text)) is str
        assert type(normalise_input(text)) is str
        assert time.perf_counter() - start < 2.0


def test_induction_halves_and_validation():
    t = InductionTask("def f(a):\n    return a", tuple("0123456789"), tuple("0123456789"), "m")
    assert t.num_visible == 5 and t.visible[0] == ("0", "0") and t.hidden == tuple(zip("56789", "56789"))
    with pytest.raises(ValueError):
        InductionTask("p", ("1",), ("1",), "m")
    with pytest.raises(ValueError):
        InductionTask("p", ("1", "2"), ("1",), "m")
    with pytest.raises(ValueError):
        InductionTask("p", ["1", "2"], ("1", "2"), "m")


def test_round_trip():
    t = Triplet("def f(a):\n    return a", "1", "1")
    assert Triplet.from_dict(t.to_dict()) == t
    i = InductionTask("def f(a):\n    return a", ("1", "2"), ("1", "2"), "msg")
    assert InductionTask.from_dict(i.to_dict()) == i


def test_rename_entry_to_f():
    code = "def solve(n):\n    return n if n < 2 else solve(n - 1) + solve(n - 2)"
    renamed = rename_entry_to_f(code)
    assert "def f(n)" in renamed and "f(n - 1) + f(n - 2)" in renamed and "solve" not in renamed
    keep = ["def f(a):\n    return a", "def g(f):\n    return f", "def g(a):\n    return a\ndef h(b):\n    return b",
            "def g(a:", "class A:\n    pass"]
    for code in keep:
        assert rename_entry_to_f(code) == code


# A method named like the entry, called through `self`, beside calls of the entry from a method body.
METHOD_BESIDE_ENTRY = """
class Box:
    def process(self, x):
        return x + 1

    def run(self, x):
        return self.process(x) * process(x - 1)

def process(x):
    return 1 if x < 1 else Box().run(x)
"""

# (program, the renamed program as ast.unparse prints it); the input is dedented and stripped.
RENAMES = [
    pytest.param(METHOD_BESIDE_ENTRY, """
        class Box:

            def process(self, x):
                return x + 1

            def run(self, x):
                return self.process(x) * f(x - 1)

        def f(x):
            return 1 if x < 1 else Box().run(x)""", id="method-beside-entry"),
    pytest.param("""
        def process(items):
            def process(x):
                return x * 2
            return [process(i) for i in items]""", """
        def f(items):

            def process(x):
                return x * 2
            return [process(i) for i in items]""", id="nested-def-shadows"),
    pytest.param("""
        class A:
            def run(self, process):
                return process(1)
            def go(self):
                process = 3
                return process
            def again(self):
                return process(2)
        def process(n):
            return n""", """
        class A:

            def run(self, process):
                return process(1)

            def go(self):
                process = 3
                return process

            def again(self):
                return f(2)

        def f(n):
            return n""", id="parameter-and-local-shadow"),
    pytest.param("""
        class A:
            def swap(self):
                global process
                process = len
        def process(n):
            g = lambda process=process: process(n)
            return g() + sum((process(k) for k in range(n)))
        result = process(3)""", """
        class A:

            def swap(self):
                global f
                f = len

        def f(n):
            g = lambda process=f: process(n)
            return g() + sum((f(k) for k in range(n)))
        result = f(3)""", id="global-lambda-default-generator"),
    pytest.param("""
        async def run(n):
            return await run(n - 1)""", """
        async def f(n):
            return await f(n - 1)""", id="async-recursion"),
]


@pytest.mark.parametrize("code,expected", RENAMES)
def test_rename_follows_python_scoping(code, expected):
    import textwrap

    assert rename_entry_to_f(textwrap.dedent(code).strip()) == textwrap.dedent(expected).strip()


@pytest.mark.parametrize("code", [
    "import math as process\ndef process(n):\n    return n",
    "def process(n):\n    return n\nclass A:\n    y = process(1)\n    def process(self):\n        return 0",
    "def process(n):\n    return [(process := k) for k in range(n)]",
    "def process(n):\n    try:\n        return n\n    except ValueError as f:\n        return 0",
])
def test_rename_leaves_unfollowed_scoping_alone(code):
    assert rename_entry_to_f(code) == code


def test_renamed_method_program_runs_in_the_executor():
    config = AZRConfig(timeout_s=1.0, memory_mb=256)
    with ExecutorService(executor_config(config, pool_size=1, tmp_mb=16, worker_grace_s=3.0)) as service:
        [outcome] = validate_proposals(service, [Proposal(TaskType.DEDUCTION, METHOD_BESIDE_ENTRY, input="2")],
                                       config)
    assert outcome.valid, outcome
    # f(2) = Box().run(2) = (2 + 1) * f(1) = 3 * ((1 + 1) * f(0)) = 3 * 2 * 1
    assert outcome.task.output == "6" and "def f(x)" in outcome.task.program
