"""What a job's child did, classified: done in the service from what its worker observed.

A worker only runs the child and reports raw observations: why it killed the child (if it did), the wait
status, the bytes of stdout, stderr and the result pipe (each already capped) and the elapsed time. The
service turns those into a reply here. Keeping this work out of the worker matters for speed: every page
of memory a worker writes between two forks costs a copy-on-write fault, while the service never forks.
The result pipe's bytes come from a sandboxed child, so they are decoded with the plain-data codec only.
"""

from __future__ import annotations

import os
import signal
import struct

from azr_jax.executor import codec, wire
from azr_jax.executor.config import EqualityRules
from azr_jax.executor.equality import values_equal
from azr_jax.executor.literals import LiteralError, TooLong, canonical_repr, parse_literal

SANDBOX_FAILED = 70  # exit code of a child that could not enter the sandbox
# What a worker observed of one job, as it sends it: why it killed the child (0 it did not, 1 deadline,
# 2 output cap), the wait status, the wall time in ms, whether the program came compiled from the worker's
# cache, then the byte lengths of stdout, stderr and the result pipe, whose bytes follow in that order. A
# fixed layout: cheap to write in the worker, and the service reads it with struct alone.
OBSERVATION = struct.Struct(">Bid?III")
KILLED = (None, "timeout", "output")
_ROUND_TRIP = EqualityRules(float_rel_tol=0.0, signed_zero_equal=False, set_frozenset_equal=False)
_FRAME_STATUSES = frozenset({"ok", "error", "memory", "syntax", "banned", "output_limit"})


def unpack(body: bytes) -> dict:
    """An OBSERVATION record as a dict; ValueError if it is malformed."""
    if len(body) < OBSERVATION.size:
        raise ValueError("observation record too short")
    killed, wait_status, time_ms, cached, n_out, n_err, n_res = OBSERVATION.unpack_from(body)
    if killed >= len(KILLED) or len(body) != OBSERVATION.size + n_out + n_err + n_res:
        raise ValueError("malformed observation record")
    out_end = OBSERVATION.size + n_out
    return {"killed": KILLED[killed], "wait_status": wait_status, "time_ms": round(time_ms, 3), "cached": cached,
            "out": body[OBSERVATION.size:out_end], "err": body[out_end:out_end + n_err],
            "res": body[out_end + n_err:]}


def classify(seen: dict, request: dict, max_output_bytes: int) -> dict:
    """The reply for one `exec` request from its worker's observations (`unpack`)."""
    reply = _verdict(seen, request)
    reply["time_ms"] = seen["time_ms"]
    reply["stdout"] = _text(seen["out"][:max_output_bytes])
    reply["stderr"] = _text(seen["err"][:max_output_bytes])
    return reply


def _verdict(seen: dict, request: dict) -> dict:
    if seen["killed"] == "timeout":
        return {"status": "timeout", "message": f"no result within {request['timeout_s']} s"}
    if seen["killed"] == "output":
        return {"status": "output_limit", "message": "stdout/stderr or result beyond the cap"}
    status = seen["wait_status"]
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGSYS:
            return {"status": "banned", "message": "forbidden system call"}
        if sig == signal.SIGXCPU:
            return {"status": "timeout", "message": "CPU time limit"}
        name = signal.Signals(sig).name if sig in signal.valid_signals() else str(sig)
        return {"status": "error", "error_type": f"Killed({name})", "message": "terminated by a signal"}
    code = os.WEXITSTATUS(status)
    if code == SANDBOX_FAILED:
        return {"status": "error", "error_type": "SandboxSetupFailed", "message": "the job did not run"}
    frame = _one_frame(seen["res"]) if code == 0 else None
    if frame is None and code == 0 and seen["res"]:  # e.g. a frame forged by the job, then the real one
        return {"status": "error", "error_type": "BadFrame", "message": "the result pipe held more or other "
                "than one well-formed frame"}
    if frame is None:
        return {"status": "error", "error_type": "EarlyExit", "message": f"exited with code {code} and no result"}
    return _from_frame(frame, request["max_repr_chars"])


def _from_frame(frame: dict, max_repr_chars: int) -> dict:
    status = frame.get("status")
    if status not in _FRAME_STATUSES:
        return {"status": "error", "error_type": "BadFrame", "message": "malformed result"}
    reply = {"status": status}
    for key in ("error_type", "message"):
        if type(frame.get(key)) is str:
            reply[key] = frame[key][:500]
    if status != "ok":
        return reply
    if frame.get("plain") is True and "value" in frame:
        value = frame["value"]
        reply.update(plain=True, value=value, **_representation(value, max_repr_chars))
    elif frame.get("plain") is False and type(frame.get("repr")) is str:
        text = frame["repr"]
        ok = frame.get("rebuildable") is True and len(text) <= max_repr_chars
        reply.update(plain=False, repr=text[:max_repr_chars], repr_status="ok" if ok else "unrepresentable")
    else:
        return {"status": "error", "error_type": "BadFrame", "message": "malformed result"}
    return reply


def _representation(value: object, cap: int) -> dict:
    """Canonical repr, and whether it is within the cap and reads back as the same value."""
    try:
        text = canonical_repr(value, cap)
    except TooLong:
        return {"repr": None, "repr_status": "output_limit"}
    try:
        same = values_equal(parse_literal(text, cap), value, _ROUND_TRIP)
    except LiteralError:
        same = False
    return {"repr": text, "repr_status": "ok" if same else "unrepresentable"}


def _one_frame(data: bytes) -> dict | None:
    """The single frame the result pipe must hold; None for anything else (nothing, two, garbage)."""
    if len(data) < wire.HEADER.size:
        return None
    n = wire.HEADER.unpack_from(data)[0]
    if len(data) != wire.HEADER.size + n:
        return None
    try:
        frame = codec.decode(data[wire.HEADER.size:])
    except codec.BadFrame:
        return None
    return frame if type(frame) is dict else None


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")
