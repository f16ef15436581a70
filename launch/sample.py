"""Generate text from a model checkpoint.

  python launch/sample.py --checkpoint=CKPT --prompt="def f(x):" --max_new_tokens=64 --temperature=0
  python launch/sample.py --checkpoint=CKPT --prompt_ids=1,2,3 --n=4 --temperature=1 --top_p=0.9 --json

The tokenizer is loaded only when text is involved (--prompt, --stop, or text output without --json):
with --prompt_ids and --json it is ids in, ids out, and a checkpoint without a tokenizer works.
"""

import json
import posixpath
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
flags.DEFINE_bool("json", False, 'Print {"completions": [{"text": ..., "ids": [...]}]} instead of text; '
                  '"text" only when a tokenizer is needed anyway (--prompt, --stop).')


def _tokenizer_needed_by() -> list[str]:
    """The given flags that need the tokenizer; none means ids in, ids out."""
    needed_by = [f"--{name}" for name in ("prompt", "stop") if FLAGS[name].value]
    return needed_by if FLAGS.json else [*needed_by, "text output (without --json)"]


def _load_tokenizer(checkpoint: str, tok_dir: str | None, needed_by: list[str]):
    from azr_jax.tokenizer import TokenizerLoadError, load_tokenizer

    why = " and ".join(needed_by)
    hint = "give --prompt_ids and --json to sample in token ids only"
    if tok_dir is None:
        raise app.UsageError(f"{checkpoint} has no tokenizer, which {why} needs; {hint}")
    try:
        return load_tokenizer(tok_dir)
    except TokenizerLoadError as e:
        raise app.UsageError(f"{checkpoint}: its tokenizer does not load ({e}), and {why} needs it; {hint}") from None


def _generation_eos_ids(tok_dir: str | None) -> tuple[int, ...]:
    """EOS ids of the checkpoint's generation_config.json: without a tokenizer, generation still stops
    where a loaded tokenizer would (chat models list more than the model config's one)."""
    import fsspec

    if tok_dir is None:
        return ()
    fs, root = fsspec.core.url_to_fs(tok_dir)
    path = posixpath.join(root, "generation_config.json")
    if not fs.exists(path):
        return ()
    with fs.open(path, "r") as f:
        eos = json.load(f).get("eos_token_id")
    ids = eos if isinstance(eos, list) else ([] if eos is None else [eos])
    if not all(type(i) is int for i in ids):
        raise app.UsageError(f"{tok_dir}/generation_config.json: eos_token_id must be an int or a list of ints, "
                             f"got {eos!r}")
    return tuple(ids)


def _prompt_ids() -> list[int]:
    try:
        return [int(x) for x in FLAGS.prompt_ids.split(",")]
    except ValueError:
        raise app.UsageError(f"--prompt_ids must be comma-separated integers, got {FLAGS.prompt_ids!r}") from None


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    from azr_jax.checkpoint.model_checkpoint import load_model, load_model_config, tokenizer_path
    from azr_jax.sampling import Sampler, SamplingParams
    from azr_jax.tokenizer import stop_token_sequences

    if bool(FLAGS.prompt) == bool(FLAGS.prompt_ids):
        raise app.UsageError("give exactly one of --prompt or --prompt_ids")
    model_config = load_model_config(FLAGS.checkpoint)  # a missing checkpoint fails as such, before its tokenizer
    tok_dir = tokenizer_path(FLAGS.checkpoint)
    needed_by = _tokenizer_needed_by()
    tokenizer = _load_tokenizer(FLAGS.checkpoint, tok_dir, needed_by) if needed_by else None
    prompts = [tokenizer.encode(p, add_bos=True) for p in FLAGS.prompt] if FLAGS.prompt else [_prompt_ids()]
    stops = tuple(tuple(s) for s in stop_token_sequences(tokenizer, FLAGS.stop)) if FLAGS.stop else ()
    if tokenizer is not None:
        eos_ids = tuple(tokenizer.eos_ids)
    else:
        eos_ids = tuple(dict.fromkeys([*model_config.eos_token_ids, *_generation_eos_ids(tok_dir)]))
    config, graphdef, state = load_model(FLAGS.checkpoint)
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
        completion = {"ids": ids, "finish_reason": row.finish_reason}
        if tokenizer is not None:
            completion["text"] = tokenizer.decode_generated(ids)
        completions.append(completion)
    if FLAGS.json:
        print(json.dumps({"completions": completions}))
    else:
        for c in completions:
            print(c["text"])

if __name__ == "__main__":
    app.run(main)
