"""Positions and attention masks for left-padded batches."""

from __future__ import annotations

import jax.numpy as jnp


def positions_from_mask(mask_bt: jnp.ndarray) -> jnp.ndarray:
    """Position of each token counted over real tokens only: left padding does not shift RoPE."""
    return jnp.maximum(jnp.cumsum(mask_bt.astype(jnp.int32), axis=-1) - 1, 0)


def causal_padding_mask(mask_bt: jnp.ndarray) -> jnp.ndarray:
    """[B, T, T] boolean: query t sees key s when s <= t and key s is a real token."""
    t = mask_bt.shape[-1]
    causal_tt = jnp.tril(jnp.ones((t, t), dtype=jnp.bool_))
    return causal_tt[None] & mask_bt.astype(jnp.bool_)[:, None, :]


def cache_attention_mask(key_valid_bs: jnp.ndarray, query_start: jnp.ndarray, num_queries: int) -> jnp.ndarray:
    """[B, T, S] boolean for T queries written at cache slots query_start..query_start+T-1.

    A query sees the cache slots at or before its own slot that hold real tokens.
    """
    s = key_valid_bs.shape[-1]
    query_slot_t = query_start + jnp.arange(num_queries)
    causal_ts = jnp.arange(s)[None, :] <= query_slot_t[:, None]
    return causal_ts[None] & key_valid_bs.astype(jnp.bool_)[:, None, :]
