"""The typed config of a training run, loaded by name from configs/ or from a file, with overrides.

    config = load_run_config("tiny", {"rl.learning_rate": "1e-6", "steps": "3"})

A config file defines `get_config() -> RunConfig`. Unknown names and keys fail at once with a message
that names them and lists the close matches.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
from pathlib import Path
from typing import Mapping

from azr_jax.azr.config import AZRConfig
from azr_jax.config_overrides import ConfigError, apply_overrides, unknown_key_message
from azr_jax.parallel.mesh import MeshConfig
from azr_jax.rl.advantages import NUM_TRR_GROUPS
from azr_jax.rl.config import REMOVED_FIELDS as REMOVED_RL_FIELDS, RLConfig

SEED_SOURCES = ("proposals", "generator")
CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """Which network to train and where its starting weights come from."""

    preset: str = "tiny-qwen2"  # architecture (azr_jax.model.config presets) for random initial weights
    vocab_size: int | None = None  # overrides the preset's vocabulary (random weights with a tiny tokenizer)
    checkpoint: str | None = None  # converted base weights (launch/convert_hf.py); overrides `preset`
    tokenizer: str | None = None  # None: the checkpoint's tokenizer, or a tiny BPE built for random weights
    param_dtype: str = "float32"
    compute_dtype: str = "float32"
    remat: str = "none"
    scan_layers: bool = True
    attention_impl: str = "dense"  # "blockwise" for long sequences (azr_jax.model.attention)
    attention_block_size: int = 512

    def runtime_fields(self) -> dict:
        """The ModelConfig fields this source sets on top of the preset or checkpoint: how to run, not what."""
        return dict(param_dtype=self.param_dtype, compute_dtype=self.compute_dtype, remat=self.remat,
                    scan_layers=self.scan_layers, attention_impl=self.attention_impl,
                    attention_block_size=self.attention_block_size)


@dataclasses.dataclass(frozen=True)
class GenerationConfig:
    """Sampling for every rollout of a self-play step (AZR_SPEC: temperature 1, top_p 1)."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_prompt_tokens: int = 6144
    max_response_tokens: int = 8096
    # Rows (prompts x samples, over all hosts) per device call; a step's generate calls are split into calls
    # of at most this many, which bounds the KV cache. 0: no limit. `launch/compile_check.py --plan` finds it.
    max_rows_per_call: int = 0

    def __post_init__(self):
        for name in ("max_prompt_tokens", "max_response_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"GenerationConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_rows_per_call < 0:
            raise ValueError(f"GenerationConfig.max_rows_per_call must be >= 0 (0: no limit), "
                             f"got {self.max_rows_per_call}")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    name: str = "tiny"
    model: ModelSource = ModelSource()
    mesh: MeshConfig = MeshConfig()
    generation: GenerationConfig = GenerationConfig()
    azr: AZRConfig = AZRConfig()
    rl: RLConfig = RLConfig()
    executor_pool_size: int = 0  # sandbox worker processes per host; 0: one per CPU core this process may use
    steps: int = 500
    checkpoint_every: int = 10
    keep_checkpoints: int = 3
    eval_every: int = 0  # 0: no evaluation; else before the first step, every eval_every steps and after the last
    # > 0: the held-out AZR tasks (azr_jax.eval.heldout), this many of each type, as an evaluator
    heldout_eval_per_type: int = 0
    log_every: int = 1
    seed: int = 0
    seed_max_rounds: int = 64  # seeding stops here even if the buffers are short (random weights never fill them)
    # "proposals": the policy proposes until the buffers are seeded (AZR); "generator": each buffer gets
    # azr.seed_size tasks of the procedural generator's training families (the solver-only control)
    seed_buffers_from: str = "proposals"
    workdir: str = "workdir"

    def __post_init__(self):
        for name in ("steps", "checkpoint_every", "keep_checkpoints", "log_every", "seed_max_rounds"):
            if getattr(self, name) < 1:
                raise ValueError(f"RunConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.seed_buffers_from not in SEED_SOURCES:
            raise ValueError(f"RunConfig.seed_buffers_from must be one of {SEED_SOURCES}, got {self.seed_buffers_from!r}")
        for name in ("eval_every", "heldout_eval_per_type"):
            if getattr(self, name) < 0:
                raise ValueError(f"RunConfig.{name} must be >= 0, got {getattr(self, name)}")


def available_configs() -> list[str]:
    return sorted(p.stem for p in CONFIGS_DIR.glob("*.py") if not p.stem.startswith("_"))


def _load_file(path: Path) -> RunConfig:
    # Config files may share code through the `configs` package beside the library.
    if str(CONFIGS_DIR.parent) not in sys.path:
        sys.path.append(str(CONFIGS_DIR.parent))
    spec = importlib.util.spec_from_file_location(f"azr_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config file {path} defines no get_config()")
    config = module.get_config()
    if not isinstance(config, RunConfig):
        raise ConfigError(f"config file {path}: get_config() returned {type(config).__name__}, not RunConfig")
    return config


def load_run_config(name_or_path: str, overrides: Mapping[str, str] | None = None) -> RunConfig:
    """The named config (a file in configs/) or the config file at a path, with dotted overrides."""
    if name_or_path.endswith(".py") or os.sep in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {name_or_path}")
    else:
        path = CONFIGS_DIR / f"{name_or_path}.py"
        if not path.is_file():
            raise ConfigError(unknown_key_message("config name", name_or_path, available_configs()))
    _check_removed_keys(overrides or {})
    config = apply_overrides(_load_file(path), overrides or {})
    _check_mini_batches(config)  # after every override: batch size and mini-batch may both be overridden
    return config


def _check_mini_batches(config: RunConfig) -> None:
    """rl.mini_batch_size must split a step's 6 x azr.batch_size sequences into equal optimizer steps. (The
    trainer checks the rows it really trains too: padded to its mesh, they may be more.)"""
    mini, sequences = config.rl.mini_batch_size, NUM_TRR_GROUPS * config.azr.batch_size
    if mini and sequences % mini:
        raise ConfigError(f"config key rl.mini_batch_size={mini} must divide the {sequences} sequences of a step "
                          f"({NUM_TRR_GROUPS} task x role groups x azr.batch_size={config.azr.batch_size})")


def _check_removed_keys(overrides: Mapping[str, str]) -> None:
    """An override of a field that was removed names what replaced it (not just the close spellings)."""
    for key in overrides:
        section, _, field = key.partition(".")
        if section == "rl" and field in REMOVED_RL_FIELDS:
            raise ConfigError(f"config key {key} was removed: {REMOVED_RL_FIELDS[field]}")
