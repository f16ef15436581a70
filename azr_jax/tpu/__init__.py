"""TPU readiness without a TPU: slices by name, ahead-of-time compiles, memory fit, roofline, planner.

    from azr_jax.tpu import check, plan, resolve_compile_spec
    report = check(resolve_compile_spec("azr_7b"), "v5p-64")   # needs libtpu, not a TPU
    print(report.format()); report.fits, report.memory_fraction, report.estimated_mfu
"""

from azr_jax.tpu.check import CheckReport, check
from azr_jax.tpu.planner import Plan, plan
from azr_jax.tpu.specs import CompileSpec, compile_spec_from_run_config, resolve_compile_spec
from azr_jax.tpu.topologies import CHIPS, TpuSlice, libtpu_available, parse_slice, topology_devices

__all__ = ["CheckReport", "check", "Plan", "plan", "CompileSpec", "compile_spec_from_run_config",
           "resolve_compile_spec", "CHIPS", "TpuSlice", "libtpu_available", "parse_slice", "topology_devices"]
