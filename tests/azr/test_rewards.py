"""Rewards against hand-computed tables (AZR_SPEC "Rewards")."""

import pytest

from azr_jax.azr.config import RewardConfig
from azr_jax.azr.rewards import (learnability, proposer_reward, proposer_rewards, solve_rate, solver_reward,
                                 solver_rewards)

PAPER = RewardConfig()
REFERENCE = RewardConfig(proposer_edge_reward=-0.5)

# (verdicts of the n=8 solver rollouts, paper reward, reference-code reward)
LEARNABILITY_TABLE = [
    ([False] * 8, 0.0, -0.5),  # never solved
    ([True] * 8, 0.0, -0.5),  # always solved
    ([True] + [False] * 7, 0.875, 0.875),  # s = 1/8
    ([True] * 2 + [False] * 6, 0.75, 0.75),
    ([True] * 4 + [False] * 4, 0.5, 0.5),
    ([True] * 6 + [False] * 2, 0.25, 0.25),
    ([True] * 7 + [False], 0.125, 0.125),  # s = 7/8
]


@pytest.mark.parametrize("verdicts, paper, reference", LEARNABILITY_TABLE)
def test_learnability_table(verdicts, paper, reference):
    assert proposer_reward(True, True, verdicts, PAPER) == paper
    assert proposer_reward(True, True, verdicts, REFERENCE) == reference


def test_solve_rate_counts_only_true():
    assert solve_rate([True, False, True, False]) == 0.5
    assert solve_rate([1, True, None, False]) == 0.25  # only a real True counts as solved
    with pytest.raises(ValueError):
        solve_rate([])


def test_learnability_edges_and_range():
    assert learnability(0.0) == 0.0 and learnability(1.0) == 0.0
    assert learnability(0.0, REFERENCE) == -0.5 and learnability(1.0, REFERENCE) == -0.5
    assert learnability(0.3) == pytest.approx(0.7)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError):
            learnability(bad)


def test_invalid_and_malformed_proposals():
    assert proposer_reward(False, False, None) == -1.0
    assert proposer_reward(True, False, None) == -1.0
    # Rollouts of an invalid proposal are ignored (there should be none, but they must not count).
    assert proposer_reward(True, False, [True, False]) == -1.0
    custom = RewardConfig(proposer_invalid_reward=-0.7, proposer_bad_format_reward=-0.9)
    assert proposer_reward(True, False, None, custom) == -0.7
    assert proposer_reward(False, True, [True], custom) == -0.9
    with pytest.raises(ValueError):
        proposer_reward(True, True, None)


def test_all_invalid_batch():
    n = 5
    assert proposer_rewards([True] * n, [False] * n, [None] * n) == [-1.0] * n
    assert proposer_rewards([False] * n, [False] * n, [None] * n) == [-1.0] * n


def test_mixed_proposer_batch():
    got = proposer_rewards(
        [True, True, False, True, True],
        [True, False, False, True, True],
        [[True, False, False, False], None, None, [True] * 4, [False] * 4],
        REFERENCE)
    assert got == [0.75, -1.0, -1.0, -0.5, -0.5]
    with pytest.raises(ValueError):
        proposer_rewards([True], [True, False], [None])


# (format_ok, correct, reward)
SOLVER_TABLE = [(True, True, 1.0), (True, False, -0.5), (False, False, -1.0), (False, True, -1.0)]


@pytest.mark.parametrize("format_ok, correct, reward", SOLVER_TABLE)
def test_solver_table(format_ok, correct, reward):
    assert solver_reward(format_ok, correct) == reward


def test_solver_batch_and_custom_values():
    custom = RewardConfig(solver_correct_reward=2.0, solver_wrong_reward=0.0, solver_bad_format_reward=-3.0)
    assert solver_rewards([True, True, False], [True, False, False], custom) == [2.0, 0.0, -3.0]
    with pytest.raises(ValueError):
        solver_rewards([True], [])
