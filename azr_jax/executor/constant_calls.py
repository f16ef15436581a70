"""The arguments of a literal-only call `f(...)`, built as CPython's compiler builds them, so a job's child can
call `f` on them without compiling the call (worker.py parses them, before the fork, for jobs whose program it
has cached).

Compiling the call was the last compile in such a child: ~40 copy-on-write faults and ~0.3 ms of a ~3.5 ms run
job, most of it the compiler's first use in a fresh process (a checked AZR input or answer, with its AST checks:
~125 faults and ~0.7 ms). The arguments must be the very objects the compiled call
would have made, since a program can tell them apart (`a is b`, a set's iteration order, a string's identity):

  - equal constants are one object (the compiler merges them: `f(1000, 1000)` passes the same int twice, and
    two equal all-constant tuples are one tuple); -0.0 and 0.0 stay apart, as in `_PyCode_ConstantKey`;
  - ASCII identifier-like strings are interned, as code constants are;
  - a set display of more than two items is made from a frozenset constant (and a copy of it the compiler makes
    when it merges constants), which can order colliding items differently from inserting them in turn (such a
    set holding strings is left to the child: interning may make the compiler copy it once more);
  - lists, dicts and non-constant tuples are new objects, built in order.

The child then evaluates `f(*a, **k)` with `a` and `k` as that call's locals: the same frames (so recursion limits
fall where they would), `f` looked up in the program's globals. Only code that inspects its caller's frame can
tell (its locals are `a` and `k`, not the program's globals), which the checks of AZR jobs forbid.

Only literals are accepted: constants, tuples, lists, sets, dicts, signed numbers and `real +/- imaginary`.
Anything else (names, `set()`, `float('nan')`, `*args`) returns None, and the child compiles the call as before.
Tests compare every object graph built here with what `compile` and `eval` make (test_constant_calls.py).
"""

from __future__ import annotations

import ast
import math
import sys

from azr_jax.executor.literals import MAX_DEPTH, LiteralError, call_of_f, call_tree

_NUMBERS = (int, float, complex)
# Interning in the worker is harmless only if an interned string dies with its last reference (3.11, 3.13):
# 3.12 makes every interned string immortal, which would keep each job's strings in the worker for good (a leak,
# and a way for later jobs to probe them). The parser interns every identifier it reads, so there every call is
# left to the child.
MORTAL_INTERNING = sys.getrefcount(sys.intern("".join(["azr_jax", "_probe"]))) < (1 << 24)


class _NotConstant(Exception):
    """The call has something other than a literal in it."""


def call_arguments(text: object, max_chars: int, whole_call: bool) -> tuple[tuple, dict] | None:
    """(args, kwargs) for `f(<text>)`, or for `text` itself when `whole_call` (it must then be a call of `f`);
    None when the call is not made of literals only, or is malformed (the child then reports why)."""
    if not MORTAL_INTERNING:
        return None
    try:
        tree = _whole_call(text, max_chars) if whole_call else call_tree(text, max_chars)
        if len({k.arg for k in tree.keywords}) != len(tree.keywords):
            return None  # a repeated keyword parses, but does not compile (SyntaxError)
        merged: dict = {}
        args = tuple(_value(a, 0, merged) for a in tree.args)
        kwargs = {k.arg: _value(k.value, 0, merged) for k in tree.keywords}
    except (_NotConstant, LiteralError, SyntaxError, ValueError, TypeError, RecursionError, MemoryError,
            OverflowError):
        return None
    return args, kwargs


def _whole_call(text: object, max_chars: int) -> ast.Call:
    if type(text) is not str or len(text) > max_chars:
        raise _NotConstant
    # Not stripped, unlike literals._parse: the child compiles the text as it is (leading blanks fail there).
    return call_of_f(ast.parse(text, "<call>", "eval").body)


def _deeper(depth: int) -> int:
    if depth > MAX_DEPTH:
        raise _NotConstant  # deeper literals are left to the child (and keep the worker's recursion shallow)
    return depth + 1


def _value(node: ast.AST, depth: int, merged: dict) -> object:
    """The object the compiled expression would evaluate to; constants go through `merged`."""
    depth = _deeper(depth)
    t = type(node)
    if t is ast.List:
        return [_value(e, depth, merged) for e in node.elts]
    if t is ast.Dict:
        if any(k is None for k in node.keys):
            raise _NotConstant
        out = {}
        for k, v in zip(node.keys, node.values):
            key = _value(k, depth, merged)  # keys first, as BUILD_MAP evaluates them
            out[key] = _value(v, depth, merged)
        return out
    if t is ast.Set:
        items = [_value(e, depth, merged) for e in node.elts]
        if len(items) <= 2:  # BUILD_SET: inserted in order
            return set(items)
        if any(_has_str(x) for x in items):
            # The compiler may rebuild the frozenset once more as it interns its strings, depending on which
            # strings the process had interned before: not worth mimicking (such an order is seed-dependent).
            raise _NotConstant
        # A frozenset constant made from the items in order, rebuilt from its own order when the compiler
        # merges constants, then copied into a new set by SET_UPDATE (all of them hashable: else TypeError).
        return set(frozenset(tuple(frozenset(items))))
    return _constant(node, depth, merged)


def _constant(node: ast.AST, depth: int, merged: dict) -> object:
    """A constant the compiler would fold and merge: a literal, a signed number, a complex sum, a tuple of them."""
    depth = _deeper(depth)
    t = type(node)
    if t is ast.Constant:
        value = node.value
        if value is Ellipsis:
            raise _NotConstant
        if type(value) is str and _name_like(value):  # interned, as the compiler interns such constants
            value = sys.intern(value)
    elif t is ast.UnaryOp and type(node.op) in (ast.USub, ast.UAdd):
        operand = _constant(node.operand, depth, merged)
        if type(operand) not in _NUMBERS:  # -True folds to -1; keep to plain numbers
            raise _NotConstant
        value = -operand if type(node.op) is ast.USub else +operand
    elif t is ast.BinOp and type(node.op) in (ast.Add, ast.Sub):
        left, right = _constant(node.left, depth, merged), _constant(node.right, depth, merged)
        if type(left) not in (int, float) or type(right) is not complex:
            raise _NotConstant
        value = left + right if type(node.op) is ast.Add else left - right
    elif t is ast.Tuple:
        items = [_value(e, depth, merged) for e in node.elts]
        if not all(_is_constant(x) for x in items):
            return tuple(items)  # BUILD_TUPLE at run time: a new tuple, never merged
        value = tuple(items)
    else:
        raise _NotConstant
    return merged.setdefault(_key(value), value)


def _name_like(text: str) -> bool:
    """CPython's all_name_chars: ASCII letters, digits and underscores only (the empty string too)."""
    rest = text.replace("_", "")
    return text.isascii() and (rest.isalnum() or not rest)


def _has_str(value: object) -> bool:
    return type(value) is str or (type(value) is tuple and any(_has_str(x) for x in value))


def _is_constant(value: object) -> bool:
    t = type(value)
    return t in (int, float, complex, str, bytes, bool) or value is None or (
        t is tuple and all(_is_constant(x) for x in value))


def _key(value: object) -> tuple:
    """Equal for constants the compiler merges into one object (CPython's `_PyCode_ConstantKey`)."""
    t = type(value)
    if t is tuple:
        return (t, tuple(_key(x) for x in value))
    if t is float and value == 0.0 and math.copysign(1.0, value) < 0:
        return (t, value, None)
    if t is complex:  # tags for signed zeros: True both parts, False the imaginary part, None the real part
        real_negzero = value.real == 0.0 and math.copysign(1.0, value.real) < 0
        imag_negzero = value.imag == 0.0 and math.copysign(1.0, value.imag) < 0
        if real_negzero or imag_negzero:
            return (t, value, True if real_negzero and imag_negzero else (False if imag_negzero else None))
    return (t, value)
