"""Tiny random Hugging Face models for parity tests (needs the [test] extra: torch, transformers).

Nothing is downloaded: the models are built from small configs and random weights.
"""

from __future__ import annotations

import numpy as np

# Small but not trivial: GQA (4 query heads over 2 kv heads), two layers, tied (Qwen) and untied
# (Llama) heads, Llama-3 RoPE scaling with a short original context so the scaling actually bites.
TINY_HF_CONFIGS = {
    "qwen2": dict(vocab_size=384, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, rope_theta=10_000.0, tie_word_embeddings=True, rms_norm_eps=1e-6,
                  max_position_embeddings=512, bos_token_id=None, eos_token_id=1, pad_token_id=0),
    "llama": dict(vocab_size=384, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, rope_theta=500_000.0, tie_word_embeddings=False, rms_norm_eps=1e-5,
                  rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
                  max_position_embeddings=512, bos_token_id=2, eos_token_id=1, pad_token_id=0),
}


def tiny_hf_model(family: str, seed: int = 0, weight_std: float = 0.2, **overrides):
    """A random `transformers` Qwen2ForCausalLM or LlamaForCausalLM in eval mode (float32).

    Weights are drawn wider than HF's default init so that logits differ clearly between tokens and
    greedy decoding is not decided by rounding.
    """
    import torch
    import transformers

    kwargs = {**TINY_HF_CONFIGS[family], **overrides}
    if family == "qwen2":
        model = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**kwargs))
    else:
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**kwargs))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.copy_(1.0 + 0.1 * torch.randn(param.shape, generator=generator))
            else:
                param.copy_(weight_std * torch.randn(param.shape, generator=generator))
    return model.eval()


def hf_config_dict(hf_model) -> dict:
    config = hf_model.config.to_dict()
    config["architectures"] = [type(hf_model).__name__]
    return config


def our_model_from_hf(hf_model, param_dtype: str = "float32", **config_overrides):
    """(config, graphdef, state) of our model holding the HF model's weights."""
    import jax
    from flax import nnx

    from azr_jax.checkpoint.hf_mapping import config_from_hf
    from azr_jax.checkpoint.hf_params import params_from_hf
    from azr_jax.model.functional import abstract_model

    config = config_from_hf(hf_config_dict(hf_model), param_dtype=param_dtype)
    if config_overrides:
        config = config.replace(**config_overrides)
    tensors = {k: v.detach().float().numpy() for k, v in hf_model.state_dict().items()}
    params = params_from_hf(config, tensors, tensors.__getitem__)
    graphdef, state = abstract_model(config)
    nnx.replace_by_pure_dict(state, jax.tree.map(np.asarray, params))
    state = jax.tree.map(jax.numpy.asarray, state)
    return config, graphdef, state
