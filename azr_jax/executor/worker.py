"""A long-lived executor worker: a small pre-imported interpreter that forks one sandboxed child per job.

Started by the service as a separate interpreter (`python -S -B -c ...`, never forked from the trainer),
it reads request frames on its stdin and answers on its stdout. For an `exec` request it forks a child,
which enters the sandbox and runs the job (child.py); the worker meanwhile enforces the wall-clock
deadline and the output caps, kills the child's whole process group, reaps it, and reports what it
observed (wait status, capped output, the result pipe's bytes) for the service to classify (outcomes.py).
The worker does as little as it can per job: every page it writes between two forks is a copy-on-write
fault. A `parse` request (a deduction answer) is parsed here under a length cap, without running anything; so
is the call of a job whose program is cached, when its arguments are literals (constant_calls.py).
"""

from __future__ import annotations

import errno
import gc
import importlib
import marshal
import os
import select
import signal
import time

from azr_jax.executor import child, codec, constant_calls, forking, wire
from azr_jax.executor.config import ExecutorConfig
from azr_jax.executor.literals import LiteralError, parse_literal
from azr_jax.executor.outcomes import OBSERVATION, SANDBOX_FAILED
from azr_jax.executor.program_cache import ProgramCache
from azr_jax.executor.sandbox import Sandbox

_DRAIN_S = 0.05  # after the child exits, how long to wait for its pipes to reach EOF
_CHUNK = 1 << 16


class Worker:
    def __init__(self, config: ExecutorConfig, uid: int | None, fork=os.fork) -> None:
        self.config = config
        self.sandbox = Sandbox(config, uid)
        self.devnull = os.open(os.devnull, os.O_RDONLY)
        self.close_ranges = _close_ranges(self.sandbox.inherited_fds(), os.sysconf("SC_OPEN_MAX"))
        # The result pipe may carry a program report (<= MAX_PROGRAM_REPORT) before the result frame.
        self.caps = (config.max_output_bytes, config.max_output_bytes,
                     config.max_result_bytes + 4096 + child.MAX_PROGRAM_REPORT + wire.HEADER.size)
        # Compiled programs, where no child can read them; a 16 MiB ring holds far more than 256 programs.
        self.programs = ProgramCache(config.compile_cache, 16 << 20)
        self.fork = fork  # os.fork, or libc's where it is sound (forking.choose_fork)
        c = config
        self.f_banned = "f" in c.banned_names or "f" in c.banned_modules  # a checked call `f(...)` is refused
        self.child_fields = dict(
            max_code_chars=c.max_code_chars, max_answer_chars=c.max_answer_chars,
            max_result_bytes=c.max_result_bytes, banned_modules=c.banned_modules,
            banned_names=c.banned_names, banned_attributes=c.banned_attributes)

    def handle(self, req: dict) -> dict | bytes:
        if req.get("op") == "exec":
            return self.execute(req)
        if req.get("op") == "parse":
            try:
                return {"status": "ok", "value": parse_literal(req["text"], self.config.max_answer_chars)}
            except LiteralError as e:
                return {"status": "syntax", "message": str(e)}
        return {"status": "error", "error_type": "BadRequest", "message": f"unknown op {req.get('op')!r}"}

    # --- one job -------------------------------------------------------------------------------------

    def execute(self, req: dict) -> bytes:
        timeout = req["timeout_s"]
        key = (req["code"], req["checks"], req["call_kind"] == "expr")  # what the compiled program depends on
        program = self.programs.get(key)
        report = program is None and self.config.compile_cache > 0
        child_req = dict(self.child_fields, code=req["code"], checks=req["checks"], call_kind=req["call_kind"],
                         call_text=req["call_text"], max_repr_chars=req["max_repr_chars"], program=program,
                         report_program=report, call_args=None if program is None else self._call_arguments(req))
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        start = time.monotonic()
        pid = self.fork()
        if pid == 0:
            self._child(out_w, err_w, res_w, timeout, child_req)
        os.close(out_w)
        os.close(err_w)
        os.close(res_w)
        killed, status, out, err, res = _supervise(pid, out_r, err_r, res_r, start + timeout, self.caps)
        elapsed_ms = (time.monotonic() - start) * 1000.0
        self.sandbox.reset()
        if report:
            res = self._keep_program(key, res)
        # Raw observations: the service classifies them (outcomes.py).
        return (OBSERVATION.pack(killed, status, elapsed_ms, program is not None, len(out), len(err), len(res))
                + out + err + res)

    def _call_arguments(self, req: dict) -> tuple | None:
        """For a job whose program is cached: the call's arguments, if they are literals only, built as the
        compiled call would build them (constant_calls.py), so that its child compiles nothing at all. The caps
        are the child's own; anything else (names, calls, text the child would refuse) is left to the child."""
        kind = req["call_kind"]
        if kind == "expr" and not req["checks"]:
            return constant_calls.call_arguments(req["call_text"], self.config.max_code_chars, whole_call=True)
        if (kind == "input" or kind == "answer") and not self.f_banned:
            return constant_calls.call_arguments(req["call_text"], self.config.max_answer_chars, whole_call=False)
        return None

    def _keep_program(self, key: tuple, res: bytes) -> bytes:
        """Takes the program report off the front of the result pipe's bytes and keeps it for later jobs.

        A child asked to report writes it right after compiling and checking the program, before any of
        the program runs, so the first frame is ours whatever the job does next; a program that fails to
        compile or to pass the checks never reaches model code and sends no report. The report is never
        decoded here: it is handed, as bytes, to the children of later jobs with the same code."""
        size = wire.HEADER.size
        if len(res) <= size or res[size:size + 1] != child.PROGRAM_TAG:
            return res
        end = size + wire.HEADER.unpack_from(res)[0]
        if end > len(res):
            return res
        if end > size + 1:  # the bare tag: a program too large to keep
            self.programs.put(key, res[size + 1:end])
        return res[end:]

    def _child(self, out_w: int, err_w: int, res_w: int, timeout: float, child_req: dict) -> None:
        """In the forked child: never returns, never runs model code outside the sandbox. Kept short: each
        line of Python here writes a few pages of the worker's memory, a copy-on-write fault each."""
        try:
            os.setsid()
            os.dup2(self.devnull, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.dup2(res_w, child.RESULT_FD)
            for low, high in self.close_ranges:
                os.closerange(low, high)
            self.sandbox.enter(timeout)
        except BaseException:
            os._exit(SANDBOX_FAILED)
        try:
            child.run(child_req)
        finally:
            os._exit(SANDBOX_FAILED + 1)


def _close_ranges(keep: list, max_fd: int) -> tuple:
    """Descriptor ranges a child closes: all above the result pipe but `keep` (the worker's pipes to the
    service included; the Landlock ruleset stays until the sandbox applies and closes it)."""
    ranges, low = [], child.RESULT_FD + 1
    for fd in sorted(keep):
        ranges.append((low, fd))
        low = fd + 1
    ranges.append((low, max_fd))
    return tuple(ranges)


def _supervise(pid: int, out_fd: int, err_fd: int, res_fd: int, deadline: float, caps: tuple) -> tuple:
    """Collects the child's output until it exits, overflows or runs out of time; always reaps it.
    Returns (killed: 0 no, 1 deadline, 2 output cap, wait status, stdout, stderr, result bytes)."""
    fds = (out_fd, err_fd, res_fd)
    caps = dict(zip(fds, caps))
    bufs = {out_fd: bytearray(), err_fd: bytearray(), res_fd: bytearray()}
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    live, killed, drain_until = 3, 0, None
    while True:
        now = time.monotonic()
        if drain_until is not None and (not live or now >= drain_until):
            break
        if now >= deadline:
            killed = 1
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
                live -= 1
            elif len(bufs[fd]) + len(chunk) > caps[fd]:
                killed = 2
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
    for fd in fds:
        os.close(fd)
    os.close(pidfd)
    return killed, wait_status, bytes(bufs[out_fd]), bytes(bufs[err_fd]), bytes(bufs[res_fd])


def _send_reply(fd: int, reply: dict | bytes) -> None:
    wire.send_body(fd, reply if type(reply) is bytes else codec.encode(reply, wire.MAX_FRAME))


def main() -> None:
    """Worker entry point; the service talks to it on fds 0 and 1, which jobs never inherit. The service's
    uid-block lock descriptor is inherited too and simply kept open: the claim lasts while we live."""
    chan_in, chan_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    init = wire.recv_blocking(chan_in)
    config = ExecutorConfig.from_dict(init["config"])
    cpu = init["cpu"]
    if cpu is not None:  # before the sandbox forks the namespace's first process: it inherits this
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:  # the CPU left our set since the service looked (a cpuset change): run unpinned
            cpu = None
    forking.watch_at_fork_hooks()
    for name in config.preimport:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    fork = forking.choose_fork()  # before the sandbox: the worker's Landlock domain hides /proc
    worker = Worker(config, init["uid"], fork)
    gc.freeze()  # the collector never touches these objects again: fewer copy-on-write faults per child
    wire.send(chan_out, {"pid": worker.sandbox.host_pid, "cpu": cpu, "fork": "os" if worker.fork is os.fork else "libc",
                         "mechanisms": worker.sandbox.mechanisms,
                         "warnings": worker.sandbox.warnings})
    try:
        while (body := wire.recv_body(chan_in)) is not None:
            # Nothing of one job may stay alive into the next (its child would inherit it): the reply is
            # sent and dropped here, and the next request replaces this one.
            _send_reply(chan_out, worker.handle(marshal.loads(body)))
    finally:
        worker.sandbox.close()


if __name__ == "__main__":
    main()
