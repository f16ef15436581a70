"""Create, run on, follow and delete a Cloud TPU VM slice for azr_jax (wraps `gcloud`).

  python launch/gcp_tpu.py create --tpu=NAME --zone=ZONE --accelerator=v5p-64 [--spot] [--dry_run]
  python launch/gcp_tpu.py run    --tpu=NAME --zone=ZONE --config=azr_7b --workdir=gs://BUCKET/run [--dry_run]
  python launch/gcp_tpu.py logs   --tpu=NAME --zone=ZONE
  python launch/gcp_tpu.py delete --tpu=NAME --zone=ZONE

Slices are requested as queued resources (the way capacity, spot included, is granted today); `run`
installs the project on every worker and starts `launch/tpu_run.py` on all of them at once, with its
output going to ~/azr_jax.log on each worker (`logs` follows worker 0's).
"""

from __future__ import annotations

import shlex
import subprocess
import sys

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("tpu", None, "TPU VM (and queued resource) name.", required=True)
flags.DEFINE_string("zone", None, "Zone, e.g. us-east5-a.", required=True)
flags.DEFINE_string("project", None, "GCP project; default: gcloud's configured project.")
flags.DEFINE_string("accelerator", "v5p-64", "Accelerator type, e.g. v5p-64, v4-32, v5litepod-16.")
flags.DEFINE_string("runtime_version", None, "TPU software version; default by accelerator generation.")
flags.DEFINE_bool("spot", False, "Request spot capacity (cheaper, preemptible: runs resume from checkpoints).")
flags.DEFINE_string("config", "azr_7b", "azr_jax config name for `run`.")
flags.DEFINE_string("workdir", None, "gs:// run directory for `run`.")
flags.DEFINE_multi_string("override", [], "Extra `--config.key=value` overrides for `run` (repeatable).")
flags.DEFINE_string("repo", "https://github.com/OWNER/azr_jax.git", "Git URL the workers clone.")
flags.DEFINE_string("branch", "main", "Branch the workers check out.")
flags.DEFINE_bool("dry_run", False, "Print the gcloud commands instead of running them.")

_RUNTIME = {"v4": "tpu-ubuntu2204-base", "v5litepod": "v2-alpha-tpuv5-lite", "v5p": "v2-alpha-tpuv5",
            "v6e": "v2-alpha-tpuv6e"}


def runtime_for(accelerator: str) -> str:
    generation = accelerator.rsplit("-", 1)[0]
    if generation not in _RUNTIME:
        raise ValueError(f"unknown accelerator {accelerator!r}; known generations: {sorted(_RUNTIME)}")
    return _RUNTIME[generation]


def _common() -> list[str]:
    out = [f"--zone={FLAGS.zone}"]
    if FLAGS.project:
        out.append(f"--project={FLAGS.project}")
    return out


def create_commands() -> list[list[str]]:
    cmd = ["gcloud", "compute", "tpus", "queued-resources", "create", FLAGS.tpu, f"--node-id={FLAGS.tpu}",
           f"--accelerator-type={FLAGS.accelerator}",
           f"--runtime-version={FLAGS.runtime_version or runtime_for(FLAGS.accelerator)}", *_common()]
    if FLAGS.spot:
        cmd.append("--spot")
    return [cmd]


def _ssh_all(command: str) -> list[str]:
    return ["gcloud", "compute", "tpus", "tpu-vm", "ssh", FLAGS.tpu, *_common(), "--worker=all",
            f"--command={command}"]


def run_commands() -> list[list[str]]:
    if not FLAGS.workdir or not FLAGS.workdir.startswith("gs://"):
        raise app.UsageError("run needs --workdir=gs://BUCKET/PATH (every worker must see the same directory)")
    install = (f"(test -d azr_jax || git clone --branch {shlex.quote(FLAGS.branch)} {shlex.quote(FLAGS.repo)} azr_jax)"
               f" && cd azr_jax && git pull --ff-only && pip install -q -e '.[tpu]'")
    overrides = " ".join(shlex.quote(f"--config.{o}") for o in FLAGS.override)
    train = (f"cd azr_jax && nohup python launch/tpu_run.py --config={shlex.quote(FLAGS.config)} "
             f"--workdir={shlex.quote(FLAGS.workdir)} {overrides} > ~/azr_jax.log 2>&1 &").replace("  ", " ")
    return [_ssh_all(install), _ssh_all(train)]


def logs_commands() -> list[list[str]]:
    return [["gcloud", "compute", "tpus", "tpu-vm", "ssh", FLAGS.tpu, *_common(), "--worker=0",
             "--command=tail -f ~/azr_jax.log"]]


def delete_commands() -> list[list[str]]:
    return [["gcloud", "compute", "tpus", "queued-resources", "delete", FLAGS.tpu, *_common(), "--force", "--quiet"]]


ACTIONS = {"create": create_commands, "run": run_commands, "logs": logs_commands, "delete": delete_commands}


def main(argv):
    if len(argv) != 2 or argv[1] not in ACTIONS:
        raise app.UsageError(f"give one action: {' | '.join(ACTIONS)}")
    try:
        commands = ACTIONS[argv[1]]()
    except ValueError as e:
        raise app.UsageError(str(e))
    for cmd in commands:
        if FLAGS.dry_run:
            print(shlex.join(cmd))
            continue
        result = subprocess.run(cmd)
        if result.returncode:
            sys.exit(result.returncode)


if __name__ == "__main__":
    app.run(main)
