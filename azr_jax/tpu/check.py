"""One compile check: compile the programs of a spec for a slice, measure memory against HBM, estimate time."""

from __future__ import annotations

import dataclasses

import jax

from azr_jax.tpu import programs as progs
from azr_jax.tpu.roofline import Estimate, estimate
from azr_jax.tpu.specs import CompileSpec
from azr_jax.tpu.topologies import TpuSlice, parse_slice

GiB = 1024 ** 3
DEFAULT_HEADROOM = 0.9  # fit = at most 90% of HBM: room for fragmentation, runtime buffers, host transfers


@dataclasses.dataclass(frozen=True)
class ProgramReport:
    name: str
    memory: progs.ProgramMemory
    compile_seconds: float
    estimate: Estimate | None  # None when costs were not probed, or the probe could not compile
    error: str | None = None  # the TPU compiler ran out of HBM (memory then holds its claimed temporaries)
    no_estimate: str | None = None  # why a program that fits has no roofline estimate

    def fraction(self, hbm_bytes: int) -> float:
        return self.memory.total_bytes / hbm_bytes


@dataclasses.dataclass(frozen=True)
class CheckReport:
    spec: CompileSpec
    tpu_slice: TpuSlice
    headroom: float
    programs: dict[str, ProgramReport]

    @property
    def hbm_bytes(self) -> int:
        return self.tpu_slice.chip.hbm_bytes

    @property
    def memory_fraction(self) -> float:
        """The largest per-device footprint of any program, as a fraction of one chip's HBM."""
        return max(p.fraction(self.hbm_bytes) for p in self.programs.values())

    @property
    def fits(self) -> bool:
        return self.memory_fraction <= self.headroom

    @property
    def estimated_mfu(self) -> float | None:
        update = self.programs.get("update")
        return update.estimate.mfu if update and update.estimate else None

    def to_json(self) -> dict:
        out = {"config": self.spec.name, "slice": self.tpu_slice.name, "topology": self.tpu_slice.topology_name,
               "devices": self.tpu_slice.num_devices, "hbm_bytes_per_device": self.hbm_bytes,
               "headroom": self.headroom, "fits": self.fits, "memory_fraction": round(self.memory_fraction, 4),
               "estimated_mfu": None if self.estimated_mfu is None else round(self.estimated_mfu, 4),
               "mesh": dict(zip(("data", "fsdp", "tensor"), self.spec.mesh.resolve(self.tpu_slice.num_devices))),
               "mini_batch_rows": self.spec.mini_batch_rows, "micro_batch_rows": self.spec.micro_batch_rows,
               "remat": self.spec.model.remat,
               "attention": self.spec.model.attention_impl,
               "max_rows_per_call": self.spec.max_rows_per_call,
               "prefill_call": list(self.spec.prefill_call),
               "decode_call": list(self.spec.decode_call), "programs": {}}
        for name, p in self.programs.items():
            fraction = p.fraction(self.hbm_bytes)
            entry = {"total_bytes": p.memory.total_bytes, "fraction": round(fraction, 4),
                     "fits": fraction <= self.headroom, "compile_seconds": round(p.compile_seconds, 1),
                     "compile_error": p.error, "no_estimate": p.no_estimate, **dataclasses.asdict(p.memory)}
            if p.estimate is not None:
                entry.update(p.estimate.to_dict())
            out["programs"][name] = entry
        return out

    def format(self) -> str:
        s, hbm = self.tpu_slice, self.hbm_bytes
        lines = [f"{self.spec.summary()}",
                 f"slice {s.name}: {s.num_devices} x TPU {s.chip.name} ({s.topology_name}), {hbm / GiB:.0f} GiB HBM, "
                 f"{s.chip.peak_flops / 1e12:.0f} TFLOP/s bf16, {s.chip.hbm_bandwidth / 1e9:.0f} GB/s per chip",
                 f"{'program':8} {'args':>9} {'output':>9} {'temp':>9} {'other':>9} {'total':>9} {'of HBM':>7} "
                 f"{'fits':>5} {'compile':>8}"]
        for p in self.programs.values():
            m = p.memory
            fraction = p.fraction(hbm)
            lines.append(f"{p.name:8} {_gib(m.argument_bytes)} {_gib(m.output_bytes)} {_gib(m.temp_bytes)} "
                         f"{_gib(m.resident_bytes + m.code_bytes)} {_gib(m.total_bytes)} {fraction:7.1%} "
                         f"{'yes' if fraction <= self.headroom else 'NO':>5} {p.compile_seconds:7.0f}s")
            if p.error:
                lines.append(f"         compiler: {p.error[:160]}")
        lines.append("(GiB per device; total = XLA peak of live buffers + code + 'other': optimizer state resident "
                     "in HBM while sampling)")
        for p in self.programs.values():
            e = p.estimate
            if p.no_estimate:
                lines.append(f"{p.name:8} no roofline: {p.no_estimate}")
            if e is None:
                continue
            what = "per decode step" if p.name == "decode" else "per call"
            lines.append(f"{p.name:8} {what}: model {e.model_flops:.3g} FLOP/device, compiled {e.hlo_flops:.3g} FLOP "
                         f"and {e.hlo_bytes:.3g} B -> compute {_secs(e.compute_seconds)}, HBM {_secs(e.memory_seconds)}"
                         f": {e.bound}-bound, {_secs(e.seconds)}, MFU {e.mfu:.1%} (no overlap: {e.mfu_no_overlap:.1%})")
        verdict = "FITS" if self.fits else "DOES NOT FIT"
        mfu = "" if self.estimated_mfu is None else f"; estimated update MFU {self.estimated_mfu:.1%}"
        lines.append(f"{verdict}: largest program uses {self.memory_fraction:.1%} of HBM "
                     f"(limit {self.headroom:.0%}){mfu}")
        return "\n".join(lines)


def _gib(n: int) -> str:
    return f"{n / GiB:9.2f}"


def _secs(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def check(spec: CompileSpec, slice_name: str, headroom: float = DEFAULT_HEADROOM, programs=progs.PROGRAMS,
          costs: bool = True) -> CheckReport:
    """Compiles `programs` of `spec` for the slice; with `costs`, also probes their HLO cost (more compiles)."""
    tpu_slice = parse_slice(slice_name)
    mesh = progs.slice_mesh(spec, slice_name)
    compiled = progs.compile_programs(spec, mesh, programs)
    reports = {}
    for name, c in compiled.items():
        est, why = None, None
        if costs and c.error is None:
            try:
                cost = progs.probe_cost(name, spec, mesh, tpu_slice.chip.name)
                est = estimate(name, spec, tpu_slice.num_devices, tpu_slice.chip, cost.flops, cost.bytes_accessed)
            except jax.errors.JaxRuntimeError as e:
                # The probe unrolls layers and key blocks, which needs more HBM than the scanned program
                # (azr_3b's prefill on v5e); its cost is unknown, not zero.
                if "RESOURCE_EXHAUSTED" not in str(e):
                    raise
                why = "the cost probe (unrolled layers and key blocks) does not fit this chip's HBM"
        reports[name] = ProgramReport(name, c.memory, c.compile_seconds, est, c.error, why)
    return CheckReport(spec, tpu_slice, headroom, reports)
