"""Executor work that starts while the device is still sampling.

The sampler hands each finished row to a callback while the other rows keep decoding. Proposals and
solver answers parsed there are queued here, and one host thread sends whatever has accumulated to the
executor as a batch (so the pool stays busy) until generation ends. Validations come first in every
batch: the learnability rollouts wait for them, while solver checks can still run later, behind the
next generate call.
"""

from __future__ import annotations

import concurrent.futures
import queue
import time
from typing import Sequence

from azr_jax.azr import grounding
from azr_jax.azr.config import AZRConfig
from azr_jax.azr.tasks import Proposal, TaskType

_END = object()


class StreamingGrounding:
    """validate()/check() from any thread while a generate call runs; finish_validation() after it."""

    def __init__(self, executor, config: AZRConfig, host_thread: concurrent.futures.ThreadPoolExecutor):
        self._executor = executor
        self._config = config
        self._queue: queue.Queue = queue.Queue()
        self.outcomes: dict[int, grounding.ValidationOutcome] = {}
        self.verdicts: dict[int, bool] = {}
        self.busy_seconds = 0.0
        self._consumer = host_thread.submit(self._consume)

    def validate(self, index: int, proposal: Proposal) -> None:
        self._queue.put(("validate", index, proposal))

    def check(self, index: int, task, answer: str | None, task_type: TaskType) -> None:
        self._queue.put(("check", index, (task, answer, task_type)))

    def finish_validation(self) -> list[tuple[int, tuple]]:
        """Waits until every queued proposal is validated (self.outcomes); returns the solver checks
        that were queued but not yet run, as (index, (task, answer, task_type))."""
        self._queue.put(_END)
        return self._consumer.result()

    def _consume(self) -> list[tuple[int, tuple]]:
        checks: list[tuple[int, tuple]] = []
        ended = False
        while not ended:
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            ended = any(item is _END for item in items)
            items = [item for item in items if item is not _END]
            checks += [(i, payload) for kind, i, payload in items if kind == "check"]
            start = time.perf_counter()
            self._validate([(i, payload) for kind, i, payload in items if kind == "validate"])
            if not ended:
                self._check(checks)
                checks = []
            self.busy_seconds += time.perf_counter() - start
        return checks

    def _validate(self, items: Sequence[tuple[int, Proposal]]) -> None:
        if items:
            outcomes = grounding.validate_proposals(self._executor, [p for _, p in items], self._config)
            self.outcomes.update((i, outcome) for (i, _), outcome in zip(items, outcomes))

    def _check(self, items: Sequence[tuple[int, tuple]]) -> None:
        if items:
            self.verdicts.update(check_now(self._executor, items))


def check_now(executor, items: Sequence[tuple[int, tuple]]) -> dict[int, bool]:
    """Verdicts for (index, (task, answer, task_type)); an answer that did not parse (None) is wrong."""
    tasks, answers, types = zip(*(payload for _, payload in items)) if items else ((), (), ())
    verdicts = grounding.check_answers(executor, tasks, answers, types) if items else []
    return {i: v for (i, _), v in zip(items, verdicts)}
