"""Time per self-play step of the tiny config, broken into sampling, executor, update and host time.

The executor share "hidden" is the executor time that ran on the host thread while the device was
busy: executor_busy - executor_wait (time the main thread actually waited). Last line:
`selfplay: host critical path <pct>% of the step`.
"""

import argparse
import os
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np

from azr_jax.run_config import load_run_config
from azr_jax.trainer import Trainer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4, help="measured steps (after one warm-up step)")
    parser.add_argument("--config", default="tiny")
    args = parser.parse_args()
    config = load_run_config(args.config, {"workdir": tempfile.mkdtemp(prefix="azr_bench_"),
                                           "steps": str(args.steps + 1), "seed_max_rounds": "1"})
    rows = []
    with Trainer(config) as trainer:
        trainer.restore_or_seed()
        for i in range(args.steps + 1):
            scalars = trainer.train_step()
            trainer.step += 1
            if i:  # the first step compiles every program
                rows.append(scalars)
    keys = ("step", "sampling", "executor_wait", "executor_busy", "host", "update", "idle")
    mean = {k: float(np.mean([r[f"time/{k}_s"] for r in rows])) for k in keys}
    print(f"config {config.name}: B={config.azr.batch_size} per task x role, n={config.azr.learnability_rollouts}, "
          f"max response {config.generation.max_response_tokens} tokens; mean of {len(rows)} steps after warm-up")
    for k in keys:
        print(f"  {k:14s} {mean[k]:8.3f} s  {mean[k] / mean['step']:6.1%}")
    hidden = max(mean["executor_busy"] - mean["executor_wait"], 0.0)
    share = hidden / mean["executor_busy"] if mean["executor_busy"] > 0 else float("nan")
    print(f"executor time hidden behind device work: {share:.0%} ({hidden:.3f} of {mean['executor_busy']:.3f} s)")
    critical = mean["executor_wait"] + mean["host"] + mean["idle"]
    print(f"selfplay: host critical path {critical / mean['step']:.1%} of the step")


if __name__ == "__main__":
    main()
