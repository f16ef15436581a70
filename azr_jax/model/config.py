"""Typed, frozen model configs and the named presets of the supported families.

The presets copy the published Hugging Face `config.json` of each model, so a converted checkpoint
and its preset describe the same network. `tiny_*` presets are small enough for CPU tests.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Mapping

import jax.numpy as jnp

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


@dataclasses.dataclass(frozen=True)
class RopeScaling:
    """Llama-3.x frequency scaling of RoPE ("rope_type": "llama3" in HF configs)."""

    factor: float = 8.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    original_max_position_embeddings: int = 8192


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture of a decoder-only transformer of the Qwen2 or Llama family."""

    family: str  # "qwen2" or "llama"
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rope_theta: float = 10_000.0
    rope_scaling: RopeScaling | None = None
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = False
    qkv_bias: bool = False
    max_position_embeddings: int = 32768
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = ()
    param_dtype: str = "float32"
    compute_dtype: str = "float32"
    # Rematerialisation policy for the layer function: "none", "full" or "dots" (save matmul outputs).
    remat: str = "none"
    # lax.scan over the stacked layers (one compiled layer body) or a Python loop (unrolled).
    scan_layers: bool = True
    # Attention over T > 1 queries (training, prefill): "dense" materialises the [T, S] logits of every
    # head; "blockwise" visits the keys attention_block_size at a time with an online softmax (same values,
    # O(T * block) memory). Decode steps are dense either way.
    attention_impl: str = "dense"
    attention_block_size: int = 512
    # lax.scan over key blocks, or unrolled (cost probes: cost_analysis counts a loop body once).
    scan_attention_blocks: bool = True

    def __post_init__(self):
        if self.family not in ("qwen2", "llama"):
            raise ValueError(f"ModelConfig.family must be 'qwen2' or 'llama', got {self.family!r}")
        for name in ("vocab_size", "hidden_size", "intermediate_size", "num_layers", "num_heads",
                     "num_kv_heads", "head_dim"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ModelConfig.{name} must be positive, got {getattr(self, name)}")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"ModelConfig.num_heads ({self.num_heads}) must be a multiple of "
                             f"num_kv_heads ({self.num_kv_heads}) for grouped-query attention")
        if self.head_dim % 2:
            raise ValueError(f"ModelConfig.head_dim must be even for RoPE, got {self.head_dim}")
        for name in ("param_dtype", "compute_dtype"):
            if getattr(self, name) not in _DTYPES:
                raise ValueError(f"ModelConfig.{name} must be one of {sorted(_DTYPES)}, got {getattr(self, name)!r}")
        if self.remat not in ("none", "full", "dots"):
            raise ValueError(f"ModelConfig.remat must be 'none', 'full' or 'dots', got {self.remat!r}")
        if self.attention_impl not in ("dense", "blockwise"):
            raise ValueError(f"ModelConfig.attention_impl must be 'dense' or 'blockwise', got {self.attention_impl!r}")
        if self.attention_block_size <= 0:
            raise ValueError(f"ModelConfig.attention_block_size must be positive, got {self.attention_block_size}")
        if isinstance(self.rope_scaling, Mapping):
            object.__setattr__(self, "rope_scaling", RopeScaling(**self.rope_scaling))
        object.__setattr__(self, "eos_token_ids", tuple(self.eos_token_ids))

    @property
    def jnp_param_dtype(self):
        return _DTYPES[self.param_dtype]

    @property
    def jnp_compute_dtype(self):
        return _DTYPES[self.compute_dtype]

    @property
    def num_params(self) -> int:
        d, f, l = self.hidden_size, self.intermediate_size, self.num_layers
        attn = d * self.head_dim * (2 * self.num_heads + 2 * self.num_kv_heads)
        if self.qkv_bias:
            attn += self.head_dim * (self.num_heads + 2 * self.num_kv_heads)
        per_layer = attn + 3 * d * f + 2 * d
        embeddings = self.vocab_size * d * (1 if self.tie_word_embeddings else 2)
        return l * per_layer + embeddings + d

    def replace(self, **changes: Any) -> "ModelConfig":
        unknown = [k for k in changes if k not in _FIELD_NAMES]
        if unknown:
            raise ValueError(_unknown_message("ModelConfig field", unknown[0], _FIELD_NAMES))
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ModelConfig":
        unknown = [k for k in values if k not in _FIELD_NAMES]
        if unknown:
            raise ValueError(_unknown_message("ModelConfig field", unknown[0], _FIELD_NAMES))
        values = dict(values)
        if values.get("rope_scaling") is not None:
            values["rope_scaling"] = RopeScaling(**values["rope_scaling"])
        return cls(**values)


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(ModelConfig))


def _unknown_message(what: str, name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown {what} {name!r}{hint} (known: {', '.join(sorted(known))})"


def _qwen25(**kw) -> ModelConfig:
    base = dict(family="qwen2", head_dim=128, rope_theta=1_000_000.0, rms_norm_eps=1e-6, qkv_bias=True,
                bos_token_id=None, eos_token_ids=(151643,), max_position_embeddings=131072)
    base.update(kw)
    return ModelConfig(**base)


MODEL_PRESETS: dict[str, ModelConfig] = {
    "qwen2.5-0.5b": _qwen25(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_layers=24,
                            num_heads=14, num_kv_heads=2, head_dim=64, tie_word_embeddings=True,
                            max_position_embeddings=32768),
    "qwen2.5-1.5b": _qwen25(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_layers=28,
                            num_heads=12, num_kv_heads=2, tie_word_embeddings=True,
                            max_position_embeddings=32768),
    "qwen2.5-3b": _qwen25(vocab_size=151936, hidden_size=2048, intermediate_size=11008, num_layers=36,
                          num_heads=16, num_kv_heads=2, tie_word_embeddings=True,
                          max_position_embeddings=32768),
    "qwen2.5-7b": _qwen25(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_layers=28,
                          num_heads=28, num_kv_heads=4),
    "qwen2.5-14b": _qwen25(vocab_size=152064, hidden_size=5120, intermediate_size=13824, num_layers=48,
                           num_heads=40, num_kv_heads=8, rms_norm_eps=1e-5),
    "qwen2.5-coder-7b": _qwen25(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_layers=28,
                                num_heads=28, num_kv_heads=4, max_position_embeddings=32768),
    "llama-3.1-8b": ModelConfig(family="llama", vocab_size=128256, hidden_size=4096, intermediate_size=14336,
                                num_layers=32, num_heads=32, num_kv_heads=8, head_dim=128,
                                rope_theta=500_000.0, rope_scaling=RopeScaling(), rms_norm_eps=1e-5,
                                bos_token_id=128000, eos_token_ids=(128001, 128008, 128009),
                                max_position_embeddings=131072),
    # The zero-data base of `--config=tiny` (launch/pretrain_base.py; shipped in azr_jax/assets/tiny_base).
    "azr-tiny-base": _qwen25(vocab_size=2048, hidden_size=256, intermediate_size=768, num_layers=4, num_heads=4,
                             num_kv_heads=2, head_dim=64, rope_theta=10_000.0, tie_word_embeddings=True,
                             bos_token_id=1, eos_token_ids=(2,), max_position_embeddings=4096),
    # CPU-sized members of each family: same code paths (GQA, biases, tying, llama3 RoPE scaling).
    "tiny-qwen2": _qwen25(vocab_size=512, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=4,
                          num_kv_heads=2, head_dim=16, tie_word_embeddings=True, eos_token_ids=(1,),
                          max_position_embeddings=2048),
    "tiny-llama": ModelConfig(family="llama", vocab_size=512, hidden_size=64, intermediate_size=128,
                              num_layers=2, num_heads=4, num_kv_heads=2, head_dim=16, rope_theta=500_000.0,
                              rope_scaling=RopeScaling(factor=8.0, original_max_position_embeddings=64),
                              rms_norm_eps=1e-5, bos_token_id=0, eos_token_ids=(1,),
                              max_position_embeddings=2048),
}


def get_model_config(name: str, **overrides: Any) -> ModelConfig:
    """Returns the named preset, with field overrides; unknown names fail with the close matches."""
    if name not in MODEL_PRESETS:
        raise ValueError(_unknown_message("model preset", name, MODEL_PRESETS))
    config = MODEL_PRESETS[name]
    return config.replace(**overrides) if overrides else config
