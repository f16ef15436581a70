"""How a worker watches a job's child: output caps, deadlines, stopped children, what a child inherits."""

import dataclasses

import pytest

from azr_jax.executor import ExecutorService, RunJob

from conftest import TEST_CONFIG

CAP = 4096


@pytest.fixture(scope="module")
def one_worker():
    config = dataclasses.replace(TEST_CONFIG, pool_size=1, determinism_runs=1, max_output_bytes=CAP)
    with ExecutorService(config) as svc:
        yield svc


def run(svc, code, timeout_s=None):
    return svc.run_batch([RunJob(code, "f()", static_checks=False, timeout_s=timeout_s)])[0]


def test_output_is_captured_up_to_its_cap(one_worker):
    result = run(one_worker, "import os\ndef f():\n    print('a' * 100)\n    os.write(2, b'e')\n    return 7")
    assert (result.status, result.repr, result.stdout) == ("ok", "7", "a" * 100 + "\n")
    exact = run(one_worker, f"import os\ndef f():\n    os.write(1, b'x' * {CAP})\n    return 1")
    assert (exact.status, len(exact.stdout)) == ("ok", CAP)


@pytest.mark.parametrize("body", [
    f"print('x' * {CAP})\n    return 1",  # over the cap by its newline, then returns normally
    f"import os, time\n    os.write(1, b'x' * {CAP + 1})\n    time.sleep(100)",  # over the cap, then hangs
    # ignores SIGXFSZ, so the file size limit only fails its writes, which it catches
    "import os, signal\n    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n    try:\n"
    "        while True:\n            os.write(2, b'y' * 65536)\n    except OSError:\n        return 'caught'",
    "import os\n    os.write(3, b'z' * (2 << 20))\n    return 1",  # a result beyond its cap
])
def test_output_over_a_cap_is_output_limit_however_the_job_ends(one_worker, body):
    result = run(one_worker, "def f():\n    " + body, timeout_s=1.0)
    assert result.status == "output_limit", result


def test_a_stopped_child_runs_into_its_deadline_and_the_next_job_is_not_confused(one_worker):
    """A stopped child has not exited: the deadline still applies, and the next job waits for its own child."""
    stopped = run(one_worker, "import os, signal\ndef f():\n    os.kill(os.getpid(), signal.SIGSTOP)\n    return 1",
                  timeout_s=0.5)
    assert stopped.status == "timeout"
    slow = run(one_worker, "import time\ndef f():\n    time.sleep(0.3)\n    return 'slept'", timeout_s=5.0)
    assert (slow.status, slow.repr) == ("ok", "'slept'") and slow.time_ms >= 300


def test_a_job_has_a_plain_signal_mask(one_worker):
    result = run(one_worker, "import signal\ndef f():\n    return sorted(signal.pthread_sigmask(signal.SIG_BLOCK, []))")
    assert (result.status, result.repr) == ("ok", "[]")
