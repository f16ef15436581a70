"""Arguments built without compiling the call must be the objects the compiled call makes (constant_calls.py).

The oracle is CPython itself: each call is compiled and evaluated with a recording `f`, and the two object
graphs are compared node by node: types, values, which positions share one object, a set's iteration order,
which strings are interned."""

import ctypes
import random
import sys

import pytest

from azr_jax.executor import constant_calls
from azr_jax.executor.constant_calls import call_arguments


@pytest.fixture(autouse=True)
def builder_on(request, monkeypatch):
    """Where interned strings are immortal (3.12) the worker builds no call (see the last two tests); the
    builder itself is compared with the compiler there all the same (this process may keep a few strings)."""
    if "gate" not in request.keywords:
        monkeypatch.setattr(constant_calls, "MORTAL_INTERNING", True)


def compiled_arguments(args_text: str):
    seen = []
    eval(compile(f"f({args_text}\n)", "<call>", "eval", dont_inherit=True), {"f": lambda *a, **k: seen.append((a, k))})
    return seen[0]


def interned(text: str) -> bool:
    """Whether `text` is interned, read from its state bits (PyASCIIObject: refcount, type, length, hash, then
    state, whose two low bits say interned); sys.intern would intern it as it asked."""
    return bool(ctypes.c_uint.from_address(id(text) + 32).value & 3)


def test_interned_reads_the_state_bits():
    fresh = "".join(["not yet ", "interned ", "anywhere"])
    assert interned("__name__") and not interned(fresh)


def graph(args_kwargs) -> list:
    """A description of the object graph: one entry per node, in walk order; shared objects get one index."""
    index: dict = {}
    out = []

    def walk(x):
        if id(x) in index:
            out.append(("same", index[id(x)]))
            return
        index[id(x)] = len(index)
        t = type(x)
        if t in (list, tuple):
            out.append((t.__name__, len(x)))
            for y in x:
                walk(y)
        elif t is dict:
            out.append(("dict", len(x)))
            for k, v in x.items():
                walk(k)
                walk(v)
        elif t is set:
            out.append(("set", len(x)))
            for y in x:  # iteration order is part of what a program sees
                walk(y)
        elif t is str:
            out.append(("str", x, interned(x)))
        else:
            out.append((t.__name__, repr(x)))

    args, kwargs = args_kwargs
    walk(args)
    walk(kwargs)
    return out


CASES = [
    "1000, 1000", "1000, 1000.0, True, 1", "(1, 2), (1, 2)", "[1000, 1000], [1000]", "'abc', 'abc'", "'a b', 'a b'",
    "'', '_', '__x1'", "'héllo', 'héllo'", "b'xy', b'xy'", "-0.0, 0.0, -0.0", "0, -0", "1e400, -1e400",
    "1+2j, 1+2j, -0.0-0j", "{1: 'a', 1.0: 'b', True: 'c'}", "{(1, 2): [1, 2], (1, 2): 3}", "{8, 16, 0, 24, 32, 40}",
    "{-1, -2, 7, 15, 23}", "{1, 1.0, True, 2}", "{(1, 2), (1, 2.0), 3}", "{'ab'}", "{'ab', 'cd'}", "[(1, 2), (1, 2)]",
    "((1, [2]), (1, [2]))", "[[1, 2], [1, 2]]", "x=1000, y=1000", "(1000, 1000), z=(1000, 1000)", "((), ())",
    "[1, 2, 3], (1, 2, 3)", "{'k': (1, 'k')}", "9999999999999999999999, 9999999999999999999999", "-(5), +5, --5",
    "[]", "", "{}", "{1: {2: {3: [4, (5, 6)]}}}", "'''x\ny'''", "'a' 'b', 'ab'",
]


@pytest.mark.parametrize("text", CASES)
def test_arguments_are_the_objects_the_compiled_call_makes(text):
    built, compiled = call_arguments(text, 10_000, whole_call=False), compiled_arguments(text)
    assert graph(built) == graph(compiled)


def _random_literal(rng: random.Random, depth: int) -> str:
    leaves = [lambda: str(rng.choice([0, 1, -1, 7, 256, 257, 1000, -1000, 2**70, 8, 16, 24, 32])),
              lambda: rng.choice(["0.0", "-0.0", "1.5", "-2.25", "1e300", "0.1"]),
              lambda: rng.choice(["'a'", "'ab'", "'a b'", "''", "'x_1'", "'é'", "b'q'"]),
              lambda: rng.choice(["None", "True", "False", "1+2j", "-3j"])]
    if depth > 3 or rng.random() < 0.4:
        return rng.choice(leaves)()
    kind = rng.choice(["tuple", "list", "dict", "set", "intset"])
    n = rng.randint(0, 5)
    if kind == "dict":
        keys = [rng.choice(leaves[:2])() for _ in range(n)]
        return "{" + ", ".join(f"{k}: {_random_literal(rng, depth + 1)}" for k in keys) + "}"
    if kind == "intset":
        return "{" + ", ".join(str(rng.choice([0, 8, 16, 24, 32, 40, 48, -1, -2, 5, 13])) for _ in range(n + 1)) + "}"
    if kind == "set":
        return "{" + ", ".join(rng.choice(leaves[:2])() for _ in range(n + 1)) + "}"
    items = [_random_literal(rng, depth + 1) for _ in range(n)]
    if kind == "tuple":
        return "(" + ", ".join(items) + ("," if n == 1 else "") + ")"
    return "[" + ", ".join(items) + "]"


def test_random_literals_match_the_compiler():
    rng = random.Random(4)
    checked = 0
    for _ in range(1500):
        text = ", ".join(_random_literal(rng, 0) for _ in range(rng.randint(1, 3)))
        try:
            compiled = compiled_arguments(text)
        except TypeError:  # an unhashable set item or dict key: the child reports it, we must decline
            assert call_arguments(text, 10_000, whole_call=False) is None
            continue
        built = call_arguments(text, 10_000, whole_call=False)
        assert built is not None, text
        assert graph(built) == graph(compiled), text
        checked += 1
    assert checked > 1000


@pytest.mark.parametrize("text", [
    "x", "len([1])", "set()", "float('nan')", "frozenset({1})", "*[1]", "**{}", "...", "-True", "1 + 2", "2j + 1",
    "{'a', 'b', 'c'}", "{('a',), 1, 2}", "[x for x in ()]", "1) + g(2", "'a'.upper()", "(1, [2], {3: x})",
    "x=1, x=2", "f'x'", "1 if 1 else 2", "__debug__",
])
def test_anything_but_literals_is_declined(text):
    assert call_arguments(text, 10_000, whole_call=False) is None


def test_whole_calls_and_caps():
    built = call_arguments("f(1000, k=[1000])", 100, whole_call=True)
    assert graph(built) == graph(compiled_arguments("1000, k=[1000]"))
    for text in ("g(1)", "f.x(1)", "f(1)(2)", "f(*a)", "(f)(1) + 1", 5, "f(" + "1, " * 100 + ")", "f(x=1, x=2)"):
        assert call_arguments(text, 100, whole_call=True) is None
    assert call_arguments("1" * 101, 100, whole_call=False) is None
    assert call_arguments("[" * 150 + "]" * 150, 10_000, whole_call=False) is None  # deeper than MAX_DEPTH


@pytest.mark.gate
def test_no_call_is_built_where_interning_is_immortal():
    built = call_arguments("[1, 'a']", 100, whole_call=False)
    assert (built is None) == (not constant_calls.MORTAL_INTERNING)
    known = {(3, 11): True, (3, 12): False, (3, 13): True}  # 3.12 made interned strings immortal, 3.13 undid it
    assert known.get(sys.version_info[:2], constant_calls.MORTAL_INTERNING) == constant_calls.MORTAL_INTERNING


@pytest.mark.gate
def test_the_worker_keeps_none_of_a_calls_strings():
    """Strings interned for a call die with it (else each job's strings would stay in the worker for good, and a
    later job could probe for them); where interning is immortal (3.12) every call is left to the child."""
    word = "".join(["never", "_seen_", "before_7c1e"])
    built = call_arguments(repr(word), 100, whole_call=False)
    if built is not None:
        assert interned(built[0][0])
    del built
    again = "".join(["never", "_seen_", "before_7c1e"])
    assert not interned(again) and sys.intern(again) is again  # no interned copy was left behind
