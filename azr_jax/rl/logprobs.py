"""Per-token log-probabilities and entropies of a sequence batch, without a [B, T, V] logits tensor.

Alignment: `logp[b, t] = log p(tokens[b, t] | tokens[b, :t])`, the log-prob of token t under the
distribution predicted at position t - 1; column 0 has no prefix and is 0. `entropy[b, t]` is the
entropy of that same distribution. So the arrays line up with `tokens` and with a response mask that
marks response tokens, and the sampler's log-probs use the same convention.

The final hidden states [B, T, D] are computed once; the vocabulary projection, log-softmax and
entropy then run chunk by chunk over T inside a rematerialised `lax.scan`, so only [B, C, V] logits
exist at a time, in the forward and in the backward pass (V = 152k for Qwen2.5).
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
from flax import nnx
from jax.sharding import Mesh

from azr_jax.model.masks import causal_padding_mask, positions_from_mask
from azr_jax.parallel.rules import DEFAULT_RULES, MeshAxes
from azr_jax.parallel.sharding import constrain, use_mesh_rules
from azr_jax.rl.metrics import SumCount


def token_logprobs_and_entropy(graphdef: nnx.GraphDef, state: nnx.State, tokens_bt: jax.Array, mask_bt: jax.Array,
                               *, chunk_size: int = 512, temperature: float = 1.0, with_entropy: bool = True,
                               mesh: Mesh | None = None, rules: Mapping[str, MeshAxes] = DEFAULT_RULES,
                               ) -> tuple[jax.Array, jax.Array | None]:
    """(logp [B, T], entropy [B, T] or None), float32, aligned to `tokens` (see the module docstring).

    mask_bt marks real tokens (any padding layout: positions count real tokens only). Entries at
    padding positions are finite but meaningless; mask them.
    """
    if mesh is None:
        return _logprobs_and_entropy(graphdef, state, tokens_bt, mask_bt, chunk_size, temperature, with_entropy)
    with use_mesh_rules(mesh, rules):
        return _logprobs_and_entropy(graphdef, state, tokens_bt, mask_bt, chunk_size, temperature, with_entropy)


def token_logprobs(graphdef: nnx.GraphDef, state: nnx.State, tokens_bt: jax.Array, mask_bt: jax.Array,
                   **kwargs) -> jax.Array:
    """Log-prob [B, T] of each token given its prefix (column 0 is 0); kwargs as the function above."""
    return token_logprobs_and_entropy(graphdef, state, tokens_bt, mask_bt, with_entropy=False, **kwargs)[0]


def logprob_mismatch(logp_bt: jax.Array, reference_logp_bt: jax.Array, response_mask_bt: jax.Array
                     ) -> dict[str, jax.Array | SumCount]:
    """How far recomputed log-probs are from the sampler's on the response tokens.

    max_abs_diff: max |logp - reference| (0 with no response tokens); mean_abs_diff: a SumCount.
    On the first, fully on-policy epoch these measure sampler/trainer numerics, the ratio's noise floor.
    """
    valid_bt = response_mask_bt.astype(jnp.bool_)
    diff_bt = jnp.where(valid_bt, jnp.abs(logp_bt.astype(jnp.float32) - reference_logp_bt.astype(jnp.float32)), 0.0)
    return {"max_abs_diff": jnp.max(diff_bt, initial=0.0), "mean_abs_diff": SumCount.of(diff_bt, valid_bt)}


def _logprobs_and_entropy(graphdef, state, tokens_bt, mask_bt, chunk_size, temperature, with_entropy):
    model = nnx.merge(graphdef, state)
    b, t = tokens_bt.shape
    x_btd, _ = model.hidden_states(tokens_bt, positions_from_mask(mask_bt), causal_padding_mask(mask_bt))
    # Hidden state t predicts token t + 1; the last position predicts nothing we score.
    next_bt = jnp.concatenate([tokens_bt[:, 1:], jnp.zeros((b, 1), tokens_bt.dtype)], axis=1)
    chunk = min(chunk_size, t)
    num_chunks = -(-t // chunk)
    pad = num_chunks * chunk - t
    x_nbcd = _chunks(jnp.pad(x_btd, ((0, 0), (0, pad), (0, 0))), num_chunks)
    next_nbc = _chunks(jnp.pad(next_bt, ((0, 0), (0, pad))), num_chunks)

    @jax.checkpoint
    def score_chunk(x_bcd, next_bc):
        logits_bcv = constrain(model.logits(x_bcd), ("batch", "length", "vocab")) / temperature
        log_z_bc = jax.nn.logsumexp(logits_bcv, axis=-1)
        target_bc = jnp.take_along_axis(logits_bcv, next_bc[..., None], axis=-1)[..., 0]
        if not with_entropy:
            return target_bc - log_z_bc, jnp.zeros_like(log_z_bc)
        # H = log Z - sum_v p_v z_v, with p = softmax(z).
        probs_bcv = jnp.exp(logits_bcv - log_z_bc[..., None])
        return target_bc - log_z_bc, log_z_bc - jnp.sum(probs_bcv * logits_bcv, axis=-1)

    _, (logp_nbc, entropy_nbc) = jax.lax.scan(lambda carry, xs: (carry, score_chunk(*xs)), None, (x_nbcd, next_nbc))
    logp_next_bt = _unchunk(logp_nbc)[:, :t]
    # Shift right by one: position t gets the log-prob of token t, column 0 gets 0.
    logp_bt = jnp.pad(logp_next_bt[:, :-1], ((0, 0), (1, 0)))
    if not with_entropy:
        return logp_bt, None
    entropy_bt = jnp.pad(_unchunk(entropy_nbc)[:, : t - 1], ((0, 0), (1, 0)))
    return logp_bt, entropy_bt


def _chunks(x_bt_, num_chunks: int):
    """[B, N*C, ...] -> [N, B, C, ...] for a scan over chunks."""
    b, nc = x_bt_.shape[:2]
    return jnp.moveaxis(x_bt_.reshape(b, num_chunks, nc // num_chunks, *x_bt_.shape[2:]), 1, 0)


def _unchunk(x_nbc):
    """[N, B, C] -> [B, N*C]."""
    n, b, c = x_nbc.shape
    return jnp.moveaxis(x_nbc, 0, 1).reshape(b, n * c)
