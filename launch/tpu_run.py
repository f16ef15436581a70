"""Train Absolute Zero: `python launch/tpu_run.py --config=azr_7b --workdir=gs://bucket/run` on every
worker of a TPU VM slice, or `--config=tiny` on a laptop.

  --config=NAME | path/to/config.py     a file in configs/ or any file defining get_config()
  --config.rl.learning_rate=1e-6        override any field (repeatable)
  --workdir=DIR                         checkpoints, TensorBoard events, flagged samples (local or gs://)

Started again with the same command after a crash or preemption, the run resumes from its last
checkpoint and says so.
"""

import sys

from absl import app, flags, logging

FLAGS = flags.FLAGS
flags.DEFINE_string("config", "tiny", "Config name (configs/NAME.py) or path to a config file.")
flags.DEFINE_string("workdir", None, "Run directory, local or gs://; default: the config's workdir.")
flags.DEFINE_enum("distributed", "auto", ["auto", "on", "off"],
                  "jax.distributed initialisation: auto = on when TPU VM multi-worker env vars are present.")
flags.DEFINE_string("coordinator_address", None, "host:port of process 0 (multi-process runs off TPU).")
flags.DEFINE_integer("num_processes", None, "Number of processes (multi-process runs off TPU).")
flags.DEFINE_integer("process_id", None, "This process's index (multi-process runs off TPU).")


def split_config_overrides(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """Pulls `--config.a.b=value` out of argv (absl would reject them as unknown flags)."""
    rest, overrides = [], {}
    for arg in argv:
        if arg.startswith("--config."):
            key, sep, value = arg[len("--config."):].partition("=")
            if not sep:
                raise SystemExit(f"error: override {arg!r} needs a value: --config.{key}=VALUE")
            overrides[key] = value
        else:
            rest.append(arg)
    return rest, overrides


def main(argv, overrides):
    del argv
    logging.set_verbosity(logging.WARNING)
    from azr_jax.config_overrides import ConfigError
    from azr_jax.parallel.distributed import default_to_cpu_without_tpu, maybe_initialize_distributed
    from azr_jax.run_config import load_run_config

    if default_to_cpu_without_tpu():
        logging.warning("no TPU chips on this host: running on CPU (set JAX_PLATFORMS to choose)")
    maybe_initialize_distributed(FLAGS.distributed, FLAGS.coordinator_address, FLAGS.num_processes,
                                 FLAGS.process_id)
    if FLAGS.workdir:
        overrides = {**overrides, "workdir": FLAGS.workdir}
    try:
        config = load_run_config(FLAGS.config, overrides)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    from azr_jax.trainer import Trainer

    with Trainer(config) as trainer:
        trainer.run()


if __name__ == "__main__":
    remaining, config_overrides = split_config_overrides(sys.argv)
    app.run(lambda argv: main(argv, config_overrides), argv=remaining)
