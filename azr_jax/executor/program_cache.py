"""A worker's compile cache: programs its children compiled and checked, for later jobs with the same code.

Kept where no child can read it. A job's child is a copy of its worker, so anything the worker holds, a
job could find (through `gc` or frames when unchecked, through raw memory anyway): the cached programs
of other jobs, a task's gold program among them, would be there for an answer to copy. So the programs
live in one anonymous mapping marked MADV_DONTFORK, which no fork inherits, and the index holds only
hashes and offsets. A job's child gets its own program in its request and nothing of the others'.
"""

from __future__ import annotations

import collections
import mmap


class ProgramCache:
    """Up to `entries` program reports (bytes from a child) by (code, checks, unchecked-expression) key, in
    a ring of `arena_bytes`; least recently used first out, and whatever the ring overwrites."""

    def __init__(self, entries: int, arena_bytes: int) -> None:
        self.entries = entries
        self.arena = mmap.mmap(-1, arena_bytes) if entries else None
        if self.arena is not None:
            self.arena.madvise(mmap.MADV_DONTFORK)
        self.index: collections.OrderedDict = collections.OrderedDict()  # hash -> (offset, key len, length)
        self.top = 0  # where the next entry goes

    def get(self, key: tuple) -> bytes | None:
        h = hash(key)
        found = self.index.get(h)
        if found is None:
            return None
        offset, key_len, length = found
        if self.arena[offset:offset + key_len] != _key_bytes(key):  # another key with the same hash
            return None
        self.index.move_to_end(h)
        return self.arena[offset + key_len:offset + length]

    def put(self, key: tuple, program: bytes) -> None:
        if self.arena is None:
            return
        data = _key_bytes(key) + program
        if len(data) > len(self.arena):
            return
        if self.top + len(data) > len(self.arena):
            self.top = 0
        start, end = self.top, self.top + len(data)
        for h, (offset, _, length) in list(self.index.items()):  # entries the new one overwrites
            if offset < end and start < offset + length:
                del self.index[h]
        self.arena[start:end] = data
        h = hash(key)
        self.index[h] = (start, len(data) - len(program), len(data))
        self.index.move_to_end(h)  # a key put again keeps its old place in the order otherwise
        self.top = end
        while len(self.index) > self.entries:
            self.index.popitem(last=False)


def _key_bytes(key: tuple) -> bytes:
    code, checks, unchecked_expr = key
    return bytes([checks, unchecked_expr]) + code.encode("utf-8", "surrogatepass")
