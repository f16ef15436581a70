"""The fixed held-out evaluation set: 100 tasks of each type from the held-out family and seeds.

Deduction and abduction tasks show one (input, output) pair of a held-out program; induction tasks show
the first half of ten pairs and a message, and check the second half. No held-out draw is ever used for
pretraining or self-play (generator.check_split enforces it).
"""

from __future__ import annotations

from azr_jax.azr.tasks import Task, TaskType
from azr_jax.data.generator import heldout_draws
from azr_jax.data.tasks import generated_task

TASKS_PER_TYPE = 100
# Each type takes its own block of held-out seeds, so no program is shown in two tasks.
_SEED_OFFSETS = {TaskType.DEDUCTION: 0, TaskType.ABDUCTION: 100_000, TaskType.INDUCTION: 200_000}


def heldout_tasks(per_type: int = TASKS_PER_TYPE) -> list[tuple[TaskType, Task]]:
    """(type, task) for `per_type` tasks of each type, deduction first; the same list on every call."""
    return [(task_type, generated_task(task_type, family, seed, heldout=True))
            for task_type, offset in _SEED_OFFSETS.items() for family, seed in heldout_draws(per_type, offset)]
