"""Flax NNX decoder for the Qwen2/Qwen2.5 and Llama-3 families."""

from azr_jax.model.config import ModelConfig, RopeScaling, get_model_config, MODEL_PRESETS
from azr_jax.model.kv_cache import KVCache
from azr_jax.model.transformer import Transformer

__all__ = ["ModelConfig", "RopeScaling", "get_model_config", "MODEL_PRESETS", "KVCache", "Transformer"]
