"""Checkpoints and exact resumption, on local disk, on a GCS emulator, and after SIGKILL."""

import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from flax import nnx

from azr_jax.checkpoint.train_checkpoints import TrainCheckpointError
from azr_jax.trainer import Trainer
from tests_trainer_helpers import read_scalars, small_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPARED = ("pg/loss", "pg/grad_norm", "propose/reward", "solve/reward", "propose/abduction/response_tokens",
            "solve/deduction/response_tokens")


def run(workdir, steps, capsys=None, **overrides):
    with Trainer(small_config(workdir, steps=steps, checkpoint_every=1, **overrides),
                 evaluators={"probe": param_norm_probe}) as trainer:
        trainer.run()
        return trainer


def param_norm_probe(params, steps_done):
    leaves = jax.tree.leaves(nnx.to_pure_dict(params))
    return {"param_norm": float(np.sqrt(sum(np.sum(np.square(np.asarray(x, np.float64))) for x in leaves))),
            "steps_done": steps_done}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("whole")
    run(workdir, steps=2, eval_every=2)
    return read_scalars(str(workdir))


def test_evaluators_run_before_training_and_every_eval_every_steps(uninterrupted):
    # eval_every=2 over 2 steps: on the base (0 steps done) and after both steps, each logged at its steps done.
    assert uninterrupted["eval/probe/steps_done"] == {0: 0.0, 2: 2.0}
    norms = uninterrupted["eval/probe/param_norm"]
    assert norms[0] > 0 and norms[2] != norms[0]  # the update moved the parameters


def assert_same_metrics(a, b, steps):
    for tag in COMPARED:
        for step in steps:
            assert a[tag][step] == b[tag][step], (tag, step, a[tag][step], b[tag][step])


def test_resume_equals_uninterrupted_run_on_gcs(uninterrupted, gcs_bucket, capsys):
    workdir = gcs_bucket + "/run"
    run(workdir, steps=1)
    import fsspec

    fs = fsspec.filesystem("gs")
    assert fs.exists(f"{gcs_bucket}/run/checkpoints/1")
    capsys.readouterr()
    run(workdir, steps=2)
    assert "resumed from checkpoint at step 1" in capsys.readouterr().out
    resumed = read_scalars(workdir)
    assert_same_metrics(uninterrupted, resumed, steps=(1,))
    # TensorBoard reads back the six groups' rewards and the time breakdown.
    for tag in ("propose/induction/reward", "solve/abduction/reward", "time/update_s", "buffer/deduction/size"):
        assert tag in resumed


def test_unreadable_checkpoint_is_reported_and_left_untouched(tmp_path):
    workdir = tmp_path / "run"
    run(workdir, steps=1)
    ckpt = workdir / "checkpoints" / "1"
    for path in ckpt.rglob("*"):
        if path.is_file() and "arrays" in str(path) and path.name != "_CHECKPOINT_METADATA":
            path.write_bytes(b"garbage")
    before = sorted(str(p) for p in ckpt.rglob("*"))
    with pytest.raises(TrainCheckpointError, match=r"checkpoints/1 cannot be restored"):
        run(workdir, steps=2)
    assert sorted(str(p) for p in ckpt.rglob("*")) == before


@pytest.mark.slow
def test_sigkill_mid_run_resumes_exactly(uninterrupted, tmp_path):
    """A run killed with SIGKILL after its first checkpoint restarts from it with the same command."""
    workdir = tmp_path / "killed"
    command = [sys.executable, os.path.join(REPO, "launch/tpu_run.py"), "--config=tiny", f"--workdir={workdir}",
               "--config.azr.batch_size=2", "--config.azr.learnability_rollouts=2",
               "--config.generation.max_response_tokens=24", "--config.seed_max_rounds=1",
               "--config.azr.seed_size=2", "--config.executor_pool_size=2", "--config.steps=2",
               "--config.checkpoint_every=1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 900
    while not (workdir / "checkpoints" / "1").exists():
        assert proc.poll() is None and time.time() < deadline, "first checkpoint never appeared"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    out = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "resumed from checkpoint at step" in out.stdout
    assert_same_metrics(uninterrupted, read_scalars(str(workdir)), steps=(1,))
