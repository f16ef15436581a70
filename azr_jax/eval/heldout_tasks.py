"""The fixed held-out evaluation set: 100 tasks of each type from the held-out family and seeds.

Deduction and abduction tasks show one (input, output) pair of a held-out program; induction tasks show
the first half of ten pairs and a message, and check the second half. No held-out draw is ever used for
pretraining or self-play (generator.check_split enforces it).
"""

from __future__ import annotations

from azr_jax.azr.tasks import InductionTask, Task, TaskType, Triplet
from azr_jax.data.generator import generate, heldout_draws
from azr_jax.data.messages import induction_message

TASKS_PER_TYPE = 100
INDUCTION_INPUTS = 10
# Each type takes its own block of held-out seeds, so no program is shown in two tasks.
_SEED_OFFSETS = {TaskType.DEDUCTION: 0, TaskType.ABDUCTION: 100_000, TaskType.INDUCTION: 200_000}


def _informative_pair(inputs: tuple, outputs: tuple) -> tuple[str, str]:
    """The first (input, output) whose output is not an empty list: `[]` could be guessed without reading
    the program (deduction), and `[]` as an input answers it trivially (abduction)."""
    for x, y in zip(inputs, outputs):
        if y != "[]":
            return x, y
    return inputs[0], outputs[0]


def heldout_tasks(per_type: int = TASKS_PER_TYPE) -> list[tuple[TaskType, Task]]:
    """(type, task) for `per_type` tasks of each type, deduction first; the same list on every call."""
    out: list[tuple[TaskType, Task]] = []
    for task_type, offset in _SEED_OFFSETS.items():
        for family, seed in heldout_draws(per_type, offset):
            if task_type is TaskType.INDUCTION:
                p = generate(family, seed, INDUCTION_INPUTS, heldout=True)
                out.append((task_type, InductionTask(p.source, p.inputs, p.outputs, induction_message(family, seed))))
            else:
                p = generate(family, seed, INDUCTION_INPUTS, heldout=True)
                out.append((task_type, Triplet(p.source, *_informative_pair(p.inputs, p.outputs))))
    return out
