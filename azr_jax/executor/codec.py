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


class NotPlain(TypeError):
    """The value holds something other than the exact builtin types the codec carries."""


class TooLarge(ValueError):
    """The encoding would exceed the caller's byte budget."""


class BadFrame(ValueError):
    """The bytes are not a well-formed encoding (truncated, trailing data, unknown tag, ...)."""


def encode(value: object, max_bytes: int = 1 << 26) -> bytes:
    """Encodes plain data; raises NotPlain for any other type and TooLarge past `max_bytes`."""
    out: list[bytes] = []
    append = out.append
    size = 0

    def enc(x: object, depth: int) -> None:
        nonlocal size
        if depth > MAX_DEPTH:
            raise NotPlain("nesting deeper than %d (or a cycle)" % MAX_DEPTH)
        t = _type(x)
        if t is int:
            data = x.to_bytes((x.bit_length() + 8) // 8, "big", signed=True)
            append(b"i" + _LEN.pack(_len(data)) + data)
            size += 5 + _len(data)
        elif t is str:
            data = x.encode("utf-8", "surrogatepass")
            append(b"s" + _LEN.pack(_len(data)) + data)
            size += 5 + _len(data)
        elif x is None:
            append(b"N")
            size += 1
        elif t is bool:
            append(b"T" if x else b"F")
            size += 1
        elif t is float:
            append(b"f" + _F64.pack(x))
            size += 9
        elif t is complex:
            append(b"c" + _C128.pack(x.real, x.imag))
            size += 17
        elif t is bytes:
            append(b"b" + _LEN.pack(_len(x)) + x)
            size += 5 + _len(x)
        elif t in _SEQ_TAGS:
            append(_SEQ_TAGS[t] + _LEN.pack(_len(x)))
            size += 5
            for item in x:
                enc(item, depth + 1)
        elif t is dict:
            append(b"d" + _LEN.pack(_len(x)))
            size += 5
            for k, v in x.items():
                enc(k, depth + 1)
                enc(v, depth + 1)
        else:
            raise NotPlain(f"type {t.__name__!r} is not plain data")
        if size > max_bytes:
            raise TooLarge(f"encoding exceeds {max_bytes} bytes")

    enc(value, 0)
    return b"".join(out)


def decode(data: bytes) -> object:
    """Decodes one value that must span all of `data`; raises BadFrame on anything malformed."""
    view = memoryview(data)
    pos = 0

    def take(n: int) -> memoryview:
        nonlocal pos
        if n > len(view) - pos:
            raise BadFrame("truncated")
        chunk = view[pos:pos + n]
        pos += n
        return chunk

    def count() -> int:
        return _LEN.unpack(take(4))[0]

    def dec(depth: int) -> object:
        if depth > MAX_DEPTH:
            raise BadFrame("nesting too deep")
        tag = bytes(take(1))
        if tag == b"N":
            return None
        if tag == b"T":
            return True
        if tag == b"F":
            return False
        if tag == b"i":
            return int.from_bytes(take(count()), "big", signed=True)
        if tag == b"f":
            return _F64.unpack(take(8))[0]
        if tag == b"c":
            re, im = _C128.unpack(take(16))
            return complex(re, im)
        if tag == b"s":
            return str(take(count()), "utf-8", "surrogatepass")
        if tag == b"b":
            return bytes(take(count()))
        if tag in _SEQ_TYPES:
            n = count()
            if n > len(view) - pos:  # every item takes at least one byte: refuse absurd counts early
                raise BadFrame("count larger than the frame")
            items = [dec(depth + 1) for _ in range(n)]
            try:
                return _SEQ_TYPES[tag](items)
            except TypeError as e:  # an unhashable item inside a set
                raise BadFrame(str(e)) from None
        if tag == b"d":
            n = count()
            if 2 * n > len(view) - pos:
                raise BadFrame("count larger than the frame")
            out = {}
            for _ in range(n):
                k = dec(depth + 1)
                try:
                    out[k] = dec(depth + 1)
                except TypeError as e:
                    raise BadFrame(str(e)) from None
            return out
        raise BadFrame(f"unknown tag {tag!r}")

    try:
        value = dec(0)
    except (struct.error, UnicodeDecodeError) as e:
        raise BadFrame(str(e)) from None
    if pos != len(view):
        raise BadFrame("trailing bytes after the value")
    return value
