"""Canonical reprs read back as the same value; the literal parser refuses code and bombs cheaply."""

import math

import pytest

from azr_jax.executor.literals import LiteralError, TooLong, canonical_repr, parse_call_args, parse_literal

CAP = 4096


@pytest.mark.parametrize("value", [1, -0.0, float("nan"), float("inf"), -float("inf"), 1e-300, 2j,
                                   complex(float("inf"), 1), "a'b\"c", "\ud800", b"\x00", (1,), (), [[]],
                                   {3, 1, 2}, frozenset({"b", "a"}), set(), frozenset(), {"b": 1, "a": {2}},
                                   True, None, 10**50])
def test_canonical_repr_reads_back(value):
    back = parse_literal(canonical_repr(value), CAP)
    assert type(back) is type(value)
    assert canonical_repr(back) == canonical_repr(value)


def test_canonical_repr_of_sets_ignores_iteration_order():
    a = {str(i) for i in range(50)}
    b = set(sorted(a, reverse=True))
    assert canonical_repr(a) == canonical_repr(b) == canonical_repr(frozenset(a))[len("frozenset("):-1]


class _Tripwire:
    def __repr__(self):
        raise AssertionError("canonical_repr walked past its limit")


def test_canonical_repr_limit_stops_early():
    with pytest.raises(TooLong):
        canonical_repr([1] * 1000 + [_Tripwire()], 400)  # must stop at the limit, never reach the tripwire
    with pytest.raises(TooLong):
        canonical_repr(10**5000, 10**6)  # beyond Python's int-to-str digit limit


@pytest.mark.parametrize("text", ["9**9**9", "__import__('os')", "f(1)", "x", "[1, 2][0]", "1 if 1 else 2", "...",
                                  "float('1.5')", "{**{}}", "lambda: 1", "(" * 10**6, "'" + "a" * 10**7 + "'",
                                  "[" * 300 + "]" * 300, "-" * 3000 + "1", "1" * 5000])
def test_parse_literal_refuses(text):
    with pytest.raises(LiteralError):
        parse_literal(text, CAP)


def test_parse_literal_values():
    assert parse_literal("-1.5", CAP) == -1.5
    assert math.isnan(parse_literal("float('nan')", CAP))
    assert parse_literal("1e999", CAP) == float("inf")
    assert parse_literal("-float('inf')", CAP) == -float("inf")
    assert parse_literal("1-2j", CAP) == 1 - 2j
    assert parse_literal("frozenset({1})", CAP) == frozenset({1})
    assert parse_literal("  [1, (2,)]\n", CAP) == [1, (2,)]


def test_call_args_keep_a_tuple_argument_whole():
    assert parse_call_args("(1, 2)", CAP) == (((1, 2),), {})
    assert parse_call_args("1, [2, 3], x='a'", CAP) == ((1, [2, 3]), {"x": "a"})
    assert parse_call_args("1 # comment", CAP) == ((1,), {})
    for bad in ["1) + g(2", "1), g(2", "*[1]", "**{}", "", "1; import os"]:
        if bad == "":
            assert parse_call_args(bad, CAP) == ((), {})
            continue
        with pytest.raises(LiteralError):
            parse_call_args(bad, CAP)
