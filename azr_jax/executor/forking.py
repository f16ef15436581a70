"""fork() for a worker, without CPython's after-fork bookkeeping in the child.

`os.fork` brackets the C call with interpreter bookkeeping: in the parent it takes and releases the import
lock; in the child (PyOS_AfterFork_Child) it re-creates the GIL, the runtime's locks and the thread-state
list, and runs the at-fork hooks modules registered. The repairs exist for what *other threads* may have
left mid-way (a lock held, a thread state without a thread). Each write touches memory shared with the
worker, a copy-on-write fault per page: ~70 faults in the child before its first line of Python, against
~29 when libc's fork() is called straight, through a ctypes.PyDLL function (which keeps the GIL across the
call, so the child returns holding it, as the parent does).

The shortcut is sound in a process with one thread and no at-fork hooks, which is what a worker is: it
starts no thread, and its own modules register no hook. `choose_fork` checks both, after the worker's
pre-imports (a configured module may register a hook, as `random` does to reseed each child), and
returns os.fork when either check fails.
"""

from __future__ import annotations

import ctypes
import os

_hooks_registered = False
_register_at_fork = os.register_at_fork


def _recording_register_at_fork(**hooks) -> None:
    global _hooks_registered
    _hooks_registered = True
    _register_at_fork(**hooks)


def watch_at_fork_hooks() -> None:
    """Call before importing what may register at-fork hooks (the configured pre-imports)."""
    os.register_at_fork = _recording_register_at_fork


def choose_fork():
    """libc's fork() when this process has one thread and no at-fork hook was registered since
    `watch_at_fork_hooks`, else os.fork. Both return 0 in the child and the child's pid in the parent."""
    os.register_at_fork = _register_at_fork
    if _hooks_registered or len(os.listdir("/proc/self/task")) != 1:
        return os.fork
    libc_fork = ctypes.PyDLL(None, use_errno=True).fork
    libc_fork.restype = ctypes.c_int
    libc_fork.argtypes = ()

    def fork() -> int:
        pid = libc_fork()
        if pid < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"fork: {os.strerror(errno)}")
        return pid

    return fork
