"""Sampling distribution: top-k / top-p keep exactly the right tokens; frequencies match the softmax."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from azr_jax.model import masks
from azr_jax.model.functional import apply
from azr_jax.sampling import Sampler, SamplingParams, candidates, choose_tokens


def reference_keep(logits_v, temperature, top_k, top_p):
    """Token ids kept, by the definition: top-k first, then the shortest most-likely prefix with mass >= top_p."""
    order = np.argsort(-logits_v, kind="stable")
    if top_k:
        order = order[:top_k]
    tempered = logits_v[order] / temperature
    probs = np.exp(tempered - tempered.max())
    probs /= probs.sum()
    mass_before = np.cumsum(probs) - probs
    return set(order[(mass_before < top_p) | (np.arange(len(order)) == 0)].tolist())


@pytest.mark.parametrize("temperature,top_k,top_p", [
    (1.0, 5, 1.0), (1.0, 0, 0.5), (0.6, 0, 0.9), (1.3, 12, 0.7), (1.0, 1, 1.0), (1.0, 0, 1e-6), (2.0, 40, 1.0)])
def test_candidates_keep_exactly_the_right_tokens(temperature, top_k, top_p):
    logits_bv = np.random.RandomState(0).normal(0, 2.0, (6, 40)).astype(np.float32)
    cand_logits_bk, cand_ids_bk = candidates(jnp.asarray(logits_bv), temperature, top_k, top_p)
    cand_logits_bk, cand_ids_bk = np.asarray(cand_logits_bk), np.asarray(cand_ids_bk)
    for b in range(len(logits_bv)):
        kept = set(cand_ids_bk[b][np.isfinite(cand_logits_bk[b])].tolist())
        assert kept == reference_keep(logits_bv[b], temperature, top_k, top_p)
        finite = np.isfinite(cand_logits_bk[b])
        np.testing.assert_allclose(cand_logits_bk[b][finite], logits_bv[b][cand_ids_bk[b][finite]] / temperature,
                                   rtol=1e-6)
    if top_k == 1 or top_p == 1e-6:  # degenerate filters leave only the argmax
        assert all(len(reference_keep(l, temperature, top_k, top_p)) == 1 for l in logits_bv)


def chi_square_pvalue(samples, probs):
    """Pearson chi-square of the sample counts against probs, bins with expected count < 5 pooled."""
    counts = np.bincount(samples, minlength=len(probs)).astype(np.float64)
    expected = probs * len(samples)
    big = expected >= 5
    observed = np.append(counts[big], counts[~big].sum())
    expected = np.append(expected[big], expected[~big].sum())
    if expected[-1] == 0:
        observed, expected = observed[:-1], expected[:-1]
    return stats.chisquare(observed, expected).pvalue, int(big.sum())


def test_sampler_first_token_frequencies_match_softmax(qwen2):
    """8192 rows of one prompt at temperature 1: the first token follows softmax(model logits)."""
    _, (config, graphdef, state) = qwen2
    prompt = [7, 42, 99, 5, 130]
    rows = 8192
    out = Sampler(config, graphdef, prompt_buckets=(8,)).generate(
        state, [prompt], SamplingParams(temperature=1.0, max_new_tokens=1, n=rows, eos_ids=()), seed=1234)
    first = np.asarray([r.tokens[0] for r in out.rows])
    ids = jnp.asarray([prompt])
    mask = jnp.ones(ids.shape, bool)
    logits, _ = apply(graphdef, state, ids, masks.positions_from_mask(mask), masks.causal_padding_mask(mask))
    last_v = np.asarray(logits[0, -1], np.float64)
    probs = np.exp(last_v - last_v.max())
    probs /= probs.sum()
    pvalue, bins = chi_square_pvalue(first, probs)
    assert bins >= 20, "the test needs a spread-out distribution to mean anything"
    assert pvalue > 1e-3, pvalue
    # And the same counts against a slightly wrong distribution (temperature 1.3) are rejected.
    wrong = np.exp(np.log(probs) / 1.3)
    assert chi_square_pvalue(first, wrong / wrong.sum())[0] < 1e-6


def test_top_k_top_p_sampling_frequencies():
    """choose_tokens with temperature, top-k and top-p samples the renormalised filtered distribution."""
    logits_v = np.random.RandomState(1).normal(0, 1.5, 64).astype(np.float32)
    temperature, top_k, top_p = 0.8, 16, 0.85
    rows = 20000
    # An argument, not a closed-over constant: XLA would constant-fold top_k through its slow evaluator.
    sample = jax.jit(lambda logits_v, key: choose_tokens(jnp.broadcast_to(logits_v, (rows, 64)), key, temperature,
                                                         top_p, greedy=False, top_k=top_k, use_top_p=True))
    tokens, logprobs = (np.asarray(x) for x in sample(jnp.asarray(logits_v), jax.random.key(7)))
    kept = sorted(reference_keep(logits_v, temperature, top_k, top_p))
    assert set(np.unique(tokens).tolist()) <= set(kept) and 2 < len(kept) < top_k
    probs = np.zeros(64)
    probs[kept] = np.exp(logits_v[kept] / temperature - (logits_v[kept] / temperature).max())
    probs /= probs.sum()
    assert chi_square_pvalue(tokens, probs)[0] > 1e-3
    # The returned log-prob is the tempered distribution's, before filtering (not renormalised over `kept`).
    tempered = logits_v / temperature
    unfiltered = tempered - np.log(np.exp(tempered - tempered.max()).sum()) - tempered.max()
    np.testing.assert_allclose(logprobs, unfiltered[tokens], atol=1e-5)
