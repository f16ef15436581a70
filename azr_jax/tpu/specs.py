"""What `compile_check` compiles: one run config's model, mesh and the shapes of its three hot programs.

A CompileSpec fixes everything that changes a compiled program: the model architecture and its
dtypes / remat / scan, the mesh, the RL update's mini- and micro-batches, and the shapes
  update:  update_rows x update_length tokens (every sequence of one self-play step, prompt + response),
           one optimizer step per mini-batch, each accumulated over micro-batches
  prefill: prefill_call (prompts, n) with prompt_length slots (the device call with the most prompts)
  decode:  decode_call, sample_prompts * samples_per_prompt rows, against a cache of prompt_length +
           max_new_tokens slots (the device call with the most rows).
The sampling shapes follow from the step's generate calls (`step_calls`), the Sampler's batch buckets and
`max_rows_per_call`, exactly as the Sampler splits and pads them (`sampling_shapes`).

`resolve_compile_spec(name)` reads the run config of that name (configs/<name>.py through
azr_jax.run_config); a few extra names exist only for tests (`tiny_oversized`, `tiny_unplanned`).
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Callable

from azr_jax.azr.tasks import TaskType
from azr_jax.model.config import ModelConfig, get_model_config
from azr_jax.parallel.mesh import MeshConfig
from azr_jax.rl.config import RLConfig
from azr_jax.sampling.batching import default_batch_buckets, pick_bucket, prompts_per_call
from azr_jax.sampling.params import logprob_temperature

# AZR_SPEC: one self-play step samples and trains on B prompts for each of the 6 (task, role) pairs, and
# proposes B tasks of each type.
TASK_TYPES = len(TaskType)
TASK_ROLE_PAIRS = 2 * TASK_TYPES


@dataclasses.dataclass(frozen=True)
class CompileSpec:
    name: str
    model: ModelConfig
    mesh: MeshConfig
    rl: RLConfig
    update_rows: int  # sequences in one update step
    update_length: int  # tokens per sequence: max prompt + max response
    sample_prompts: int  # prompts of the device call with the most rows (bucketed)
    samples_per_prompt: int  # n of that call (rows = prompts * n)
    prompt_length: int  # prompt slots P (the largest prompt bucket)
    max_new_tokens: int
    default_slice: str = "v5p-8"
    prefill_shape: tuple[int, int] = ()  # (prompts, n) of the device call with the most prompts; (): the decode's
    step_calls: tuple[tuple[int, int], ...] = ()  # (prompts, n) of each generate call of a step, before bucketing
    max_rows_per_call: int = 0  # GenerationConfig.max_rows_per_call (0: no limit)
    logprob_temperature: float = 1.0  # the update's log-prob temperature (the trainer's, from generation.temperature)

    def __post_init__(self):
        for name in ("update_rows", "update_length", "sample_prompts", "samples_per_prompt", "prompt_length",
                     "max_new_tokens"):
            if getattr(self, name) <= 0:
                raise ValueError(f"CompileSpec.{name} must be positive, got {getattr(self, name)}")
        for name in ("mini_batch_size", "micro_batch_size"):
            size = getattr(self.rl, name)
            if size is not None and self.update_rows % size:
                raise ValueError(f"CompileSpec {self.name}: update_rows {self.update_rows} is not divisible by "
                                 f"rl.{name} {size}")

    @property
    def sample_rows(self) -> int:
        return self.sample_prompts * self.samples_per_prompt

    @property
    def prefill_call(self) -> tuple[int, int]:
        """(prompts, n) of the prefill compiled: the call with the most prompts."""
        return self.prefill_shape or self.decode_call

    @property
    def decode_call(self) -> tuple[int, int]:
        """(prompts, n) of the decode compiled: the call with the most rows."""
        return self.sample_prompts, self.samples_per_prompt

    def with_sampling(self, max_rows_per_call: int, batch_parallel: int) -> "CompileSpec":
        """The spec with the sampling shapes of `step_calls` split at max_rows_per_call rows per call."""
        if not self.step_calls:
            raise ValueError(f"CompileSpec {self.name} has no step_calls to derive sampling shapes from")
        prefill, (prompts, n) = sampling_shapes(self.step_calls, max_rows_per_call, batch_parallel)
        return self.replace(prefill_shape=prefill, sample_prompts=prompts, samples_per_prompt=n,
                            max_rows_per_call=max_rows_per_call)

    @property
    def cache_length(self) -> int:
        return self.prompt_length + self.max_new_tokens

    @property
    def mini_batch_rows(self) -> int:
        """Rows of one optimizer step."""
        return self.rl.mini_batch_size or self.update_rows

    @property
    def num_optimizer_steps(self) -> int:
        return self.update_rows // self.mini_batch_rows

    @property
    def micro_batch_rows(self) -> int:
        return self.rl.micro_batch_size or self.mini_batch_rows

    @property
    def num_micro_batches(self) -> int:
        """Micro-batches of the whole update, over all its optimizer steps."""
        return self.update_rows // self.micro_batch_rows

    def replace(self, **changes: Any) -> "CompileSpec":
        return dataclasses.replace(self, **changes)

    def summary(self) -> str:
        m = self.model
        return (f"{self.name}: {m.num_params / 1e9:.2f}B params ({m.param_dtype} params, {m.compute_dtype} compute, "
                f"remat={m.remat}, scan_layers={m.scan_layers}, {m.attention_impl} attention); mesh data={self.mesh.data} fsdp={self.mesh.fsdp} "
                f"tensor={self.mesh.tensor}; update {self.update_rows}x{self.update_length} tokens in "
                f"{self.num_optimizer_steps} optimizer step(s) of {self.mini_batch_rows} rows, micro-batches "
                f"of {self.micro_batch_rows} rows; prefill {self.prefill_call[0]}x{self.prompt_length}; decode "
                f"{self.sample_prompts}x{self.samples_per_prompt} rows x {self.cache_length} cache slots"
                + (f" (at most {self.max_rows_per_call} rows per call)" if self.max_rows_per_call else ""))


def sampling_shapes(step_calls, max_rows_per_call: int, batch_parallel: int):
    """((prompts, n) to prefill, (prompts, n) to decode): the largest device calls the Sampler makes for
    `step_calls` [(prompts, n)], with its default batch buckets on a mesh of `batch_parallel` batch shards.
    The prefill is the call with the most (bucketed) prompts, the decode the call with the most rows; its
    activations grow with prompts and its KV cache with rows."""
    buckets = default_batch_buckets(batch_parallel)
    calls = []
    for prompts, n in step_calls:
        if max_rows_per_call:
            prompts = min(prompts, prompts_per_call(buckets, n, max_rows_per_call))
        calls.append((pick_bucket(prompts, buckets, "number of prompts"), n))
    prefill = max(calls, key=lambda call: (call[0], call[1]))
    decode = max(calls, key=lambda call: (call[0] * call[1], call[0]))
    return prefill, decode


def compile_spec_from_run_config(run_config, slice_name: str = "v5p-8") -> CompileSpec:
    """The programs a RunConfig (azr_jax.run_config) runs on a pod slice.

    Update: all 6 x B sequences of a step, each padded to max prompt + max response tokens (the worst
    case; a real batch is padded to its longest row). Sampling: a step's two generate calls, 6 x B
    proposer and solver prompts with one sample each, then the learnability rollouts of up to 3 x B new
    tasks with n samples each, split at generation.max_rows_per_call and padded as the Sampler does on
    this slice's mesh.
    """
    from azr_jax.tpu.topologies import parse_slice

    src = run_config.model
    overrides = src.runtime_fields()
    if src.vocab_size is not None:
        overrides["vocab_size"] = src.vocab_size
    generation, azr = run_config.generation, run_config.azr
    data, fsdp, _ = run_config.mesh.resolve(parse_slice(slice_name).num_devices)
    b = azr.batch_size
    spec = CompileSpec(
        name=run_config.name, model=get_model_config(src.preset, **overrides), mesh=run_config.mesh,
        rl=run_config.rl, update_rows=TASK_ROLE_PAIRS * b,
        update_length=generation.max_prompt_tokens + generation.max_response_tokens,
        sample_prompts=b, samples_per_prompt=1, prompt_length=generation.max_prompt_tokens,
        max_new_tokens=generation.max_response_tokens, default_slice=slice_name,
        logprob_temperature=logprob_temperature(generation.temperature),
        step_calls=((TASK_ROLE_PAIRS * b, 1), (TASK_TYPES * b, max(1, azr.learnability_rollouts))))
    return spec.with_sampling(generation.max_rows_per_call, data * fsdp)


# The slice each named run config is sized for (issue 7: azr_7b on v5p-64, azr_14b on v5p-128, azr_3b on v5e-16).
DEFAULT_SLICES = {"tiny": "v5p-8", "azr_3b": "v5litepod-16", "azr_7b": "v5p-64", "azr_coder_7b": "v5p-64",
                  "llama31_8b": "v5p-64", "azr_14b": "v5p-128"}


def _tiny_oversized() -> CompileSpec:
    """Cannot fit anywhere small: a 32k-token update row materialises 4 x 32k x 32k float32 attention
    scores (16 GiB) per layer, whatever the micro-batch."""
    return CompileSpec(name="tiny_oversized", model=get_model_config("tiny-qwen2", compute_dtype="bfloat16"),
                       mesh=MeshConfig(data=1, fsdp=-1, tensor=1), rl=RLConfig(micro_batch_size=None),
                       update_rows=4, update_length=32768, sample_prompts=4, samples_per_prompt=1,
                       prompt_length=64, max_new_tokens=64, default_slice="v5litepod-4", step_calls=((4, 1),))


def _tiny_unplanned() -> CompileSpec:
    """Does not fit as given (64 rows x 8k tokens in one pass) but fits with micro-batches: a planner test."""
    return CompileSpec(name="tiny_unplanned", model=get_model_config("tiny-qwen2", compute_dtype="bfloat16"),
                       mesh=MeshConfig(data=1, fsdp=-1, tensor=1), rl=RLConfig(micro_batch_size=None),
                       update_rows=64, update_length=8192, sample_prompts=8, samples_per_prompt=1,
                       prompt_length=64, max_new_tokens=64, default_slice="v5litepod-4", step_calls=((8, 1),))


def _tiny_wide_sampling() -> CompileSpec:
    """The update fits, but a decode of 4096 prompts x 8 rows with 8256 cache slots (~17 GiB of KV cache per
    v5e chip of a v5litepod-4) does not: the planner must split the calls (max_rows_per_call)."""
    spec = CompileSpec(name="tiny_wide_sampling", model=get_model_config("tiny-qwen2", compute_dtype="bfloat16"),
                       mesh=MeshConfig(data=1, fsdp=-1, tensor=1), rl=RLConfig(micro_batch_size=None),
                       update_rows=4, update_length=128, sample_prompts=1, samples_per_prompt=1, prompt_length=64,
                       max_new_tokens=8192, default_slice="v5litepod-4", step_calls=((4096, 1), (4096, 8)))
    return spec.with_sampling(0, batch_parallel=4)


TEST_SPECS: dict[str, Callable[[], CompileSpec]] = {"tiny_oversized": _tiny_oversized,
                                                    "tiny_unplanned": _tiny_unplanned,
                                                    "tiny_wide_sampling": _tiny_wide_sampling}


def resolve_compile_spec(name: str, overrides: dict[str, str] | None = None,
                         slice_name: str | None = None) -> CompileSpec:
    """The CompileSpec of run config `name` (configs/<name>.py, with dotted overrides) or of a test spec,
    for `slice_name` (default: the slice the config is sized for; its mesh decides the sampling padding)."""
    if name in TEST_SPECS:
        if overrides:
            raise ValueError(f"test spec {name!r} takes no config overrides")
        return TEST_SPECS[name]()
    from azr_jax.run_config import available_configs, load_run_config

    try:
        run_config = load_run_config(name, overrides)
    except ValueError as e:
        known = sorted(set(available_configs()) | set(TEST_SPECS))
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"{e}{hint}; compile specs: {', '.join(known)}") from e
    return compile_spec_from_run_config(run_config, slice_name or DEFAULT_SLICES.get(run_config.name, "v5p-8"))
