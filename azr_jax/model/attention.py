"""Grouped-query attention: dense, and blockwise (flash-style) for long sequences.

Shape letters as in transformer.py: B batch, T queries, S keys, N query heads, K kv heads, G = N / K
query heads per kv head, H head dim; M = G * T (the G query heads of a kv head folded into the query
axis, so both products are batched matmuls with a large M). C is the key count of one block.

Both paths compute the same function, masked logits included: a masked logit is _MASKED rather than
-inf, so a query that sees no key at all (left padding) attends uniformly to every key in both, and
no NaN can arise. Logits, softmax statistics and accumulators are float32.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

_MASKED = jnp.finfo(jnp.float32).min / 2  # exp(_MASKED - any real logit) is 0; halved so differences stay finite


def _group_queries(q_btnh, kv_heads: int):
    """[B, T, N, H] -> [B, K, G*T, H]."""
    b, t, n, h = q_btnh.shape
    g = n // kv_heads
    return q_btnh.reshape(b, t, kv_heads, g, h).transpose(0, 2, 3, 1, 4).reshape(b, kv_heads, g * t, h)


def _ungroup(x_bkmh, t: int):
    """[B, K, G*T, H] -> [B, T, N, H]."""
    b, k, m, h = x_bkmh.shape
    return x_bkmh.reshape(b, k, m // t, t, h).transpose(0, 3, 1, 2, 4).reshape(b, t, k * (m // t), h)


def _masked_logits(q_bkmh, k_bkch, mask_btc):
    """Scaled logits [B, K, M, C] in float32, _MASKED where the mask says the query cannot see the key."""
    b, kv_heads, m, h = q_bkmh.shape
    t, c = mask_btc.shape[1], k_bkch.shape[2]
    logits_bkmc = jnp.einsum("BKMH,BKCH->BKMC", q_bkmh, k_bkch, preferred_element_type=jnp.float32) * (h ** -0.5)
    logits_bkgtc = logits_bkmc.reshape(b, kv_heads, m // t, t, c)
    return jnp.where(mask_btc[:, None, None], logits_bkgtc, _MASKED).reshape(b, kv_heads, m, c)


def dense_attention(q_btnh, k_bskh, v_bskh, mask_bts) -> jnp.ndarray:
    """Attention with the whole [B, K, G*T, S] logit matrix materialised (decode, short sequences).

    Batched matmuls over the folded M axis are 1.6x faster on XLA:CPU than the five-letter einsum
    (same values), and the layout TPUs' MXU wants too.
    """
    t = q_btnh.shape[1]
    q_bkmh = _group_queries(q_btnh, k_bskh.shape[2])
    logits_bkms = _masked_logits(q_bkmh, k_bskh.transpose(0, 2, 1, 3), mask_bts)
    probs_bkms = jax.nn.softmax(logits_bkms, axis=-1).astype(v_bskh.dtype)
    out_bkmh = jnp.einsum("BKMS,BKSH->BKMH", probs_bkms, v_bskh.transpose(0, 2, 1, 3))
    return _ungroup(out_bkmh, t)


def blockwise_attention(q_btnh, k_bskh, v_bskh, mask_bts, block_size: int, scan_blocks: bool = True) -> jnp.ndarray:
    """The same values as dense_attention, visiting the keys in blocks of `block_size` with an online softmax.

    Only one block's [B, K, G*T, C] logits exist at a time, and the backward pass (custom VJP, the
    flash-attention recurrence) recomputes them from saved softmax statistics instead of storing per-block
    probabilities, so memory is O(T * C) per head rather than O(T * S). A last block shorter than
    `block_size` takes the rest of the keys (no padding). With `scan_blocks=False` the block loop is
    unrolled, which is what cost_analysis needs to count every block (it counts a loop body once).
    """
    t, kv_heads = q_btnh.shape[1], k_bskh.shape[2]
    q_bkmh = _group_queries(q_btnh, kv_heads)
    out_bkmh = _flash(block_size, scan_blocks, q_bkmh, k_bskh.transpose(0, 2, 1, 3), v_bskh.transpose(0, 2, 1, 3),
                      mask_bts)
    return _ungroup(out_bkmh, t)


def _blocks(num_keys: int, block_size: int) -> tuple[int, int]:
    """(number of full blocks, size of the last partial block or 0)."""
    return num_keys // block_size, num_keys % block_size


def _run_blocks(step, carry, num_keys: int, block_size: int, scan_blocks: bool):
    """carry, [per-block outputs] after step(carry, start, size) over every key block, in order.

    Full blocks run as one lax.scan (start traced) unless unrolled; a partial last block runs once more
    with its own static size. Per-block outputs are concatenated along their block-size axis 2.
    """
    full, rest = _blocks(num_keys, block_size)
    outputs = []
    if full:
        starts = jnp.arange(full, dtype=jnp.int32) * block_size
        carry, ys = jax.lax.scan(lambda c, start: step(c, start, block_size), carry, starts,
                                 unroll=True if not scan_blocks else 1)
        if ys is not None:  # [full, B, K, C, H] -> [B, K, full * C, H]
            outputs.append(jax.tree.map(lambda y: jnp.moveaxis(y, 0, 2).reshape(*y.shape[1:3], -1, y.shape[-1]), ys))
    if rest:
        carry, y = step(carry, full * block_size, rest)
        if y is not None:
            outputs.append(y)
    return carry, outputs


def _block(x, start, size: int, axis: int):
    return jax.lax.dynamic_slice_in_dim(x, start, size, axis=axis)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _flash(block_size, scan_blocks, q_bkmh, k_bksh, v_bksh, mask_bts):
    return _flash_forward(block_size, scan_blocks, q_bkmh, k_bksh, v_bksh, mask_bts)[0]


def _flash_forward(block_size, scan_blocks, q_bkmh, k_bksh, v_bksh, mask_bts):
    """Output [B, K, M, H], and the max and sum of exp(logit - max) of each query's logits ([B, K, M], float32).

    The two are kept apart rather than as max + log(sum): for a query that sees no key, max is _MASKED
    and log(sum) would vanish next to it in float32.
    """
    b, kv_heads, m, h = q_bkmh.shape

    def step(carry, start, size):
        max_bkm, sum_bkm, acc_bkmh = carry
        logits_bkmc = _masked_logits(q_bkmh, _block(k_bksh, start, size, 2), _block(mask_bts, start, size, 2))
        new_max_bkm = jnp.maximum(max_bkm, logits_bkmc.max(axis=-1))
        probs_bkmc = jnp.exp(logits_bkmc - new_max_bkm[..., None])
        rescale_bkm = jnp.exp(max_bkm - new_max_bkm)
        pv_bkmh = jnp.einsum("BKMC,BKCH->BKMH", probs_bkmc.astype(v_bksh.dtype), _block(v_bksh, start, size, 2),
                             preferred_element_type=jnp.float32)
        carry = (new_max_bkm, sum_bkm * rescale_bkm + probs_bkmc.sum(axis=-1),
                 acc_bkmh * rescale_bkm[..., None] + pv_bkmh)
        return carry, None

    init = (jnp.full((b, kv_heads, m), _MASKED, jnp.float32), jnp.zeros((b, kv_heads, m), jnp.float32),
            jnp.zeros((b, kv_heads, m, h), jnp.float32))
    (max_bkm, sum_bkm, acc_bkmh), _ = _run_blocks(step, init, k_bksh.shape[2], block_size, scan_blocks)
    # Every row saw at least one (possibly masked) logit, so sum >= 1 after the max is subtracted.
    out_bkmh = (acc_bkmh / sum_bkm[..., None]).astype(v_bksh.dtype)
    return out_bkmh, (max_bkm, sum_bkm)


def _flash_fwd(block_size, scan_blocks, q_bkmh, k_bksh, v_bksh, mask_bts):
    out_bkmh, (max_bkm, sum_bkm) = _flash_forward(block_size, scan_blocks, q_bkmh, k_bksh, v_bksh, mask_bts)
    return out_bkmh, (q_bkmh, k_bksh, v_bksh, mask_bts, out_bkmh, max_bkm, 1.0 / sum_bkm)


def _flash_bwd(block_size, scan_blocks, residuals, dout_bkmh):
    """Per key block: probabilities from the saved softmax statistics, then dV = P^T dO, dS = P (dP - rowsum(dO O)),
    dQ += dS K, dK = dS^T Q. Masked logits were constants in the forward, so no gradient reaches q or k
    through them (dS is zeroed there); dV still gets the weight of every key, masked or not, as dense does."""
    q_bkmh, k_bksh, v_bksh, mask_bts, out_bkmh, max_bkm, inv_sum_bkm = residuals
    h = q_bkmh.shape[-1]
    t = mask_bts.shape[1]
    b, kv_heads, m, _ = q_bkmh.shape
    dtype = q_bkmh.dtype
    delta_bkm = jnp.sum(dout_bkmh.astype(jnp.float32) * out_bkmh.astype(jnp.float32), axis=-1)
    dout_bkmh = dout_bkmh.astype(v_bksh.dtype)

    def step(dq_bkmh, start, size):
        k_bkch, v_bkch = _block(k_bksh, start, size, 2), _block(v_bksh, start, size, 2)
        mask_btc = _block(mask_bts, start, size, 2)
        logits_bkmc = _masked_logits(q_bkmh, k_bkch, mask_btc)
        probs_bkmc = jnp.exp(logits_bkmc - max_bkm[..., None]) * inv_sum_bkm[..., None]
        dv_bkch = jnp.einsum("BKMC,BKMH->BKCH", probs_bkmc.astype(dtype), dout_bkmh,
                             preferred_element_type=jnp.float32)
        dprobs_bkmc = jnp.einsum("BKMH,BKCH->BKMC", dout_bkmh, v_bkch, preferred_element_type=jnp.float32)
        dlogits_bkgtc = (probs_bkmc * (dprobs_bkmc - delta_bkm[..., None])).reshape(b, kv_heads, m // t, t, size)
        dlogits_bkmc = (jnp.where(mask_btc[:, None, None], dlogits_bkgtc, 0.0) * (h ** -0.5)).reshape(
            b, kv_heads, m, size).astype(dtype)
        dq_bkmh = dq_bkmh + jnp.einsum("BKMC,BKCH->BKMH", dlogits_bkmc, k_bkch, preferred_element_type=jnp.float32)
        dk_bkch = jnp.einsum("BKMC,BKMH->BKCH", dlogits_bkmc, q_bkmh, preferred_element_type=jnp.float32)
        return dq_bkmh, (dk_bkch.astype(k_bksh.dtype), dv_bkch.astype(v_bksh.dtype))

    dq_bkmh, blocks = _run_blocks(step, jnp.zeros(q_bkmh.shape, jnp.float32), k_bksh.shape[2], block_size,
                                  scan_blocks)
    dk_bksh = jnp.concatenate([dk for dk, _ in blocks], axis=2)
    dv_bksh = jnp.concatenate([dv for _, dv in blocks], axis=2)
    return dq_bkmh.astype(dtype), dk_bksh, dv_bksh, None


_flash.defvjp(_flash_fwd, _flash_bwd)
