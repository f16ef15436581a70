"""The executor service: a pool of worker interpreters and a scheduler that runs job plans over it.

Workers are separate interpreters started with subprocess (`python -S -B`, their own hash seed, a clean
environment): never a fork of the caller, whose memory may be gigabytes. The service is single-threaded:
`submit` is a generator that keeps up to two requests queued at each worker (so a worker never waits for
the service between jobs), waits on their pipes with a selector,
feeds replies into each job's plan (plans.py) and yields Results as jobs finish. A worker that dies
(OOM killer, a stray signal) or stays silent past its job's deadline plus a grace period is killed and
replaced, and its job is reported as an error rather than lost.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import logging
import marshal
import os
import secrets
import select
import selectors
import signal
import subprocess
import sys
import time
import warnings
from typing import Iterable, Iterator

from azr_jax.executor import codec, jobs as J, outcomes, plans, uid_blocks, wire
from azr_jax.executor.config import ExecutorConfig

log = logging.getLogger("azr_jax.executor")
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Imports the worker without running azr_jax/__init__.py (which may one day import JAX) nor
# azr_jax/executor/__init__.py (the service's imports: logging, subprocess and secrets bring threading and
# random, whose at-fork hooks would run in every job's child; see DEFAULT_PREIMPORT).
_BOOT = (
    "import sys, types\n"
    "sys.path[:] = [p for p in sys.path if p]\n"
    "for name in ('azr_jax', 'azr_jax.executor'):\n"
    "    pkg = types.ModuleType(name); pkg.__path__ = [sys.argv[1] + '/' + name.replace('.', '/')]\n"
    "    sys.modules[name] = pkg\n"
    "from azr_jax.executor.worker import main\n"
    "main()\n"
)
_START_TIMEOUT_S = 60.0
_DEPTH = 2  # requests in flight per worker: one running, one waiting in its pipe
_warned: set = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning("executor isolation: %s", message)
        warnings.warn(f"executor isolation: {message}", RuntimeWarning, stacklevel=3)


def _worker_cpus(size: int, block: uid_blocks.UidBlock | None) -> list[int]:
    """A CPU for each worker, round robin over the CPUs this process may use. The start differs between
    services on one host (the uid block's index as root, else the pid), so that small pools spread out."""
    cpus = sorted(os.sched_getaffinity(0))
    start = block.index * size if block else os.getpid()
    return [cpus[(start + i) % len(cpus)] for i in range(size)]


class _Worker:
    """One worker process and the request it is running."""

    _serials = itertools.count()

    def __init__(self, index: int, config: ExecutorConfig, block: uid_blocks.UidBlock | None,
                 cpu: int | None) -> None:
        self.index = index
        self.cpu = None  # the CPU it runs on, as the worker reports it (None: not pinned)
        self.fork = ""  # how it forks job children: "libc" or "os" (forking.py)
        self.serial = next(self._serials)
        # LD_BIND_NOW: the dynamic linker resolves every symbol as the worker starts, so no job's child resolves
        # one on first use (each resolution writes a GOT page: ~16 copy-on-write faults a job, 304 -> 288).
        env = {"PYTHONHASHSEED": str(secrets.randbelow(2**32 - 1) + 1), "LC_ALL": "C.UTF-8", "LD_BIND_NOW": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-S", "-B", "-c", _BOOT, _PACKAGE_PARENT],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd="/", close_fds=True,
            pass_fds=(block.fd,) if block else ())  # the worker holds the uid claim as long as it lives
        self.fd_in, self.fd_out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        self.pid, self.pidfd = self.proc.pid, None  # the process running jobs, known after the handshake
        self.reader = wire.Reader()
        # Requests sent and not yet answered, oldest (the one running) first: (task, slot, timeout_s).
        self.queue: collections.deque = collections.deque()
        self.deadline = 0.0  # for the running request's reply
        wire.send(self.fd_in, {"config": dataclasses.asdict(config), "uid": block.uids[index] if block else None,
                               "cpu": cpu})

    def handshake(self) -> dict:
        deadline = time.monotonic() + _START_TIMEOUT_S
        with selectors.DefaultSelector() as sel:
            sel.register(self.fd_out, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if sel.select(deadline - time.monotonic()):
                    data = os.read(self.fd_out, 1 << 16)
                    if not data:
                        break
                    frames = self.reader.feed(data)
                    if frames:
                        hello = codec.decode(frames[0])
                        self.cpu, self.fork = hello["cpu"], hello["fork"]
                        if hello["pid"] != self.proc.pid:  # pid 1 of the worker's pid namespace, forked by proc
                            self.pid, self.pidfd = hello["pid"], os.pidfd_open(hello["pid"])
                        return hello
        self.kill()
        raise RuntimeError(f"executor worker {self.index} failed to start (exit code {self.proc.poll()})")

    def exited(self) -> bool:
        if self.pidfd is not None:
            return bool(select.select([self.pidfd], [], [], 0)[0])
        return self.proc.poll() is not None

    def kill(self) -> None:
        """Kills the worker and, before returning, every job child it had."""
        if self.proc.poll() is None and self.pidfd is not None:
            # The namespace's first process: when it dies the kernel kills and reaps its jobs, then `proc`
            # (which only waits for it) exits. Through a pidfd: its pid may already be someone else's.
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
                self.proc.wait(_START_TIMEOUT_S)
            except (ProcessLookupError, subprocess.TimeoutExpired):  # already dead, or its parent hangs
                pass
        if self.proc.poll() is None:
            self.proc.kill()  # its job children die with it (parent-death signal)
        self.proc.wait()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


@dataclasses.dataclass
class _Task:
    """A job in flight: its plan, the step being run, and the replies gathered so far."""

    seq: int
    job: object
    plan: plans.Plan
    units: list = dataclasses.field(default_factory=list)
    replies: list = dataclasses.field(default_factory=list)
    missing: int = 0


class ExecutorService:
    """Pool of sandboxing workers. Use as a context manager; not thread-safe (one caller at a time).

    The pool has `config.pool_size` workers, but at least 2 when determinism is checked: the re-run of a
    validation must happen in another interpreter, under another hash seed and memory layout. As root, the
    service claims a block of sandbox uids of its own (uid_blocks.py); `uids` are the ones its jobs run as
    (None when not root: jobs then run as the service's own uid, and a warning says so)."""

    def __init__(self, config: ExecutorConfig | None = None) -> None:
        self.config = config or ExecutorConfig()
        size = max(self.config.pool_size, 2 if self.config.determinism_runs > 1 else 1)
        self.restarts = 0
        self.compile_cache_hits = 0  # jobs whose program a worker had compiled before (config.compile_cache)
        self._running = False
        self._workers: list[_Worker] = []
        # Replies are read into this one buffer (a large reply takes several reads). A fresh 1 MiB bytes per
        # read (os.read) grew the heap by ~20 B a job once a worker had died: freeing that read's mmapped
        # buffer at EOF raised glibc's dynamic mmap threshold, so every later 1 MiB buffer was carved from
        # the heap and shrunk in place, fragmenting it (100,000-job soak: +1.9 MiB, linear).
        self._inbox = bytearray(1 << 16)
        self._inbox_view = memoryview(self._inbox)
        self._block = uid_blocks.claim(self.config) if os.geteuid() == 0 else None
        self.uids = self._block.uids[:size] if self._block else None
        self._cpus = _worker_cpus(size, self._block) if self.config.pin_workers else [None] * size
        try:
            self._workers = [_Worker(i, self.config, self._block, self._cpus[i]) for i in range(size)]
            hellos = [w.handshake() for w in self._workers]
        except BaseException:
            self.close()
            raise
        self.mechanisms = hellos[0]["mechanisms"]
        for message in hellos[0]["warnings"]:
            _warn_once(message)

    # --- public API ----------------------------------------------------------------------------------

    def submit(self, jobs: Iterable) -> Iterator[J.Result]:
        """Runs `jobs` over the pool and yields each Result as soon as its job finishes."""
        for _, result in self._stream(jobs):
            yield result

    def run_batch(self, jobs: Iterable) -> list[J.Result]:
        """Runs `jobs` and returns their Results in the order of `jobs`."""
        out = dict(self._stream(jobs))
        return [out[i] for i in range(len(out))]

    def worker_pids(self) -> list[int]:
        """Host pids of the processes that run jobs (each forks its job's children)."""
        return [w.pid for w in self._workers]

    def worker_info(self) -> list[dict]:
        """Per worker: `pid` (as worker_pids), `cpu` it and its jobs run on (config.pin_workers; None where
        unpinned), `fork`: "libc" or "os", how it forks its job children (forking.py)."""
        return [{"pid": w.pid, "cpu": w.cpu, "fork": w.fork} for w in self._workers]

    def close(self) -> None:
        for w in self._workers:
            try:
                w.proc.stdin.close()  # end of stream: the worker exits on its own
            except OSError:
                pass
        deadline = time.monotonic() + 2.0
        for w in self._workers:
            try:
                w.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            w.kill()
        self._workers = []
        if self._block:
            self._block.release()

    def __enter__(self) -> "ExecutorService":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- scheduler -----------------------------------------------------------------------------------

    def _stream(self, jobs: Iterable) -> Iterator[tuple[int, J.Result]]:
        if self._running:
            raise RuntimeError("ExecutorService.submit is already running (the service is not re-entrant)")
        if not self._workers:
            raise RuntimeError("ExecutorService is closed")
        self._running = True
        self._pending = collections.deque()  # (task, slot) waiting for a worker
        self._finished = []  # (task, result) not yet yielded
        self._sel = selectors.DefaultSelector()
        active, window = 0, 8 * len(self._workers)  # a bounded window keeps memory flat on huge batches
        source = enumerate(jobs)
        exhausted = False
        try:
            for w in self._workers:
                self._sel.register(w.fd_out, selectors.EVENT_READ, w)
            while True:
                while not exhausted and active < window:
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                        break
                    active += 1
                    self._start(_Task(item[0], item[1], None))
                self._dispatch()
                while self._finished:
                    task, result = self._finished.pop()
                    active -= 1
                    yield task.seq, result
                if exhausted and active == 0:
                    return
                self._wait()
        finally:
            self._abandon()
            self._sel.close()
            self._running = False

    def _start(self, task: _Task) -> None:
        try:
            task.plan = plans.plan(task.job, self.config)
            self._advance(task, None)
        except Exception as e:  # a malformed job fails alone
            result = J.Result(getattr(task.job, "id", None), J.ERROR, error_type=type(e).__name__,
                              message=str(e)[:300])
            self._finished.append((task, result))

    def _advance(self, task: _Task, replies) -> None:
        try:
            units = task.plan.send(replies)
        except StopIteration as stop:
            self._finished.append((task, stop.value))
            return
        task.units, task.replies, task.missing = units, [None] * len(units), len(units)
        self._pending.extend((task, slot) for slot in range(len(units)))

    def _dispatch(self) -> None:
        """Sends pending requests to workers, up to _DEPTH each: a worker starts its next job as soon as it
        answers one, without waiting for the service to read the answer and send more."""
        skipped = []
        while self._pending:
            open_ = [w for w in self._workers if len(w.queue) < _DEPTH]
            if not open_:
                break
            task, slot = self._pending.popleft()
            avoid = task.units[slot].avoid
            candidates = [w for w in open_ if w.serial != avoid]
            if not candidates:  # only the worker this re-run must avoid has room: wait for another
                skipped.append((task, slot))
                continue
            self._send(min(candidates, key=lambda w: len(w.queue)), task, slot)
        self._pending.extendleft(reversed(skipped))

    def _send(self, worker: _Worker, task: _Task, slot: int) -> None:
        request = task.units[slot].request
        if not worker.queue and worker.exited():  # died while idle (e.g. between batches): never saw this job
            worker = self._replace(worker, "worker died while idle")
        worker.queue.append((task, slot, request.get("timeout_s", self.config.timeout_s)))
        if len(worker.queue) == 1:
            self._start_clock(worker)
        try:
            wire.send_body(worker.fd_in, marshal.dumps(request))
        except OSError:  # the worker is gone and never read this request: it goes back to pending, not lost
            worker.queue.pop()
            self._pending.appendleft((task, slot))
            self._replace(worker, "worker died before taking the job")

    def _start_clock(self, worker: _Worker) -> None:
        """The running request's reply is due within its timeout plus the grace period."""
        worker.deadline = time.monotonic() + worker.queue[0][2] + self.config.worker_grace_s

    def _wait(self) -> None:
        busy = [w for w in self._workers if w.queue]
        timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic()) if busy else None
        for key, _ in self._sel.select(timeout):
            worker = key.data
            try:
                n = os.readv(worker.fd_out, [self._inbox])
                frames = worker.reader.feed(self._inbox_view[:n]) if n else None
            except (OSError, codec.BadFrame):
                frames = None
            if frames is None:
                self._replace(worker, "worker process died")
                continue
            for body in frames:
                try:
                    reply = self._decode(worker, body)
                except (ValueError, codec.BadFrame) as e:
                    self._replace(worker, f"malformed reply ({e})")
                    break
                self._deliver(worker, reply)
        now = time.monotonic()
        for worker in [w for w in self._workers if w.queue and now > w.deadline]:
            self._replace(worker, "worker unresponsive past the deadline")

    def _decode(self, worker: _Worker, body: bytes) -> object:
        """A worker's reply: observations of an `exec` (classified here), else a codec frame."""
        if not worker.queue:
            return None
        task, slot, _ = worker.queue[0]
        request = task.units[slot].request
        if request["op"] == "exec":
            seen = outcomes.unpack(body)
            self.compile_cache_hits += seen["cached"]
            return outcomes.classify(seen, request, self.config.max_output_bytes)
        return codec.decode(body)

    def _deliver(self, worker: _Worker, reply: object) -> None:
        if not worker.queue or type(reply) is not dict:
            return
        task, slot, _ = worker.queue.popleft()
        if worker.queue:
            self._start_clock(worker)
        reply["worker"] = worker.serial
        task.replies[slot] = reply
        task.missing -= 1
        if task.missing == 0:
            self._advance(task, task.replies)

    def _replace(self, worker: _Worker, why: str) -> _Worker:
        """Kills and respawns a worker. Its running job gets an error reply instead of being lost; the
        requests queued behind it never started (a worker runs one at a time), so they go back to pending."""
        self._sel.unregister(worker.fd_out)
        worker.kill()
        self.restarts += 1
        log.warning("executor worker %d (pid %d): %s; restarting", worker.index, worker.proc.pid, why)
        fresh = _Worker(worker.index, self.config, self._block, self._cpus[worker.index])
        fresh.handshake()
        self._workers[self._workers.index(worker)] = fresh
        self._sel.register(fresh.fd_out, selectors.EVENT_READ, fresh)
        while len(worker.queue) > 1:  # from the back, so that pending keeps their order
            task, slot, _ = worker.queue.pop()
            self._pending.appendleft((task, slot))
        self._deliver(worker, {"status": J.ERROR, "error_type": "WorkerLost", "message": why})
        return fresh

    def _abandon(self) -> None:
        """On early exit from submit (caller stopped iterating): busy workers would answer late, so replace them."""
        for worker in [w for w in self._workers if w.queue]:
            worker.queue.clear()
            self._replace(worker, "abandoned by the caller")
