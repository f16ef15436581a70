"""Claims a block of sandbox uids for one service, so that two services on a host never share a uid.

Seccomp lets a job call kill(), and the kernel lets it signal every process of its own uid: if two services
(two trainers on a host, tests run in parallel) ran jobs as the same uids, one service's job could kill the
other's jobs. So each service claims a block of `uid_block_size` uids, and worker i runs its jobs as
uid first + i.

The claim is an exclusive flock on `<uid_lock_dir>/block-<k>.lock`. The kernel drops a flock when the
last descriptor to it closes, and the descriptor is held by the service and inherited by its workers: the
claim lasts while any of them lives (a worker finishing its last job after its service was killed still
holds it), and a dead owner's claim frees itself, with no pid file to go stale. The pid written into the
file is for people only. Lock files are never deleted: a file unlinked while locked could be recreated
and locked again by another service while the first still holds the old one. A block is also skipped
while any process runs under one of its uids (one left by a service that used no locks, say).
"""

from __future__ import annotations

import fcntl
import os
import stat

from azr_jax.executor.config import ExecutorConfig


class NoFreeBlock(RuntimeError):
    pass


class UidBlock:
    """A claimed block: `uids` (a range) and the descriptor `fd` that holds the claim."""

    def __init__(self, index: int, uids: range, fd: int) -> None:
        self.index, self.uids, self.fd = index, uids, fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # the claim ends when the workers' inherited copies close too
            self.fd = -1


def claim(config: ExecutorConfig) -> UidBlock:
    """The first free block; raises NoFreeBlock if every block is claimed or in use."""
    directory = _lock_dir(config.uid_lock_dir)
    busy = _uids_in_use()
    for k in range(config.uid_blocks):
        uids = range(config.sandbox_uid_base + k * config.uid_block_size,
                     config.sandbox_uid_base + (k + 1) * config.uid_block_size)
        fd = os.open(os.path.join(directory, f"block-{k}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
                     0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if any(uid in uids for uid in busy):  # checked under the lock: no cooperating service can start one now
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return UidBlock(k, uids, fd)
    raise NoFreeBlock(f"all {config.uid_blocks} sandbox uid blocks under {directory} are claimed or in use")


def _lock_dir(path: str) -> str:
    """Creates the lock directory if needed, and refuses one that someone else could tamper with."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise PermissionError(f"{path} must be a directory owned by uid {os.geteuid()} and writable only by it "
                              "(anyone who can delete its lock files can make two services share uids)")
    return path


def _uids_in_use() -> set:
    """Every uid (real, effective, saved, filesystem) of every live process (a zombie can do nothing). Read
    from status, not from the owner of /proc/<pid>, which shows as root for a process that is not dumpable."""
    uids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    fields = dict(line.split(":", 1) for line in f if line.startswith(("State:", "Uid:")))
            except OSError:
                continue  # exited meanwhile
            if "Uid" in fields and not fields["State"].strip().startswith("Z"):
                uids.update(int(x) for x in fields["Uid"].split())
    return uids
