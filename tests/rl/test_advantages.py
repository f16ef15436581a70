"""Advantage estimators against hand-computed tables and an independent loop implementation."""

import math

import jax
import numpy as np
import pytest

from azr_jax.rl import (NUM_TRR_GROUPS, advantage_estimator_names, compute_advantages, get_advantage_estimator,
                        register_advantage_estimator, trr_group_id)


def response_mask(lengths, length=6, start=1):
    mask = np.zeros((len(lengths), length), bool)
    for b, n in enumerate(lengths):
        mask[b, start:start + n] = True
    return mask


def per_sequence(advantages_bt, mask_bt):
    """The advantage of each sequence, checking it is constant on the response and 0 elsewhere."""
    advantages_bt = np.asarray(advantages_bt)
    assert np.all(advantages_bt[~mask_bt] == 0.0)
    out = []
    for a_t, m_t in zip(advantages_bt, mask_bt):
        values = a_t[m_t]
        assert values.size == 0 or np.all(values == values[0])
        out.append(values[0] if values.size else 0.0)
    return np.asarray(out)


def test_group_ids_cover_six_groups():
    ids = {trr_group_id(r, t) for r in ("propose", "solve") for t in ("deduction", "abduction", "induction")}
    assert ids == set(range(NUM_TRR_GROUPS))
    assert trr_group_id("solve", "abduction") == 4
    with pytest.raises(ValueError, match="unknown role"):
        trr_group_id("judge", "deduction")


def test_trr_hand_table():
    # group 0: R = 1, 0, 0 with 2, 1, 1 tokens -> N = 4, mean = 0.5 (token-weighted; per-sequence
    #          would be 1/3), var = (2 * .25 + .25 + .25) / 3 = 1/3, A = +-0.5 / sqrt(1/3 + 1e-8)
    # group 1: all-invalid proposals, R = -1, -1 -> var 0 -> A = 0
    # group 2: R = 1, -1 (1 token each) and an all-masked sequence with R = 100 that must not count:
    #          mean 0, var = 2 / 1 -> A = +-1 / sqrt(2)
    # group 4: a group of one token -> N = 1, var := 0 -> A = 0
    # group 3, 5: empty. Row 9: padding row with id -1 -> 0.
    rewards = [1.0, 0.0, 0.0, -1.0, -1.0, 1.0, -1.0, 100.0, 1.0, 7.0]
    group_ids = [0, 0, 0, 1, 1, 2, 2, 2, 4, -1]
    lengths = [2, 1, 1, 3, 4, 1, 1, 0, 1, 2]
    mask = response_mask(lengths)
    a = 0.5 / math.sqrt(1 / 3 + 1e-8)
    expected = [a, -a, -a, 0, 0, 1 / math.sqrt(2), -1 / math.sqrt(2), 0, 0, 0]
    got = per_sequence(compute_advantages("trr++", rewards, group_ids, mask), mask)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_trr_one_sequence_group_is_zero_and_all_empty_batch_is_finite():
    mask = response_mask([5])
    assert per_sequence(compute_advantages("trr++", [0.7], [3], mask), mask)[0] == 0.0
    empty = np.zeros((3, 4), bool)
    out = np.asarray(compute_advantages("trr++", [1.0, -1.0, 0.5], [0, 0, 1], empty))
    assert np.all(out == 0.0)


def reference_whiten(rewards, ids, weights, num_groups, epsilon, use_std_plus_eps=False):
    """Straightforward loops: the definition in the module docstring."""
    out = np.zeros(len(rewards))
    for g in range(num_groups):
        members = [b for b in range(len(rewards)) if ids[b] == g and weights[b] > 0]
        n = sum(weights[b] for b in members)
        if not members:
            continue
        mean = sum(weights[b] * rewards[b] for b in members) / n
        var = sum(weights[b] * (rewards[b] - mean) ** 2 for b in members) / (n - 1) if n > 1 else 0.0
        for b in members:
            scale = math.sqrt(var) + epsilon if use_std_plus_eps else math.sqrt(var + epsilon)
            out[b] = (rewards[b] - mean) / scale
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_estimators_match_loop_reference(seed):
    rng = np.random.default_rng(seed)
    b = 24
    rewards = rng.choice([-1.0, -0.5, 0.0, 0.3, 1.0], size=b)
    lengths = rng.integers(0, 6, size=b)
    mask = response_mask(lengths, length=8)
    ids = rng.integers(-1, 6, size=b)
    tokens = lengths.astype(float)

    trr = per_sequence(compute_advantages("trr++", rewards, ids, mask), mask)
    np.testing.assert_allclose(trr, reference_whiten(rewards, ids, tokens, 6, 1e-8), rtol=1e-5, atol=1e-6)

    glob = per_sequence(compute_advantages("reinforce++", rewards, ids, mask), mask)
    np.testing.assert_allclose(glob, reference_whiten(rewards, np.zeros(b, int), tokens, 1, 1e-8),
                               rtol=1e-5, atol=1e-6)

    grpo = per_sequence(compute_advantages("grpo", rewards, ids, mask, num_groups=6), mask)
    np.testing.assert_allclose(grpo, reference_whiten(rewards, ids, (lengths > 0).astype(float), 6, 1e-6,
                                                      use_std_plus_eps=True), rtol=1e-5, atol=1e-6)


def test_grpo_hand_table():
    # prompt 0: R = 1, 0, 0, 1 (lengths do not matter) -> mean .5, std = sqrt(1/3): A = +-0.5 / (sqrt(1/3) + 1e-6)
    # prompt 1: a single response -> 0.
    mask = response_mask([1, 3, 2, 5, 2])
    got = per_sequence(compute_advantages("grpo", [1.0, 0.0, 0.0, 1.0, 1.0], [0, 0, 0, 0, 1], mask), mask)
    a = 0.5 / (math.sqrt(1 / 3) + 1e-6)
    np.testing.assert_allclose(got, [a, -a, -a, a, 0.0], rtol=1e-6)


def test_jitted_with_an_all_masked_member():
    mask = response_mask([2, 0, 1])
    fn = jax.jit(lambda r, i, m: compute_advantages("trr++", r, i, m))
    out = np.asarray(fn(np.array([1.0, 2.0, 0.0], np.float32), np.array([0, 0, 0]), mask))
    assert np.all(np.isfinite(out))
    # R = 1 (2 tokens), 0 (1 token): mean 2/3, var = (2 * 1/9 + 4/9) / 2 = 1/3.
    np.testing.assert_allclose(per_sequence(out, mask), [(1 / 3) / math.sqrt(1 / 3 + 1e-8), 0.0,
                                                         (-2 / 3) / math.sqrt(1 / 3 + 1e-8)], rtol=1e-6)


def test_registry():
    assert {"trr++", "reinforce++", "grpo"} <= set(advantage_estimator_names())
    with pytest.raises(ValueError, match="unknown advantage estimator 'ppo-gae'"):
        get_advantage_estimator("ppo-gae")
    with pytest.raises(ValueError, match="already registered"):
        register_advantage_estimator("trr++")(lambda *a, **k: None)
