"""launch/gcp_tpu.py --dry_run prints the gcloud commands a TPU slice needs."""

import os
import shlex
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def dry_run(*args):
    out = subprocess.run([sys.executable, os.path.join(REPO, "launch/gcp_tpu.py"), *args, "--tpu=azr", "--zone=us-east5-a",
                          "--dry_run"], capture_output=True, text=True, timeout=60)
    return out.returncode, [shlex.split(line) for line in out.stdout.splitlines()], out.stderr


def test_create_requests_a_queued_spot_slice():
    rc, cmds, _ = dry_run("create", "--accelerator=v5p-64", "--spot", "--project=proj")
    assert rc == 0 and len(cmds) == 1
    cmd = cmds[0]
    assert cmd[:6] == ["gcloud", "compute", "tpus", "queued-resources", "create", "azr"]
    assert {"--accelerator-type=v5p-64", "--spot", "--zone=us-east5-a", "--project=proj", "--node-id=azr",
            "--runtime-version=v2-alpha-tpuv5"} <= set(cmd)


def test_run_installs_and_starts_training_on_every_worker():
    rc, cmds, _ = dry_run("run", "--config=azr_7b", "--workdir=gs://b/run", "--override=rl.learning_rate=2e-6")
    assert rc == 0 and len(cmds) == 2
    install, train = cmds
    assert "--worker=all" in install and "--worker=all" in train
    assert "pip install -q -e '.[tpu]'" in install[-1]
    assert "launch/tpu_run.py --config=azr_7b --workdir=gs://b/run --config.rl.learning_rate=2e-6" in train[-1]


def test_logs_delete_and_bad_input():
    rc, cmds, _ = dry_run("logs")
    assert rc == 0 and "--worker=0" in cmds[0] and cmds[0][-1] == "--command=tail -f ~/azr_jax.log"
    rc, cmds, _ = dry_run("delete")
    assert rc == 0 and cmds[0][3:5] == ["queued-resources", "delete"] and "--quiet" in cmds[0]
    rc, _, err = dry_run("run", "--workdir=/local/dir")
    assert rc != 0 and "gs://" in err
    rc, _, err = dry_run("create", "--accelerator=v9-8")
    assert rc != 0 and "unknown accelerator 'v9-8'" in err
    rc, _, err = dry_run("explode")
    assert rc != 0 and "create | run | logs | delete" in err
