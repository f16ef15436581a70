"""Policy-gradient core of Absolute Zero: TRR++ advantages, the PPO-clipped loss, the sharded update."""

from azr_jax.rl.advantages import (NUM_TRR_GROUPS, TRR_ROLES, TRR_TASKS, advantage_estimator_names,
                                   compute_advantages, get_advantage_estimator, register_advantage_estimator,
                                   trr_group_id)
from azr_jax.rl.batch import TrainBatch, batch_shardings, split_micro_batches, split_mini_batches
from azr_jax.rl.config import RLConfig
from azr_jax.rl.logprobs import logprob_mismatch, token_logprobs, token_logprobs_and_entropy
from azr_jax.rl.loss import ppo_clip_loss
from azr_jax.rl.metrics import SumCount
from azr_jax.rl.optimizer import init_opt_state, make_optimizer, opt_state_shardings
from azr_jax.rl.signatures import jit_token_logprobs, jit_update_step
from azr_jax.rl.update import accumulate_gradients, batch_loss, optimizer_step, update_step

__all__ = [
    "NUM_TRR_GROUPS", "TRR_ROLES", "TRR_TASKS", "advantage_estimator_names", "compute_advantages",
    "get_advantage_estimator", "register_advantage_estimator", "trr_group_id", "TrainBatch", "batch_shardings",
    "split_micro_batches", "split_mini_batches", "RLConfig", "logprob_mismatch", "token_logprobs", "token_logprobs_and_entropy",
    "ppo_clip_loss", "SumCount", "init_opt_state", "make_optimizer", "opt_state_shardings", "jit_token_logprobs",
    "jit_update_step", "accumulate_gradients", "batch_loss", "optimizer_step", "update_step",
]
