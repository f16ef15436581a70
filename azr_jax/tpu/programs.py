"""Ahead-of-time compilation of the three hot programs for a TPU slice, from abstract arrays only.

The programs are the ones the trainer runs, jitted the way their packages jit them:
  update   azr_jax.rl.jit_update_step (params and optimizer state donated, one optimizer step per mini-batch,
           micro-batched gradients)
  prefill  azr_jax.sampling.loop.prefill (prompts -> KV cache and the first token of every row)
  decode   azr_jax.sampling.loop.decode (the donated while loop of single-token steps)
Arguments are ShapeDtypeStructs carrying NamedShardings on a mesh of the slice's compile-only devices,
so nothing is allocated; the compiled program reports its per-device memory and its HLO cost.

`cost_analysis()` counts the body of a loop once (scan over layers, micro-batch scan, the decode while
loop, and the collective-matmul loops XLA makes on large meshes), so `probe_cost` compiles the same
program with 1 and 2 unrolled layers and one micro-batch of one step, on a 4-chip mesh with the same per-device
shapes, and extrapolates linearly in the layer count: per-layer and per-step costs come from the
compiler, not from a formula.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import time

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from azr_jax.model.functional import abstract_model
from azr_jax.parallel.mesh import MeshConfig, make_mesh
from azr_jax.parallel.rules import logical_to_spec
from azr_jax.parallel.sharding import param_shardings
from azr_jax.rl.batch import TrainBatch, batch_shardings
from azr_jax.rl.optimizer import make_optimizer, opt_state_shardings
from azr_jax.rl.signatures import jit_update_step
from azr_jax.sampling import loop, stops
from azr_jax.tpu.specs import CompileSpec
from azr_jax.tpu.topologies import topology_devices

PROGRAMS = ("prefill", "decode", "update")


@dataclasses.dataclass(frozen=True)
class ProgramMemory:
    """Per-device bytes of one compiled program (XLA's buffer assignment)."""

    argument_bytes: int
    output_bytes: int
    alias_bytes: int  # outputs written into donated arguments
    temp_bytes: int
    code_bytes: int
    peak_bytes: int  # XLA's peak of live buffers (arguments, outputs and temporaries)
    resident_bytes: int = 0  # HBM held by other state while this program runs (not an argument)

    @property
    def total_bytes(self) -> int:
        return self.peak_bytes + self.code_bytes + self.resident_bytes

    @classmethod
    def of(cls, compiled, resident_bytes: int = 0) -> "ProgramMemory":
        m = compiled.memory_analysis()
        summed = m.argument_size_in_bytes + m.output_size_in_bytes - m.alias_size_in_bytes + m.temp_size_in_bytes
        peak = getattr(m, "peak_memory_in_bytes", 0) or summed
        return cls(argument_bytes=m.argument_size_in_bytes, output_bytes=m.output_size_in_bytes,
                   alias_bytes=m.alias_size_in_bytes, temp_bytes=m.temp_size_in_bytes,
                   code_bytes=m.generated_code_size_in_bytes, peak_bytes=peak, resident_bytes=resident_bytes)


@dataclasses.dataclass(frozen=True)
class CompiledProgram:
    name: str
    memory: ProgramMemory
    compile_seconds: float
    error: str | None = None  # the compiler refused: the program does not fit HBM (memory is its claim)


_OUT_OF_HBM = re.compile(r"HLO temporaries \(([\d.]+)([KMGT]?)\)")


def _out_of_memory(error: Exception, resident_bytes: int) -> ProgramMemory | None:
    """The TPU compiler fails with RESOURCE_EXHAUSTED when temporaries exceed HBM; keep what it needed."""
    text = str(error)
    if "RESOURCE_EXHAUSTED" not in text:
        return None
    match = _OUT_OF_HBM.search(text)
    scale = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
    temp = int(float(match.group(1)) * scale[match.group(2)]) if match else 0
    return ProgramMemory(argument_bytes=0, output_bytes=0, alias_bytes=0, temp_bytes=temp, code_bytes=0,
                         peak_bytes=temp, resident_bytes=resident_bytes)


def slice_mesh(spec: CompileSpec, slice_name: str) -> Mesh:
    """The spec's (data, fsdp, tensor) mesh over the slice's compile-only devices."""
    return make_mesh(spec.mesh, devices=topology_devices(slice_name))


def _with_shardings(tree, shardings):
    return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), tree, shardings)


def _sharded_bytes(tree) -> int:
    """Bytes one device holds of a tree of sharded ShapeDtypeStructs."""
    return sum(math.prod(x.sharding.shard_shape(x.shape)) * x.dtype.itemsize for x in jax.tree.leaves(tree))


def abstract_train_state(spec: CompileSpec, mesh: Mesh):
    """(graphdef, optimizer, params, opt_state): sharded ShapeDtypeStructs as the trainer holds them."""
    graphdef, abstract = abstract_model(spec.model)
    optimizer = make_optimizer(spec.rl)
    params_sh = param_shardings(abstract, mesh)
    params = _with_shardings(abstract, params_sh)
    opt_state = _with_shardings(jax.eval_shape(optimizer.init, abstract),
                                opt_state_shardings(optimizer, abstract, params_sh, mesh))
    return graphdef, optimizer, params, opt_state


def lower_update(spec: CompileSpec, mesh: Mesh):
    graphdef, optimizer, params, opt_state = abstract_train_state(spec, mesh)
    step = jit_update_step(graphdef, optimizer, spec.rl, params, temperature=spec.logprob_temperature, mesh=mesh)
    rows = batch_shardings(mesh).tokens_bt
    shape = (spec.update_rows, spec.update_length)
    batch = TrainBatch(*(jax.ShapeDtypeStruct(shape, dtype, sharding=rows)
                         for dtype in (jnp.int32, jnp.bool_, jnp.bool_, jnp.float32, jnp.float32)))
    return step.lower(params, opt_state, batch)


def _loop_spec(spec: CompileSpec, call: tuple[int, int]) -> loop.LoopSpec:
    # AZR_SPEC samples at temperature 1.0, top_p 1.0: plain categorical sampling, no top-k / top-p sort.
    prompts, n = call
    return loop.LoopSpec(prompt_slots=spec.prompt_length, num_prompt_rows=prompts, n=n,
                         max_new_tokens=spec.max_new_tokens, greedy=False, top_k=0, use_top_p=False, stream=False)



def _controls(mesh: Mesh) -> loop.Controls:
    replicated = NamedSharding(mesh, PartitionSpec())
    values = loop.Controls(temperature=jnp.float32(1.0), top_p=jnp.float32(1.0),
                           eos_e=jnp.asarray(stops.eos_table((0,))), stop_sw=jnp.asarray(stops.stop_table(())),
                           rng=jax.random.key(0))
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=replicated), values)


def _sampler_jit(fn, spec: CompileSpec, graphdef, mesh: Mesh, **jit_kwargs):
    """jit as azr_jax.sampling.Sampler does (no host callback: streaming is off)."""
    return jax.jit(functools.partial(fn, spec.model, graphdef, mesh, None), static_argnames=("spec",), **jit_kwargs)


def lower_prefill(spec: CompileSpec, mesh: Mesh):
    graphdef, _, params, _ = abstract_train_state(spec, mesh)
    shape = (spec.prefill_call[0], spec.prompt_length)
    rows = NamedSharding(mesh, logical_to_spec(("batch", None), shape, mesh))
    tokens = jax.ShapeDtypeStruct(shape, jnp.int32, sharding=rows)
    mask = jax.ShapeDtypeStruct(shape, jnp.bool_, sharding=rows)
    return _sampler_jit(loop.prefill, spec, graphdef, mesh).lower(params, tokens, mask, _controls(mesh),
                                                                   spec=_loop_spec(spec, spec.prefill_call))


def _decode_state(spec: CompileSpec, graphdef, params, mesh: Mesh) -> loop.SamplingState:
    """The sampling state prefill hands to decode: its shapes, and the shardings loop._constrain_state pins."""
    tokens = jax.ShapeDtypeStruct((spec.sample_prompts, spec.prompt_length), jnp.int32)
    state = jax.eval_shape(functools.partial(loop.prefill, spec.model, graphdef, None, None,
                                             spec=_loop_spec(spec, spec.decode_call)),
                           params, tokens, tokens.update(dtype=jnp.bool_), _controls(mesh))

    def sharded(path, x):
        field = path[0].name
        if field == "step":
            axes = ()
        elif field == "cache":
            axes = ("layers", "cache_batch", "cache_length", "kv_heads", "head_dim")
        else:
            axes = ("batch",) + (None,) * (x.ndim - 1)
        spec_ = logical_to_spec(axes, x.shape, mesh)
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=NamedSharding(mesh, spec_))

    return jax.tree_util.tree_map_with_path(sharded, state)


def lower_decode(spec: CompileSpec, mesh: Mesh):
    graphdef, _, params, _ = abstract_train_state(spec, mesh)
    state = _decode_state(spec, graphdef, params, mesh)
    jitted = _sampler_jit(loop.decode, spec, graphdef, mesh, donate_argnames=("state",))
    return jitted.lower(params, state, _controls(mesh), spec=_loop_spec(spec, spec.decode_call))


def optimizer_state_bytes(spec: CompileSpec, mesh: Mesh) -> int:
    """Per-device bytes of the optimizer state, which stays in HBM while the sampler runs."""
    return _sharded_bytes(abstract_train_state(spec, mesh)[3])


def compile_programs(spec: CompileSpec, mesh: Mesh, names=PROGRAMS) -> dict[str, CompiledProgram]:
    """Compiles the named programs; sampling programs also carry the resident optimizer state."""
    out = {}
    resident = optimizer_state_bytes(spec, mesh) if {"prefill", "decode"} & set(names) else 0
    for name in names:
        if name not in PROGRAMS:
            raise ValueError(f"unknown program {name!r}; programs: {', '.join(PROGRAMS)}")
        start = time.perf_counter()
        extra = 0 if name == "update" else resident
        try:
            if name == "update":
                compiled = lower_update(spec, mesh).compile()
            elif name == "prefill":
                compiled = lower_prefill(spec, mesh).compile()
            else:
                compiled = lower_decode(spec, mesh).compile()
        except jax.errors.JaxRuntimeError as e:
            memory = _out_of_memory(e, extra)
            if memory is None:
                raise
            out[name] = CompiledProgram(name, memory, time.perf_counter() - start, error=str(e).splitlines()[0])
            continue
        out[name] = CompiledProgram(name, ProgramMemory.of(compiled, extra), time.perf_counter() - start)
    return out


@dataclasses.dataclass(frozen=True)
class HloCost:
    """Per-device FLOPs and HBM bytes accessed of one program call, from the compiler's cost analysis."""

    flops: float
    bytes_accessed: float


def _cost(compiled) -> HloCost:
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return HloCost(float(cost.get("flops", 0.0)), float(cost.get("bytes accessed", 0.0)))


def _probe_setup(spec: CompileSpec, mesh: Mesh, chip_name: str) -> tuple[CompileSpec, Mesh]:
    """The spec on a 4-chip mesh (8 with tensor=8) of the same chip, with the same per-device shapes.

    On large meshes XLA rewrites all-gather + matmul into collective-matmul loops, whose bodies
    cost_analysis counts once (on v5p-64 it reported ~1/4 of a 7B prefill's FLOPs); the per-device
    work of FSDP and tensor parallelism does not depend on the FSDP degree, so it is measured where
    no such loop appears.
    """
    tensor = mesh.shape["tensor"]
    devices = max(4, tensor)
    slice_name = {"v5p": f"v5p-{2 * devices}", "v4": f"v4-{2 * devices}", "v5e": f"v5litepod-{devices}"}[chip_name]
    batch_parallel = mesh.shape["data"] * mesh.shape["fsdp"]
    probe_parallel = devices // tensor

    def rows(n: int) -> int:  # rows a device computes, times the probe's batch parallelism
        return n // batch_parallel * probe_parallel if n % batch_parallel == 0 else n

    micro = spec.micro_batch_rows
    probe = spec.replace(mesh=MeshConfig(data=1, fsdp=probe_parallel, tensor=tensor), update_rows=rows(micro),
                         rl=spec.rl.replace(mini_batch_size=None, micro_batch_size=None,
                                            logprob_chunk_size=spec.update_length),
                         sample_prompts=rows(spec.sample_prompts),
                         prefill_shape=(rows(spec.prefill_call[0]), spec.prefill_call[1]))
    return probe, make_mesh(probe.mesh, devices=topology_devices(slice_name))


def _key_length(name: str, spec: CompileSpec) -> int | None:
    """Keys a blockwise attention of program `name` visits in blocks, None if it is dense (or a decode step)."""
    if spec.model.attention_impl != "blockwise" or name == "decode":
        return None
    return spec.update_length if name == "update" else spec.prompt_length


def probe_cost(name: str, spec: CompileSpec, mesh: Mesh, chip_name: str) -> HloCost:
    """HLO cost per device of one call of program `name` (one step for "decode"), every loop counted in full.

    Compiles the program with 1 and 2 unrolled layers (the update: one micro-batch, one log-prob chunk)
    on a small mesh with the same per-device shapes (see _probe_setup), and extrapolates:
    cost(L) = cost(1) + (L - 1) * (cost(2) - cost(1)); the update is multiplied by the number of
    micro-batches over all its optimizer steps (the optimizer step, a small term, is then counted once
    per micro-batch rather than once per mini-batch). The decode
    loop's body is counted once by cost_analysis: that is one step.

    Blockwise attention loops over key blocks too. Unrolling all of them (28 at 14k tokens, forward,
    recomputed forward and backward) makes the probe compile for tens of minutes, so the layers are
    compiled with their keys in 2 unrolled blocks, one layer also in 4, and the cost is extrapolated
    linearly in the block count n: cost(L, n) = cost(1, 2) + (L - 1) * (cost(2, 2) - cost(1, 2))
    + L * (n - 2) * (cost(1, 4) - cost(1, 2)) / 2. Not from 1 block: XLA compiles a single block
    differently (7B probe, HBM bytes per layer: 1 block 3.6e11, 2 blocks 5.6e11, 4 blocks 5.5e11).
    The score FLOPs do not depend on n.
    """
    probe, probe_mesh = _probe_setup(spec, mesh, chip_name)
    lower = {"update": lower_update, "prefill": lower_prefill, "decode": lower_decode}[name]
    keys = _key_length(name, spec)

    def cost(layers: int, blocks: int) -> HloCost:
        model = probe.model.replace(num_layers=layers, scan_layers=False, scan_attention_blocks=False)
        if keys is not None:
            model = model.replace(attention_block_size=-(-keys // blocks))
        return _cost(lower(probe.replace(model=model), probe_mesh).compile())

    layers = spec.model.num_layers
    repeats = spec.num_micro_batches if name == "update" else 1
    if keys is None:
        blocks, base, one, two, split = 1, 1, cost(1, 1), cost(2, 1), None
    else:
        blocks, base = -(-keys // spec.model.attention_block_size), 2
        one, two, split = cost(1, base), cost(2, base), cost(1, 2 * base)

    def extrapolate(a, b, c):
        per_block = 0.0 if c is None else (c - a) / base
        return repeats * (a + (layers - 1) * (b - a) + layers * (blocks - base) * per_block)

    return HloCost(extrapolate(one.flops, two.flops, split and split.flops),
                   extrapolate(one.bytes_accessed, two.bytes_accessed, split and split.bytes_accessed))
