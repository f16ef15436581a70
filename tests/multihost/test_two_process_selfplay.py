"""Two JAX processes on this machine (gloo collectives, coordinator on 127.0.0.1) run the tiny config's
self-play as two hosts of a pod slice would: each prompts, samples and executes only its own share,
both keep identical buffers, one checkpoint is written and both processes restore it.

The first run samples from the tiny random model. Random weights never write a parseable program, so
the resumed run answers with the scripted policy of the trainer tests: only then does the executor
get work whose split between the processes can be checked."""

import os

import pytest

from multihost_helpers import run_driver

DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "multihost_driver.py")


def run_processes(workdir, steps, policy, out_dir, tag):
    return run_driver(DRIVER, [workdir, steps, policy], out_dir, tag)


@pytest.mark.slow
def test_two_processes_share_the_work_and_agree(tmp_path):
    workdir = tmp_path / "run"
    records, logs = run_processes(workdir, steps=2, policy="model", out_dir=tmp_path, tag="first")
    a, b = records
    assert (a["local_devices"], a["global_devices"]) == (2, 4)
    assert [s["step"] for s in a["steps"]] == [s["step"] for s in b["steps"]] == [0, 1]
    for sa, sb in zip(a["steps"], b["steps"]):
        # Each trains on its own half of the 3 x B proposals (B = 2 in small_config) and of the solver
        # batch (B per type whose buffer holds tasks).
        assert sa["rollouts"]["propose"] == sb["rollouts"]["propose"] == 3
        assert min(sa["rollouts"]["solve"], sb["rollouts"]["solve"]) >= 1
        assert abs(sa["rollouts"]["solve"] - sb["rollouts"]["solve"]) <= 1
        assert sa["host_state"] == sb["host_state"]
        assert sa["metrics"] == sb["metrics"]
    assert a["host_state"] == b["host_state"] and a["params"] == b["params"]
    assert sorted(os.listdir(workdir / "checkpoints")) == ["2"]
    assert "random tiny-qwen2 weights" in logs[0] and "random tiny-qwen2 weights" not in logs[1]  # process 0 logs

    records, logs = run_processes(workdir, steps=3, policy="scripted", out_dir=tmp_path, tag="resumed")
    assert "resumed from checkpoint at step 2" in logs[0]
    for before, after in zip((a, b), records):
        assert after["start"]["step"] == 2
        assert after["start"]["host_state"] == before["host_state"]
        assert after["start"]["params"] == pytest.approx(before["params"], rel=1e-6)
    (sa,), (sb,) = records[0]["steps"], records[1]["steps"]
    assert sa["step"] == sb["step"] == 2
    for s in (sa, sb):
        # Each validates its own 3 proposals, checks n=2 rollouts of its 3 of the 6 new valid tasks and
        # its own solver answers.
        assert s["executor_jobs"]["ValidateJob"] == 3
        assert s["executor_jobs"]["CheckJob"] == 3 * 2 + s["rollouts"]["solve"]
    assert sa["host_state"] == sb["host_state"] and sa["metrics"] == sb["metrics"]
    assert sa["metrics"]["propose/valid_rate"] == 1.0
    assert sum(v for k, v in sa["metrics"].items() if k.endswith("/added")) == 6
    assert records[0]["params"] == records[1]["params"]
