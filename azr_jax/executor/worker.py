"""A long-lived executor worker: a small pre-imported interpreter that forks one sandboxed child per job.

Started by the service as a separate interpreter (`python -S -B -c ...`, never forked from the trainer),
it reads request frames on its stdin and answers on its stdout. For an `exec` request it forks a child,
which enters the sandbox and runs the job (child.py); the worker meanwhile enforces the wall-clock
deadline and the output caps, kills the child's whole process group, reaps it, and reports what it
observed (wait status, capped output, the result pipe's bytes) for the service to classify (outcomes.py).
The worker does as little as it can per job: every page it writes between two forks is a copy-on-write
fault. A `parse` request (a deduction answer) is parsed here under a length cap, without running anything.
"""

from __future__ import annotations

import errno
import gc
import importlib
import os
import select
import signal
import time

from azr_jax.executor import child, wire
from azr_jax.executor.config import ExecutorConfig
from azr_jax.executor.literals import LiteralError, parse_literal
from azr_jax.executor.outcomes import SANDBOX_FAILED
from azr_jax.executor.sandbox import Sandbox

_DRAIN_S = 0.05  # after the child exits, how long to wait for its pipes to reach EOF
_CHUNK = 1 << 16


class Worker:
    def __init__(self, config: ExecutorConfig, uid: int | None) -> None:
        self.config = config
        self.sandbox = Sandbox(config, uid)
        self.devnull = os.open(os.devnull, os.O_RDONLY)
        self.max_fd = os.sysconf("SC_OPEN_MAX")
        c = config
        self.child_fields = dict(
            max_code_chars=c.max_code_chars, max_answer_chars=c.max_answer_chars,
            max_result_bytes=c.max_result_bytes, banned_modules=c.banned_modules,
            banned_names=c.banned_names, banned_attributes=c.banned_attributes)

    def handle(self, req: dict) -> dict:
        if req.get("op") == "exec":
            return self.execute(req)
        if req.get("op") == "parse":
            try:
                return {"status": "ok", "value": parse_literal(req["text"], self.config.max_answer_chars)}
            except LiteralError as e:
                return {"status": "syntax", "message": str(e)}
        return {"status": "error", "error_type": "BadRequest", "message": f"unknown op {req.get('op')!r}"}

    # --- one job -------------------------------------------------------------------------------------

    def execute(self, req: dict) -> dict:
        timeout = float(req["timeout_s"])
        child_req = dict(self.child_fields, code=req["code"], checks=bool(req["checks"]),
                         call_kind=req["call_kind"], call_text=req["call_text"],
                         max_repr_chars=req["max_repr_chars"])
        pipes = [os.pipe() for _ in range(3)]  # stdout, stderr, result
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            self._child(pipes, timeout, child_req)
        for _, w in pipes:
            os.close(w)
        seen = _supervise(pid, [r for r, _ in pipes], start + timeout, self.config)
        seen["time_ms"] = round((time.monotonic() - start) * 1000.0, 3)
        self.sandbox.reset()
        return seen  # raw observations: the service classifies them (outcomes.py)

    def _child(self, pipes: list, timeout: float, child_req: dict) -> None:
        """In the forked child: never returns, never runs model code outside the sandbox."""
        try:
            os.setsid()
            os.dup2(self.devnull, 0)
            for target, (_, w) in zip((1, 2, child.RESULT_FD), pipes):
                os.dup2(w, target)
            # Everything else goes, the worker's pipes to the service included; the Landlock ruleset
            # stays until the sandbox applies (and closes) it.
            low = child.RESULT_FD + 1
            for keep in sorted(self.sandbox.inherited_fds()):
                os.closerange(low, keep)
                low = keep + 1
            os.closerange(low, self.max_fd)
            self.sandbox.enter(timeout)
        except BaseException:
            os._exit(SANDBOX_FAILED)
        try:
            child.run(child_req)
        finally:
            os._exit(SANDBOX_FAILED + 1)


def _supervise(pid: int, fds: list, deadline: float, config: ExecutorConfig) -> dict:
    """Collects the child's output until it exits, overflows or runs out of time; always reaps it."""
    out_fd, err_fd, res_fd = fds
    caps = {out_fd: config.max_output_bytes, err_fd: config.max_output_bytes, res_fd: config.max_result_bytes + 4096}
    bufs = {fd: bytearray() for fd in fds}
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    for fd in fds + [pidfd]:
        poller.register(fd, select.POLLIN)
    live, killed, drain_until = set(fds), None, None
    while True:
        now = time.monotonic()
        if drain_until is not None and (not live or now >= drain_until):
            break
        if now >= deadline:
            killed = "timeout"
            break
        limit = deadline if drain_until is None else min(deadline, drain_until)
        for fd, _ in poller.poll(max(1, int((limit - now) * 1000))):
            if fd == pidfd:
                poller.unregister(pidfd)
                drain_until = time.monotonic() + _DRAIN_S
                continue
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                poller.unregister(fd)
                live.discard(fd)
            elif len(bufs[fd]) + len(chunk) > caps[fd]:
                killed = "output"
            else:
                bufs[fd] += chunk
        if killed:
            break
    try:
        os.killpg(pid, signal.SIGKILL)  # before reaping: the group id cannot be reused yet
    except OSError as e:
        if e.errno != errno.ESRCH:
            raise
    _, wait_status = os.waitpid(pid, 0)
    for fd in fds + [pidfd]:
        os.close(fd)
    return {"killed": killed, "wait_status": wait_status, "out": bytes(bufs[out_fd]),
            "err": bytes(bufs[err_fd]), "res": bytes(bufs[res_fd])}


def main() -> None:
    """Worker entry point; the service talks to it on fds 0 and 1, which jobs never inherit. The service's
    uid-block lock descriptor is inherited too and simply kept open: the claim lasts while we live."""
    chan_in, chan_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    init = wire.recv_blocking(chan_in)
    config = ExecutorConfig.from_dict(init["config"])
    for name in config.preimport:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    worker = Worker(config, init["uid"])
    gc.freeze()  # the collector never touches these objects again: fewer copy-on-write faults per child
    wire.send(chan_out, {"pid": os.getpid(), "mechanisms": worker.sandbox.mechanisms,
                         "warnings": worker.sandbox.warnings})
    try:
        while (req := wire.recv_blocking(chan_in)) is not None:
            wire.send(chan_out, worker.handle(req))
    finally:
        worker.sandbox.close()


if __name__ == "__main__":
    main()
