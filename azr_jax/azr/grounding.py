"""The one place that talks to the executor: proposals -> validated tasks, answers -> verdicts.

Nothing model-written is evaluated in this process: programs, inputs and answers travel to the sandboxed
`ExecutorService` as jobs, many per call (`submit` streams results as jobs finish), and come back as plain
statuses and canonical reprs. If the executor's API changes, this file is the only one to touch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterator, Sequence

from azr_jax.azr.config import AZRConfig
from azr_jax.azr.parsing import PROPOSE, ParseResult
from azr_jax.azr.tasks import InductionTask, Proposal, Task, TaskType, Triplet, rename_entry_to_f
from azr_jax.executor import CheckJob, ExecutorConfig, ExecutorService, ValidateJob

# Statuses decided here, before the executor is asked (the executor's own are in executor.jobs.STATUSES).
TOO_LONG, BAD_SHAPE, NO_ANSWER = "too_long", "bad_shape", "no_answer"


@dataclass(frozen=True)
class ValidationOutcome:
    """A proposal's verdict: `task` (with executor-computed outputs) when valid, else a status why not."""

    valid: bool
    status: str  # executor status ("ok", "banned", "timeout", ...) or one of TOO_LONG, BAD_SHAPE
    task: Task | None = None
    message: str = ""


@dataclass(frozen=True)
class CheckOutcome:
    """A solver answer's verdict; `status` says why an incorrect answer failed (for metrics)."""

    correct: bool
    status: str  # executor status, or NO_ANSWER when there was nothing to check
    message: str = ""


def executor_config(config: AZRConfig, **overrides) -> ExecutorConfig:
    """The executor settings an AZR config implies; `overrides` set any other ExecutorConfig field.

    banned_check "ast": the executor's full filter (modules, names, attributes) plus the config's list.
    banned_check "imports" (reference): only imports of the listed modules are refused; the sandbox still
    isolates whatever runs."""
    defaults = {f.name: f.default for f in dataclasses.fields(ExecutorConfig)}
    listed = frozenset(m for m in config.banned_modules if "." not in m)  # dotted words never match an import
    if config.banned_check == "ast":
        banned = dict(banned_modules=defaults["banned_modules"] | listed)
    else:
        banned = dict(banned_modules=listed, banned_names=frozenset(), banned_attributes=frozenset())
    values = dict(timeout_s=float(config.timeout_s), memory_mb=config.memory_mb,
                  max_repr_chars=config.max_output_chars, max_code_chars=config.max_program_chars,
                  max_answer_chars=config.max_input_chars, determinism_runs=config.determinism_runs, **banned)
    values.update(overrides)
    return ExecutorConfig(**values)


def proposal_from_parse(parsed: ParseResult, program: str | None = None) -> Proposal | None:
    """The proposal a well-formed proposer completion makes (None if it is malformed). Induction
    proposers do not write the program: pass the one their prompt showed."""
    if parsed.role != PROPOSE or not parsed.format_ok:
        return None
    if parsed.task_type is TaskType.INDUCTION:
        if program is None:
            raise ValueError("an induction proposal needs the program its prompt showed")
        return Proposal(TaskType.INDUCTION, program, inputs=parsed.inputs, message=parsed.message or "")
    return Proposal(parsed.task_type, parsed.program, input=parsed.input)


def _host_problem(p: Proposal, config: AZRConfig) -> ValidationOutcome | None:
    """Cheap checks that need no executor (shape and sizes)."""
    if not isinstance(p, Proposal) or type(p.program) is not str or not p.program.strip():
        return ValidationOutcome(False, BAD_SHAPE, message="no program")
    if len(p.program) > config.max_program_chars:
        return ValidationOutcome(False, TOO_LONG, message=f"program longer than {config.max_program_chars}")
    inputs = p.inputs if p.task_type is TaskType.INDUCTION else (p.input,)
    if type(inputs) is not tuple or not all(type(i) is str and i.strip() for i in inputs):
        return ValidationOutcome(False, BAD_SHAPE, message="inputs must be non-empty strings")
    if p.task_type is TaskType.INDUCTION and len(inputs) != config.induction_num_inputs:
        return ValidationOutcome(False, BAD_SHAPE, message=f"{len(inputs)} inputs, not {config.induction_num_inputs}")
    if any(len(i) > config.max_input_chars for i in inputs):
        return ValidationOutcome(False, TOO_LONG, message=f"input longer than {config.max_input_chars}")
    return None


def iter_validate(service: ExecutorService, proposals: Sequence[Proposal],
                  config: AZRConfig = AZRConfig()) -> Iterator[tuple[int, ValidationOutcome]]:
    """(index, outcome) for every proposal, in the order the executor finishes them."""
    jobs, programs = [], {}
    for i, p in enumerate(proposals):
        problem = _host_problem(p, config)
        if problem is not None:
            yield i, problem
            continue
        programs[i] = rename_entry_to_f(p.program)
        inputs = p.inputs if p.task_type is TaskType.INDUCTION else (p.input,)
        jobs.append(ValidateJob(p.task_type.executor_name, programs[i], tuple(inputs), id=i))
    for result in service.submit(jobs):
        i = result.id
        if result.status != "ok":
            yield i, ValidationOutcome(False, result.status, message=result.message)
            continue
        p = proposals[i]
        if p.task_type is TaskType.INDUCTION:
            task = InductionTask(programs[i], tuple(p.inputs), tuple(result.outputs), p.message)
        else:
            task = Triplet(programs[i], p.input, result.output)
        yield i, ValidationOutcome(True, "ok", task)


def validate_proposals(service: ExecutorService, proposals: Sequence[Proposal],
                       config: AZRConfig = AZRConfig()) -> list[ValidationOutcome]:
    """One outcome per proposal, in the order of `proposals` (all jobs go to the executor at once)."""
    out: list = [None] * len(proposals)
    for i, outcome in iter_validate(service, proposals, config):
        out[i] = outcome
    return out


def _check_job(task_type: TaskType, task: Task, answer: str, job_id: int) -> CheckJob:
    if task_type is TaskType.INDUCTION:
        if not isinstance(task, InductionTask):
            raise TypeError("an induction check needs an InductionTask")
        hidden = task.hidden
        return CheckJob("induction", task.program, answer_code=answer, inputs=tuple(x for x, _ in hidden),
                        gold_outputs=tuple(y for _, y in hidden), id=job_id)
    if not isinstance(task, Triplet):
        raise TypeError(f"a {task_type.executor_name} check needs a Triplet")
    if task_type is TaskType.DEDUCTION:
        return CheckJob("deduction", task.program, answer=answer, gold_output=task.output, input=task.input,
                        id=job_id)
    return CheckJob("abduction", task.program, answer=answer, gold_output=task.output, id=job_id)


def _types(task_type, n: int) -> list[TaskType]:
    if isinstance(task_type, (TaskType, str)):
        return [TaskType(task_type)] * n
    types = [TaskType(t) for t in task_type]
    if len(types) != n:
        raise ValueError("check_answers needs one task type per task")
    return types


def iter_check(service: ExecutorService, tasks: Sequence[Task], answers: Sequence[str | None],
               task_type: TaskType | Sequence[TaskType]) -> Iterator[tuple[int, CheckOutcome]]:
    """(index, outcome) per answer as checks finish. `answers` are solver solutions (ParseResult.solution):
    deduction an output literal, abduction an argument list, induction a program; None = nothing parsed."""
    if len(tasks) != len(answers):
        raise ValueError("check_answers needs one answer per task")
    types = _types(task_type, len(tasks))
    jobs = []
    for i, (t, task, answer) in enumerate(zip(types, tasks, answers)):
        if type(answer) is not str or not answer.strip():
            yield i, CheckOutcome(False, NO_ANSWER)
            continue
        jobs.append(_check_job(t, task, answer, i))
    for result in service.submit(jobs):
        yield result.id, CheckOutcome(result.status == "ok" and result.correct is True, result.status,
                                      result.message)


def check_answers_detailed(service: ExecutorService, tasks: Sequence[Task], answers: Sequence[str | None],
                           task_type: TaskType | Sequence[TaskType]) -> list[CheckOutcome]:
    out: list = [None] * len(tasks)
    for i, outcome in iter_check(service, tasks, answers, task_type):
        out[i] = outcome
    return out


def check_answers(service: ExecutorService, tasks: Sequence[Task], answers: Sequence[str | None],
                  task_type: TaskType | Sequence[TaskType]) -> list[bool]:
    """Correct or not, per answer, in the order of `tasks`. Equality is decided by the executor on plain
    data (canonical reprs / literals), never by objects the answer or program created."""
    return [o.correct for o in check_answers_detailed(service, tasks, answers, task_type)]
