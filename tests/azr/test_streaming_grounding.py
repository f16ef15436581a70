"""StreamingGrounding with the real executor: work queued from another thread while "generation" runs
is validated and checked on the host thread before generation ends, and nothing is lost at the end."""

import concurrent.futures
import threading
import time

import pytest

from azr_jax.azr.config import AZRConfig
from azr_jax.azr.grounding import executor_config
from azr_jax.azr.streaming_grounding import StreamingGrounding
from azr_jax.azr.tasks import Proposal, TaskType, Triplet
from azr_jax.executor import ExecutorService

CONFIG = AZRConfig(timeout_s=1.0, memory_mb=256)
DOUBLE = "def f(a):\n    return a * 2"


@pytest.fixture(scope="module")
def service():
    with ExecutorService(executor_config(CONFIG, pool_size=2, tmp_mb=16, worker_grace_s=3.0)) as svc:
        yield svc


def test_streamed_work_runs_during_generation_and_finishes(service):
    host = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    grounder = StreamingGrounding(service, CONFIG, host)
    task = Triplet(DOUBLE, "3", "6")
    # Rows "finish" on the sampler's worker thread.
    finisher = threading.Thread(target=lambda: (
        grounder.validate(0, Proposal(TaskType.DEDUCTION, DOUBLE, input="4")),
        grounder.validate(1, Proposal(TaskType.DEDUCTION, "import os\ndef f(a):\n    return a", input="1")),
        grounder.check(0, task, "6", TaskType.DEDUCTION),
        grounder.check(1, task, "7", TaskType.DEDUCTION)))
    finisher.start()
    finisher.join()
    deadline = time.monotonic() + 60
    while len(grounder.outcomes) < 2 or len(grounder.verdicts) < 2:  # the device would still be decoding
        assert time.monotonic() < deadline, "queued work did not run before generation ended"
        time.sleep(0.05)
    grounder.check(2, task, None, TaskType.DEDUCTION)  # a row that finished last: checked now or left over
    unchecked = grounder.finish_validation()
    assert grounder.outcomes[0].valid and grounder.outcomes[0].task.output == "8"
    assert not grounder.outcomes[1].valid
    left = [i for i, _ in unchecked]
    assert grounder.verdicts == ({0: True, 1: False} if left == [2] else {0: True, 1: False, 2: False})
    assert grounder.busy_seconds > 0
    host.shutdown()
