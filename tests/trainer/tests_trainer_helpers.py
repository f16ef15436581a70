"""Shared by the trainer tests: a small tiny-config run, a scripted policy for reward arithmetic, and
reading TensorBoard events back."""

import os
import tempfile

import numpy as np

from azr_jax.azr.testing import scripted_completion
from azr_jax.run_config import load_run_config
from azr_jax.sampling.results import GenerateStats, SampleOutput, SampleRow


# The tiny config's plumbing at its smallest: random tiny-qwen2 weights with the BPE built on the spot instead of
# the shipped base, short responses, no held-out evaluation.
RANDOM_TINY = {"model.checkpoint": "none", "model.preset": "tiny-qwen2", "model.vocab_size": "1088",
               "heldout_eval_per_type": "0", "eval_every": "0"}


def small_config(workdir, **overrides):
    values = {**RANDOM_TINY, "workdir": str(workdir), "azr.batch_size": "2", "azr.learnability_rollouts": "2",
              "generation.max_response_tokens": "24", "seed_max_rounds": "1", "azr.seed_size": "2",
              "executor_pool_size": "2"}
    values.update({k: str(v) for k, v in overrides.items()})
    return load_run_config("tiny", values)


def read_scalars(workdir: str) -> dict[str, dict[int, float]]:
    """tag -> {step: value} from the run's TensorBoard event files (copied locally from gs:// first)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logdir = workdir.rstrip("/") + "/tensorboard"
    if "://" in logdir:
        import fsspec

        local = tempfile.mkdtemp()
        fs, root = fsspec.core.url_to_fs(logdir)
        for path in fs.ls(root):
            fs.get_file(path, os.path.join(local, os.path.basename(path)))
        logdir = local
    out: dict[str, dict[int, float]] = {}
    for name in sorted(os.listdir(logdir)):
        acc = EventAccumulator(os.path.join(logdir, name), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            for event in acc.Scalars(tag):
                out.setdefault(tag, {})[event.step] = event.value
    return out


def scripted_generate(tokenizer, counter):
    """A stand-in for SelfPlay._generate that answers every prompt with scripted_completion."""

    def generate(params, prompts, n, seed, on_finished=None):
        rows = []
        for p, prompt_ids in enumerate(prompts):
            for k in range(n):
                tokens = tokenizer.encode(scripted_completion(tokenizer.decode(prompt_ids), k, counter))
                rows.append(SampleRow(p, k, tokens, np.full(len(tokens), -1.0, np.float32), "stop"))
                if on_finished is not None:  # as the sampler streams finished rows
                    on_finished(rows[-1])
        return SampleOutput(rows=rows, n=n, stats=GenerateStats(0.0, 0.0, 0, len(rows)))

    return generate
