"""PPO mini-batches: one update call takes B / mini_batch_size optimizer steps over the same rollouts, and
equals those steps taken one by one on the corresponding rows."""

import jax
import numpy as np
import pytest

from azr_jax.model.functional import create_model
from azr_jax.parallel import MeshConfig, make_mesh, param_shardings
from azr_jax.rl import (RLConfig, batch_shardings, init_opt_state, jit_update_step, make_optimizer,
                        opt_state_shardings, split_mini_batches)

from rl_testing import assert_same_step, fresh, make_batch

ROWS, MINI, MICRO = 24, 8, 4  # 3 optimizer steps, each accumulating 2 micro-batches
# Adam steps linear in the gradient (adam_eps 1, as rl_testing.GRADIENT_SENSITIVE), large enough that the second and third
# mini-batches see a policy measurably different from the sampler's.
CONFIG = RLConfig(learning_rate=1.0, adam_eps=1.0)


def adam_counts(opt_state) -> list[int]:
    return [int(x) for x in jax.tree.leaves(opt_state) if np.ndim(x) == 0]


def run(step, params, optimizer, batch, opt_state=None):
    return step(fresh(params), fresh(opt_state) if opt_state is not None else init_opt_state(optimizer, params), batch)


@pytest.fixture(scope="module")
def on_policy_batch(tiny_model):
    _, graphdef, params = tiny_model
    # Old log-probs are the params' own: the first step is exactly on-policy (ratio 1).
    return make_batch(graphdef, params, batch_size=ROWS, log_ratio_offsets=(0.0,))


@pytest.fixture(scope="module")
def steps_one_by_one(tiny_model, on_policy_batch):
    """The reference: three single-step updates in sequence, on mini-batch k's rows (k, k + 3, k + 6, ...)."""
    _, graphdef, params = tiny_model
    config = CONFIG.replace(micro_batch_size=MICRO)
    optimizer = make_optimizer(config)
    step = jit_update_step(graphdef, optimizer, config, params, temperature=1.0)
    minis = split_mini_batches(on_policy_batch, MINI)
    p, o, per_step = params, None, []
    for k in range(ROWS // MINI):
        p, o, metrics = run(step, p, optimizer, jax.tree.map(lambda x: x[k], minis), o)
        per_step.append(metrics)
    return p, o, per_step


def test_mini_batch_of_the_whole_batch_is_the_single_step(tiny_model, full_batch_step):
    _, graphdef, params = tiny_model
    config, optimizer, single_step = full_batch_step
    batch = make_batch(graphdef, params, log_ratio_offsets=(0.0, 0.5, -0.5))
    whole = jit_update_step(graphdef, optimizer, config.replace(mini_batch_size=batch.shape[0]), params,
                            temperature=1.0)
    p_want, o_want, m_want = run(single_step, params, optimizer, batch)
    p_got, o_got, m_got = run(whole, params, optimizer, batch)
    for a, b in zip(jax.tree.leaves((p_got, o_got)), jax.tree.leaves((p_want, o_want)), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(m_got["optimizer_steps"]) == 1 and int(m_got["skipped_steps"]) == 0
    assert adam_counts(o_got) and all(c == 1 for c in adam_counts(o_got))
    for name in ("loss", "ratio", "clip_fraction"):
        assert float(m_got[name].mean()) == float(m_want[name].mean())


def test_three_mini_batches_take_three_steps_as_one_by_one(tiny_model, on_policy_batch, steps_one_by_one):
    _, graphdef, params = tiny_model
    config = CONFIG.replace(mini_batch_size=MINI, micro_batch_size=MICRO)
    optimizer = make_optimizer(config)
    update = jit_update_step(graphdef, optimizer, config, params, temperature=1.0)
    p_got, o_got, metrics = run(update, params, optimizer, on_policy_batch)
    p_want, o_want, per_step = steps_one_by_one

    assert int(metrics["optimizer_steps"]) == 3 and int(metrics["skipped_steps"]) == 0
    assert bool(metrics["update_applied"])
    assert adam_counts(o_got) and all(c == 3 for c in adam_counts(o_got))
    assert_same_step(params, (p_got, o_got), (p_want, o_want))

    # The first step is on-policy (ratio 1 up to float noise); the later ones see the moved policy.
    first, *later = [float(m["logprob_max_abs_diff"]) for m in per_step]
    assert first < 1e-5 and min(later) > 1e-2
    assert float(metrics["logprob_max_abs_diff"]) == pytest.approx(first, abs=1e-6)
    assert float(metrics["log_ratio_max_abs"]) == pytest.approx(max(later), rel=1e-3)
    # Ratio statistics are over every mini-batch's tokens: the sums of the steps'.
    for name in ("ratio", "approx_kl", "loss", "pg_loss", "entropy"):
        want_sum = sum(float(m[name].sum) for m in per_step)
        np.testing.assert_allclose(float(metrics[name].sum), want_sum, rtol=1e-4, atol=1e-6)
        assert float(metrics[name].count) == sum(float(m[name].count) for m in per_step)
    assert float(metrics["num_tokens"]) == float(on_policy_batch.response_mask_bt.sum())
    np.testing.assert_allclose(float(metrics["grad_norm"]), np.mean([float(m["grad_norm"]) for m in per_step]),
                               rtol=1e-4)
    # The later mini-batches are really off-policy, and the clip bounds their ratios.
    assert float(metrics["approx_kl"].mean()) > 1e-6 and float(metrics["clip_fraction"].sum) > 0


def test_guard_applies_per_optimizer_step(tiny_model, on_policy_batch):
    """A NaN advantage in mini-batch 1 skips that step only; the other two are applied."""
    _, graphdef, params = tiny_model
    config = CONFIG.replace(mini_batch_size=MINI, micro_batch_size=MICRO)  # the program of the test above
    optimizer = make_optimizer(config)
    (t,) = np.argwhere(np.asarray(on_policy_batch.response_mask_bt[1]))[0]  # row 1 is in mini-batch 1
    poisoned = on_policy_batch.replace(advantages_bt=on_policy_batch.advantages_bt.at[1, t].set(np.nan))
    update = jit_update_step(graphdef, optimizer, config, params, temperature=1.0)
    new_params, new_opt, metrics = run(update, params, optimizer, poisoned)
    assert int(metrics["optimizer_steps"]) == 2 and int(metrics["skipped_steps"]) == 1
    assert not bool(metrics["update_applied"])
    assert all(c == 2 for c in adam_counts(new_opt))
    assert all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(new_params))


@pytest.mark.parametrize("changes, message", [
    (dict(mini_batch_size=0), "RLConfig.mini_batch_size must be a positive int or None"),
    (dict(mini_batch_size=8, micro_batch_size=3), "RLConfig.micro_batch_size must divide RLConfig.mini_batch_size=8"),
])
def test_invalid_mini_batches_are_named(changes, message):
    with pytest.raises(ValueError, match=message):
        RLConfig(**changes)


def test_batch_not_divisible_by_the_mini_batch_is_refused(tiny_model, on_policy_batch):
    _, graphdef, params = tiny_model
    config = RLConfig(mini_batch_size=5)
    optimizer = make_optimizer(config)
    update = jit_update_step(graphdef, optimizer, config, params, temperature=1.0)
    with pytest.raises(ValueError, match="batch size 24 is not divisible by RLConfig.mini_batch_size=5"):
        run(update, params, optimizer, on_policy_batch)


@pytest.mark.slow
@pytest.mark.skipif(jax.device_count() < 8, reason="needs 8 devices (tests/conftest.py sets XLA_FLAGS)")
def test_mini_batches_on_a_sharded_mesh_equal_one_by_one(tiny_model, on_policy_batch, steps_one_by_one):
    """On a (data, fsdp, tensor) = (2, 2, 2) mesh: each mini-batch takes 2 rows of every (data, fsdp) shard
    and each micro-batch 1, so the strided splits move no rows; the result is the one-by-one reference's."""
    model_config, _, params = tiny_model
    config = CONFIG.replace(mini_batch_size=MINI, micro_batch_size=MICRO)
    optimizer = make_optimizer(config)
    mesh = make_mesh(MeshConfig(data=2, fsdp=2, tensor=2))
    graphdef, sharded_params = create_model(model_config, seed=0, mesh=mesh)
    params_sh = param_shardings(sharded_params, mesh)
    opt_state = init_opt_state(optimizer, sharded_params, opt_state_shardings(optimizer, sharded_params, params_sh,
                                                                              mesh))
    update = jit_update_step(graphdef, optimizer, config, sharded_params, temperature=1.0, mesh=mesh)
    new_params, new_opt, metrics = update(sharded_params, opt_state, jax.device_put(on_policy_batch,
                                                                                    batch_shardings(mesh)))
    assert int(metrics["optimizer_steps"]) == 3
    assert_same_step(params, (new_params, new_opt), steps_one_by_one[:2])
    for out, sharding in zip(jax.tree.leaves(new_params), jax.tree.leaves(params_sh)):
        assert out.sharding.is_equivalent_to(sharding, out.ndim)
