"""Convert Hugging Face Qwen2.5 / Llama-3 safetensors models to azr_jax checkpoints and back.

  python launch/convert_hf.py --hf_dir=DIR --out=CKPT [--param_dtype=auto|float32|bfloat16|float16]
  python launch/convert_hf.py --to_hf --checkpoint=CKPT --out=DIR [--dtype=auto|float32|bfloat16|float16]

Paths may be local or gs://. By default ("auto") tensors keep the dtype they have in the source, as
transformers' torch_dtype="auto" does: a float32 model stays float32, a bfloat16 one bfloat16; a
named dtype casts. Each run prints the dtype it stored.
"""

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("hf_dir", None, "Hugging Face model directory (config.json + safetensors) to import.")
flags.DEFINE_string("out", None, "Output: a checkpoint directory (import) or a HF directory (--to_hf).", required=True)
flags.DEFINE_bool("to_hf", False, "Export an azr_jax checkpoint to Hugging Face format instead of importing.")
flags.DEFINE_string("checkpoint", None, "azr_jax model checkpoint to export (with --to_hf).")
DTYPES = ["auto", "float32", "bfloat16", "float16"]
flags.DEFINE_enum("param_dtype", "auto", DTYPES,
                  "Stored parameter dtype on import; auto keeps the safetensors' dtype (float32 if they mix dtypes).")
flags.DEFINE_enum("dtype", "auto", DTYPES, "Tensor dtype of the exported safetensors; auto keeps the checkpoint's.")


def main(argv):
    del argv
    import jax

    jax.config.update("jax_platforms", "cpu")  # conversion is host work; never grab an accelerator
    from azr_jax.checkpoint.hf_convert import export_hf, import_hf

    if FLAGS.to_hf:
        if not FLAGS.checkpoint:
            raise app.UsageError("--to_hf needs --checkpoint=CKPT")
        result = export_hf(FLAGS.checkpoint, FLAGS.out, dtype=FLAGS.dtype)
        done = "exported"
    else:
        if not FLAGS.hf_dir:
            raise app.UsageError("give --hf_dir=DIR to import, or --to_hf --checkpoint=CKPT to export")
        result = import_hf(FLAGS.hf_dir, FLAGS.out, param_dtype=FLAGS.param_dtype)
        done = "converted"
    config = result.config
    print(f"{done} {config.family} model ({config.num_params / 1e6:.1f}M params) to {FLAGS.out}")
    print(result.summary())


if __name__ == "__main__":
    app.run(main)
