"""Held-out accuracy of a model checkpoint: the 300 fixed AZR tasks of the tiny base, solved greedily.

  python launch/eval_heldout.py --checkpoint=azr_jax/assets/tiny_base [--per_type=100] [--json]
  python launch/eval_heldout.py --checkpoint=workdir/tiny/policy_step_40

Uses the same sampler, prompts, parsing and sandboxed executor as training (azr_jax.eval.heldout).
"""

from __future__ import annotations

import json
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint", None, "Model checkpoint (the base, or a run's policy_step_N).", required=True)
flags.DEFINE_integer("per_type", 100, "Tasks of each type (at most 100 are the fixed set's first ones).")
flags.DEFINE_integer("max_prompt_tokens", 1024, "Longest prompt accepted.")
flags.DEFINE_integer("max_response_tokens", 192, "Tokens generated per answer at most.")
flags.DEFINE_bool("json", False, "Print one JSON object instead of a line.")


def main(argv):
    del argv
    import jax

    jax.config.update("jax_platforms", "cpu")
    from azr_jax.azr import grounding
    from azr_jax.azr.config import AZRConfig
    from azr_jax.checkpoint.model_checkpoint import load_model, tokenizer_path
    from azr_jax.eval.heldout import EvalSettings, HeldoutEvaluator, accuracy_table
    from azr_jax.executor import ExecutorService
    from azr_jax.sampling import Sampler
    from azr_jax.tokenizer import load_tokenizer

    start = time.perf_counter()
    config, graphdef, params = load_model(FLAGS.checkpoint)
    tokenizer_dir = tokenizer_path(FLAGS.checkpoint)
    if tokenizer_dir is None:
        raise app.UsageError(f"{FLAGS.checkpoint} holds no tokenizer/ directory")
    tokenizer = load_tokenizer(tokenizer_dir)
    sampler = Sampler(config, graphdef, prompt_buckets=(256, 512, FLAGS.max_prompt_tokens))
    settings = EvalSettings(FLAGS.max_prompt_tokens, FLAGS.max_response_tokens, FLAGS.per_type)
    with ExecutorService(grounding.executor_config(AZRConfig())) as executor:
        scalars = HeldoutEvaluator(sampler, tokenizer, executor, settings)(params, 0)
    seconds = time.perf_counter() - start
    if FLAGS.json:
        print(json.dumps({"checkpoint": FLAGS.checkpoint, "per_type": FLAGS.per_type, **scalars,
                          "seconds": round(seconds, 1)}))
    else:
        print(f"{FLAGS.checkpoint}: {accuracy_table(scalars)} ({3 * FLAGS.per_type} tasks, greedy, {seconds:.0f}s)")


if __name__ == "__main__":
    app.run(main)
