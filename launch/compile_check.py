"""Does a run config fit a TPU slice, and how fast would it run? Answered on a CPU host, no TPU needed.

  python launch/compile_check.py --config=azr_7b --topology=v5p-64 [--json]
  python launch/compile_check.py --config=azr_14b --topology=v5p-128 --set=rl.micro_batch_size=64 --plan

Compiles the config's prefill, decode and update programs for the slice (libtpu's compile-only devices,
abstract arrays, nothing allocated), prints per-device memory against HBM and a roofline estimate of
time and MFU. If the config does not fit (or with --plan), searches mesh shapes, micro-batch sizes,
remat policies and sampling batch sizes for the best setting that fits. Needs `libtpu` (the [tpu] extra).
`--json` prints one JSON object on the last line: fits, memory_fraction, estimated_mfu, programs, plan.
"""

import json
import os
import sys

# Compile-only TPU devices come from libtpu whatever the default backend; a CPU default keeps JAX from
# probing for TPU hardware on a CPU host.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

from absl import app, flags, logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("config", "tiny", "Run config name (configs/<name>.py) or a test spec (tiny_oversized).")
flags.DEFINE_string("topology", None, "TPU slice, e.g. v5p-64, v4-32, v5litepod-16 (default: the config's).")
flags.DEFINE_multi_string("set", [], "Dotted config override KEY=VALUE (repeatable), e.g. model.remat=dots.")
flags.DEFINE_list("programs", ["prefill", "decode", "update"], "Programs to compile.")
flags.DEFINE_float("headroom", 0.9, "A program fits when it uses at most this fraction of HBM.")
flags.DEFINE_bool("plan", False, "Run the planner even when the config fits.")
flags.DEFINE_bool("no_plan", False, "Never run the planner.")
flags.DEFINE_bool("costs", True, "Probe compiled FLOPs/bytes for the roofline (a few small extra compiles).")
flags.DEFINE_bool("json", False, "Print one JSON object on the last line.")


def _overrides(pairs):
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise app.UsageError(f"--set expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    from azr_jax.tpu import check, parse_slice, plan, resolve_compile_spec
    from azr_jax.tpu.topologies import libtpu_available

    ok, why = libtpu_available()
    if not ok:
        print(f"error: {why}", file=sys.stderr)
        sys.exit(2)
    try:
        if FLAGS.topology:
            parse_slice(FLAGS.topology)
        spec = resolve_compile_spec(FLAGS.config, _overrides(FLAGS.set), FLAGS.topology)
        slice_name = FLAGS.topology or spec.default_slice
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    log = (lambda text: print(text, file=sys.stderr, flush=True)) if FLAGS.json else (lambda t: print(t, flush=True))
    log(f"compiling {FLAGS.config} for {slice_name} ...")
    try:
        report = check(spec, slice_name, FLAGS.headroom, programs=tuple(FLAGS.programs), costs=FLAGS.costs)
    except ValueError as e:  # e.g. a mesh that does not match the slice's device count
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    log(report.format())
    result = report.to_json()
    if (FLAGS.plan or not report.fits) and not FLAGS.no_plan:
        log("planning ...")
        found = plan(spec, slice_name, FLAGS.headroom, costs=FLAGS.costs, log=log)
        log(found.format())
        if found.report is not None:
            log(found.report.format())
        result["plan"] = None if found.spec is None else {
            "mesh": {"data": found.spec.mesh.data, "fsdp": found.spec.mesh.fsdp, "tensor": found.spec.mesh.tensor},
            "rl.micro_batch_size": found.spec.micro_batch_rows, "model.remat": found.spec.model.remat,
            "generation.max_rows_per_call": found.spec.max_rows_per_call,
            "report": None if found.report is None else found.report.to_json()}
    if FLAGS.json:
        print(json.dumps(result))


if __name__ == "__main__":
    app.run(main)
