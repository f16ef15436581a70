"""Landlock through raw syscalls: a job may read the interpreter's files and write only its own tmp.

The ruleset is built once per worker (paths opened with O_PATH, rules added) and each job's child only
calls `landlock_restrict_self`, which costs one syscall. On ABI >= 6 the ruleset also scopes signals
and abstract Unix sockets to the job itself, so it cannot signal the worker or its siblings even where
the uid change is unavailable; on ABI >= 4 it refuses TCP bind/connect as a second line behind seccomp.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # same on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_BITS_BY_ABI = {1: 13, 2: 14, 3: 15, 4: 15, 5: 16}  # REFER came in 2, TRUNCATE in 3, IOCTL_DEV in 5
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | (1 << 14) | (1 << 15)  # rights that apply to a file

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_syscall = _libc.syscall  # resolved once, in the worker (see sandbox.py)


def abi_version() -> int:
    """The kernel's Landlock ABI, or 0 when Landlock is missing or disabled."""
    v = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(int(v), 0)


class Ruleset:
    """Read (and execute) beneath `read_paths`, read and write beneath `write_paths`, nothing else."""

    def __init__(self, read_paths: list[str], write_paths: list[str]) -> None:
        self.abi = abi_version()
        if self.abi < 1:
            raise OSError("Landlock is not available on this kernel")
        fs_all = (1 << _FS_BITS_BY_ABI.get(self.abi, 16)) - 1
        attr = struct.pack("Q", fs_all)
        if self.abi >= 4:
            attr += struct.pack("Q", _NET_BIND_TCP | _NET_CONNECT_TCP)
        if self.abi >= 6:
            attr += struct.pack("Q", _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL)
        buf = ctypes.create_string_buffer(attr, len(attr))
        fd = _libc.syscall(_SYS_CREATE_RULESET, buf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
        if fd < 0:
            raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
        # Above the descriptors a job's child rebinds (0-3), so that rebinding can never clobber it.
        self.fd = fcntl.fcntl(int(fd), fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(int(fd))
        self._restrict_args = (ctypes.c_int(self.fd), ctypes.c_uint32(0))  # built once, not in every child
        read = EXECUTE | READ_FILE | READ_DIR
        for path in read_paths:
            self._allow(path, read)
        for path in write_paths:
            self._allow(path, fs_all)

    def _allow(self, path: str, access: int) -> None:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            if not os.path.isdir(path):
                access &= _FILE_ONLY
            rule = ctypes.create_string_buffer(struct.pack("=Qi", access, fd), 12)
            if _libc.syscall(_SYS_ADD_RULE, ctypes.c_int(self.fd), ctypes.c_int(_RULE_PATH_BENEATH), rule,
                             ctypes.c_uint32(0)) != 0:
                raise OSError(ctypes.get_errno(), f"landlock_add_rule({path})")
        finally:
            os.close(fd)

    def restrict_self(self) -> None:
        """Applies the ruleset to the calling process (and, irrevocably, to all it may ever become). The
        process must have no_new_privs set (a fork inherits it) or CAP_SYS_ADMIN."""
        if _syscall(_SYS_RESTRICT_SELF, *self._restrict_args) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
        os.close(self.fd)
