"""What `compile_check` compiles: one run config's model, mesh and the shapes of its three hot programs.

A CompileSpec fixes everything that changes a compiled program: the model architecture and its
dtypes / remat / scan, the mesh, the RL update's micro-batch, and the shapes
  update:  update_rows x update_length tokens (every sequence of one self-play step, prompt + response)
  prefill: sample_prompts prompts of prompt_length slots (the largest generate call of a step)
  decode:  sample_prompts * samples_per_prompt rows against a cache of prompt_length + max_new_tokens slots.

`resolve_compile_spec(name)` reads the run config of that name (configs/<name>.py through
azr_jax.run_config); a few extra names exist only for tests (`tiny_oversized`, `tiny_unplanned`).
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Callable

from azr_jax.model.config import ModelConfig, get_model_config
from azr_jax.parallel.mesh import MeshConfig
from azr_jax.rl.config import RLConfig

# AZR_SPEC: one self-play step samples and trains on B prompts for each of the 6 (task, role) pairs.
TASK_ROLE_PAIRS = 6


@dataclasses.dataclass(frozen=True)
class CompileSpec:
    name: str
    model: ModelConfig
    mesh: MeshConfig
    rl: RLConfig
    update_rows: int  # sequences in one update step
    update_length: int  # tokens per sequence: max prompt + max response
    sample_prompts: int  # prompts in the largest generate call
    samples_per_prompt: int  # n of that call (rows = prompts * n)
    prompt_length: int  # prompt slots P (the largest prompt bucket)
    max_new_tokens: int
    default_slice: str = "v5p-8"

    def __post_init__(self):
        for name in ("update_rows", "update_length", "sample_prompts", "samples_per_prompt", "prompt_length",
                     "max_new_tokens"):
            if getattr(self, name) <= 0:
                raise ValueError(f"CompileSpec.{name} must be positive, got {getattr(self, name)}")
        micro = self.rl.micro_batch_size
        if micro is not None and self.update_rows % micro:
            raise ValueError(f"CompileSpec {self.name}: update_rows {self.update_rows} is not divisible by "
                             f"rl.micro_batch_size {micro}")

    @property
    def sample_rows(self) -> int:
        return self.sample_prompts * self.samples_per_prompt

    @property
    def cache_length(self) -> int:
        return self.prompt_length + self.max_new_tokens

    @property
    def micro_batch_rows(self) -> int:
        return self.rl.micro_batch_size or self.update_rows

    @property
    def num_micro_batches(self) -> int:
        return self.update_rows // self.micro_batch_rows

    def replace(self, **changes: Any) -> "CompileSpec":
        return dataclasses.replace(self, **changes)

    def summary(self) -> str:
        m = self.model
        return (f"{self.name}: {m.num_params / 1e9:.2f}B params ({m.param_dtype} params, {m.compute_dtype} compute, "
                f"remat={m.remat}, scan_layers={m.scan_layers}, {m.attention_impl} attention); mesh data={self.mesh.data} fsdp={self.mesh.fsdp} "
                f"tensor={self.mesh.tensor}; update {self.update_rows}x{self.update_length} tokens in micro-batches "
                f"of {self.micro_batch_rows} rows; prefill {self.sample_prompts}x{self.prompt_length}; decode "
                f"{self.sample_rows} rows x {self.cache_length} cache slots")


def compile_spec_from_run_config(run_config, default_slice: str = "v5p-8") -> CompileSpec:
    """The programs a RunConfig (azr_jax.run_config) runs on a pod slice.

    Update: all 6 x B sequences of a step, each padded to max prompt + max response tokens (the worst
    case; a real batch is padded to its longest row). Sampling: the learnability rollouts, B prompts x n
    rows, the largest generate call of a step.
    """
    src = run_config.model
    overrides = src.runtime_fields()
    if src.vocab_size is not None:
        overrides["vocab_size"] = src.vocab_size
    generation, azr = run_config.generation, run_config.azr
    return CompileSpec(
        name=run_config.name, model=get_model_config(src.preset, **overrides), mesh=run_config.mesh,
        rl=run_config.rl, update_rows=TASK_ROLE_PAIRS * azr.batch_size,
        update_length=generation.max_prompt_tokens + generation.max_response_tokens,
        sample_prompts=azr.batch_size, samples_per_prompt=max(1, azr.learnability_rollouts),
        prompt_length=generation.max_prompt_tokens, max_new_tokens=generation.max_response_tokens,
        default_slice=default_slice)


# The slice each named run config is sized for (issue 7: azr_7b on v5p-64, azr_14b on v5p-128, azr_3b on v5e-16).
DEFAULT_SLICES = {"tiny": "v5p-8", "azr_3b": "v5litepod-16", "azr_7b": "v5p-64", "azr_coder_7b": "v5p-64",
                  "llama31_8b": "v5p-64", "azr_14b": "v5p-128"}


def _tiny_oversized() -> CompileSpec:
    """Cannot fit anywhere small: a 32k-token update row materialises 4 x 32k x 32k float32 attention
    scores (16 GiB) per layer, whatever the micro-batch."""
    return CompileSpec(name="tiny_oversized", model=get_model_config("tiny-qwen2", compute_dtype="bfloat16"),
                       mesh=MeshConfig(data=1, fsdp=-1, tensor=1), rl=RLConfig(micro_batch_size=None),
                       update_rows=4, update_length=32768, sample_prompts=4, samples_per_prompt=1,
                       prompt_length=64, max_new_tokens=64, default_slice="v5litepod-4")


def _tiny_unplanned() -> CompileSpec:
    """Does not fit as given (64 rows x 8k tokens in one pass) but fits with micro-batches: a planner test."""
    return CompileSpec(name="tiny_unplanned", model=get_model_config("tiny-qwen2", compute_dtype="bfloat16"),
                       mesh=MeshConfig(data=1, fsdp=-1, tensor=1), rl=RLConfig(micro_batch_size=None),
                       update_rows=64, update_length=8192, sample_prompts=8, samples_per_prompt=1,
                       prompt_length=64, max_new_tokens=64, default_slice="v5litepod-4")


TEST_SPECS: dict[str, Callable[[], CompileSpec]] = {"tiny_oversized": _tiny_oversized,
                                                    "tiny_unplanned": _tiny_unplanned}


def resolve_compile_spec(name: str, overrides: dict[str, str] | None = None) -> CompileSpec:
    """The CompileSpec of run config `name` (configs/<name>.py, with dotted overrides) or of a test spec."""
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
    slice_name = DEFAULT_SLICES.get(run_config.name, "v5p-8")
    return compile_spec_from_run_config(run_config, default_slice=slice_name)
