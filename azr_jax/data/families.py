"""Named families of small Python programs in the style of AZR tasks, drawn from a seeded generator.

Each family turns a `random.Random` into a `ProgramSpec`: the source of one `def f(...)` and a sampler of
inputs for it (argument lists as written inside `f(...)`). Constants, operators, names and shapes vary
with the seed, so one family yields many distinct programs of the same kind. Values stay small (ints
below 100, lists of up to 6 items, words of up to 7 letters) so that a model of a few million parameters
can follow them.

`HELDOUT_FAMILY` composes the pieces of two training families (a filter and a map in one comprehension)
and is never drawn for training: it exists only for the held-out evaluation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

INT_NAMES = ("x", "n", "k", "a", "num", "value")
LIST_NAMES = ("xs", "nums", "items", "values", "arr", "data")
STR_NAMES = ("s", "text", "word", "name", "line")
ITEM_NAMES = ("v", "x", "item", "e", "t")
ACC_NAMES = ("total", "acc", "result", "out", "res")
LETTERS = "abcdefgh"


@dataclass(frozen=True)
class ProgramSpec:
    """A program's source and a sampler of inputs for it (an argument list, e.g. "[1, 2], 3")."""

    family: str
    source: str
    sample_input: Callable[[random.Random], str]


def _int_arg(rng: random.Random, low: int = 0, high: int = 20) -> int:
    return rng.randint(low, high)


def _list_arg(rng: random.Random, low: int = 0, high: int = 9, min_len: int = 2, max_len: int = 6) -> list:
    return [rng.randint(low, high) for _ in range(rng.randint(min_len, max_len))]


def _word_arg(rng: random.Random, min_len: int = 3, max_len: int = 7) -> str:
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(min_len, max_len)))


def _affine(rng: random.Random, var: str) -> str:
    """An expression like `x * 3 + 2`, `x - 4` or `x % 5`: one or two small-constant operations."""
    op1 = rng.choice(("+", "-", "*", "%", "//"))
    c1 = rng.randint(2, 9)
    expr = f"{var} {op1} {c1}"
    if rng.random() < 0.5:
        op2 = rng.choice(("+", "-")) if op1 in ("*", "%", "//") else "*"
        expr = f"({expr}) {op2} {rng.randint(2, 9)}" if op2 == "*" else f"{expr} {op2} {rng.randint(1, 9)}"
    return expr


def _condition(rng: random.Random, var: str) -> str:
    kind = rng.choice(("mod", "gt", "lt"))
    if kind == "mod":
        m = rng.randint(2, 4)
        return f"{var} % {m} == {rng.randint(0, m - 1)}"
    return f"{var} {'>' if kind == 'gt' else '<'} {rng.randint(2, 7)}"


def arith(rng: random.Random) -> ProgramSpec:
    v = rng.choice(INT_NAMES)
    if rng.random() < 0.5:
        body = f"    return {_affine(rng, v)}"
    else:
        t = rng.choice(("y", "m", "tmp"))
        body = f"    {t} = {_affine(rng, v)}\n    return {_affine(rng, t)}"
    return ProgramSpec("arith", f"def f({v}):\n{body}", lambda r: repr(_int_arg(r)))


def branch(rng: random.Random) -> ProgramSpec:
    v = rng.choice(INT_NAMES)
    source = (f"def f({v}):\n    if {_condition(rng, v)}:\n        return {_affine(rng, v)}\n"
              f"    return {_affine(rng, v)}")
    return ProgramSpec("branch", source, lambda r: repr(_int_arg(r)))


_STRING_OPS = (
    lambda s, r: f"{s}.upper()",
    lambda s, r: f"{s}[::-1]",
    lambda s, r: f"{s}[{r.randint(1, 3)}:]",
    lambda s, r: f"{s}[:{r.randint(1, 4)}]",
    lambda s, r: f"{s} + {r.choice(LETTERS)!r}",
    lambda s, r: f"{r.choice(LETTERS)!r} + {s}",
    lambda s, r: f"{s}.replace({r.choice(LETTERS)!r}, {r.choice(LETTERS)!r})",
    lambda s, r: f"{s} * 2",
)


def string_ops(rng: random.Random) -> ProgramSpec:
    v = rng.choice(STR_NAMES)
    first, second = rng.sample(range(len(_STRING_OPS)), 2)
    if rng.random() < 0.5:
        body = f"    return {_STRING_OPS[first](v, rng)}"
    else:
        body = f"    {v} = {_STRING_OPS[first](v, rng)}\n    return {_STRING_OPS[second](v, rng)}"
    return ProgramSpec("string_ops", f"def f({v}):\n{body}", lambda r: repr(_word_arg(r)))


def _collect(rng: random.Random, xs: str, x: str, value: str, cond: str | None) -> str:
    """`def f(xs)` collecting `value` for each `x` of `xs` (where `cond` holds): a comprehension or, as
    often, a loop that appends."""
    where = f" if {cond}" if cond else ""
    if rng.random() < 0.5:
        return f"def f({xs}):\n    return [{value} for {x} in {xs}{where}]"
    out = rng.choice(ACC_NAMES)
    append = f"{out}.append({value})"
    body = f"        if {cond}:\n            {append}\n" if cond else f"        {append}\n"
    return f"def f({xs}):\n    {out} = []\n    for {x} in {xs}:\n{body}    return {out}"


def list_map(rng: random.Random) -> ProgramSpec:
    xs, x = rng.choice(LIST_NAMES), rng.choice(ITEM_NAMES)
    source = _collect(rng, xs, x, _affine(rng, x), None)
    return ProgramSpec("list_map", source, lambda r: repr(_list_arg(r)))


def list_filter(rng: random.Random) -> ProgramSpec:
    xs, x = rng.choice(LIST_NAMES), rng.choice(ITEM_NAMES)
    source = _collect(rng, xs, x, x, _condition(rng, x))
    return ProgramSpec("list_filter", source, lambda r: repr(_list_arg(r)))


def list_reduce(rng: random.Random) -> ProgramSpec:
    xs, x, acc = rng.choice(LIST_NAMES), rng.choice(ITEM_NAMES), rng.choice(ACC_NAMES)
    kind = rng.choice(("sum", "count", "max", "builtin"))
    if kind == "sum":
        source = (f"def f({xs}):\n    {acc} = {rng.randint(0, 3)}\n    for {x} in {xs}:\n"
                  f"        {acc} += {_affine(rng, x) if rng.random() < 0.5 else x}\n    return {acc}")
    elif kind == "count":
        source = (f"def f({xs}):\n    {acc} = 0\n    for {x} in {xs}:\n        if {_condition(rng, x)}:\n"
                  f"            {acc} += 1\n    return {acc}")
    elif kind == "max":
        source = (f"def f({xs}):\n    {acc} = {xs}[0]\n    for {x} in {xs}:\n        if {x} > {acc}:\n"
                  f"            {acc} = {x}\n    return {acc}")
    else:
        fn = rng.choice(("sum", "max", "min", "len", "sorted"))
        source = f"def f({xs}):\n    return {fn}({xs})"
    return ProgramSpec("list_reduce", source, lambda r: repr(_list_arg(r)))


def dict_count(rng: random.Random) -> ProgramSpec:
    s, ch, d = rng.choice(STR_NAMES), rng.choice(("c", "ch", "letter")), rng.choice(("counts", "seen", "d"))
    if rng.random() < 0.5:
        source = (f"def f({s}):\n    {d} = {{}}\n    for {ch} in {s}:\n        {d}[{ch}] = {d}.get({ch}, 0) + 1\n"
                  f"    return {d}")
        return ProgramSpec("dict_count", source, lambda r: repr(_word_arg(r)))
    words = rng.choice(("words", "names", "keys"))
    w = rng.choice(("w", "k", "word"))
    value = rng.choice((f"len({w})", f"{w}[0]", f"{w}.upper()", f"{w}[::-1]"))
    source = f"def f({words}):\n    return {{{w}: {value} for {w} in {words}}}"
    return ProgramSpec("dict_count", source,
                       lambda r: repr([_word_arg(r, 2, 4) for _ in range(r.randint(1, 3))]))


def tuple_pair(rng: random.Random) -> ProgramSpec:
    a, b = rng.sample(("a", "b", "x", "y", "p", "q"), 2)
    parts = [f"{a} + {b}", f"{a} - {b}", f"{a} * {b}", f"{b}", f"{a}", f"max({a}, {b})", f"min({a}, {b})",
             f"{a} * {rng.randint(2, 5)}"]
    first, second = rng.sample(parts, 2)
    source = f"def f({a}, {b}):\n    return ({first}, {second})"
    return ProgramSpec("tuple_pair", source, lambda r: f"{_int_arg(r, 0, 12)}, {_int_arg(r, 0, 12)}")


def string_loop(rng: random.Random) -> ProgramSpec:
    s, ch, out = rng.choice(STR_NAMES), rng.choice(("c", "ch", "letter")), rng.choice(("out", "res", "result"))
    chars = "".join(sorted(rng.sample(LETTERS, rng.randint(2, 4))))
    then = rng.choice((f"{ch}.upper()", f"{ch} * 2", repr(rng.choice(LETTERS)), "''"))
    otherwise = rng.choice((ch, f"{ch}.upper()", repr(rng.choice(LETTERS))))
    source = (f"def f({s}):\n    {out} = ''\n    for {ch} in {s}:\n        if {ch} in {chars!r}:\n"
              f"            {out} += {then}\n        else:\n            {out} += {otherwise}\n    return {out}")
    return ProgramSpec("string_loop", source, lambda r: repr(_word_arg(r)))


def helper_call(rng: random.Random) -> ProgramSpec:
    g, v = rng.choice(("g", "step", "helper", "twist")), rng.choice(("v", "y", "z"))
    helper = f"    def {g}({v}):\n        return {_affine(rng, v)}\n"
    if rng.random() < 0.5:
        x = rng.choice(INT_NAMES)
        source = f"def f({x}):\n{helper}    return {g}({g}({x}))"
        return ProgramSpec("helper_call", source, lambda r: repr(_int_arg(r, 0, 15)))
    xs, x = rng.choice(LIST_NAMES), rng.choice(ITEM_NAMES)
    source = f"def f({xs}):\n{helper}    return [{g}({x}) for {x} in {xs}]"
    return ProgramSpec("helper_call", source, lambda r: repr(_list_arg(r)))


def list_slice(rng: random.Random) -> ProgramSpec:
    xs = rng.choice(LIST_NAMES)
    i = rng.randint(1, 3)
    expr = rng.choice((f"{xs}[{i}:] + {xs}[:{i}]", f"{xs}[::2]", f"{xs}[::-1]", f"{xs}[1:-1]",
                       f"sorted({xs})[::-1]", f"{xs} + [{xs}[0]]", f"[{xs}[-1]] + {xs}[:-1]"))
    return ProgramSpec("list_slice", f"def f({xs}):\n    return {expr}", lambda r: repr(_list_arg(r)))


def filter_map(rng: random.Random) -> ProgramSpec:
    """Held out: a map and a filter in one comprehension, e.g. [x * 2 for x in xs if x % 3 == 0]."""
    xs, x = rng.choice(LIST_NAMES), rng.choice(ITEM_NAMES)
    source = f"def f({xs}):\n    return [{_affine(rng, x)} for {x} in {xs} if {_condition(rng, x)}]"
    return ProgramSpec("filter_map", source, lambda r: repr(_list_arg(r)))


TRAIN_FAMILIES: dict[str, Callable[[random.Random], ProgramSpec]] = {
    f.__name__: f for f in (arith, branch, string_ops, list_map, list_filter, list_reduce, dict_count,
                            tuple_pair, string_loop, helper_call, list_slice)
}
HELDOUT_FAMILY = "filter_map"
ALL_FAMILIES = {**TRAIN_FAMILIES, HELDOUT_FAMILY: filter_map}
