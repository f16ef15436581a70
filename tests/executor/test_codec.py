"""The wire format carries exactly the plain builtin types and refuses everything else."""

import math
import struct

import pytest

from azr_jax.executor.codec import BadFrame, NotPlain, TooLarge, decode, encode

VALUES = [None, True, False, 0, -1, 255, -129, 10**400, -(10**400), 0.0, -0.0, 1.5, float("inf"), float("-inf"),
          1 + 2j, complex(float("nan"), -0.0), "", "héllo", "\ud800x", b"", b"\xff\x00", [], (), (1,), [1, (2, [3])],
          {1, "a", (2, 3)}, frozenset({1, 2}), {}, {"a": [1], (1, 2): {3: None}}, set(), frozenset()]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_round_trip_keeps_exact_types(value):
    back = decode(encode(value))
    assert type(back) is type(value)
    assert repr(back) == repr(value)


def test_nan_and_negative_zero_bits_survive():
    nan_back = decode(encode(float("nan")))
    assert math.isnan(nan_back)
    assert math.copysign(1.0, decode(encode(-0.0))) == -1.0


class SneakyInt(int):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("value", [SneakyInt(1), [SneakyInt(1)], {"k": object()}, type("S", (str,), {})("x"),
                                   lambda: 1, {1: bytearray(b"x")}])
def test_subclasses_and_objects_are_refused(value):
    with pytest.raises(NotPlain):
        encode(value)


def test_cycles_and_depth_are_refused():
    x = []
    x.append(x)
    with pytest.raises(NotPlain):
        encode(x)


def test_budget():
    with pytest.raises(TooLarge):
        encode("x" * 1000, max_bytes=100)
    with pytest.raises(TooLarge):
        encode(list(range(10**6)), max_bytes=10_000)


@pytest.mark.parametrize("data", [b"", b"i", b"i\x00\x00\x00\x05\x01", b"N" + b"N", b"?", b"l\xff\xff\xff\xff",
                                  b"S\x00\x00\x00\x01l\x00\x00\x00\x00",  # a list inside a set: unhashable
                                  b"s\x00\x00\x00\x01\xff", b"d\x00\x00\x00\x01l\x00\x00\x00\x00N",
                                  b"l" + struct.pack(">I", 1) * 200])
def test_malformed_frames_are_refused(data):
    with pytest.raises(BadFrame):
        decode(data)
