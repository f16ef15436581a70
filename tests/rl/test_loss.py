"""The PPO clipped loss on hand tables: ratio inside/outside the clip, signs of A, dual clip, metrics."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from azr_jax.rl import RLConfig, SumCount, ppo_clip_loss


def token_losses(ratios, advantages, config, entropy=None):
    """Per-token loss, its gradient d loss / d logp, and the metrics, for one row of tokens."""
    r = jnp.asarray(ratios, jnp.float32)[None]
    adv = jnp.asarray(advantages, jnp.float32)[None]
    old = jnp.zeros_like(r)
    mask = jnp.ones_like(r, bool)
    ent = None if entropy is None else jnp.asarray(entropy, jnp.float32)[None]

    @jax.jit
    def evaluate(logp):
        loss_of_mask = lambda m: ppo_clip_loss(logp, old, adv, m, ent, config)[0].sum
        # Each token's loss alone: the loss summed over a one-token mask.
        losses = jax.vmap(lambda m_t: loss_of_mask(m_t[None]))(jnp.eye(r.shape[1], dtype=bool))
        grads = jax.grad(lambda lp: ppo_clip_loss(lp, old, adv, mask, ent, config)[0].sum)(logp)[0]
        return losses, grads, ppo_clip_loss(logp, old, adv, mask, ent, config)[1]

    losses, grads, metrics = evaluate(jnp.log(r))
    return np.asarray(losses), np.asarray(grads), metrics


# (ratio, A, loss, clipped, gradient d loss / d logp = -A r when unclipped, 0 when clipped)
SYMMETRIC_TABLE = [
    (1.0, 1.0, -1.0, False),
    (1.1, 1.0, -1.1, False),   # inside the clip range
    (1.5, 1.0, -1.2, True),    # A > 0, ratio above 1 + eps: clipped
    (0.5, 1.0, -0.5, False),   # A > 0, ratio below 1 - eps: the pessimistic unclipped term stays
    (0.5, -1.0, 0.8, True),    # A < 0, ratio below 1 - eps: clipped
    (1.5, -1.0, 1.5, False),   # A < 0, ratio above 1 + eps: unclipped (penalty keeps growing)
    (0.9, -2.0, 1.8, False),
    (2.0, 0.0, 0.0, False),    # A = 0: nothing to learn, both terms are 0
]


def test_symmetric_clip_table():
    ratios, advs, expected, clipped = map(np.asarray, zip(*SYMMETRIC_TABLE))
    losses, grads, metrics = token_losses(ratios, advs, RLConfig(entropy_coef=0.0))
    np.testing.assert_allclose(losses, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(grads, np.where(clipped, 0.0, -advs * ratios), rtol=1e-6, atol=1e-7)
    assert float(metrics["clip_fraction"].mean()) == pytest.approx(clipped.mean())
    assert float(metrics["ratio"].mean()) == pytest.approx(ratios.mean(), rel=1e-6)
    kl = ratios - 1 - np.log(ratios)
    assert float(metrics["approx_kl"].mean()) == pytest.approx(kl.mean(), rel=1e-5)
    assert float(metrics["dual_clip_fraction"].sum) == 0.0


def test_asymmetric_clip_higher():
    config = RLConfig.clip_higher(entropy_coef=0.0)
    assert (config.clip_eps_low, config.clip_eps_high) == (0.2, 0.28)
    losses, grads, _ = token_losses([1.25, 1.3, 0.7, 0.75], [1.0, 1.0, -1.0, -1.0], config)
    np.testing.assert_allclose(losses, [-1.25, -1.28, 0.8, 0.8], rtol=1e-6)
    np.testing.assert_allclose(grads, [-1.25, 0.0, 0.0, 0.0], rtol=1e-6, atol=1e-7)


def test_dual_clip_bounds_negative_advantages_only():
    config = RLConfig(dual_clip=3.0, entropy_coef=0.0)
    ratios = [5.0, 2.0, 5.0, 0.5]
    advs = [-1.0, -1.0, 1.0, -2.0]
    # r=5, A=-1: max(5, 1.2) = 5 > 3 -> bounded to 3, zero gradient.  r=2, A=-1: 2 < 3 stays.
    # r=5, A=+1: -1.2 (dual clip does not touch A > 0).  r=.5, A=-2: max(1, 1.6) = 1.6 < 6.
    losses, grads, metrics = token_losses(ratios, advs, config)
    np.testing.assert_allclose(losses, [3.0, 2.0, -1.2, 1.6], rtol=1e-6)
    np.testing.assert_allclose(grads, [0.0, 2.0, 0.0, 0.0], rtol=1e-6, atol=1e-7)
    assert float(metrics["dual_clip_fraction"].mean()) == pytest.approx(0.25)
    # Without dual clip the first token's loss is unbounded in r.
    np.testing.assert_allclose(token_losses(ratios, advs, RLConfig(entropy_coef=0.0))[0][0], 5.0, rtol=1e-6)


def test_entropy_bonus_lowers_the_loss_by_coef_times_entropy():
    config = RLConfig(entropy_coef=0.01)
    losses, _, metrics = token_losses([1.0, 1.0], [1.0, -1.0], config, entropy=[2.0, 3.0])
    np.testing.assert_allclose(losses, [-1.0 - 0.02, 1.0 - 0.03], rtol=1e-6)
    assert float(metrics["entropy"].mean()) == pytest.approx(2.5)
    assert float(metrics["pg_loss"].mean()) == pytest.approx(0.0, abs=1e-7)


def test_sum_count_is_exact_across_uneven_splits_and_ignores_padding():
    rng = np.random.default_rng(0)
    logp = jnp.asarray(rng.normal(-2, 0.3, (4, 7)), jnp.float32)
    old = logp + jnp.asarray(rng.normal(0, 0.3, (4, 7)), jnp.float32)
    adv = jnp.asarray(rng.normal(size=(4, 7)), jnp.float32)
    mask = jnp.asarray(rng.random((4, 7)) < 0.5)
    # Garbage off the response (padding log-probs from the sampler) must not leak into loss or gradient.
    old = jnp.where(mask, old, jnp.inf)
    adv = jnp.where(mask, adv, jnp.nan)
    config = RLConfig()
    whole, _ = ppo_clip_loss(logp, old, adv, mask, None, config)
    first, _ = ppo_clip_loss(logp[:1], old[:1], adv[:1], mask[:1], None, config)
    rest, _ = ppo_clip_loss(logp[1:], old[1:], adv[1:], mask[1:], None, config)
    total = first + rest
    assert float(total.count) == float(jnp.sum(mask))
    assert float(total.mean()) == pytest.approx(float(whole.mean()), rel=1e-6)
    mean_of_means = (float(first.mean()) + float(rest.mean())) / 2
    assert not math.isclose(mean_of_means, float(whole.mean()), rel_tol=1e-3)
    grads = jax.grad(lambda lp: ppo_clip_loss(lp, old, adv, mask, None, config)[0].sum)(logp)
    assert np.all(np.isfinite(np.asarray(grads)))
    assert np.all(np.asarray(grads)[~np.asarray(mask)] == 0.0)


def test_sum_count_mean_of_nothing_is_zero():
    assert float(SumCount.zero().mean()) == 0.0
