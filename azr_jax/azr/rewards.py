"""Scalar rewards for proposer and solver responses (AZR_SPEC "Rewards"); the values live in RewardConfig.

proposer (learnability): a valid task is given to the solver n times; with solve rate s,
    r = 1 - s        if 0 < s < 1   (a task the solver sometimes gets right teaches the most)
    r = edge         if s in {0, 1} (paper 0, reference code -0.5: `proposer_edge_reward`)
  an invalid proposal earns `proposer_invalid_reward`, a malformed one `proposer_bad_format_reward`.
solver: `solver_correct_reward` if correct, `solver_wrong_reward` if well formed but wrong,
  `solver_bad_format_reward` if the completion does not parse (then it cannot be correct either).
"""

from __future__ import annotations

from typing import Sequence

from azr_jax.azr.config import RewardConfig

__all__ = ["RewardConfig", "learnability", "proposer_reward", "proposer_rewards", "solve_rate", "solver_reward",
           "solver_rewards"]


def solve_rate(correct: Sequence[bool]) -> float:
    """Fraction of solver rollouts judged correct (a malformed rollout counts as not solved)."""
    if len(correct) == 0:
        raise ValueError("solve rate of zero rollouts is undefined")
    return sum(1 for c in correct if c is True) / len(correct)


def learnability(s: float, config: RewardConfig = RewardConfig()) -> float:
    """1 - s inside (0, 1); the configured edge reward when the task is always or never solved."""
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"solve rate must lie in [0, 1], got {s!r}")
    return 1.0 - s if 0.0 < s < 1.0 else config.proposer_edge_reward


def proposer_reward(format_ok: bool, valid: bool, rollouts_correct: Sequence[bool] | None,
                    config: RewardConfig = RewardConfig()) -> float:
    """Reward of one proposer response. `rollouts_correct` are the n solver verdicts on its task
    (only looked at when the proposal is well formed and valid)."""
    if not format_ok:
        return config.proposer_bad_format_reward
    if not valid:
        return config.proposer_invalid_reward
    if rollouts_correct is None:
        raise ValueError("a valid proposal needs its solver rollouts to be rewarded")
    return learnability(solve_rate(rollouts_correct), config)


def proposer_rewards(format_ok: Sequence[bool], valid: Sequence[bool],
                     rollouts_correct: Sequence[Sequence[bool] | None],
                     config: RewardConfig = RewardConfig()) -> list[float]:
    if not len(format_ok) == len(valid) == len(rollouts_correct):
        raise ValueError("proposer_rewards needs one format flag, validity and rollout list per response")
    return [proposer_reward(f, v, r, config) for f, v, r in zip(format_ok, valid, rollouts_correct)]


def solver_reward(format_ok: bool, correct: bool, config: RewardConfig = RewardConfig()) -> float:
    if not format_ok:
        return config.solver_bad_format_reward
    return config.solver_correct_reward if correct else config.solver_wrong_reward


def solver_rewards(format_ok: Sequence[bool], correct: Sequence[bool],
                   config: RewardConfig = RewardConfig()) -> list[float]:
    if len(format_ok) != len(correct):
        raise ValueError("solver_rewards needs one format flag and one verdict per response")
    return [solver_reward(f, c, config) for f, c in zip(format_ok, correct)]
