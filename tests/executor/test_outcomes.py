"""Observation records (worker -> service) and their classification, without any process."""

import os
import signal

import pytest

from azr_jax.executor import codec, outcomes, wire

REQUEST = {"timeout_s": 2.0, "max_repr_chars": 400}


def record(killed=0, status=0, ms=1.5, out=b"", err=b"", res=b"", cached=False):
    return outcomes.OBSERVATION.pack(killed, status, ms, cached, len(out), len(err), len(res)) + out + err + res


def frame(value) -> bytes:
    body = codec.encode(value)
    return wire.HEADER.pack(len(body)) + body


def test_round_trip_keeps_every_field():
    seen = outcomes.unpack(record(2, 9, 3.25, b"out", b"err!", b"res", cached=True))
    assert seen == {"killed": "output", "wait_status": 9, "time_ms": 3.25, "cached": True, "out": b"out",
                    "err": b"err!", "res": b"res"}


@pytest.mark.parametrize("body", [b"", record()[:-1], record() + b"x", record(killed=3),
                                  record(out=b"abc")[:-1]])
def test_malformed_records_are_refused(body):
    with pytest.raises(ValueError):
        outcomes.unpack(body)


def test_classification():
    ok = outcomes.classify(outcomes.unpack(record(res=frame({"status": "ok", "plain": True, "value": [1, 2]}),
                                                  out=b"hi\xff")), REQUEST, 100)
    assert (ok["status"], ok["repr"], ok["repr_status"], ok["stdout"]) == ("ok", "[1, 2]", "ok", "hi\\xff")
    two = record(res=frame({"status": "ok", "plain": True, "value": 1}) * 2)
    assert outcomes.classify(outcomes.unpack(two), REQUEST, 100)["error_type"] == "BadFrame"
    sys_killed = record(status=signal.SIGSYS)  # a wait status for "killed by SIGSYS"
    assert os.WIFSIGNALED(signal.SIGSYS)
    assert outcomes.classify(outcomes.unpack(sys_killed), REQUEST, 100)["status"] == "banned"
    assert outcomes.classify(outcomes.unpack(record(killed=1)), REQUEST, 100)["status"] == "timeout"
    early = outcomes.classify(outcomes.unpack(record(status=0)), REQUEST, 100)
    assert (early["status"], early["error_type"]) == ("error", "EarlyExit")
    setup = outcomes.classify(outcomes.unpack(record(status=outcomes.SANDBOX_FAILED << 8)), REQUEST, 100)
    assert setup["error_type"] == "SandboxSetupFailed"
