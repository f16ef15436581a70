"""Plain-data wire format: the only way values cross a process boundary in the executor.

Never pickle: unpickling runs code chosen by the sender. This format can only ever build the builtin
types listed below, checked with `type(x) is T` so that a subclass made by model code (an `int` whose
`__eq__` always says True) is refused instead of smuggled through.

Layout: one tag byte, then a payload. Lengths and counts are 4-byte big-endian unsigned ints.
  N None | T True | F False | i int (signed big-endian bytes) | f float (8-byte IEEE, keeps nan
  payloads and -0.0) | c complex (two doubles) | s str (UTF-8, surrogatepass) | b bytes |
  l list | t tuple | S set | Z frozenset | d dict (key, value, key, value, ...)
"""

from __future__ import annotations

import struct

MAX_DEPTH = 100
# Bound at import: a job's child encodes its result after model code ran, and model code may have patched
# `builtins.type` or `builtins.len`; restoring all of builtins instead would fault ~70 pages per job.
_type, _len = type, len

_LEN = struct.Struct(">I")
_F64 = struct.Struct(">d")
_C128 = struct.Struct(">dd")
_SEQ_TAGS = {list: b"l", tuple: b"t", set: b"S", frozenset: b"Z"}
_SEQ_TYPES = {b"l": list, b"t": tuple, b"S": set, b"Z": frozenset}
_COUNTED_TAGS = frozenset({b"i", b"s", b"b", b"d", *_SEQ_TYPES})


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
        out += b"d"
        out += _LEN.pack(_len(x))
        for k, v in x.items():
            _encode(k, depth + 1, out, max_bytes)
            _encode(v, depth + 1, out, max_bytes)
    else:
        raise NotPlain(f"type {t.__name__!r} is not plain data")
    if _len(out) > max_bytes:
        raise TooLarge(f"encoding exceeds {max_bytes} bytes")


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
