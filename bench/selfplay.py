"""Time per self-play step of the tiny config, broken into sampling, executor, update and host time.

The executor share "hidden" is the executor time that ran on the host thread while the device was
busy: executor_busy - executor_wait (time the main thread actually waited). Last line:
`selfplay: host critical path <pct>% of the step`.

--text=model (default) trains on what the tiny random model writes: it almost never parses, so the
executor is nearly idle. --text=scripted keeps the real sampling (same rows, same device time; every
row runs to max_response_tokens) but swaps each finished row's text for the scripted policy's
completion (azr_jax/azr/testing.py), so every proposal is valid and every answer is executed: the
executor load of a model that has learned the format.
"""

import argparse
import os
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import itertools

import numpy as np

from azr_jax.azr.testing import scripted_completion
from azr_jax.run_config import load_run_config
from azr_jax.sampling.results import SampleOutput, SampleRow
from azr_jax.trainer import Trainer


def scripted_text(selfplay):
    """Wraps SelfPlay._generate: real sampling, each row's tokens replaced by the scripted completion."""
    generate, tokenizer, counter = selfplay._generate, selfplay.tokenizer, itertools.count(1)

    def swap(prompts, row):
        tokens = tokenizer.encode(scripted_completion(tokenizer.decode(prompts[row.prompt_index]),
                                                      row.sample_index, counter))
        return SampleRow(row.prompt_index, row.sample_index, tokens, np.full(len(tokens), -1.0, np.float32), "stop")

    def scripted(params, prompts, n, seed, on_finished=None):
        callback = None if on_finished is None else (lambda row: on_finished(swap(prompts, row)))
        out = generate(params, prompts, n, seed, on_finished=callback)
        streamed = on_finished is not None
        rows = [] if streamed else [swap(prompts, row) for row in out.rows]
        return SampleOutput(rows=rows, n=out.n, stats=out.stats)

    return scripted


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4, help="measured steps (after one warm-up step)")
    parser.add_argument("--config", default="tiny")
    parser.add_argument("--text", choices=("model", "scripted"), default="model")
    args = parser.parse_args()
    overrides = {"workdir": tempfile.mkdtemp(prefix="azr_bench_"), "steps": str(args.steps + 1),
                 "seed_max_rounds": "1"}
    if args.text == "scripted":  # the scripted induction proposal is ~130 tokens; training takes it whole
        overrides["generation.max_response_tokens"] = "192"
    config = load_run_config(args.config, overrides)
    rows = []
    with Trainer(config) as trainer:
        if args.text == "scripted":
            trainer.selfplay._generate = scripted_text(trainer.selfplay)
        trainer.restore_or_seed()
        for i in range(args.steps + 1):
            scalars = trainer.train_step()
            trainer.step += 1
            if i:  # the first step compiles every program
                rows.append(scalars)
    keys = ("step", "sampling", "executor_wait", "executor_busy", "host", "update", "idle")
    mean = {k: float(np.mean([r[f"time/{k}_s"] for r in rows])) for k in keys}
    print(f"config {config.name}: B={config.azr.batch_size} per task x role, n={config.azr.learnability_rollouts}, "
          f"max response {config.generation.max_response_tokens} tokens, text from the {args.text}; "
          f"mean of {len(rows)} steps after warm-up")
    print(f"  valid proposals {np.mean([r['propose/valid_rate'] for r in rows]):.0%}, "
          f"solver accuracy {np.nanmean([r['solve/accuracy'] for r in rows]):.0%}")
    for k in keys:
        print(f"  {k:14s} {mean[k]:8.3f} s  {mean[k] / mean['step']:6.1%}")
    hidden = max(mean["executor_busy"] - mean["executor_wait"], 0.0)
    share = hidden / mean["executor_busy"] if mean["executor_busy"] > 0 else float("nan")
    print(f"executor time hidden behind device work: {share:.0%} ({hidden:.3f} of {mean['executor_busy']:.3f} s)")
    critical = mean["executor_wait"] + mean["host"] + mean["idle"]
    print(f"selfplay: host critical path {critical / mean['step']:.1%} of the step")


if __name__ == "__main__":
    main()
