"""A seccomp deny-list written as raw BPF and installed with prctl: no libseccomp needed.

A job has no business creating processes or threads, executing files, opening sockets, tracing or
reading other processes, changing namespaces or mounts, or using kernel interfaces that sidestep
seccomp (io_uring) or widen the attack surface (bpf, userfaultfd, perf, keys). Any of these kills the
job with SIGSYS, which the worker reports as `banned`. Changing a file's metadata (mode, owner, extended
attributes, times) fails with EPERM instead: Landlock does not cover it, and without root a job has the
user's own uid, so `os.chmod(<any of the user's files>, 0o777)` would otherwise work. Everything else is
allowed: the remaining limits (uid, rlimits, Landlock, no network) hold without help from this filter.
"""

from __future__ import annotations

import ctypes
import os
import struct

_DENIED = (
    "fork", "vfork", "clone", "clone3", "execve", "execveat", "ptrace", "process_vm_readv",
    "process_vm_writev", "socket", "socketpair", "mount", "umount2", "pivot_root", "chroot", "unshare",
    "setns", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct", "quotactl",
    "personality", "pidfd_getfd", "kcmp", "name_to_handle_at", "open_by_handle_at", "syslog",
    "vhangup", "migrate_pages", "move_pages", "open_tree", "move_mount", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr",
    # x86_64 only (absent from the generic table aarch64 uses):
    "ioperm", "iopl", "modify_ldt", "uselib",
)
_REFUSED = (  # EPERM: file metadata, which Landlock leaves alone
    "fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat", "setxattr", "lsetxattr", "fsetxattr",
    "removexattr", "lremovexattr", "fremovexattr", "setxattrat", "removexattrat", "utimensat",
    # x86_64 only:
    "chmod", "chown", "lchown", "utime", "utimes", "futimesat",
)
# Too new for the kernel headers of some build hosts (tests cross-check the rest): kernel versions.
NEWER_THAN_HEADERS = {"fchmodat2": "6.6", "setxattrat": "6.13", "removexattrat": "6.13"}

# From <asm/unistd_64.h> and <asm-generic/unistd.h>; tests cross-check them against the headers.
SYSCALLS = {
    "x86_64": dict(
        fork=57, vfork=58, clone=56, clone3=435, execve=59, execveat=322, ptrace=101, process_vm_readv=310,
        process_vm_writev=311, socket=41, socketpair=53, mount=165, umount2=166, pivot_root=155, chroot=161,
        unshare=272, setns=308, bpf=321, perf_event_open=298, userfaultfd=323, io_uring_setup=425,
        io_uring_enter=426, io_uring_register=427, keyctl=250, add_key=248, request_key=249, kexec_load=246,
        kexec_file_load=320, init_module=175, finit_module=313, delete_module=176, reboot=169, swapon=167,
        swapoff=168, acct=163, quotactl=179, personality=135, ioperm=173, iopl=172, modify_ldt=154,
        pidfd_getfd=438, kcmp=312, name_to_handle_at=303, open_by_handle_at=304, syslog=103, uselib=134,
        vhangup=153, migrate_pages=256, move_pages=279, open_tree=428, move_mount=429, fsopen=430,
        fsconfig=431, fsmount=432, fspick=433, mount_setattr=442,
        chmod=90, fchmod=91, chown=92, fchown=93, lchown=94, utime=132, setxattr=188, lsetxattr=189,
        fsetxattr=190, removexattr=197, lremovexattr=198, fremovexattr=199, utimes=235, fchownat=260,
        futimesat=261, fchmodat=268, utimensat=280, fchmodat2=452, setxattrat=463, removexattrat=466),
    "aarch64": dict(
        clone=220, clone3=435, execve=221, execveat=281, ptrace=117, process_vm_readv=270,
        process_vm_writev=271, socket=198, socketpair=199, mount=40, umount2=39, pivot_root=41, chroot=51,
        unshare=97, setns=268, bpf=280, perf_event_open=241, userfaultfd=282, io_uring_setup=425,
        io_uring_enter=426, io_uring_register=427, keyctl=219, add_key=217, request_key=218, kexec_load=104,
        kexec_file_load=294, init_module=105, finit_module=273, delete_module=106, reboot=142, swapon=224,
        swapoff=225, acct=89, quotactl=60, personality=92, pidfd_getfd=438, kcmp=272, name_to_handle_at=264,
        open_by_handle_at=265, syslog=116, vhangup=58, migrate_pages=238, move_pages=239, open_tree=428,
        move_mount=429, fsopen=430, fsconfig=431, fsmount=432, fspick=433, mount_setattr=442,
        setxattr=5, lsetxattr=6, fsetxattr=7, removexattr=14, lremovexattr=15, fremovexattr=16, fchmod=52,
        fchmodat=53, fchownat=54, fchown=55, utimensat=88, fchmodat2=452, setxattrat=463, removexattrat=466),
}
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32_BIT = 0x40000000  # x86_64 syscalls with this bit use the x32 ABI: another table, so refuse them all

_LD_W_ABS, _JEQ_K, _JGT_K, _JGE_K, _RET_K = 0x20, 0x15, 0x25, 0x35, 0x06
_RET_KILL_PROCESS, _RET_ALLOW, _RET_EPERM = 0x80000000, 0x7FFF0000, 0x00050000 | 1  # ERRNO | EPERM
_LEAF = 6  # runs of syscall numbers tested in a leaf of the search
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def build_filter(arch: str) -> bytes:
    """The BPF program (sock_filter array) for `arch`; KeyError if the arch is unknown."""
    actions = {n: _RET_KILL_PROCESS for name, n in SYSCALLS[arch].items() if name in _DENIED}
    actions.update({n: _RET_EPERM for name, n in SYSCALLS[arch].items() if name in _REFUSED})
    prog = [_insn(_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
            _insn(_JEQ_K, 1, 0, _AUDIT_ARCH[arch]),
            _insn(_RET_K, 0, 0, _RET_KILL_PROCESS),
            _insn(_LD_W_ABS, 0, 0, 0)]  # seccomp_data.nr
    if arch == "x86_64":
        prog += [_insn(_JGE_K, 0, 1, _X32_BIT), _insn(_RET_K, 0, 0, _RET_KILL_PROCESS)]
    return b"".join(prog + _search(_ranges(actions)))


def _ranges(actions: dict) -> list:
    """Runs of consecutive syscall numbers with the same action, as (first, last, action), sorted."""
    runs: list = []
    for n, action in sorted(actions.items()):
        if runs and runs[-1][1] == n - 1 and runs[-1][2] == action:
            runs[-1] = (runs[-1][0], n, action)
        else:
            runs.append((n, n, action))
    return runs


def _search(runs: list) -> list:
    """A binary search over (first, last, action) runs of syscall numbers; any other number is allowed.

    Short, because every child pays for its filter's length as the filter is attached (the kernel checks,
    converts and JIT-compiles it, then runs it once per syscall number of both ABIs for its allow-cache):
    about 0.75 us per instruction here, and a linear chain of 60 comparisons cost 0.3 ms per child."""
    if len(runs) <= _LEAF:
        # The tests, then one return per action: ALLOW (no match) first, then each action used here.
        actions = [_RET_ALLOW] + sorted({action for _, _, action in runs})
        tests = []  # (opcode, k, index of the action it returns if it matches, or None: a range's upper end)
        for first, last, action in runs:
            if first == last:
                tests.append((_JEQ_K, first, actions.index(action)))
            else:
                tests += [(_JGT_K, last, None), (_JGE_K, first, actions.index(action))]
        leaf = []
        for i, (op, k, action) in enumerate(tests):
            to_returns = len(tests) - i - 1  # instructions between this test and the first return
            if action is None:  # above the range's end: skip its lower-bound test
                leaf.append(_insn(op, 1, 0, k))
            else:
                leaf.append(_insn(op, to_returns + action, 0, k))
        return leaf + [_insn(_RET_K, 0, 0, action) for action in actions]
    mid = len(runs) // 2
    low, high = _search(runs[:mid]), _search(runs[mid:])
    return [_insn(_JGE_K, len(low), 0, runs[mid][0])] + low + high


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Seccomp:
    """A prepared filter; `install()` is called in each job's child, after the uid change."""

    def __init__(self) -> None:
        self.arch = os.uname().machine
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._program = ctypes.create_string_buffer(build_filter(self.arch))
        self._fprog = _SockFprog(len(self._program.raw) // 8, ctypes.addressof(self._program))
        # Resolved and built here, in the worker, so that a child's install() is two plain calls.
        self._prctl = self._libc.prctl
        self._fprog_ref = ctypes.byref(self._fprog)

    def install(self) -> None:
        """Attaches the filter to the calling thread; no_new_privs must be set (a fork inherits it)."""
        if self._prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, self._fprog_ref, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
