"""What the trainer asks the executor (jobs) and what it gets back (results): frozen plain dataclasses.

Inputs are Python argument lists as AZR proposers write them (`"1, [2, 3]"`, `"'abc'"`); the program is
called as `f(<input>)`. Outputs are canonical reprs (literals.canonical_repr).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Outcomes of a job. `correct` (checks) is True only with status OK.
OK, ERROR, TIMEOUT, MEMORY = "ok", "error", "timeout", "memory"
OUTPUT_LIMIT, BANNED, SYNTAX = "output_limit", "banned", "syntax"
NONDETERMINISTIC, UNREPRESENTABLE = "nondeterministic", "unrepresentable"
STATUSES = (OK, ERROR, TIMEOUT, MEMORY, OUTPUT_LIMIT, BANNED, SYNTAX, NONDETERMINISTIC, UNREPRESENTABLE)

TASKS = ("deduction", "abduction", "induction")
TASK_ALIASES = {"code_o": "deduction", "code_i": "abduction", "code_f": "induction"}


def task_name(task: str) -> str:
    """Canonical task name; accepts the reference code names code_o / code_i / code_f."""
    name = TASK_ALIASES.get(task, task)
    if name not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS + tuple(TASK_ALIASES)}")
    return name


def _require_str(job: object, *names: str) -> None:
    for name in names:
        if type(getattr(job, name)) is not str:
            raise ValueError(f"{type(job).__name__}.{name} must be a str")


def _require_inputs(job: object, name: str) -> None:
    value = getattr(job, name)
    if type(value) is not tuple or not value or not all(type(s) is str for s in value):
        raise ValueError(f"{type(job).__name__}.{name} must be a non-empty tuple of str")


@dataclass(frozen=True)
class RunJob:
    """Run `code`, then evaluate `call` (e.g. "f(1, 2)") and return the value's repr.

    `static_checks=False` runs the code exactly as given, so only the sandbox stands between it and the
    host; True applies the banned-module/name filter to program and call first."""

    code: str
    call: str
    id: object = None
    static_checks: bool = False
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        _require_str(self, "code", "call")


@dataclass(frozen=True)
class ValidateJob:
    """Validate a proposed task: one input (deduction, abduction) or an input set (induction).

    Valid means: the program passes the AST checks, `f(input)` runs within the limits, gives the same
    canonical repr in `determinism_runs` processes with different hash seeds, and the output is
    representable within `max_repr_chars`. The result carries the gold output(s)."""

    task: str
    code: str
    inputs: tuple
    id: object = None
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "task", task_name(self.task))
        _require_str(self, "code")
        _require_inputs(self, "inputs")
        if self.task != "induction" and len(self.inputs) != 1:
            raise ValueError(f"ValidateJob for {self.task} takes exactly one input")


@dataclass(frozen=True)
class CheckJob:
    """Check a solver's answer.

    deduction: `answer` is an output literal, compared as a value with `gold_output` (computed from
      `code` and `input` when empty); answers that need the task's classes are rebuilt in the sandbox.
    abduction: `answer` is an argument list; correct if f(answer) equals `gold_output`.
    induction: `answer_code` is a program; correct if it maps every one of `inputs` to the output of
      `code` (or to `gold_outputs`, when given)."""

    task: str
    code: str
    answer: str = ""
    gold_output: str = ""
    input: str = ""
    answer_code: str = ""
    inputs: tuple = ()
    gold_outputs: tuple | None = None
    id: object = None
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "task", task_name(self.task))
        _require_str(self, "code", "answer", "gold_output", "input", "answer_code")
        if self.task == "deduction" and not (self.gold_output or self.input):
            raise ValueError("CheckJob(deduction) needs gold_output or input")
        if self.task == "abduction" and not self.gold_output:
            raise ValueError("CheckJob(abduction) needs gold_output")
        if self.task == "induction":
            _require_inputs(self, "inputs")
            if self.gold_outputs is not None and (type(self.gold_outputs) is not tuple or
                                                  len(self.gold_outputs) != len(self.inputs)):
                raise ValueError("CheckJob.gold_outputs must be a tuple as long as inputs")


Job = RunJob | ValidateJob | CheckJob


@dataclass(frozen=True)
class Result:
    """The outcome of one job. Fields that do not apply to the job's kind stay None."""

    id: object
    status: str
    repr: str | None = None  # run: repr of the returned value
    output: str | None = None  # validate (deduction/abduction): the gold output
    outputs: tuple | None = None  # validate (induction): one gold output per input
    correct: bool | None = None  # check
    error_type: str | None = None
    message: str = ""
    time_ms: float = 0.0  # wall time of the sandboxed runs, summed
    stdout: str = ""  # run: captured stdout (capped)
    extra: dict = field(default_factory=dict)  # e.g. which input failed

    def to_json(self) -> dict:
        """Plain JSON-ready dict without the fields that do not apply."""
        out = {"id": self.id, "status": self.status}
        for name in ("repr", "output", "outputs", "correct", "error_type"):
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if type(value) is tuple else value
        if self.message:
            out["message"] = self.message
        if self.stdout:
            out["stdout"] = self.stdout
        out["time_ms"] = round(self.time_ms, 3)
        out.update(self.extra)
        return out
