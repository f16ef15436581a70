"""Job plans driven with replies written here: how a lost worker is reported (the arithmetic of results;
the service end to end is in test_service.py)."""

from azr_jax.executor import CheckJob, ExecutorConfig, ValidateJob, plans

CONFIG = ExecutorConfig(pool_size=2)
LOST = {"status": "error", "error_type": "WorkerLost", "message": "worker process died", "worker": 1}


def ok(text: str, worker: int = 0) -> dict:
    return {"status": "ok", "plain": True, "value": int(text), "repr": text, "repr_status": "ok",
            "time_ms": 1.0, "worker": worker}


def finish(plan, *steps):
    """Sends each step's replies in turn; returns the plan's Result."""
    plan.send(None)
    try:
        for replies in steps:
            plan.send(replies)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the plan wanted more steps")


def test_a_rerun_lost_with_its_worker_is_a_failure_not_nondeterminism():
    job = ValidateJob("code_o", "def f(x):\n    return x", ("3",))
    result = finish(plans.plan(job, CONFIG), [ok("3")], [LOST])
    assert (result.status, result.error_type) == ("error", "WorkerLost")
    result = finish(plans.plan(job, CONFIG), [ok("3")], [ok("4", worker=1)])
    assert result.status == "nondeterministic"  # a real disagreement still is


def test_a_parse_lost_with_its_worker_is_a_failure_not_a_syntax_error():
    job = CheckJob("deduction", "def f(x):\n    return x", input="3", gold_output="3", answer="3")
    result = finish(plans.plan(job, CONFIG), [LOST])
    assert (result.status, result.error_type, result.correct) == ("error", "WorkerLost", False)
    result = finish(plans.plan(job, CONFIG), [{"status": "syntax", "message": "bad", "worker": 0}])
    assert (result.status, result.correct) == ("syntax", False)
