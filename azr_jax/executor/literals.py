"""Canonical reprs of plain data and a length-capped literal parser: the trusted text <-> value bridge.

`canonical_repr` gives every plain value one spelling, independent of hash seed (set items are sorted
by their own canonical repr) and readable back by `parse_literal`. `parse_literal` is `ast.literal_eval`
with a length cap applied *before* parsing (a 10 MB literal or `"(" * 10**6` never reaches the parser),
a depth cap, exact node checks, and the few calls a canonical repr needs: `float('nan')`,
`float('inf')`, `set()`, `frozenset(...)`, `complex(re, im)`, and the stdlib values the codec carries, spelled
as Python prints them: `Counter({'a': 2})`, `OrderedDict([('a', 1)])`, `defaultdict(int, {'a': 1})` (the
factory by name: `<class 'int'>` is not Python), `range(0, 5)` and a namedtuple `P(x=1, y=2)` (keywords only,
read as a codec.NamedTupleValue). Nothing here evaluates an expression.
"""

from __future__ import annotations

import ast
import math
from collections import Counter, OrderedDict, defaultdict

from azr_jax.executor.codec import FACTORIES, FACTORY_BY_NAME, RESERVED_CALLS, NamedTupleValue

MAX_DEPTH = 100


class LiteralError(ValueError):
    """The text is not a plain-data literal (or is too long / too deep)."""


def _canon_float(x: float) -> str:
    if math.isnan(x):
        return "float('nan')"
    if math.isinf(x):
        return "float('inf')" if x > 0 else "-float('inf')"
    return repr(x)


class TooLong(ValueError):
    """The canonical repr would exceed the caller's limit (or Python's int-to-str digit limit)."""


def canonical_repr(value: object, limit: int = 1 << 62) -> str:
    """One spelling per plain value; raises TooLong past `limit` characters, without building it all."""
    parts: list[str] = []
    size = 0

    def put(text: str) -> None:
        nonlocal size
        size += len(text)
        if size > limit:
            raise TooLong(f"repr longer than {limit} characters")
        parts.append(text)

    def items(values, sep: str = ", ") -> None:
        for i, v in enumerate(values):
            if i:
                put(sep)
            walk(v)

    def pairs(kv, inner: str, as_names: bool = False) -> None:
        for i, (k, x) in enumerate(kv):
            put(", " if i else "")
            put(k) if as_names else walk(k)
            put(inner)
            walk(x)

    def walk(v: object) -> None:
        t = type(v)
        if t is list:
            put("[")
            items(v)
            put("]")
        elif t is tuple:
            put("(")
            items(v)
            put(",)" if len(v) == 1 else ")")
        elif t is dict:
            put("{")
            pairs(v.items(), ": ")
            put("}")
        elif t is Counter or t is OrderedDict:
            if not v:
                put(t.__name__ + "()")
            elif t is Counter:
                put("Counter({")
                pairs(_most_common_first(v), ": ")
                put("})")
            else:
                put("OrderedDict([")
                items(v.items())
                put("])")
        elif t is defaultdict:
            put("defaultdict(" + _factory_name(v.default_factory) + ", {")
            pairs(v.items(), ": ")
            put("})")
        elif t is NamedTupleValue:
            put(v.name + "(")
            pairs(zip(v.fields, v.values), "=", as_names=True)
            put(")")
        elif t is set or t is frozenset:
            if not v:
                put("set()" if t is set else "frozenset()")
                return
            put("{" if t is set else "frozenset({")
            # Sorted by spelling: a set's iteration order depends on the hash seed, its repr must not.
            budget, spelled = limit - size, []
            for x in v:
                spelled.append(canonical_repr(x, budget))
                budget -= len(spelled[-1]) + 2
                if budget < 0:
                    raise TooLong(f"repr longer than {limit} characters")
            put(", ".join(sorted(spelled)))
            put("}" if t is set else "})")
        elif t is float:
            put(_canon_float(v))
        elif t is complex:
            if math.isfinite(v.real) and math.isfinite(v.imag):
                put(repr(v))
            else:
                put(f"complex({_canon_float(v.real)}, {_canon_float(v.imag)})")
        elif t is int:
            try:
                put(repr(v))
            except ValueError:  # more digits than sys.get_int_max_str_digits()
                raise TooLong("int too large to print") from None
        else:
            put(repr(v))  # None, bool, str, bytes, range: repr is already canonical

    walk(value)
    return "".join(parts)


def _most_common_first(counter: Counter) -> list:
    """A Counter's items as Python prints them: by count, highest first, ties in insertion order; in insertion
    order when the counts do not compare (Counter.__repr__ does the same)."""
    try:
        return sorted(counter.items(), key=lambda kv: kv[1], reverse=True)
    except TypeError:
        return list(counter.items())


def _factory_name(factory: object) -> str:
    return next(name for known, name in FACTORIES if factory is known)


def _number(node: ast.AST, depth: int) -> object:
    value = _convert(node, depth)
    if type(value) not in (int, float, complex):
        raise LiteralError("expected a number")
    return value


def _call(node: ast.Call, depth: int) -> object:
    if type(node.func) is not ast.Name or any(k.arg is None for k in node.keywords):
        raise LiteralError("only calls of a name, without **, can be literals")
    name, args = node.func.id, node.args
    if name not in RESERVED_CALLS:
        return _named_tuple(name, node, depth)
    if node.keywords:
        raise LiteralError(f"{name}() takes no keyword arguments in a literal")
    if name == "float" and len(args) == 1 and type(args[0]) is ast.Constant and type(args[0].value) is str:
        if args[0].value.strip().lower().lstrip("+-") not in ("nan", "inf", "infinity"):
            raise LiteralError("float() of a string is only a literal for nan/inf")
        return float(args[0].value)
    if name == "complex" and len(args) == 2:
        re, im = (_number(a, depth) for a in args)
        if type(re) is complex or type(im) is complex:
            raise LiteralError("complex() takes real parts")
        return complex(re, im)
    if name in ("set", "frozenset") and len(args) <= 1:
        items = _convert(args[0], depth) if args else ()
        if type(items) not in (list, tuple, set):
            raise LiteralError(f"{name}() takes a list, tuple or set literal")
        return set(items) if name == "set" else frozenset(items)
    if name == "range" and 1 <= len(args) <= 3:
        bounds = [_convert(a, depth) for a in args]
        if not all(type(b) is int for b in bounds) or (len(bounds) == 3 and bounds[2] == 0):
            raise LiteralError("range() takes ints and a step other than 0")
        return range(*bounds)
    return _mapping(name, args, depth)


def _mapping(name: str, args: list, depth: int) -> object:
    """Counter({...}), OrderedDict([(k, v), ...]) or OrderedDict({...}), defaultdict(<factory>, {...})."""
    if name == "defaultdict" and 1 <= len(args) <= 2:
        items = _convert(args[1], depth) if len(args) == 2 else {}
        if type(items) is not dict:
            raise LiteralError("defaultdict() takes a dict literal")
        return defaultdict(_factory(args[0]), items)
    if name in ("Counter", "OrderedDict") and len(args) <= 1:
        items = _convert(args[0], depth) if args else {}
        if type(items) is dict:
            return Counter(items) if name == "Counter" else OrderedDict(items)
        if name == "OrderedDict" and type(items) is list and all(type(p) is tuple and len(p) == 2 for p in items):
            try:
                return OrderedDict(items)
            except TypeError as e:  # an unhashable key
                raise LiteralError(str(e)) from None
    raise LiteralError(f"not a literal {name}() call")


def _factory(node: ast.AST) -> object:
    if type(node) is ast.Constant and node.value is None:
        return None
    if type(node) is ast.Name and node.id in FACTORY_BY_NAME:
        return FACTORY_BY_NAME[node.id]
    raise LiteralError("a defaultdict's factory must be None or a builtin or collections type, by name")


def _named_tuple(name: str, node: ast.Call, depth: int) -> NamedTupleValue:
    """`P(x=1, y=2)`: a namedtuple as its repr spells it, keywords only."""
    if node.args:
        raise LiteralError(f"call to {name!r} is not a literal (a namedtuple is spelled with keywords only)")
    try:
        return NamedTupleValue(name, tuple(k.arg for k in node.keywords),
                               tuple(_convert(k.value, depth) for k in node.keywords))
    except ValueError as e:
        raise LiteralError(str(e)) from None


def _convert(node: ast.AST, depth: int) -> object:
    if depth > MAX_DEPTH:
        raise LiteralError("literal nested too deeply")
    depth += 1
    t = type(node)
    if t is ast.Constant:
        if node.value is Ellipsis:
            raise LiteralError("... is not a value")
        return node.value
    if t is ast.Tuple or t is ast.List or t is ast.Set:
        items = [_convert(e, depth) for e in node.elts]
        try:
            return {ast.Tuple: tuple, ast.List: list, ast.Set: set}[t](items)
        except TypeError as e:
            raise LiteralError(str(e)) from None
    if t is ast.Dict:
        if any(k is None for k in node.keys):
            raise LiteralError("** in a dict literal")
        out = {}
        for k, v in zip(node.keys, node.values):
            try:
                out[_convert(k, depth)] = _convert(v, depth)
            except TypeError as e:
                raise LiteralError(str(e)) from None
        return out
    if t is ast.UnaryOp and type(node.op) in (ast.USub, ast.UAdd):
        value = _number(node.operand, depth)
        if type(value) is bool:
            raise LiteralError("sign on a bool")
        return -value if type(node.op) is ast.USub else +value
    if t is ast.BinOp and type(node.op) in (ast.Add, ast.Sub):
        left, right = _number(node.left, depth), _number(node.right, depth)
        if type(left) not in (int, float) or type(right) is not complex:
            raise LiteralError("only real +/- imaginary is a literal sum")
        return left + right if type(node.op) is ast.Add else left - right
    if t is ast.Call:
        return _call(node, depth)
    raise LiteralError(f"{t.__name__} is not a literal")


def _parse(text: str, max_chars: int) -> ast.AST:
    if type(text) is not str:
        raise LiteralError("not a string")
    if len(text) > max_chars:
        raise LiteralError(f"longer than {max_chars} characters")
    try:
        return ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise LiteralError(f"does not parse: {type(e).__name__}") from None


def parse_literal(text: str, max_chars: int) -> object:
    """The plain value a literal spells, or LiteralError."""
    tree = _parse(text, max_chars)
    try:
        return _convert(tree, 0)
    except RecursionError:
        raise LiteralError("literal nested too deeply") from None


def call_tree(args_text: str, max_chars: int) -> ast.Call:
    """Parses an argument list as AZR writes it (`1, [2, 3]`, `'abc'`, `x=1`) into the call `f(...)`.

    Parsing `f(<text>)` rather than `(<text>,)` keeps `(1, 2)` one tuple argument, as the call would;
    requiring the whole text to become one call to `f` refuses injections such as `1) + g(2`."""
    if type(args_text) is not str or len(args_text) > max_chars:
        raise LiteralError(f"arguments not a string of at most {max_chars} characters")
    return call_of_f(_parse(f"f({args_text}\n)", max_chars + 4))  # newline: a trailing comment cannot eat ')'


def call_of_f(tree: ast.AST) -> ast.Call:
    """`tree` itself if it is one call of `f` with plain arguments (no * or **), else LiteralError."""
    if type(tree) is not ast.Call or type(tree.func) is not ast.Name or tree.func.id != "f":
        raise LiteralError("not an argument list")
    if any(type(a) is ast.Starred for a in tree.args) or any(k.arg is None for k in tree.keywords):
        raise LiteralError("* or ** in an argument list")
    return tree


def parse_call_args(args_text: str, max_chars: int) -> tuple[tuple, dict]:
    """Plain (args, kwargs) for an argument list made only of literals, or LiteralError."""
    tree = call_tree(args_text, max_chars)
    try:
        args = tuple(_convert(a, 0) for a in tree.args)
        kwargs = {k.arg: _convert(k.value, 0) for k in tree.keywords}
    except RecursionError:
        raise LiteralError("literal nested too deeply") from None
    return args, kwargs
