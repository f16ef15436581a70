"""The policy-gradient update: mini-batches of guarded AdamW steps, each over micro-batches.

Pure functions of (params, opt_state, batch); `azr_jax.rl.signatures` jits them with shardings and
donation. One call is one iteration over a step's rollouts: B / mini_batch_size optimizer steps (the
PPO epoch over mini-batches). Within a step, gradients of the loss *sum* are accumulated over
micro-batches and divided once by the mini-batch's number of response tokens, so any micro-batch size
gives that mini-batch's exact token-mean gradient.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding

from azr_jax.parallel.rules import DEFAULT_RULES, MeshAxes, logical_to_spec
from azr_jax.rl.batch import TrainBatch, split_micro_batches, split_mini_batches
from azr_jax.rl.config import RLConfig
from azr_jax.rl.logprobs import token_logprobs_and_entropy
from azr_jax.rl.loss import ppo_clip_loss
from azr_jax.rl.metrics import SumCount


def batch_loss(params: nnx.State, graphdef: nnx.GraphDef, batch: TrainBatch, config: RLConfig, *,
               temperature: float, mesh: Mesh | None = None, rules: Mapping[str, MeshAxes] = DEFAULT_RULES
               ) -> tuple[SumCount, dict[str, Any]]:
    """(loss SumCount, metrics) of the PPO-clipped loss on `batch` under `params`.

    temperature: that of the sampler's log-probs in `batch.old_logprobs_bt`
    (azr_jax.sampling.logprob_temperature); the new log-probs are computed at the same one.
    """
    logp_bt, entropy_bt = token_logprobs_and_entropy(
        graphdef, params, batch.tokens_bt, batch.mask_bt, chunk_size=config.logprob_chunk_size,
        temperature=temperature, mesh=mesh, rules=rules)
    if not config.entropy_coef:  # metric only: no backward pass through the entropy
        entropy_bt = jax.lax.stop_gradient(entropy_bt)
    loss, metrics = ppo_clip_loss(logp_bt, batch.old_logprobs_bt, batch.advantages_bt, batch.response_mask_bt,
                                  entropy_bt, config)
    valid_bt = batch.response_mask_bt.astype(jnp.bool_)
    diff_bt = jnp.where(valid_bt, jnp.abs(jax.lax.stop_gradient(logp_bt) - batch.old_logprobs_bt), 0.0)
    metrics["logprob_max_abs_diff"] = jnp.max(diff_bt, initial=0.0)
    return loss, metrics


def accumulate_gradients(params: nnx.State, graphdef: nnx.GraphDef, batch: TrainBatch, config: RLConfig, *,
                         temperature: float, mesh: Mesh | None = None, rules: Mapping[str, MeshAxes] = DEFAULT_RULES,
                         param_shardings: nnx.State | None = None):
    """(token-mean gradient, loss SumCount, metrics) over the whole batch, one micro-batch at a time.

    The gradient is sum over micro-batches of d(loss sum)/d(params), divided once by the total token
    count (0 gradient when there are no response tokens). Accumulation is in float32; the result has
    the parameters' dtype. Metrics: SumCounts add up, `logprob_max_abs_diff` takes the max.
    """

    def sum_and_grad(micro: TrainBatch):
        def loss_sum(p):
            loss, metrics = batch_loss(p, graphdef, micro, config, temperature=temperature, mesh=mesh, rules=rules)
            return loss.sum, (loss, metrics)

        (_, (loss, metrics)), grads = jax.value_and_grad(loss_sum, has_aux=True)(params)
        return jax.tree.map(lambda g: g.astype(jnp.float32), grads), loss, metrics

    micro_batch_size = config.micro_batch_size or batch.shape[0]
    if micro_batch_size >= batch.shape[0]:
        grads, loss, metrics = sum_and_grad(batch)
    else:
        micro_batches = _constrain(split_micro_batches(batch, micro_batch_size), mesh, rules, (None, "batch", "length"))

        def step(carry, micro):
            micro = _constrain(micro, mesh, rules, ("batch", "length"))
            grads, loss, metrics = sum_and_grad(micro)
            acc_grads, acc_loss, acc_metrics = carry
            acc_grads = jax.tree.map(jnp.add, acc_grads, grads)
            if param_shardings is not None:
                acc_grads = jax.lax.with_sharding_constraint(acc_grads, param_shardings)
            return (acc_grads, acc_loss + loss, _combine_metrics(acc_metrics, metrics)), None

        first = jax.tree.map(lambda x: x[0], micro_batches)
        zero_metrics = jax.tree.map(jnp.zeros_like, jax.eval_shape(lambda: sum_and_grad(first)[2]))
        zero_grads = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)
        if param_shardings is not None:
            zero_grads = jax.lax.with_sharding_constraint(zero_grads, param_shardings)
        (grads, loss, metrics), _ = jax.lax.scan(step, (zero_grads, SumCount.zero(), zero_metrics), micro_batches)
    grads = jax.tree.map(lambda g, p: (g / jnp.maximum(loss.count, 1.0)).astype(p.dtype), grads, params)
    return grads, loss, metrics


def update_step(params: nnx.State, opt_state, batch: TrainBatch, *, graphdef: nnx.GraphDef,
                optimizer: optax.GradientTransformation, config: RLConfig, temperature: float,
                mesh: Mesh | None = None, rules: Mapping[str, MeshAxes] = DEFAULT_RULES,
                param_shardings: nnx.State | None = None):
    """One iteration over the batch's rollouts: (new params, new opt state, metrics).

    The B rows are split into B / mini_batch_size mini-batches (strided, as `split_mini_batches`) and
    each takes one guarded optimizer step (`optimizer_step`) in turn, inside one program. Every step
    recomputes the log-probs with the params of the steps before it, against the same old log-probs of
    the sampler: the first step's ratio is 1 (on-policy), later ones are off-policy and clipped.
    mini_batch_size None: one step over the whole batch.

    Metrics, over the whole iteration: the loss and loss metrics (ratio, clip_fraction, approx_kl, ...)
    as SumCounts over every mini-batch's tokens; grad_norm the mean of the steps' norms (before
    clipping); num_tokens; optimizer_steps (applied) and skipped_steps (refused by the guard);
    update_applied (no step skipped); logprob_max_abs_diff of the first mini-batch only, the one
    sampled by these very params (the sampler-vs-trainer mismatch); log_ratio_max_abs, max |log r| over
    every mini-batch (that mismatch plus how far the earlier steps moved the policy).
    """
    b = batch.shape[0]
    mini_batch_size = config.mini_batch_size or b

    def step(carry, mini: TrainBatch):
        params, opt_state = carry
        mini = _constrain(mini, mesh, rules, ("batch", "length"))
        params, opt_state, metrics = optimizer_step(params, opt_state, mini, graphdef=graphdef, optimizer=optimizer,
                                                    config=config, temperature=temperature, mesh=mesh, rules=rules,
                                                    param_shardings=param_shardings)
        if param_shardings is not None:
            params = jax.lax.with_sharding_constraint(params, param_shardings)
        return (params, opt_state), metrics

    if mini_batch_size == b:  # one step: no loop in the program
        (params, opt_state), metrics = step((params, opt_state), batch)
        per_step = jax.tree.map(lambda x: x[None], metrics)
    else:
        minis = _constrain(split_mini_batches(batch, mini_batch_size), mesh, rules, (None, "batch", "length"))
        (params, opt_state), per_step = jax.lax.scan(step, (params, opt_state), minis)
    return params, opt_state, _iteration_metrics(per_step)


def optimizer_step(params: nnx.State, opt_state, batch: TrainBatch, *, graphdef: nnx.GraphDef,
                   optimizer: optax.GradientTransformation, config: RLConfig, temperature: float,
                   mesh: Mesh | None = None, rules: Mapping[str, MeshAxes] = DEFAULT_RULES,
                   param_shardings: nnx.State | None = None):
    """One optimizer step on all of `batch` (a mini-batch): (new params, new opt state, metrics).

    The gradient is that of the token mean of the loss over this batch's response tokens: each step
    minimises its own mini-batch's token-mean loss, as the reference's token-mean loss aggregation does
    per mini-batch (a step's size then does not depend on how many tokens other mini-batches hold).
    Micro-batches only split the work: their loss sums are added and divided once by the batch's token
    count, so micro_batch_size changes memory, not the step.
    Guard: if the loss or the gradient norm is not finite, or the batch has no response tokens, the
    old params and opt state are returned unchanged and metrics["update_applied"] is False.
    Metrics: loss and the loss metrics as SumCounts; grad_norm (before clipping), num_tokens,
    logprob_max_abs_diff, update_applied as scalars.
    """
    grads, loss, metrics = accumulate_gradients(params, graphdef, batch, config, temperature=temperature, mesh=mesh,
                                                rules=rules, param_shardings=param_shardings)
    grad_norm = optax.tree.norm(grads)
    updates, new_opt_state = optimizer.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    applied = jnp.isfinite(loss.sum) & jnp.isfinite(grad_norm) & (loss.count > 0)
    keep_if_applied = lambda new, old: jnp.where(applied, new, old)
    new_params = jax.tree.map(keep_if_applied, new_params, params)
    new_opt_state = jax.tree.map(keep_if_applied, new_opt_state, opt_state)
    metrics = {"loss": loss, **metrics, "grad_norm": grad_norm, "num_tokens": loss.count, "update_applied": applied}
    return new_params, new_opt_state, metrics


def _iteration_metrics(per_step: dict) -> dict:
    """Metrics of the optimizer steps of one iteration (a leading [steps] axis) -> the iteration's."""
    summed = {name: jax.tree.map(lambda x: jnp.sum(x, axis=0), value) for name, value in per_step.items()
              if isinstance(value, SumCount)}
    applied_s = per_step["update_applied"]
    return {**summed, "grad_norm": jnp.mean(per_step["grad_norm"]), "num_tokens": jnp.sum(per_step["num_tokens"]),
            "logprob_max_abs_diff": per_step["logprob_max_abs_diff"][0],
            "log_ratio_max_abs": jnp.max(per_step["logprob_max_abs_diff"]),
            "optimizer_steps": jnp.sum(applied_s.astype(jnp.int32)),
            "skipped_steps": jnp.sum((~applied_s).astype(jnp.int32)), "update_applied": jnp.all(applied_s)}


def _combine_metrics(total: dict, new: dict) -> dict:
    return {name: jnp.maximum(total[name], new[name]) if name == "logprob_max_abs_diff" else total[name] + new[name]
            for name in total}


def _constrain(batch: TrainBatch, mesh: Mesh | None, rules, logical_axes) -> TrainBatch:
    if mesh is None:
        return batch
    return jax.tree.map(
        lambda x: jax.lax.with_sharding_constraint(x, NamedSharding(mesh, logical_to_spec(logical_axes, x.shape, mesh, rules))),
        batch)
