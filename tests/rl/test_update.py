"""The update step: loss gradient vs finite differences, micro-batching exactness, the NaN guard."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from azr_jax.rl import RLConfig, batch_loss, init_opt_state, jit_update_step

from rl_testing import OFFSETS, assert_same_step, fresh, make_batch

def test_loss_gradient_matches_finite_differences(tiny_model):
    _, graphdef, params = tiny_model
    batch = make_batch(graphdef, params, log_ratio_offsets=OFFSETS)
    config = RLConfig(entropy_coef=0.01)  # a visible entropy term, so its gradient is checked too

    def loss_mean(p):
        loss, metrics = batch_loss(p, graphdef, batch, config, temperature=1.0)
        return loss.mean(), metrics

    # One compiled function serves the gradient and the finite-difference evaluations.
    value_and_grad = jax.jit(jax.value_and_grad(loss_mean, has_aux=True))
    (loss_value, metrics), grads = value_and_grad(params)
    assert np.isfinite(float(loss_value))
    assert 0.0 < float(metrics["clip_fraction"].mean()) < 1.0  # both branches are exercised

    # Direction (built in numpy, float64): half the unit gradient, half a unit random vector. A purely
    # random direction in ~10^5 dimensions is nearly orthogonal to the gradient and its directional
    # derivative would drown in float32 noise.
    g_leaves = [np.asarray(g, np.float64) for g in jax.tree.leaves(grads)]
    rng = np.random.default_rng(1)
    noise = [rng.normal(size=g.shape) for g in g_leaves]
    unit = lambda xs: [x / np.sqrt(sum(np.sum(y * y) for y in xs)) for x in xs]
    direction = unit([g + n for g, n in zip(unit(g_leaves), unit(noise))])
    analytic = sum(np.sum(g * d) for g, d in zip(g_leaves, direction))

    def moved(h):
        leaves = [np.asarray(p, np.float64) + h * d for p, d in zip(jax.tree.leaves(params), direction)]
        return jax.tree.unflatten(jax.tree.structure(params), [jnp.asarray(x, jnp.float32) for x in leaves])

    h = 1e-2  # per parameter ~3e-8: many float32 ulps of a ~0.02 weight, still far from any clip kink
    (plus, _), _ = value_and_grad(moved(h))
    (minus, _), _ = value_and_grad(moved(-h))
    numeric = (float(plus) - float(minus)) / (2 * h)
    print(f"directional derivative: analytic {analytic:.6g}, central difference {numeric:.6g}")
    assert numeric == pytest.approx(analytic, rel=1e-2)


def test_micro_batched_update_equals_full_batch(tiny_model, full_batch_step):
    _, graphdef, params = tiny_model
    batch = make_batch(graphdef, params, log_ratio_offsets=OFFSETS)
    counts = np.asarray(batch.response_mask_bt).sum(axis=1)
    assert len(set(counts[0::4])) > 1 or len(set(counts[1::4])) > 1  # micro-batches differ in token count
    config, optimizer, full_step = full_batch_step
    micro_config = config.replace(micro_batch_size=2)
    micro_step = jit_update_step(graphdef, optimizer, micro_config, params, temperature=1.0)

    results = []
    for step in (full_step, micro_step):
        p, o = fresh(params), init_opt_state(optimizer, params)
        results.append(step(p, o, batch))
    (p_full, o_full, m_full), (p_micro, o_micro, m_micro) = results

    assert bool(m_full["update_applied"]) and bool(m_micro["update_applied"])
    assert float(m_micro["num_tokens"]) == float(m_full["num_tokens"]) == float(batch.response_mask_bt.sum())
    for name in ("loss", "pg_loss", "entropy", "clip_fraction", "approx_kl", "ratio"):
        np.testing.assert_allclose(float(m_micro[name].mean()), float(m_full[name].mean()), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(float(m_micro["grad_norm"]), float(m_full["grad_norm"]), rtol=1e-5)
    assert_same_step(params, (p_micro, o_micro), (p_full, o_full))


@pytest.mark.parametrize("poison", ["nan_advantage", "inf_old_logprob", "no_response_tokens"])
def test_guard_skips_bad_updates(tiny_model, full_batch_step, poison):
    _, graphdef, params = tiny_model
    _, optimizer, step = full_batch_step
    batch = make_batch(graphdef, params)
    b, t = np.argwhere(np.asarray(batch.response_mask_bt))[3]
    if poison == "nan_advantage":
        batch = batch.replace(advantages_bt=batch.advantages_bt.at[b, t].set(jnp.nan))
    elif poison == "inf_old_logprob":  # ratio = exp(+inf) on a trained token
        batch = batch.replace(old_logprobs_bt=batch.old_logprobs_bt.at[b, t].set(-jnp.inf))
    else:
        batch = batch.replace(response_mask_bt=jnp.zeros_like(batch.response_mask_bt))
    opt_state = init_opt_state(optimizer, params)
    expected_opt = jax.tree.map(np.asarray, opt_state)
    new_params, new_opt, metrics = step(fresh(params), opt_state, batch)
    assert not bool(metrics["update_applied"])
    for old, new in zip(jax.tree.leaves(params), jax.tree.leaves(new_params)):
        np.testing.assert_array_equal(np.asarray(new), np.asarray(old))
    for old, new in zip(jax.tree.leaves(expected_opt), jax.tree.leaves(new_opt)):
        np.testing.assert_array_equal(np.asarray(new), old)


def test_good_update_is_applied_and_changes_params(tiny_model, full_batch_step):
    _, graphdef, params = tiny_model
    _, optimizer, step = full_batch_step
    batch = make_batch(graphdef, params, log_ratio_offsets=OFFSETS)
    new_params, new_opt, metrics = step(fresh(params), init_opt_state(optimizer, params), batch)
    assert bool(metrics["update_applied"])
    assert np.isfinite(float(metrics["grad_norm"])) and float(metrics["grad_norm"]) > 0
    changed = [not np.array_equal(np.asarray(a), np.asarray(b))
               for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(new_params))]
    assert all(changed)
    # The Adam step counter advanced (it is the first leaf of the adam state: count).
    counts = [int(x) for x in jax.tree.leaves(new_opt) if np.ndim(x) == 0]
    assert counts and all(c == 1 for c in counts)
