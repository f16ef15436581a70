"""The key/value cache for generation: one array per kind, layers stacked in front."""

from __future__ import annotations

import flax.struct
import jax.numpy as jnp

from azr_jax.model.config import ModelConfig


@flax.struct.dataclass
class KVCache:
    """Keys and values of every layer, [L, B, S, K, H].

    Rows are left-padded, so every row writes its next token at the same slot; which slots hold real
    tokens is the sampler's business (it passes the attention mask), not the cache's.
    """

    k_lbskh: jnp.ndarray
    v_lbskh: jnp.ndarray

    @classmethod
    def zeros(cls, config: ModelConfig, batch: int, max_len: int) -> "KVCache":
        shape = (config.num_layers, batch, max_len, config.num_kv_heads, config.head_dim)
        dtype = config.jnp_compute_dtype
        return cls(k_lbskh=jnp.zeros(shape, dtype), v_lbskh=jnp.zeros(shape, dtype))

    @property
    def max_len(self) -> int:
        return self.k_lbskh.shape[2]
