"""Each job kind as a small generator: it yields steps (lists of worker requests run in parallel), receives
their replies, and returns the job's Result. The service runs many such plans at once over the pool.

All comparisons happen here, in the service, on plain data the workers decoded with exact type checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

from azr_jax.executor import jobs as J
from azr_jax.executor.codec import NamedTupleValue
from azr_jax.executor.config import ExecutorConfig
from azr_jax.executor.equality import values_equal
from azr_jax.executor.literals import LiteralError, parse_literal

_RERUN_FAILURES_KEPT = (J.TIMEOUT, J.MEMORY, J.OUTPUT_LIMIT)  # load, not the program, may explain these


@dataclass(frozen=True)
class Unit:
    """One request for one worker. `avoid`: serial of a worker that must not run it (another hash seed)."""

    request: dict
    avoid: int | None = None


Plan = Generator[list, list, J.Result]


def plan(job: J.Job, config: ExecutorConfig) -> Plan:
    if type(job) is J.RunJob:
        return _run(job, config)
    if type(job) is J.ValidateJob:
        return _validate(job, config)
    if type(job) is J.CheckJob:
        return {"deduction": _check_deduction, "abduction": _check_abduction,
                "induction": _check_induction}[job.task](job, config)
    raise TypeError(f"not an executor job: {type(job).__name__}")


def _exec(job, config: ExecutorConfig, code: str, call_kind: str, call_text: str, checks: bool = True,
          avoid: int | None = None) -> Unit:
    return Unit({"op": "exec", "code": code, "checks": checks, "call_kind": call_kind, "call_text": call_text,
                 "timeout_s": float(job.timeout_s or config.timeout_s),
                 "max_repr_chars": config.max_repr_chars}, avoid)


def _ms(replies: list) -> float:
    return sum(r.get("time_ms", 0.0) for r in replies)


def _problem(reply: dict) -> str | None:
    """Why a run cannot serve as a task output, or None."""
    if reply["status"] != J.OK:
        return reply["status"]
    return None if reply["repr_status"] == "ok" else reply["repr_status"]


def _lost(reply: dict) -> bool:
    """The run never finished because its worker died (the service's reply): not the program's doing."""
    return reply.get("error_type") == "WorkerLost"


def _failed(job, reply: dict, ms: float, **extra) -> J.Result:
    return J.Result(job.id, _problem(reply) or J.ERROR, error_type=reply.get("error_type"),
                    message=reply.get("message", ""), time_ms=ms, extra=extra,
                    correct=False if type(job) is J.CheckJob else None)


def _run(job: J.RunJob, config: ExecutorConfig) -> Plan:
    [r] = yield [_exec(job, config, job.code, "expr", job.call, job.static_checks)]
    status = r["status"]
    if status == J.OK and r["repr_status"] == "output_limit":
        status = J.OUTPUT_LIMIT
    return J.Result(job.id, status, repr=r.get("repr") if status == J.OK else None,
                    error_type=r.get("error_type"), message=r.get("message", ""),
                    time_ms=r.get("time_ms", 0.0), stdout=r.get("stdout", ""))


def _validate(job: J.ValidateJob, config: ExecutorConfig) -> Plan:
    first = yield [_exec(job, config, job.code, "input", text) for text in job.inputs]
    ms = _ms(first)
    for i, r in enumerate(first):
        if _problem(r):
            return _failed(job, r, ms, input_index=i)
    for _ in range(config.determinism_runs - 1):
        again = yield [_exec(job, config, job.code, "input", text, avoid=r["worker"])
                       for text, r in zip(job.inputs, first)]
        ms += _ms(again)
        for i, (a, b) in enumerate(zip(first, again)):
            if b["status"] in _RERUN_FAILURES_KEPT or _lost(b):
                return _failed(job, b, ms, input_index=i)
            if b["status"] != J.OK or (a["plain"], a["repr"]) != (b["plain"], b["repr"]):
                return J.Result(job.id, J.NONDETERMINISTIC, time_ms=ms, extra={"input_index": i},
                                message=f"runs under different hash seeds disagree ({b['status']})")
    outputs = tuple(r["repr"] for r in first)
    if job.task == "induction":
        return J.Result(job.id, J.OK, outputs=outputs, time_ms=ms)
    return J.Result(job.id, J.OK, output=outputs[0], time_ms=ms)


def _gold(text: str, config: ExecutorConfig) -> tuple[bool, object]:
    """(True, value) for a literal gold output, (False, None) for one only the task's classes rebuild."""
    try:
        return True, parse_literal(text, max(config.max_repr_chars, config.max_answer_chars))
    except LiteralError:
        return False, None


def _matches(reply: dict, gold_text: str, gold: tuple[bool, object], config: ExecutorConfig) -> bool:
    is_literal, value = gold
    if is_literal and reply["plain"]:
        return values_equal(value, reply["value"], config.equality)
    # A gold like `P(x=1)` reads as a namedtuple, but a task class (a dataclass) prints the same: such a reply
    # is judged by its text, as for any gold only the task's classes rebuild.
    return not reply["plain"] and (not is_literal or _spells_a_class(value)) and reply["repr"] == gold_text


def _spells_a_class(value: object) -> bool:
    """Whether a literal gold holds a `Name(field=...)` spelling, which a task class may print too."""
    t = type(value)
    if t is NamedTupleValue:
        return True
    if t in (list, tuple, set, frozenset):
        return any(_spells_a_class(x) for x in value)
    if isinstance(value, dict):  # dict, Counter, OrderedDict, defaultdict: exact types from the parser
        return any(_spells_a_class(x) for pair in value.items() for x in pair)
    return False


def _check_deduction(job: J.CheckJob, config: ExecutorConfig) -> Plan:
    gold_text, ms = job.gold_output, 0.0
    if not gold_text:
        [r] = yield [_exec(job, config, job.code, "input", job.input)]
        ms = _ms([r])
        if _problem(r):
            return _failed(job, r, ms, stage="gold")
        gold_text = r["repr"]
    gold = _gold(gold_text, config)
    if gold[0]:  # plain data: parse the answer in a worker, compare here; nothing runs
        [r] = yield [Unit({"op": "parse", "text": job.answer})]
        if r["status"] not in (J.OK, J.SYNTAX):  # the worker was lost
            return _failed(job, r, ms)
        correct = r["status"] == J.OK and values_equal(gold[1], r["value"], config.equality)
        if correct or not _spells_a_class(gold[1]):
            if r["status"] == J.SYNTAX:
                return J.Result(job.id, J.SYNTAX, correct=False, output=gold_text, message=r.get("message", ""))
            return J.Result(job.id, J.OK, correct=correct, output=gold_text, time_ms=ms)
        # else the gold may be a task class's repr, and the answer a call of that class: run it, as below
    [r] = yield [_exec(job, config, job.code, "answer_value", job.answer)]
    ms += _ms([r])
    if r["status"] != J.OK:
        return _failed(job, r, ms)
    return J.Result(job.id, J.OK, correct=_matches(r, gold_text, gold, config), output=gold_text, time_ms=ms)


def _check_abduction(job: J.CheckJob, config: ExecutorConfig) -> Plan:
    [r] = yield [_exec(job, config, job.code, "answer", job.answer)]
    if r["status"] != J.OK:
        return _failed(job, r, _ms([r]))
    correct = _matches(r, job.gold_output, _gold(job.gold_output, config), config)
    return J.Result(job.id, J.OK, correct=correct, repr=r["repr"], time_ms=_ms([r]))


def _check_induction(job: J.CheckJob, config: ExecutorConfig) -> Plan:
    golds, ms = job.gold_outputs, 0.0
    if golds is None:
        gold_runs = yield [_exec(job, config, job.code, "input", text) for text in job.inputs]
        ms = _ms(gold_runs)
        for i, r in enumerate(gold_runs):
            if _problem(r):
                return _failed(job, r, ms, stage="gold", input_index=i)
        golds = tuple(r["repr"] for r in gold_runs)
    answers = yield [_exec(job, config, job.answer_code, "input", text) for text in job.inputs]
    ms += _ms(answers)
    for i, r in enumerate(answers):
        if r["status"] != J.OK:
            return _failed(job, r, ms, input_index=i)
    correct = all(_matches(r, g, _gold(g, config), config) for r, g in zip(answers, golds))
    return J.Result(job.id, J.OK, correct=correct, outputs=golds, time_ms=ms)
