"""Where every Hugging Face Qwen2 / Llama tensor lives in our parameters, and how its layout changes.

HF stores linear weights as [out, in] matrices with heads flattened into `out`; we store einsum-ready
kernels ([D, N, H], [N, H, D], [D, F]) with layers stacked in front. Both RoPE layouts are
"rotate half", so no permutation of q/k rows is needed.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from azr_jax.model.config import ModelConfig, RopeScaling

Array = np.ndarray


@dataclasses.dataclass(frozen=True)
class TensorMapping:
    hf_name: str
    our_path: tuple[str, ...]  # path in the pure param dict
    layer: int | None  # index into the stacked layer axis, None for global tensors
    hf_shape: tuple[int, ...]
    to_ours: Callable[[Array], Array]
    to_hf: Callable[[Array], Array]


def _identity(x: Array) -> Array:
    return x


def _transpose(x: Array) -> Array:
    return np.ascontiguousarray(x.T)


def tensor_mappings(config: ModelConfig) -> list[TensorMapping]:
    """Every tensor a HF checkpoint of this config holds, in HF's usual order."""
    d, n, k, h = config.hidden_size, config.num_heads, config.num_kv_heads, config.head_dim
    f, v = config.intermediate_size, config.vocab_size

    def heads_in(heads):  # [heads*H, D] -> [D, heads, H]
        return lambda x: np.ascontiguousarray(x.reshape(heads, h, d).transpose(2, 0, 1))

    def heads_in_hf(heads):  # [D, heads, H] -> [heads*H, D]
        return lambda x: np.ascontiguousarray(x.transpose(1, 2, 0).reshape(heads * h, d))

    out = [TensorMapping("model.embed_tokens.weight", ("embedding",), None, (v, d), _identity, _identity)]
    for i in range(config.num_layers):
        prefix = f"model.layers.{i}."

        def layer(name, ours, shape, to_ours=_identity, to_hf=_identity):
            out.append(TensorMapping(prefix + name, ("layers", ours), i, shape, to_ours, to_hf))

        layer("input_layernorm.weight", "attn_norm", (d,))
        for proj, heads in (("q", n), ("k", k), ("v", k)):
            layer(f"self_attn.{proj}_proj.weight", f"{proj}_kernel", (heads * h, d), heads_in(heads), heads_in_hf(heads))
            if config.qkv_bias:
                layer(f"self_attn.{proj}_proj.bias", f"{proj}_bias", (heads * h,),
                      lambda x, heads=heads: x.reshape(heads, h), lambda x, heads=heads: x.reshape(heads * h))
        layer("self_attn.o_proj.weight", "o_kernel", (d, n * h),
              lambda x: np.ascontiguousarray(x.reshape(d, n, h).transpose(1, 2, 0)),
              lambda x: np.ascontiguousarray(x.transpose(2, 0, 1).reshape(d, n * h)))
        layer("post_attention_layernorm.weight", "mlp_norm", (d,))
        layer("mlp.gate_proj.weight", "gate_kernel", (f, d), _transpose, _transpose)
        layer("mlp.up_proj.weight", "up_kernel", (f, d), _transpose, _transpose)
        layer("mlp.down_proj.weight", "down_kernel", (d, f), _transpose, _transpose)
    out.append(TensorMapping("model.norm.weight", ("final_norm",), None, (d,), _identity, _identity))
    if not config.tie_word_embeddings:
        out.append(TensorMapping("lm_head.weight", ("lm_head",), None, (v, d), _transpose, _transpose))
    return out


# Tensors some HF checkpoints carry that hold no parameters of ours.
IGNORED_HF_SUFFIXES = ("rotary_emb.inv_freq",)

_ARCHITECTURES = {"Qwen2ForCausalLM": "qwen2", "LlamaForCausalLM": "llama"}


def config_from_hf(hf: dict, param_dtype: str = "float32", compute_dtype: str = "float32") -> ModelConfig:
    """Our ModelConfig from a HF config.json dict; unsupported architectures fail by name."""
    archs = hf.get("architectures") or []
    family = next((_ARCHITECTURES[a] for a in archs if a in _ARCHITECTURES), None)
    if family is None:
        family = {"qwen2": "qwen2", "llama": "llama"}.get(hf.get("model_type", ""))
    if family is None:
        raise ValueError(f"unsupported architecture {archs or hf.get('model_type')!r}: "
                         f"supported are {sorted(_ARCHITECTURES)}")
    rope_scaling = None
    scaling = hf.get("rope_scaling") or (hf.get("rope_parameters") or {})
    rope_type = scaling.get("rope_type", scaling.get("type"))
    if rope_type == "llama3":
        rope_scaling = RopeScaling(factor=float(scaling["factor"]), low_freq_factor=float(scaling["low_freq_factor"]),
                                   high_freq_factor=float(scaling["high_freq_factor"]),
                                   original_max_position_embeddings=int(scaling["original_max_position_embeddings"]))
    elif rope_type not in (None, "default"):
        raise ValueError(f"unsupported rope scaling type {rope_type!r} (supported: default, llama3)")
    rope_theta = hf.get("rope_theta", scaling.get("rope_theta", 10_000.0))
    heads = hf["num_attention_heads"]
    eos = hf.get("eos_token_id")
    eos_ids = tuple(eos) if isinstance(eos, list) else (() if eos is None else (eos,))
    if family == "llama" and hf.get("attention_bias", False):
        raise ValueError("unsupported: Llama checkpoint with attention_bias=true")
    if hf.get("mlp_bias", False):
        raise ValueError("unsupported: checkpoint with mlp_bias=true")
    return ModelConfig(
        family=family, vocab_size=hf["vocab_size"], hidden_size=hf["hidden_size"],
        intermediate_size=hf["intermediate_size"], num_layers=hf["num_hidden_layers"], num_heads=heads,
        num_kv_heads=hf.get("num_key_value_heads") or heads,
        head_dim=hf.get("head_dim") or hf["hidden_size"] // heads, rope_theta=float(rope_theta),
        rope_scaling=rope_scaling, rms_norm_eps=float(hf["rms_norm_eps"]),
        tie_word_embeddings=bool(hf.get("tie_word_embeddings", False)), qkv_bias=family == "qwen2",
        max_position_embeddings=int(hf.get("max_position_embeddings", 32768)),
        bos_token_id=hf.get("bos_token_id"), eos_token_ids=eos_ids,
        param_dtype=param_dtype, compute_dtype=compute_dtype)


def config_to_hf(config: ModelConfig, torch_dtype: str) -> dict:
    """A config.json that `transformers` loads as the same network."""
    hf = {
        "architectures": ["Qwen2ForCausalLM" if config.family == "qwen2" else "LlamaForCausalLM"],
        "model_type": config.family,
        "vocab_size": config.vocab_size, "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size, "num_hidden_layers": config.num_layers,
        "num_attention_heads": config.num_heads, "num_key_value_heads": config.num_kv_heads,
        "head_dim": config.head_dim, "hidden_act": "silu", "rms_norm_eps": config.rms_norm_eps,
        "rope_theta": config.rope_theta, "max_position_embeddings": config.max_position_embeddings,
        "tie_word_embeddings": config.tie_word_embeddings, "torch_dtype": torch_dtype,
        "bos_token_id": config.bos_token_id,
        "eos_token_id": list(config.eos_token_ids) if len(config.eos_token_ids) != 1 else config.eos_token_ids[0],
        "use_cache": True,
    }
    if config.family == "llama":
        hf.update(attention_bias=False, mlp_bias=False)
    if config.rope_scaling is not None:
        s = config.rope_scaling
        hf["rope_scaling"] = {"rope_type": "llama3", "factor": s.factor, "low_freq_factor": s.low_freq_factor,
                              "high_freq_factor": s.high_freq_factor,
                              "original_max_position_embeddings": s.original_max_position_embeddings}
    return hf
