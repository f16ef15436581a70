"""The isolation a job's child runs under: set up once per worker, entered once per job.

Per worker (once, as the worker starts):
  - new pid, network, mount and IPC namespaces. The process the service spawned forks the worker proper,
    which is pid 1 of the new pid namespace: when it dies the kernel kills every job in it, a job can see
    and signal no process outside it, and the worker gets from its jobs only signals it handles (none);
  - no interface but a down loopback, so no job can reach any network; mounts made here are invisible to
    the host;
  - a private tmpfs (size-capped) holding the one directory jobs may write, emptied after every job;
  - the interpreter's import paths bind-mounted read-only inside that tmpfs, so a job can import stdlib
    modules even when the install lives under a directory the job's uid cannot enter (e.g. /root);
  - a Landlock ruleset (read the import paths and system libraries, write only the job directory), which
    the worker takes itself when it has a pid namespace, so that every child inherits it; else each child
    applies it;
  - no_new_privs, no supplementary groups, the zero rlimits (core, memlock, msgqueue), the job's working
    directory and environment: all inherited by each fork;
  - a seccomp filter, prepared so each child only has to attach it.
Per job (in the forked child, before any model code): new session and process group, rlimits (address
space, CPU, file size, open files, processes), an unprivileged uid of its own, seccomp; without a pid
namespace also the parent-death signal and Landlock.

Whatever the host cannot provide (not root, no user namespaces, old kernel) is skipped and listed in
`warnings`, which the service reports loudly once; `mechanisms` says what is really enforced.
"""

from __future__ import annotations

import ctypes
import math
import os
import resource
import signal
import sys

from azr_jax.executor import landlock, seccomp
from azr_jax.executor.config import ExecutorConfig

_CLONE_NEWNS, _CLONE_NEWUSER, _CLONE_NEWIPC, _CLONE_NEWNET = 0x20000, 0x10000000, 0x08000000, 0x40000000
_CLONE_NEWPID = 0x20000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 0x20, 0x1000, 0x4000, 1 << 18
_PR_SET_PDEATHSIG, _PR_SET_NO_NEW_PRIVS = 1, 38
_CAPABILITY_VERSION_3 = 0x20080522
_SYSTEM_LIBS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache")
_DEVICES_READ = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")

_libc = ctypes.CDLL(None, use_errno=True)
# Resolved here, in the worker: a CDLL resolves a function on first use and caches it in its own memory,
# so a function first used in a job's child would be looked up again (and copy-on-write faulted) per job.
_prctl, _capset = _libc.prctl, _libc.capset
_SIGKILL = int(signal.SIGKILL)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")


def _mount(source, target, fstype, flags: int, data) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


class Sandbox:
    """Owned by one worker; `enter()` is called in each child, `reset()` after each job."""

    def __init__(self, config: ExecutorConfig, uid: int | None) -> None:
        """`uid`: this worker's own uid from its service's claimed block; None when not root."""
        self.config = config
        self.warnings: list[str] = []
        self.mechanisms: dict[str, object] = {}
        self.worker_pid = self.host_pid = os.getpid()
        self.is_root = os.geteuid() == 0
        if self.is_root != (uid is not None):
            raise ValueError(f"sandbox uid {uid!r} given to a worker running as uid {os.geteuid()}")
        self.uid = uid
        self._namespaces()
        self.base = self._private_tmp()
        self.workdir = os.path.join(self.base, "job")
        os.mkdir(self.workdir, 0o700)
        if self.uid is not None:
            os.chown(self.workdir, self.uid, self.uid)
        os.chmod(self.base, 0o711)
        self.sys_path = self._import_paths()
        self._landlock()
        self._seccomp()
        # The job's working directory and environment, set here once rather than in every child: the
        # worker needs neither, and in a child they cost ~200 copy-on-write page faults (os.environ's
        # Python code writes to its own pages the first time it runs after a fork).
        os.chdir(self.workdir)
        os.environ.clear()
        os.environ.update(HOME=self.workdir, TMPDIR=self.workdir, LANG="C.UTF-8")
        self._inherited_by_jobs()
        self.mechanisms.update(uid=self.uid, rlimits=True, process_group_kill=True)
        if self.uid is None and self.mechanisms["pid_namespace"]:
            self.warnings.append("not root: jobs run under the service's own uid (no uid isolation; they cannot "
                                 "see or signal other processes, being alone in a pid namespace, but RLIMIT_NPROC "
                                 "counts all of that user's processes)")
        elif self.uid is None:
            self.warnings.append("not root: jobs run under the service's own uid (no uid isolation: a job can "
                                 "prlimit or renice any process of that user, the trainer included, and signal it "
                                 "unless Landlock ABI >= 6 scopes signals; RLIMIT_NPROC counts all of that user's "
                                 "processes)")

    # --- once per worker ---------------------------------------------------------------------------

    def _namespaces(self) -> None:
        flags = _CLONE_NEWNET | _CLONE_NEWNS | _CLONE_NEWIPC
        if not self.is_root:
            flags |= _CLONE_NEWUSER
        uid, gid = os.getuid(), os.getgid()
        self.mechanisms["pid_namespace"] = _libc.unshare(ctypes.c_int(flags | _CLONE_NEWPID)) == 0
        if not self.mechanisms["pid_namespace"]:
            why = os.strerror(ctypes.get_errno())
            if _libc.unshare(ctypes.c_int(flags)) != 0:
                self.warnings.append(f"unshare failed ({os.strerror(ctypes.get_errno())}): jobs share the "
                                     "host's network (seccomp still refuses sockets if active) and /tmp")
                self.mechanisms.update(network_namespace=False, mount_namespace=False)
                return
            self.warnings.append(f"no pid namespace ({why}): jobs can see the host's processes")
        if not self.is_root:  # map ourselves to root inside the new user namespace, to be allowed to mount
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"0 {uid} 1")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"0 {gid} 1")
        self.mechanisms.update(network_namespace=True, mount_namespace=True)
        if self.mechanisms["pid_namespace"]:
            self.host_pid = _become_pid_namespace_init()
            self.worker_pid = os.getpid()  # 1
        try:
            _mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)  # our mounts must never reach the host
        except OSError as e:
            self.mechanisms["mount_namespace"] = False
            self.warnings.append(f"cannot make mounts private ({e}): no private tmpfs, no mapped imports")

    def _private_tmp(self) -> str:
        """A fresh tmpfs over /tmp in our mount namespace (host /tmp hidden), else a dir on the host."""
        if not self.mechanisms.get("mount_namespace"):
            self.mechanisms["private_tmpfs_mb"] = 0
            self.warnings.append("no private tmpfs: job files go to the host's disk (each capped by "
                                 "RLIMIT_FSIZE, all deleted after the job)")
            return _host_tmp()
        try:
            _mount("azr-exec", "/tmp", "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={self.config.tmp_mb}m,mode=0711")
        except OSError as e:
            self.mechanisms.update(private_tmpfs_mb=0, mount_namespace=False)
            self.warnings.append(f"cannot mount a private tmpfs ({e}): job files go to the host's disk")
            return _host_tmp()
        self.mechanisms["private_tmpfs_mb"] = self.config.tmp_mb
        os.mkdir("/tmp/azr-exec", 0o711)
        return "/tmp/azr-exec"

    def _import_paths(self) -> list[str]:
        paths = [p for p in sys.path if p and os.path.isdir(p) and not p.startswith(_package_root())]
        if not self.mechanisms.get("mount_namespace"):
            if self.uid is not None:
                self.warnings.append("import paths not mapped: a job can import only modules the worker "
                                     "pre-imported if the interpreter lives where the sandbox uid cannot read")
            return paths
        mapping = {}
        for i, path in enumerate(paths):
            target = os.path.join(self.base, f"py{i}")
            os.mkdir(target, 0o755)
            _mount(path, target, None, _MS_BIND | _MS_REC, None)
            _mount(None, target, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, None)
            mapping[path] = target
        _remap_imports(mapping)
        return list(mapping.values())

    def _landlock(self) -> None:
        self.ruleset = None
        try:
            reads = self.sys_path + [p for p in _SYSTEM_LIBS + _DEVICES_READ if os.path.exists(p)]
            self.ruleset = landlock.Ruleset(reads, [self.workdir, "/dev/null"])
        except OSError as e:
            self.warnings.append(f"Landlock unavailable ({e}): the filesystem is protected by uid "
                                 "permissions only (world-writable dirs stay writable, readable files readable)")
        self.mechanisms["landlock_abi"] = self.ruleset.abi if self.ruleset else 0

    def _seccomp(self) -> None:
        self.seccomp = None
        try:
            self.seccomp = seccomp.Seccomp()
        except (KeyError, OSError) as e:
            self.warnings.append(f"seccomp unavailable ({e!r}): processes, exec and sockets are limited "
                                 "only by RLIMIT_NPROC, the uid and the network namespace")
        self.mechanisms["seccomp"] = self.seccomp is not None

    def _inherited_by_jobs(self) -> None:
        """What every job's child needs and a fork inherits, set once here: it costs the worker nothing, and
        each child fewer system calls and copy-on-write faults. Limits the worker itself cannot live with
        (processes, address space, open files, file size, CPU) are set in each child."""
        for kind in (resource.RLIMIT_CORE, resource.RLIMIT_MEMLOCK, resource.RLIMIT_MSGQUEUE):
            resource.setrlimit(kind, (0, 0))
        mb = 1024 * 1024
        cfg = self.config
        self._child_limits = tuple((kind, (soft, soft)) for kind, soft in (
            (resource.RLIMIT_AS, cfg.memory_mb * mb), (resource.RLIMIT_FSIZE, cfg.max_file_mb * mb),
            (resource.RLIMIT_NOFILE, cfg.max_open_files), (resource.RLIMIT_NPROC, 1)))
        if self.uid is not None:
            os.setgroups([])  # root needs no supplementary groups; jobs must not have root's
        sys.path[:] = self.sys_path  # without the source tree the worker was started from (it has its modules)
        # Required by Landlock and seccomp in the children (they lose CAP_SYS_ADMIN); a worker never execs.
        _check(_prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        self._landlock_worker()

    def _landlock_worker(self) -> None:
        """With a pid namespace the worker takes the Landlock ruleset itself, once, and every job's child
        inherits it. A job then shares the worker's Landlock domain, so scoping no longer keeps it from
        signalling the worker; the namespace does: as its first process, the worker gets from inside it only
        the signals it handles (it handles none: SIGINT goes back to the default action)."""
        self.child_ruleset = self.ruleset
        if self.ruleset is None or not self.mechanisms["pid_namespace"]:
            return
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        self.ruleset.restrict_self()
        self.child_ruleset = None

    def inherited_fds(self) -> list[int]:
        """Descriptors the child must keep open until `enter()` has used them."""
        return [self.child_ruleset.fd] if self.child_ruleset is not None else []

    # --- once per job, in the child ------------------------------------------------------------------

    def enter(self, timeout_s: float) -> None:
        """Called in the freshly forked child, before any model code; raises if anything fails. What a fork
        inherits (no_new_privs, no supplementary groups, the zero limits) was set once in the worker."""
        for kind, limits in self._child_limits:
            resource.setrlimit(kind, limits)
        cpu = math.ceil(timeout_s) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU first, SIGKILL a second later
        if self.uid is not None:
            os.setresgid(self.uid, self.uid, self.uid)
            os.setresuid(self.uid, self.uid, self.uid)
        else:
            _drop_capabilities()  # root of the worker's user namespace: its powers are not the job's
        if not self.mechanisms["pid_namespace"]:  # else the worker's death kills its whole namespace
            # After the uid change: changing credentials clears the parent-death signal.
            _check(_prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
            if os.getppid() != self.worker_pid:
                os._exit(1)  # the worker died between fork and prctl
        if self.child_ruleset is not None:
            self.child_ruleset.restrict_self()
        if self.seccomp is not None:
            self.seccomp.install()

    # --- after each job, in the worker ----------------------------------------------------------------

    def reset(self) -> None:
        """Empties the job directory."""
        _empty_dir(self.workdir)

    def close(self) -> None:
        if not self.mechanisms.get("mount_namespace"):  # a namespace's tmpfs dies with the worker
            _empty_dir(self.base)
            os.rmdir(self.base)


def _empty_dir(path: str) -> None:
    """Deletes what `path` holds, never following a symlink a job left there, and first making each directory
    ours to list and empty again (without root, a job's `chmod 000` directory would otherwise survive into
    the next job). Not shutil.rmtree: shutil would make every worker map bz2 and lzma, so every fork copy more."""
    os.chmod(path, 0o700)
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _empty_dir(entry.path)
                os.rmdir(entry.path)
            else:
                os.unlink(entry.path)


def _become_pid_namespace_init() -> int:
    """Forks the process that carries on as the worker, which is the first process (pid 1) of the pid
    namespace just unshared: when it dies, the kernel kills every job left in that namespace, and no job
    can see or signal a process outside it. The process that forked it only waits for it and exits with
    it; it dies with that one too (parent-death signal), so killing either ends the worker. Returns the
    worker's pid as the host sees it (inside, it is 1)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        try:
            os.write(write_end, pid.to_bytes(8, "little"))
            os.closerange(0, os.sysconf("SC_OPEN_MAX"))  # the service sees EOF when the worker dies
            _, status = os.waitpid(pid, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        finally:
            os._exit(1)
    os.close(write_end)
    _check(_prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    host_pid = os.read(read_end, 8)
    os.close(read_end)
    if len(host_pid) != 8:
        os._exit(1)  # the waiting process died before telling us our pid
    return int.from_bytes(host_pid, "little")


def _drop_capabilities() -> None:
    """Empties the effective, permitted and inheritable sets (a uid change does this as root). Without it a
    job in the user namespace could, say, read files whatever their mode bits (CAP_DAC_OVERRIDE)."""
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    _check(_capset(header, (ctypes.c_uint32 * 6)()), "capset")


def _host_tmp() -> str:
    import tempfile  # only here: it imports random, whose at-fork hook would then run in every child

    return tempfile.mkdtemp(prefix="azr-exec-")


def _remap_imports(mapping: dict) -> None:
    """Points this interpreter's imports (sys.path and every package's __path__) at the mapped copies,
    so a submodule imported later (encodings.idna, multiprocessing.popen_fork) is found there too."""

    def remap(path: str) -> str:
        for old, new in mapping.items():
            if path == old or path.startswith(old + os.sep):
                return new + path[len(old):]
        return path

    sys.path[:] = [remap(p) for p in sys.path]
    sys.path_importer_cache.clear()
    for module in list(sys.modules.values()):
        search = getattr(module, "__path__", None)
        if type(search) is list:
            search[:] = [remap(p) for p in search]


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
