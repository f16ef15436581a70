"""Advantage estimators: per-sequence scalar rewards -> per-token advantages, behind a registry.

Every estimator has the signature

    fn(rewards_b, group_ids_b, response_mask_bt, *, num_groups, epsilon) -> advantages_bt

with rewards R_b [B] (one scalar per sequence, on its last response token), integer group ids [B],
and the response mask [B, T] (the tokens that are trained). With gamma = 1 and no critic, the return of
every response token of sequence b is R_b, so advantages are constant along a response; they are 0
outside the response mask. A sequence with no response tokens, or whose group id lies outside
[0, num_groups), joins no group and gets advantage 0 (use id -1 for padding rows).

Group statistics use an unbiased variance. A group with total weight N_g <= 1 (one token, or one
sequence for per-sequence weights) has no spread to estimate: we define var_g = 0 there, so its lone
member gets A = (R - mean_g) / sqrt(0 + eps) = 0 / sqrt(eps) = 0. Empty groups contribute nothing.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

AdvantageEstimator = Callable[..., jax.Array]

_ESTIMATORS: dict[str, AdvantageEstimator] = {}

# TRR++ groups: id = role_index * 3 + task_index.
TRR_ROLES = ("propose", "solve")
TRR_TASKS = ("deduction", "abduction", "induction")
NUM_TRR_GROUPS = len(TRR_ROLES) * len(TRR_TASKS)


def trr_group_id(role: str, task: str) -> int:
    """Group id of a (role, task type) pair, e.g. ("solve", "abduction") -> 4."""
    if role not in TRR_ROLES:
        raise ValueError(f"unknown role {role!r} (known: {TRR_ROLES})")
    if task not in TRR_TASKS:
        raise ValueError(f"unknown task type {task!r} (known: {TRR_TASKS})")
    return TRR_ROLES.index(role) * len(TRR_TASKS) + TRR_TASKS.index(task)


def register_advantage_estimator(name: str) -> Callable[[AdvantageEstimator], AdvantageEstimator]:
    def register(fn: AdvantageEstimator) -> AdvantageEstimator:
        if name in _ESTIMATORS:
            raise ValueError(f"advantage estimator {name!r} is already registered")
        _ESTIMATORS[name] = fn
        return fn

    return register


def advantage_estimator_names() -> tuple[str, ...]:
    return tuple(sorted(_ESTIMATORS))


def get_advantage_estimator(name: str) -> AdvantageEstimator:
    if name not in _ESTIMATORS:
        raise ValueError(f"unknown advantage estimator {name!r} (known: {advantage_estimator_names()})")
    return _ESTIMATORS[name]


def compute_advantages(name: str, rewards_b, group_ids_b, response_mask_bt, *, num_groups: int | None = None,
                       epsilon: float | None = None) -> jax.Array:
    """Advantages [B, T] (float32) from the named estimator; jit-able (name and num_groups static).

    epsilon None keeps the estimator's own default.
    """
    kwargs = {} if epsilon is None else {"epsilon": epsilon}
    return get_advantage_estimator(name)(jnp.asarray(rewards_b), jnp.asarray(group_ids_b),
                                         jnp.asarray(response_mask_bt), num_groups=num_groups, **kwargs)


def _group_statistics(rewards_b, group_ids_b, weights_b, num_groups: int):
    """Weighted mean, unbiased variance (0 when N_g <= 1) and membership of each sequence's group."""
    member_b = (group_ids_b >= 0) & (group_ids_b < num_groups) & (weights_b > 0)
    w_b = jnp.where(member_b, weights_b, 0).astype(jnp.float32)
    ids_b = jnp.where(member_b, group_ids_b, 0).astype(jnp.int32)
    r_b = jnp.where(member_b, rewards_b.astype(jnp.float32), 0.0)
    n_g = jax.ops.segment_sum(w_b, ids_b, num_segments=num_groups)
    mean_g = jax.ops.segment_sum(w_b * r_b, ids_b, num_segments=num_groups) / jnp.maximum(n_g, 1.0)
    deviation_b = r_b - mean_g[ids_b]
    squares_g = jax.ops.segment_sum(w_b * deviation_b ** 2, ids_b, num_segments=num_groups)
    var_g = jnp.where(n_g > 1, squares_g / jnp.maximum(n_g - 1, 1.0), 0.0)
    return deviation_b, var_g[ids_b], member_b


def _broadcast_to_tokens(advantage_b, member_b, response_mask_bt):
    advantage_b = jnp.where(member_b, advantage_b, 0.0)
    return jnp.where(response_mask_bt.astype(jnp.bool_), advantage_b[:, None], 0.0)


@register_advantage_estimator("trr++")
def task_relative_reinforce_pp(rewards_b, group_ids_b, response_mask_bt, *, num_groups: int | None = None,
                               epsilon: float = 1e-8) -> jax.Array:
    """Task-Relative REINFORCE++ (Absolute Zero): whitening within each task x role group.

    With n_b = sum_t mask[b, t] response tokens in sequence b and group g(b) in [0, 6):
        N_g    = sum_{b in g} n_b
        mean_g = sum_{b in g} n_b R_b / N_g                        (token-weighted)
        var_g  = sum_{b in g} n_b (R_b - mean_g)^2 / (N_g - 1)     (unbiased; 0 when N_g <= 1)
        A[b, t] = mask[b, t] (R_b - mean_g(b)) / sqrt(var_g(b) + epsilon)
    Group ids follow `trr_group_id` (num_groups defaults to 6).
    """
    num_groups = NUM_TRR_GROUPS if num_groups is None else num_groups
    tokens_b = jnp.sum(response_mask_bt.astype(jnp.float32), axis=-1)
    deviation_b, var_b, member_b = _group_statistics(rewards_b, group_ids_b, tokens_b, num_groups)
    return _broadcast_to_tokens(deviation_b * jax.lax.rsqrt(var_b + epsilon), member_b, response_mask_bt)


@register_advantage_estimator("reinforce++")
def reinforce_pp(rewards_b, group_ids_b, response_mask_bt, *, num_groups: int | None = None,
                 epsilon: float = 1e-8) -> jax.Array:
    """REINFORCE++ (outcome reward, gamma = 1): one global whitening over all response tokens.

        A[b, t] = mask[b, t] (R_b - mean) / sqrt(var + epsilon)
    with the token-weighted mean and unbiased variance of `trr++` taken over the whole batch. Group
    ids only select members: ids outside [0, num_groups) are excluded when num_groups is given.
    """
    tokens_b = jnp.sum(response_mask_bt.astype(jnp.float32), axis=-1)
    if num_groups is not None:
        in_range_b = (group_ids_b >= 0) & (group_ids_b < num_groups)
        tokens_b = jnp.where(in_range_b, tokens_b, 0.0)
    single_group_b = jnp.zeros_like(group_ids_b)
    deviation_b, var_b, member_b = _group_statistics(rewards_b, single_group_b, tokens_b, 1)
    return _broadcast_to_tokens(deviation_b * jax.lax.rsqrt(var_b + epsilon), member_b, response_mask_bt)


@register_advantage_estimator("grpo")
def grpo(rewards_b, group_ids_b, response_mask_bt, *, num_groups: int | None = None,
         epsilon: float = 1e-6) -> jax.Array:
    """GRPO: sequence-level whitening among the responses to the same prompt (group id = prompt id).

    With G_g the sequences of prompt g that have at least one response token:
        mean_g = (1/|G_g|) sum_{b in G_g} R_b
        std_g  = sqrt(sum_{b in G_g} (R_b - mean_g)^2 / (|G_g| - 1))   (0 when |G_g| <= 1)
        A[b, t] = mask[b, t] (R_b - mean_g(b)) / (std_g(b) + epsilon)
    num_groups defaults to B (prompt ids in [0, B)).
    """
    num_groups = rewards_b.shape[0] if num_groups is None else num_groups
    has_tokens_b = jnp.any(response_mask_bt.astype(jnp.bool_), axis=-1).astype(jnp.float32)
    deviation_b, var_b, member_b = _group_statistics(rewards_b, group_ids_b, has_tokens_b, num_groups)
    return _broadcast_to_tokens(deviation_b / (jnp.sqrt(var_b) + epsilon), member_b, response_mask_bt)
