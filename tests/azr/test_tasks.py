"""Task data: visible/hidden halves, normal forms for dedup, entry renaming, plain-data round trip."""

import time

import pytest

from azr_jax.azr.tasks import (InductionTask, TaskType, Triplet, identity_triplet, normalise_input,
                               normalise_program, rename_entry_to_f)


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
