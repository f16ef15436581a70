"""Chunked per-token log-probs and entropies against the full-logits computation of the model."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from azr_jax.model.functional import apply
from azr_jax.model.masks import causal_padding_mask, positions_from_mask
from azr_jax.rl import RLConfig, jit_token_logprobs, logprob_mismatch, token_logprobs_and_entropy

from rl_testing import make_batch


@functools.partial(jax.jit, static_argnums=(0, 4))
def full_logits_reference(graphdef, params, tokens, mask, temperature=1.0):
    """log p(token t | prefix) and entropy at t from the [B, T, V] logits of `apply`."""
    logits, _ = apply(graphdef, params, tokens, positions_from_mask(mask), causal_padding_mask(mask))
    log_probs = jax.nn.log_softmax(logits / temperature, axis=-1)
    logp = jnp.take_along_axis(log_probs[:, :-1], tokens[:, 1:, None], axis=-1)[..., 0]
    entropy = -jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1)[:, :-1]
    return logp, entropy


@pytest.mark.parametrize("chunk_size,temperature", [(5, 0.7), (64, 1.0)])
def test_chunked_matches_full_logits(tiny_model, chunk_size, temperature):
    _, graphdef, params = tiny_model
    batch = make_batch(graphdef, params)
    fn = jax.jit(lambda p, t, m: token_logprobs_and_entropy(graphdef, p, t, m, chunk_size=chunk_size,
                                                            temperature=temperature))
    logp, entropy = map(np.asarray, fn(params, batch.tokens_bt, batch.mask_bt))
    ref_logp, ref_entropy = map(np.asarray, full_logits_reference(graphdef, params, batch.tokens_bt, batch.mask_bt,
                                                                  temperature))
    real = np.asarray(batch.mask_bt)[:, 1:]
    np.testing.assert_allclose(logp[:, 1:][real], ref_logp[real], atol=2e-5)
    np.testing.assert_allclose(entropy[:, 1:][real], ref_entropy[real], atol=2e-5)
    assert np.all(logp[:, 0] == 0.0) and np.all(entropy[:, 0] == 0.0)


def test_gradient_of_chunked_logprobs_matches_full_logits(tiny_model):
    _, graphdef, params = tiny_model
    batch = make_batch(graphdef, params)
    weights = jnp.asarray(np.random.default_rng(0).normal(size=batch.shape), jnp.float32) * batch.response_mask_bt

    def chunked(p):
        logp, entropy = token_logprobs_and_entropy(graphdef, p, batch.tokens_bt, batch.mask_bt, chunk_size=3)
        return jnp.sum(weights * (logp + 0.1 * entropy))

    def full(p):
        logits, _ = apply(graphdef, p, batch.tokens_bt, positions_from_mask(batch.mask_bt),
                          causal_padding_mask(batch.mask_bt))
        log_probs = jax.nn.log_softmax(logits, axis=-1)[:, :-1]
        logp = jnp.take_along_axis(log_probs, batch.tokens_bt[:, 1:, None], axis=-1)[..., 0]
        entropy = -jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1)
        return jnp.sum(weights[:, 1:] * (logp + 0.1 * entropy))

    g_chunked, g_full = jax.jit(lambda p: (jax.grad(chunked)(p), jax.grad(full)(p)))(params)
    for a, b in zip(jax.tree.leaves(g_chunked), jax.tree.leaves(g_full)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


def test_jitted_logprobs_and_mismatch_check(tiny_model):
    _, graphdef, params = tiny_model
    batch = make_batch(graphdef, params)
    logprobs = jit_token_logprobs(graphdef, RLConfig(logprob_chunk_size=4), params, temperature=1.0)
    recomputed = logprobs(params, batch.tokens_bt, batch.mask_bt)
    same = logprob_mismatch(recomputed, batch.old_logprobs_bt, batch.response_mask_bt)
    assert float(same["max_abs_diff"]) < 1e-5
    shifted = batch.old_logprobs_bt.at[2, 7].add(0.5)  # (2, 7) is a response token of row 2
    assert bool(batch.response_mask_bt[2, 7])
    off = logprob_mismatch(recomputed, shifted, batch.response_mask_bt)
    assert float(off["max_abs_diff"]) == pytest.approx(0.5, abs=1e-5)
    assert float(off["mean_abs_diff"].sum) == pytest.approx(0.5, abs=1e-4)
    assert float(off["mean_abs_diff"].count) == float(jnp.sum(batch.response_mask_bt))
