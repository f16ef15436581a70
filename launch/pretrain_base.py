"""Make the tiny zero-data base model: generated corpus -> SentencePiece tokenizer -> pretrained Qwen2.

  python launch/pretrain_base.py --out=assets/tiny_base

Writes a model checkpoint (params, model_config.json, tokenizer/) that `--config=tiny` loads, and beside
it `pretrain_curve.json` and `pretrain_curve.png` (the validation curve) and `pretrain_info.json` (the
command, data sizes and times). Runs on CPU.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("init", None, "Continue from this model checkpoint (its weights and tokenizer) instead of "
                    "training a tokenizer and starting from random weights; --seed then picks fresh documents.")
flags.DEFINE_string("out", None, "Checkpoint directory to write (must not hold a checkpoint).", required=True)
flags.DEFINE_integer("train_docs", 200_000, "Training documents generated.")
flags.DEFINE_integer("val_docs", 3_000, "Validation documents (another corpus seed).")
flags.DEFINE_float("format_share", 0.1, "Share of documents in the exact AZR proposer/solver formats.")
flags.DEFINE_float("proposer_share", 0.25, "Of the format documents, the share in the proposer formats.")
flags.DEFINE_integer("max_examples", 8, "Calls shown by a documentation-style document at most.")
flags.DEFINE_integer("vocab_size", 2048, "SentencePiece vocabulary size.")
flags.DEFINE_integer("short_row_length", 256, "Tokens per packed row of short documents.")
flags.DEFINE_integer("long_row_length", 1280, "Tokens per packed row of the documents longer than a short row.")
flags.DEFINE_integer("hidden_size", 256, "Model width.")
flags.DEFINE_integer("num_layers", 4, "Decoder layers.")
flags.DEFINE_integer("num_heads", 4, "Query heads.")
flags.DEFINE_integer("num_kv_heads", 2, "Key/value heads (grouped-query attention).")
flags.DEFINE_integer("intermediate_size", 768, "MLP width.")
flags.DEFINE_integer("batch_tokens", 8192, "Tokens (padding included) per optimizer step.")
flags.DEFINE_float("learning_rate", 1e-3, "Peak learning rate (warmup, then cosine to a tenth).")
flags.DEFINE_integer("max_steps", 4000, "Step limit (also the cosine schedule's length).")
flags.DEFINE_float("max_minutes", 60.0, "Wall-clock limit.")
flags.DEFINE_integer("eval_every", 100, "Steps between validation evaluations.")
flags.DEFINE_integer("patience", 4, "Evaluations without improvement before stopping.")
flags.DEFINE_integer("seed", 0, "Corpus and initialisation seed.")


def _model_config(tokenizer):
    from azr_jax.model.config import get_model_config

    head_dim = FLAGS.hidden_size // FLAGS.num_heads
    return get_model_config(
        "azr-tiny-base", vocab_size=tokenizer.vocab_size, hidden_size=FLAGS.hidden_size,
        intermediate_size=FLAGS.intermediate_size, num_layers=FLAGS.num_layers, num_heads=FLAGS.num_heads,
        num_kv_heads=FLAGS.num_kv_heads, head_dim=head_dim, rope_theta=10_000.0,
        bos_token_id=tokenizer.bos_id, eos_token_ids=tuple(tokenizer.eos_ids),
        max_position_embeddings=4096)


def _plot(curve, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(curve.steps, curve.train_loss, label="train (mean since last eval)")
    ax.plot(curve.steps, curve.val_loss, label="validation")
    ax.axvline(curve.best_step, color="gray", linestyle=":", label=f"kept: step {curve.best_step}")
    ax.set_xlabel("step")
    ax.set_ylabel("next-token loss (nats, log scale)")
    ax.set_yscale("log")
    ax.set_title("tiny base pretraining")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _start(tokenizer_dir: str):
    """(model config, graphdef, state) to train: --init's checkpoint (its tokenizer copied to tokenizer_dir)
    or a fresh azr-tiny-base of the tokenizer's vocabulary, after the tokenizer is trained."""
    from azr_jax.checkpoint.model_checkpoint import copy_tokenizer_files, load_model, tokenizer_path
    from azr_jax.model.functional import create_model
    from azr_jax.tokenizer import load_tokenizer

    if FLAGS.init:
        source = tokenizer_path(FLAGS.init)
        if source is None or not copy_tokenizer_files(source, tokenizer_dir):
            raise app.UsageError(f"--init={FLAGS.init} holds no tokenizer files under tokenizer/")
        return load_model(FLAGS.init)
    model_config = _model_config(load_tokenizer(tokenizer_dir))
    return (model_config, *create_model(model_config, seed=FLAGS.seed))


def _write_reports(curve, info: dict) -> None:
    with open(os.path.join(FLAGS.out, "pretrain_curve.json"), "w") as f:
        json.dump(curve.__dict__, f, indent=1)
    _plot(curve, os.path.join(FLAGS.out, "pretrain_curve.png"))
    with open(os.path.join(FLAGS.out, "pretrain_info.json"), "w") as f:
        json.dump(info, f, indent=1)


def main(argv):
    del argv
    import jax

    jax.config.update("jax_platforms", "cpu")
    from flax import nnx

    from azr_jax.checkpoint.model_checkpoint import CONFIG_FILE, save_model
    from azr_jax.data.datasets import CorpusConfig, build_datasets
    from azr_jax.pretrain import PretrainConfig, pretrain

    if os.path.exists(os.path.join(FLAGS.out, CONFIG_FILE)):
        raise app.UsageError(f"{FLAGS.out} already holds a model checkpoint; choose another --out")
    start = time.perf_counter()
    corpus = CorpusConfig(train_docs=FLAGS.train_docs, val_docs=FLAGS.val_docs, format_share=FLAGS.format_share,
                          proposer_share=FLAGS.proposer_share, max_examples=FLAGS.max_examples,
                          vocab_size=FLAGS.vocab_size, short_row_length=FLAGS.short_row_length,
                          long_row_length=FLAGS.long_row_length, seed=FLAGS.seed)
    config = PretrainConfig(batch_tokens=FLAGS.batch_tokens, learning_rate=FLAGS.learning_rate,
                            max_steps=FLAGS.max_steps, max_minutes=FLAGS.max_minutes, eval_every=FLAGS.eval_every,
                            patience=FLAGS.patience, seed=FLAGS.seed)
    with tempfile.TemporaryDirectory(prefix="azr_base_tokenizer_") as tokenizer_dir:
        if FLAGS.init:
            model_config, graphdef, state = _start(tokenizer_dir)
        tokenizer, train, val = build_datasets(corpus, tokenizer_dir, train_tokenizer=not FLAGS.init)
        if not FLAGS.init:
            model_config, graphdef, state = _start(tokenizer_dir)
        data_s = time.perf_counter() - start
        rows = lambda pools: " + ".join(f"{p.num_rows}x{p.tokens_bt.shape[1]}" for p in pools)
        print(f"corpus: training rows {rows(train)}, validation rows {rows(val)} "
              f"({sum(p.dropped for p in train + val)} documents too long, left out); vocab {tokenizer.vocab_size}; "
              f"{data_s:.0f}s; model: {model_config.num_params / 1e6:.2f}M parameters", flush=True)
        state, curve = pretrain(graphdef, state, train, val, config, log=lambda m: print(m, flush=True))
        save_model(FLAGS.out, model_config, nnx.to_pure_dict(state), tokenizer_dir=tokenizer_dir)
    total_s = time.perf_counter() - start
    _write_reports(curve, {
        "command": "python launch/pretrain_base.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "init": FLAGS.init, "corpus": corpus.__dict__, "pretrain": config.__dict__,
        "num_params": model_config.num_params, "train_rows": {p.tokens_bt.shape[1]: p.num_rows for p in train},
        "val_rows": {p.tokens_bt.shape[1]: p.num_rows for p in val}, "data_seconds": round(data_s, 1),
        "total_seconds": round(total_s, 1), "best_step": curve.best_step, "best_val_loss": min(curve.val_loss),
        "stopped_because": curve.stopped_because, "cpu_count": os.cpu_count()})
    print(f"saved {FLAGS.out}: best val loss {min(curve.val_loss):.4f} at step {curve.best_step} "
          f"({curve.stopped_because}); {total_s / 60:.1f} min in all", flush=True)


if __name__ == "__main__":
    app.run(main)
