"""When a spec does not fit: search mesh shapes, micro-batch sizes, remat policies and sampling batch sizes.

Memory grows with the micro-batch and with lighter rematerialisation, and does not depend on one
program's settings in another program, so the search is per program and cheap in compiles:
  for each mesh (data=1, fsdp x tensor, tensor dividing the kv heads; pure FSDP first):
    update:   for remat in none, dots, full (fastest first): compile at 1 row per device; if that fits,
              grow the micro-batch while it fits and keep the largest; the first remat that fits wins
    sampling: rows per device call (generation.max_rows_per_call), from the spec's largest call down,
              halving, until prefill and decode fit
The first mesh with a fitting update and sampling is the plan; it is then checked in full (with costs).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from azr_jax.parallel.mesh import MeshConfig
from azr_jax.tpu import programs as progs
from azr_jax.tpu.check import DEFAULT_HEADROOM, CheckReport, check
from azr_jax.tpu.specs import CompileSpec
from azr_jax.tpu.topologies import parse_slice

REMAT_ORDER = ("none", "dots", "full")  # least recomputation first


@dataclasses.dataclass(frozen=True)
class Trial:
    program: str
    settings: str
    fraction: float
    fits: bool


@dataclasses.dataclass
class Plan:
    spec: CompileSpec | None  # the best spec that fits, or None
    report: CheckReport | None
    trials: list[Trial]

    def format(self) -> str:
        lines = ["planner trials (fraction of HBM per device):"]
        lines += [f"  {t.program:8} {t.settings:55} {t.fraction:7.1%} {'fits' if t.fits else 'too big'}"
                  for t in self.trials]
        if self.spec is None:
            lines.append("no mesh / micro-batch / remat / sampling batch tried fits this slice")
        else:
            s = self.spec
            lines.append(f"best that fits: mesh data={s.mesh.data} fsdp={s.mesh.fsdp} tensor={s.mesh.tensor}, "
                         f"rl.micro_batch_size={s.micro_batch_rows}, model.remat={s.model.remat!r}, "
                         f"generation.max_rows_per_call={s.max_rows_per_call}")
        return "\n".join(lines)


def mesh_candidates(spec: CompileSpec, num_devices: int) -> list[MeshConfig]:
    """The spec's mesh first, then data=1 FSDP x tensor meshes, tensor dividing the heads and kv heads."""
    c = spec.model
    meshes = [spec.mesh]
    for tensor in (1, 2, 4, 8):
        if num_devices % tensor or c.num_kv_heads % tensor or c.num_heads % tensor:
            continue
        mesh = MeshConfig(data=1, fsdp=num_devices // tensor, tensor=tensor)
        if mesh.resolve(num_devices) != spec.mesh.resolve(num_devices):
            meshes.append(mesh)
    return meshes


def micro_batch_candidates(mini_batch_rows: int, batch_parallel: int) -> list[int]:
    """Micro-batch sizes (rows) that shard evenly and divide a mini-batch: k rows per batch-parallel device
    group, ascending."""
    return [k * batch_parallel for k in range(1, mini_batch_rows // batch_parallel + 1)
            if mini_batch_rows % (k * batch_parallel) == 0]


def _fraction(spec: CompileSpec, mesh, program_names, hbm: int) -> float:
    compiled = progs.compile_programs(spec, mesh, program_names)
    return max(c.memory.total_bytes / hbm for c in compiled.values())


def plan(spec: CompileSpec, slice_name: str, headroom: float = DEFAULT_HEADROOM, costs: bool = True,
         log: Callable[[str], None] = lambda _: None) -> Plan:
    tpu_slice = parse_slice(slice_name)
    hbm, devices = tpu_slice.chip.hbm_bytes, tpu_slice.num_devices
    trials: list[Trial] = []

    def trial(program: str, candidate: CompileSpec, mesh, names, settings: str) -> bool:
        fraction = _fraction(candidate, mesh, names, hbm)
        trials.append(Trial(program, settings, fraction, fraction <= headroom))
        log(f"  {program:8} {settings:55} {fraction:7.1%}")
        return fraction <= headroom

    for mesh_config in mesh_candidates(spec, devices):
        sizes = mesh_config.resolve(devices)
        base = spec.replace(mesh=mesh_config)
        mesh = progs.slice_mesh(base, slice_name)
        mesh_text = f"mesh {sizes[0]}x{sizes[1]}x{sizes[2]}"
        update = _plan_update(base, mesh, sizes[0] * sizes[1], mesh_text, trial)
        if update is None:
            continue
        sampling = _plan_sampling(update, mesh, sizes[0] * sizes[1], mesh_text, trial)
        if sampling is None:
            continue
        report = check(sampling, slice_name, headroom, costs=costs) if costs else None
        return Plan(sampling, report, trials)
    return Plan(None, None, trials)


def _plan_update(spec: CompileSpec, mesh, batch_parallel: int, mesh_text: str, trial) -> CompileSpec | None:
    micros = micro_batch_candidates(spec.mini_batch_rows, batch_parallel)  # micro-batches split one mini-batch
    if not micros:
        return None
    for remat in REMAT_ORDER:
        best = None
        for micro in micros:
            candidate = spec.replace(model=spec.model.replace(remat=remat),
                                     rl=spec.rl.replace(micro_batch_size=micro))
            if not trial("update", candidate, mesh, ("update",), f"{mesh_text}, remat={remat}, micro-batch {micro}"):
                break
            best = candidate
        if best is not None:
            return best
    return None


def _plan_sampling(spec: CompileSpec, mesh, batch_parallel: int, mesh_text: str, trial) -> CompileSpec | None:
    candidate = spec.with_sampling(spec.max_rows_per_call, batch_parallel)  # padded for this mesh
    while True:
        cap = candidate.max_rows_per_call
        settings = (f"{mesh_text}, prefill {candidate.prefill_call[0]} prompts, decode {candidate.sample_prompts} x "
                    f"{candidate.samples_per_prompt} rows" + (f" (<= {cap} rows per call)" if cap else ""))
        if trial("sampling", candidate, mesh, ("prefill", "decode"), settings):
            return candidate
        rows = max(candidate.sample_rows, candidate.prefill_call[0] * candidate.prefill_call[1]) // 2
        try:
            candidate = candidate.with_sampling(rows, batch_parallel)
        except ValueError:  # fewer rows than the smallest batch bucket allows
            return None
