"""Plain-data wire format: the only way values cross a process boundary in the executor.

Never pickle: unpickling runs code chosen by the sender. This format can only ever build the builtin
types listed below, checked with `type(x) is T` so that a subclass made by model code (an `int` whose
`__eq__` always says True) is refused instead of smuggled through.

Layout: one tag byte, then a payload. Lengths and counts are 4-byte big-endian unsigned ints.
  N None | T True | F False | i int (signed big-endian bytes) | f float (8-byte IEEE, keeps nan
  payloads and -0.0) | c complex (two doubles) | s str (UTF-8, surrogatepass) | b bytes |
  l list | t tuple | S set | Z frozenset | d dict (key, value, key, value, ...)
The deterministic stdlib values a program commonly returns, each as a tag followed by plain encodings:
  C Counter (a dict) | O OrderedDict (a dict, in the OrderedDict's order) | D defaultdict (the name of its
  factory, FACTORIES, then a dict) | r range (a tuple start, stop, step) | n namedtuple (NamedTupleValue: its
  type's name, a tuple of field names, a tuple of values)
A namedtuple's class is model code: it is read with type's and tuple's own slots, never its methods, and
carried as a NamedTupleValue; the other four are exact stdlib types, rebuilt as such.
"""

from __future__ import annotations

import keyword
import struct
from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass

MAX_DEPTH = 100
# Bound at import: a job's child encodes its result after model code ran, and model code may have patched
# `builtins.type` or `builtins.len`; restoring all of builtins instead would fault ~70 pages per job.
_type, _len, _set, _all, _iskeyword = type, len, set, all, keyword.iskeyword

_LEN = struct.Struct(">I")
_F64 = struct.Struct(">d")
_C128 = struct.Struct(">dd")
_SEQ_TAGS = {list: b"l", tuple: b"t", set: b"S", frozenset: b"Z"}
_SEQ_TYPES = {b"l": list, b"t": tuple, b"S": set, b"Z": frozenset}
_COUNTED_TAGS = frozenset({b"i", b"s", b"b", b"d", *_SEQ_TYPES})
_WRAPPED_DICTS = {Counter: b"C", OrderedDict: b"O"}
# The factories a defaultdict may have, named as its canonical repr names them; any other (a lambda, a model
# class) has no stable value. A list of pairs: a factory is matched by identity, never hashed.
FACTORIES = ((None, "None"), (int, "int"), (float, "float"), (complex, "complex"), (str, "str"), (bytes, "bytes"),
             (bool, "bool"), (list, "list"), (tuple, "tuple"), (dict, "dict"), (set, "set"),
             (frozenset, "frozenset"), (Counter, "Counter"), (OrderedDict, "OrderedDict"))
FACTORY_BY_NAME = {name: factory for factory, name in FACTORIES}
# Names a namedtuple may not have: its canonical repr would read back as that call (literals.py).
RESERVED_CALLS = frozenset({"float", "complex", "set", "frozenset", "range", "Counter", "OrderedDict",
                            "defaultdict"})
# A namedtuple read without calling its class: type's own descriptors and tuple's own slots.
_type_bases = type.__dict__["__bases__"].__get__
_type_dict = type.__dict__["__dict__"].__get__
_type_name = type.__dict__["__name__"].__get__
_tuple_items = tuple.__getitem__
_ALL = slice(None)
_dict_items, _ordered_items = dict.items, OrderedDict.items


@dataclass(frozen=True)
class NamedTupleValue:
    """A namedtuple as plain data: its type's name, field names and values. Equal only to another with the
    same three (equality.py), whatever the model's class says of itself."""

    name: str
    fields: tuple
    values: tuple

    def __post_init__(self) -> None:
        names = (self.name, *self.fields) if _type(self.fields) is tuple else ()
        if not names or not _all(_type(n) is str and n.isidentifier() and not _iskeyword(n) for n in names):
            raise ValueError("a namedtuple's name and fields must be identifiers")
        if self.name in RESERVED_CALLS or _len(_set(self.fields)) != _len(self.fields):
            raise ValueError("a namedtuple's name is reserved or its fields repeat")
        if _type(self.values) is not tuple or _len(self.values) != _len(self.fields):
            raise ValueError("a namedtuple needs one value per field")


class NotPlain(TypeError):
    """The value holds something other than the exact builtin types the codec carries."""


class TooLarge(ValueError):
    """The encoding would exceed the caller's byte budget."""


class BadFrame(ValueError):
    """The bytes are not a well-formed encoding (truncated, trailing data, unknown tag, ...)."""


def encode(value: object, max_bytes: int = 1 << 26) -> bytes:
    """Encodes plain data; raises NotPlain for any other type and TooLarge past `max_bytes`."""
    out = bytearray()
    _encode(value, 0, out, max_bytes)
    return bytes(out)


def _encode(x: object, depth: int, out: bytearray, max_bytes: int) -> None:
    # One module-level function appending to one bytearray: in a job's child, where every object touched
    # costs a copy-on-write fault, this touches fewer pages than closures over a list of parts.
    if depth > MAX_DEPTH:
        raise NotPlain("nesting deeper than %d (or a cycle)" % MAX_DEPTH)
    t = _type(x)
    if t is int:
        data = x.to_bytes((x.bit_length() + 8) // 8, "big", signed=True)
        out += b"i"
        out += _LEN.pack(_len(data))
        out += data
    elif t is str:
        data = x.encode("utf-8", "surrogatepass")
        out += b"s"
        out += _LEN.pack(_len(data))
        out += data
    elif x is None:
        out += b"N"
    elif t is bool:
        out += b"T" if x else b"F"
    elif t is float:
        out += b"f"
        out += _F64.pack(x)
    elif t is complex:
        out += b"c"
        out += _C128.pack(x.real, x.imag)
    elif t is bytes:
        out += b"b"
        out += _LEN.pack(_len(x))
        out += x
    elif t in _SEQ_TAGS:
        out += _SEQ_TAGS[t]
        out += _LEN.pack(_len(x))
        for item in x:
            _encode(item, depth + 1, out, max_bytes)
    elif t is dict:
        _encode_pairs(_dict_items(x), _len(x), depth, out, max_bytes)
    else:
        _encode_stdlib(x, t, depth, out, max_bytes)
    if _len(out) > max_bytes:
        raise TooLarge(f"encoding exceeds {max_bytes} bytes")


def _encode_pairs(pairs, n: int, depth: int, out: bytearray, max_bytes: int) -> None:
    out += b"d"
    out += _LEN.pack(n)
    for k, v in pairs:
        _encode(k, depth + 1, out, max_bytes)
        _encode(v, depth + 1, out, max_bytes)


def _encode_stdlib(x: object, t: type, depth: int, out: bytearray, max_bytes: int) -> None:
    """The stdlib values besides the builtins (tags C, O, D, r, n); NotPlain for anything else."""
    if t in _WRAPPED_DICTS:
        out += _WRAPPED_DICTS[t]
        _encode_pairs((_ordered_items if t is OrderedDict else _dict_items)(x), _len(x), depth, out, max_bytes)
    elif t is defaultdict:
        out += b"D"
        _encode(_factory_name(x.default_factory), depth + 1, out, max_bytes)
        _encode_pairs(_dict_items(x), _len(x), depth, out, max_bytes)
    elif t is range:
        out += b"r"
        _encode((x.start, x.stop, x.step), depth + 1, out, max_bytes)
    else:
        value = x if t is NamedTupleValue else _named_tuple(x, t)
        out += b"n"
        _encode(value.name, depth + 1, out, max_bytes)
        _encode(value.fields, depth + 1, out, max_bytes)
        _encode(value.values, depth + 1, out, max_bytes)


def _factory_name(factory: object) -> str:
    for known, name in FACTORIES:
        if factory is known:
            return name
    raise NotPlain("a defaultdict whose factory is not a builtin or collections type")


def _named_tuple(x: object, t: type) -> NamedTupleValue:
    """A namedtuple (collections or typing) as plain data: a direct subclass of tuple with a `_fields` tuple,
    of the plain metaclass; its name, fields and items read from type's and tuple's own slots."""
    if _type(t) is not type or _type_bases(t) != (tuple,):
        raise NotPlain(f"type {_type_name(t)!r} is not plain data")
    try:
        return NamedTupleValue(_type_name(t), _type_dict(t).get("_fields"), _tuple_items(x, _ALL))
    except ValueError as e:
        raise NotPlain(str(e)) from None


def decode(data: bytes) -> object:
    """Decodes one value that must span all of `data`; raises BadFrame on anything malformed."""
    data = bytes(data)
    try:
        value, pos = _decode(data, 0, 0)
    except (struct.error, UnicodeDecodeError) as e:
        raise BadFrame(str(e)) from None
    if pos != _len(data):
        raise BadFrame("trailing bytes after the value")
    return value


def _take(data: bytes, pos: int, n: int) -> int:
    """End of the n bytes starting at pos; BadFrame if the frame is shorter."""
    if n > _len(data) - pos:
        raise BadFrame("truncated")
    return pos + n


def _decode(data: bytes, pos: int, depth: int) -> tuple:
    """(value, position after it). Module-level, on plain bytes: about twice as fast as closures over a
    memoryview, and the service decodes one frame per job."""
    if depth > MAX_DEPTH:
        raise BadFrame("nesting too deep")
    end = _take(data, pos, 1)
    tag = data[pos:end]
    if tag == b"N":
        return None, end
    if tag == b"T":
        return True, end
    if tag == b"F":
        return False, end
    if tag == b"f":
        pos, end = end, _take(data, end, 8)
        return _F64.unpack_from(data, pos)[0], end
    if tag == b"c":
        pos, end = end, _take(data, end, 16)
        re, im = _C128.unpack_from(data, pos)
        return complex(re, im), end
    if tag in _STDLIB_TAGS:
        return _decode_stdlib(tag, data, end, depth)
    if tag not in _COUNTED_TAGS:
        raise BadFrame(f"unknown tag {tag!r}")
    pos, end = end, _take(data, end, 4)
    n = _LEN.unpack_from(data, pos)[0]
    if tag == b"i":
        pos, end = end, _take(data, end, n)
        return int.from_bytes(data[pos:end], "big", signed=True), end
    if tag == b"s":
        pos, end = end, _take(data, end, n)
        return str(data[pos:end], "utf-8", "surrogatepass"), end
    if tag == b"b":
        pos, end = end, _take(data, end, n)
        return data[pos:end], end
    if tag in _SEQ_TYPES:
        if n > _len(data) - end:  # every item takes at least one byte: refuse absurd counts early
            raise BadFrame("count larger than the frame")
        items = []
        for _ in range(n):
            item, end = _decode(data, end, depth + 1)
            items.append(item)
        try:
            return _SEQ_TYPES[tag](items), end
        except TypeError as e:  # an unhashable item inside a set
            raise BadFrame(str(e)) from None
    # tag == b"d"
    if 2 * n > _len(data) - end:
        raise BadFrame("count larger than the frame")
    out = {}
    for _ in range(n):
        k, end = _decode(data, end, depth + 1)
        v, end = _decode(data, end, depth + 1)
        try:
            out[k] = v
        except TypeError as e:
            raise BadFrame(str(e)) from None
    return out, end


_STDLIB_TAGS = frozenset({b"C", b"O", b"D", b"r", b"n"})


def _decode_stdlib(tag: bytes, data: bytes, pos: int, depth: int) -> tuple:
    """(value, position after it) for the tags of _encode_stdlib; each checks the plain parts it is made of."""
    parts = []
    for _ in range({b"D": 2, b"n": 3}.get(tag, 1)):
        part, pos = _decode(data, pos, depth + 1)
        parts.append(part)
    kinds = [_type(p) for p in parts]
    if tag in (b"C", b"O") and kinds == [dict]:
        return (Counter if tag == b"C" else OrderedDict)(parts[0]), pos
    if tag == b"D" and kinds == [str, dict] and parts[0] in FACTORY_BY_NAME:
        return defaultdict(FACTORY_BY_NAME[parts[0]], parts[1]), pos
    if tag == b"r" and kinds == [tuple] and [_type(p) for p in parts[0]] == [int, int, int] and parts[0][2]:
        return range(*parts[0]), pos
    if tag == b"n" and kinds == [str, tuple, tuple]:
        try:
            return NamedTupleValue(*parts), pos
        except ValueError as e:
            raise BadFrame(str(e)) from None
    raise BadFrame(f"malformed {tag!r} value")
