"""The decoder: token embedding, a stack of pre-norm attention + SwiGLU layers, final norm, LM head.

Layer parameters are stacked with a leading layer axis [L, ...] so the stack can run as one
`lax.scan` body (fast compiles for 28-48 layer models) or as an unrolled loop, and so that HF
per-layer tensors map to slices of one array. Shape letters: B batch, T query length, S key length,
D model width, N query heads, K key/value heads, G query heads per kv head, H head dim, F MLP width,
V vocabulary, L layers.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from flax import nnx

from azr_jax.model.attention import blockwise_attention, dense_attention
from azr_jax.model.config import ModelConfig
from azr_jax.model.kv_cache import KVCache
from azr_jax.model.rope import apply_rope, inverse_frequencies, rope_tables
from azr_jax.parallel.sharding import constrain

_INIT_STD = 0.02

# name -> (shape given the config, logical axes, initialiser kind); every layer tensor has a leading L.
def _layer_param_specs(c: ModelConfig) -> dict[str, tuple[tuple[int, ...], tuple[str, ...], str]]:
    d, n, k, h, f = c.hidden_size, c.num_heads, c.num_kv_heads, c.head_dim, c.intermediate_size
    specs = {
        "attn_norm": ((d,), ("norm",), "ones"),
        "q_kernel": ((d, n, h), ("embed", "heads", "head_dim"), "normal"),
        "k_kernel": ((d, k, h), ("embed", "kv_heads", "head_dim"), "normal"),
        "v_kernel": ((d, k, h), ("embed", "kv_heads", "head_dim"), "normal"),
        "o_kernel": ((n, h, d), ("heads", "head_dim", "embed"), "normal"),
        "mlp_norm": ((d,), ("norm",), "ones"),
        "gate_kernel": ((d, f), ("embed", "mlp"), "normal"),
        "up_kernel": ((d, f), ("embed", "mlp"), "normal"),
        "down_kernel": ((f, d), ("mlp", "embed"), "normal"),
    }
    if c.qkv_bias:
        specs["q_bias"] = ((n, h), ("heads", "head_dim"), "zeros")
        specs["k_bias"] = ((k, h), ("kv_heads", "head_dim"), "zeros")
        specs["v_bias"] = ((k, h), ("kv_heads", "head_dim"), "zeros")
    return {name: ((c.num_layers, *shape), ("layers", *axes), kind) for name, (shape, axes, kind) in specs.items()}


def _init_param(rngs: nnx.Rngs, shape, axes, kind: str, dtype) -> nnx.Param:
    if kind == "normal":
        value = _INIT_STD * jax.random.normal(rngs.params(), shape, jnp.float32)
    elif kind == "ones":
        value = jnp.ones(shape, jnp.float32)
    else:
        value = jnp.zeros(shape, jnp.float32)
    # eager_sharding off: shardings come from our own logical-axis rules (azr_jax.parallel).
    return nnx.Param(value.astype(dtype), logical_axes=tuple(axes), eager_sharding=False)


def rms_norm(x_btd: jnp.ndarray, scale_d: jnp.ndarray, eps: float) -> jnp.ndarray:
    """RMSNorm computed in float32, scaled after casting back, as the HF Qwen2/Llama modules do."""
    x = x_btd.astype(jnp.float32)
    x = x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + eps)
    return scale_d.astype(x_btd.dtype) * x.astype(x_btd.dtype)


def attention(config: ModelConfig, q_btnh, k_bskh, v_bskh, mask_bts) -> jnp.ndarray:
    """The config's attention for T > 1 queries; decode steps (T = 1) are dense, their logits are small."""
    if config.attention_impl == "blockwise" and q_btnh.shape[1] > 1:
        return blockwise_attention(q_btnh, k_bskh, v_bskh, mask_bts, config.attention_block_size,
                                   config.scan_attention_blocks)
    return dense_attention(q_btnh, k_bskh, v_bskh, mask_bts)


def _layer(config: ModelConfig, x_btd, p, cos_bth, sin_bth, mask_bts, cache, layer, cache_index):
    """One decoder layer. With a cache (k, v each [L, B, S, K, H]), this layer's new keys and values are
    written at slots cache_index.. of layer `layer` first; only those slots are written, so a decode
    step does not copy the cache."""
    dtype = config.jnp_compute_dtype
    p = jax.tree.map(lambda a: a.astype(dtype), p)
    h_btd = rms_norm(x_btd, p["attn_norm"], config.rms_norm_eps)
    q_btnh = jnp.einsum("BTD,DNH->BTNH", h_btd, p["q_kernel"])
    k_btkh = jnp.einsum("BTD,DKH->BTKH", h_btd, p["k_kernel"])
    v_btkh = jnp.einsum("BTD,DKH->BTKH", h_btd, p["v_kernel"])
    if config.qkv_bias:
        q_btnh, k_btkh, v_btkh = q_btnh + p["q_bias"], k_btkh + p["k_bias"], v_btkh + p["v_bias"]
    q_btnh = apply_rope(q_btnh, cos_bth, sin_bth)
    k_btkh = apply_rope(k_btkh, cos_bth, sin_bth)
    if cache is not None:
        k_lbskh, v_lbskh = cache
        start = (layer, 0, cache_index, 0, 0)
        k_lbskh = jax.lax.dynamic_update_slice(k_lbskh, k_btkh[None].astype(k_lbskh.dtype), start)
        v_lbskh = jax.lax.dynamic_update_slice(v_lbskh, v_btkh[None].astype(v_lbskh.dtype), start)
        k_bskh = jax.lax.dynamic_index_in_dim(k_lbskh, layer, 0, keepdims=False)
        v_bskh = jax.lax.dynamic_index_in_dim(v_lbskh, layer, 0, keepdims=False)
        cache = (k_lbskh, v_lbskh)
    else:
        k_bskh, v_bskh = k_btkh, v_btkh
    attn_btnh = attention(config, q_btnh, k_bskh, v_bskh, mask_bts)
    x_btd = x_btd + jnp.einsum("BTNH,NHD->BTD", attn_btnh, p["o_kernel"])
    h_btd = rms_norm(x_btd, p["mlp_norm"], config.rms_norm_eps)
    gate_btf = jnp.einsum("BTD,DF->BTF", h_btd, p["gate_kernel"])
    up_btf = jnp.einsum("BTD,DF->BTF", h_btd, p["up_kernel"])
    x_btd = x_btd + jnp.einsum("BTF,FD->BTD", jax.nn.silu(gate_btf) * up_btf, p["down_kernel"])
    x_btd = constrain(x_btd, ("batch", "length", "act_embed"))
    return x_btd, cache


def _remat(fn: Callable, policy: str) -> Callable:
    if policy == "none":
        return fn
    if policy == "full":
        return jax.checkpoint(fn)
    return jax.checkpoint(fn, policy=jax.checkpoint_policies.dots_with_no_batch_dims_saveable)


class Transformer(nnx.Module):
    """Decoder-only transformer of the Qwen2 / Llama families."""

    def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
        self.config = config
        dtype = config.jnp_param_dtype
        self.embedding = _init_param(rngs, (config.vocab_size, config.hidden_size), ("vocab", "embed"), "normal", dtype)
        self.layers = nnx.Dict({
            name: _init_param(rngs, shape, axes, kind, dtype)
            for name, (shape, axes, kind) in _layer_param_specs(config).items()
        })
        self.final_norm = _init_param(rngs, (config.hidden_size,), ("norm",), "ones", dtype)
        if not config.tie_word_embeddings:
            self.lm_head = _init_param(rngs, (config.hidden_size, config.vocab_size), ("embed", "vocab"), "normal", dtype)

    def hidden_states(self, tokens_bt, positions_bt, mask_bts, cache: KVCache | None = None, cache_index=0):
        """Final-norm hidden states [B, T, D] and the updated cache (None without one)."""
        c = self.config
        x_btd = jnp.take(self.embedding[...], tokens_bt, axis=0).astype(c.jnp_compute_dtype)
        x_btd = constrain(x_btd, ("batch", "length", "act_embed"))
        cos_bth, sin_bth = rope_tables(positions_bt, inverse_frequencies(c.head_dim, c.rope_theta, c.rope_scaling))
        params = {name: var[...] for name, var in self.layers.items()}

        def layer_fn(carry, p_and_layer):
            x, kv = carry
            p, layer = p_and_layer
            return _layer(c, x, p, cos_bth, sin_bth, mask_bts, kv, layer, cache_index), None

        layer_fn = _remat(layer_fn, c.remat)
        # The cache rides in the loop carry and each layer writes its new slots in place.
        carry = (x_btd, None if cache is None else (cache.k_lbskh, cache.v_lbskh))
        layers = jnp.arange(c.num_layers)
        if c.scan_layers:
            carry, _ = jax.lax.scan(layer_fn, carry, (params, layers))
        else:
            for i in range(c.num_layers):
                carry, _ = layer_fn(carry, jax.tree.map(lambda a: a[i], (params, layers)))
        x_btd, kv = carry
        x_btd = rms_norm(x_btd, self.final_norm[...], c.rms_norm_eps)
        new_cache = None if cache is None else KVCache(k_lbskh=kv[0], v_lbskh=kv[1])
        return x_btd, new_cache

    def logits(self, x_btd: jnp.ndarray) -> jnp.ndarray:
        """Vocabulary logits [B, T, V] in float32 from final hidden states."""
        dtype = self.config.jnp_compute_dtype
        if self.config.tie_word_embeddings:
            return jnp.einsum("BTD,VD->BTV", x_btd, self.embedding[...].astype(dtype),
                              preferred_element_type=jnp.float32)
        return jnp.einsum("BTD,DV->BTV", x_btd, self.lm_head[...].astype(dtype), preferred_element_type=jnp.float32)

    def __call__(self, tokens_bt, positions_bt, mask_bts, cache: KVCache | None = None, cache_index=0):
        """Logits [B, T, V] (float32) and the updated cache.

        mask_bts says which keys each query may see: `masks.causal_padding_mask` for full sequences,
        `masks.cache_attention_mask` when decoding against a cache (S = cache length).
        """
        x_btd, new_cache = self.hidden_states(tokens_bt, positions_bt, mask_bts, cache, cache_index)
        return self.logits(x_btd), new_cache
