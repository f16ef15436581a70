"""AZR tasks made from generated programs: the held-out evaluation's, and fixed training sets (the
solver-only control seeds its buffers with them)."""

from __future__ import annotations

from azr_jax.azr.tasks import InductionTask, Task, TaskType, Triplet
from azr_jax.data.generator import GeneratedProgram, generate, training_draws
from azr_jax.data.messages import induction_message

INDUCTION_INPUTS = 10


def _informative_pair(p: GeneratedProgram) -> tuple[str, str]:
    """The first (input, output) whose output is not an empty list: `[]` could be guessed without reading
    the program (deduction), and `[]` as an input answers it trivially (abduction)."""
    for x, y in zip(p.inputs, p.outputs):
        if y != "[]":
            return x, y
    return p.inputs[0], p.outputs[0]


def task_from_program(task_type: TaskType, p: GeneratedProgram) -> Task:
    """Induction: the program's ten pairs (half shown) and its family's hint; otherwise one pair of it."""
    if task_type is TaskType.INDUCTION:
        return InductionTask(p.source, p.inputs, p.outputs, induction_message(p.family, p.seed))
    return Triplet(p.source, *_informative_pair(p))


def generated_task(task_type: TaskType, family: str, seed: int, heldout: bool = False) -> Task:
    return task_from_program(task_type, generate(family, seed, INDUCTION_INPUTS, heldout=heldout))


def training_tasks(task_type: TaskType, count: int, seed: int) -> list[Task]:
    """`count` tasks of `task_type` from training draws (families in turn), the same for the same seed."""
    return [generated_task(task_type, family, s) for family, s in training_draws(count, seed)]
