"""Generate text from a model checkpoint.

  python launch/sample.py --checkpoint=CKPT --prompt="def f(x):" --max_new_tokens=64 --temperature=0
  python launch/sample.py --checkpoint=CKPT --prompt_ids=1,2,3 --n=4 --temperature=1 --top_p=0.9 --json
"""

import json
import sys

from absl import app, flags, logging

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint", None, "azr_jax model checkpoint (local or gs://).", required=True)
flags.DEFINE_multi_string("prompt", None, "Prompt text, encoded with the checkpoint's tokenizer (repeatable).")
flags.DEFINE_string("prompt_ids", None, "Comma-separated prompt token ids, instead of --prompt.")
flags.DEFINE_integer("max_new_tokens", 64, "Tokens to generate at most.")
flags.DEFINE_float("temperature", 0.0, "Sampling temperature; 0 is greedy.")
flags.DEFINE_float("top_p", 1.0, "Nucleus sampling mass.")
flags.DEFINE_integer("top_k", 0, "Keep the k most likely tokens; 0 keeps all.")
flags.DEFINE_integer("n", 1, "Samples per prompt.")
flags.DEFINE_integer("seed", 0, "Sampling seed.")
flags.DEFINE_multi_string("stop", [], "Stop strings such as </answer> (repeatable; needs a tokenizer).")
flags.DEFINE_bool("json", False, 'Print {"completions": [{"text": ..., "ids": [...]}]} instead of text.')


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    from azr_jax.checkpoint.model_checkpoint import load_model, tokenizer_path
    from azr_jax.sampling import Sampler, SamplingParams
    from azr_jax.tokenizer import load_tokenizer, stop_token_sequences

    if bool(FLAGS.prompt) == bool(FLAGS.prompt_ids):
        raise app.UsageError("give exactly one of --prompt or --prompt_ids")
    config, graphdef, state = load_model(FLAGS.checkpoint)
    tok_dir = tokenizer_path(FLAGS.checkpoint)
    tokenizer = load_tokenizer(tok_dir) if tok_dir else None
    if FLAGS.prompt:
        if tokenizer is None:
            raise app.UsageError(f"{FLAGS.checkpoint} has no tokenizer; use --prompt_ids")
        prompts = [tokenizer.encode(p, add_bos=True) for p in FLAGS.prompt]
    else:
        try:
            prompts = [[int(x) for x in FLAGS.prompt_ids.split(",")]]
        except ValueError:
            raise app.UsageError(f"--prompt_ids must be comma-separated integers, got {FLAGS.prompt_ids!r}")
    if FLAGS.stop and tokenizer is None:
        raise app.UsageError("--stop needs a checkpoint with a tokenizer")
    stops = tuple(tuple(s) for s in stop_token_sequences(tokenizer, FLAGS.stop)) if FLAGS.stop else ()
    eos_ids = tuple(tokenizer.eos_ids) if tokenizer is not None else tuple(config.eos_token_ids)
    try:
        sampling = SamplingParams(temperature=FLAGS.temperature, top_p=FLAGS.top_p, top_k=FLAGS.top_k,
                                  max_new_tokens=FLAGS.max_new_tokens, n=FLAGS.n, stop_sequences=stops,
                                  eos_ids=eos_ids)
        output = Sampler(config, graphdef).generate(state, prompts, sampling, seed=FLAGS.seed)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    completions = []
    for row in output.rows:
        ids = [int(t) for t in row.tokens]
        text = tokenizer.decode([t for t in ids if t < tokenizer.vocab_size]) if tokenizer else None
        completions.append({"text": text, "ids": ids, "finish_reason": row.finish_reason})
    if FLAGS.json:
        print(json.dumps({"completions": completions}))
    else:
        for c in completions:
            print(c["text"] if c["text"] is not None else " ".join(map(str, c["ids"])))


if __name__ == "__main__":
    app.run(main)
