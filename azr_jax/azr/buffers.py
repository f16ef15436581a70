"""Task buffers: one per task type, deduplicated, capped, sampled with an explicit numpy Generator.

A buffer holds validated tasks oldest first. `add` skips a task whose normalised program + input(s) is
already present. At the cap, policy "newest" (default) evicts the oldest tasks so the buffer keeps
moving with the policy; "oldest" refuses new tasks, which is what the reference code ends up doing
(its buffer silently stops growing). All randomness comes from the Generator the caller passes, so a run
seeded the same way samples the same tasks. `to_dict`/`from_dict` give plain JSON data for checkpoints.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from azr_jax.azr.config import AZRConfig, CAP_POLICIES, SHORT_BATCH_POLICIES
from azr_jax.azr.tasks import InductionTask, Task, TaskType, Triplet, identity_triplet

_FORMAT_VERSION = 1


class TaskBuffer:
    """Validated tasks of one type, oldest first."""

    def __init__(self, task_type: TaskType, cap: int = 16_384, cap_policy: str = "newest",
                 short_batch_policy: str = "replace") -> None:
        if type(cap) is not int or cap <= 0:
            raise ValueError(f"TaskBuffer.cap must be a positive int, got {cap!r}")
        if cap_policy not in CAP_POLICIES:
            raise ValueError(f"TaskBuffer.cap_policy must be one of {CAP_POLICIES}, got {cap_policy!r}")
        if short_batch_policy not in SHORT_BATCH_POLICIES:
            raise ValueError(f"TaskBuffer.short_batch_policy must be one of {SHORT_BATCH_POLICIES}, "
                             f"got {short_batch_policy!r}")
        self.task_type = TaskType(task_type)
        self.cap = cap
        self.cap_policy = cap_policy
        self.short_batch_policy = short_batch_policy
        self._tasks: list[Task] = []
        self._task_keys: list[tuple] = []  # normal form of each task, computed once (ast work)
        self._keys: set = set()
        # Counters for monitoring; they are part of the serialised state.
        self.stats = {"added": 0, "duplicates": 0, "evicted": 0, "refused_full": 0}

    @classmethod
    def from_config(cls, task_type: TaskType, config: AZRConfig) -> "TaskBuffer":
        return cls(task_type, config.buffer_cap, config.buffer_cap_policy, config.short_batch_policy)

    # --- contents -------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def tasks(self) -> tuple:
        """All tasks, oldest first."""
        return tuple(self._tasks)

    def _check_type(self, task: Task) -> None:
        want = InductionTask if self.task_type is TaskType.INDUCTION else Triplet
        if not isinstance(task, want):
            raise TypeError(f"a {self.task_type.executor_name} buffer holds {want.__name__}, "
                            f"not {type(task).__name__}")

    def add(self, task: Task) -> bool:
        """Adds `task` unless it is a duplicate (or the buffer is full under policy "oldest")."""
        self._check_type(task)
        key = task.key()
        if key in self._keys:
            self.stats["duplicates"] += 1
            return False
        if len(self._tasks) >= self.cap:
            if self.cap_policy == "oldest":
                self.stats["refused_full"] += 1
                return False
            self._tasks.pop(0)
            self._keys.discard(self._task_keys.pop(0))
            self.stats["evicted"] += 1
        self._tasks.append(task)
        self._task_keys.append(key)
        self._keys.add(key)
        self.stats["added"] += 1
        return True

    def extend(self, tasks: Iterable[Task]) -> list[Task]:
        """Adds tasks in order; returns the ones actually added (the step's new tasks)."""
        return [t for t in tasks if self.add(t)]

    def __contains__(self, task: Task) -> bool:
        return task.key() in self._keys

    # --- sampling -------------------------------------------------------------------------------------

    def sample(self, k: int, rng: np.random.Generator) -> list[Task]:
        """`k` distinct tasks drawn uniformly without replacement (all of them, shuffled, if fewer)."""
        if k < 0:
            raise ValueError(f"cannot sample {k} tasks")
        idx = rng.choice(len(self._tasks), size=min(k, len(self._tasks)), replace=False)
        return [self._tasks[i] for i in idx]

    def solver_batch(self, new_tasks: Sequence[Task], batch_size: int, rng: np.random.Generator) -> list[Task]:
        """The solver's tasks for a step: tasks new since the last step first, then the whole buffer.

        1. If there are more new tasks than `batch_size`, a uniform subset of them; otherwise all of them.
        2. The remaining slots are filled uniformly without replacement from the buffer's other tasks.
        3. If new + buffer still hold fewer tasks than `batch_size` (early training, heavy filtering):
           policy "replace" fills the rest by sampling the tasks gathered so far uniformly *with*
           replacement, so the batch always has `batch_size` tasks (unless there are none at all);
           policy "fewer" returns the shorter batch.
        The result is shuffled, so position carries no information about where a task came from."""
        if batch_size < 0:
            raise ValueError(f"batch_size must be >= 0, got {batch_size}")
        for t in new_tasks:
            self._check_type(t)
        new = list(new_tasks)
        if len(new) > batch_size:
            new = [new[i] for i in rng.choice(len(new), size=batch_size, replace=False)]
        taken = {t.key() for t in new}
        others = [t for t, key in zip(self._tasks, self._task_keys) if key not in taken]
        fill = min(batch_size - len(new), len(others))
        batch = new + [others[i] for i in rng.choice(len(others), size=fill, replace=False)]
        short = batch_size - len(batch)
        if short and batch and self.short_batch_policy == "replace":
            batch += [batch[i] for i in rng.choice(len(batch), size=short, replace=True)]
        return [batch[i] for i in rng.permutation(len(batch))]

    # --- checkpointing --------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"version": _FORMAT_VERSION, "task_type": self.task_type.value, "cap": self.cap,
                "cap_policy": self.cap_policy, "short_batch_policy": self.short_batch_policy,
                "stats": dict(self.stats), "tasks": [t.to_dict() for t in self._tasks]}

    @classmethod
    def from_dict(cls, d: dict) -> "TaskBuffer":
        if d.get("version") != _FORMAT_VERSION:
            raise ValueError(f"unsupported TaskBuffer format version {d.get('version')!r}")
        buf = cls(TaskType(d["task_type"]), d["cap"], d["cap_policy"], d["short_batch_policy"])
        make = InductionTask.from_dict if buf.task_type is TaskType.INDUCTION else Triplet.from_dict
        for item in d["tasks"]:
            task = make(item)
            key = task.key()
            if key in buf._keys:
                raise ValueError("TaskBuffer data holds duplicate tasks")
            buf._tasks.append(task)
            buf._task_keys.append(key)
            buf._keys.add(key)
        if len(buf._tasks) > buf.cap:
            raise ValueError(f"TaskBuffer data holds {len(buf._tasks)} tasks, more than its cap {buf.cap}")
        buf.stats = {k: int(d["stats"][k]) for k in buf.stats}
        return buf


class TaskBuffers:
    """The three buffers of a run. Deduction and abduction start from the identity triplet; induction
    starts empty (its proposer draws programs from deduction + abduction)."""

    def __init__(self, buffers: dict) -> None:
        if set(buffers) != set(TaskType):
            raise ValueError("TaskBuffers needs one buffer per task type")
        self.buffers = dict(buffers)

    @classmethod
    def initial(cls, config: AZRConfig) -> "TaskBuffers":
        out = cls({t: TaskBuffer.from_config(t, config) for t in TaskType})
        for t in (TaskType.DEDUCTION, TaskType.ABDUCTION):
            out[t].add(identity_triplet())
        return out

    def __getitem__(self, task_type: TaskType) -> TaskBuffer:
        return self.buffers[TaskType(task_type)]

    def seeded(self, seed_size: int) -> bool:
        """True once every buffer holds `seed_size` tasks: seeding rounds (propose without updates) stop."""
        return all(len(b) >= seed_size for b in self.buffers.values())

    def references(self, task_type: TaskType, k: int, rng: np.random.Generator) -> list[Triplet]:
        """Reference triplets for a proposer prompt: K from the type's own buffer; for induction, one
        triplet drawn uniformly from deduction + abduction (its program is the one to write inputs for)."""
        task_type = TaskType(task_type)
        if task_type is not TaskType.INDUCTION:
            return self[task_type].sample(k, rng)
        pool = self[TaskType.DEDUCTION].tasks + self[TaskType.ABDUCTION].tasks
        if not pool:
            return []
        return [pool[int(rng.integers(len(pool)))]]

    def to_dict(self) -> dict:
        return {t.value: b.to_dict() for t, b in self.buffers.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "TaskBuffers":
        return cls({TaskType(k): TaskBuffer.from_dict(v) for k, v in d.items()})
