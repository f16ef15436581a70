"""Length-prefixed frames over pipes, between the service and its workers.

A frame's body is, by direction and kind: a codec encoding (the worker's start-up messages, `parse`
replies: whatever a worker sends is decoded with the plain-data codec or a fixed struct, never unpickled),
a `marshal` dump of a request from the service (trusted: only the service writes a worker's stdin; a C
decoder spares the worker Python work between forks), or an `outcomes.OBSERVATION` record."""

from __future__ import annotations

import os
import struct

from azr_jax.executor import codec

HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 28


def send(fd: int, message: object) -> None:
    send_body(fd, codec.encode(message, MAX_FRAME))


def send_body(fd: int, body: bytes) -> None:
    data = HEADER.pack(len(body)) + body
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def recv_blocking(fd: int) -> object | None:
    """The next frame, codec-decoded, or None at end of stream."""
    body = recv_body(fd)
    return None if body is None else codec.decode(body)


def recv_body(fd: int) -> bytes | None:
    """The next frame's body, or None at end of stream."""
    header = _read_exact(fd, HEADER.size)
    if header is None:
        return None
    body = _read_exact(fd, HEADER.unpack(header)[0])
    if body is None:
        raise codec.BadFrame("stream ended inside a frame")
    return body


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            if got:
                raise codec.BadFrame("stream ended inside a frame")
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class Reader:
    """Incremental frame splitter for a non-blocking reader: feed bytes, take whole frame bodies."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list:
        self._buf += data
        out = []
        while len(self._buf) >= HEADER.size:
            n = HEADER.unpack_from(self._buf)[0]
            if n > MAX_FRAME:
                raise codec.BadFrame("frame too large")
            if len(self._buf) < HEADER.size + n:
                break
            out.append(bytes(self._buf[HEADER.size:HEADER.size + n]))
            del self._buf[:HEADER.size + n]
        return out
