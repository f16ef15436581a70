"""The one place that jits this package's hot functions: explicit in/out shardings and donation.

With a mesh, parameters keep their logical-axis shardings, optimizer moments mirror them, the batch
is split over the `batch` rule's mesh axes and metrics come back replicated. Without a mesh (one
device) the same functions are jitted with donation only.
"""

from __future__ import annotations

import functools
from typing import Mapping

import jax
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from azr_jax.parallel.rules import DEFAULT_RULES, MeshAxes
from azr_jax.parallel.sharding import param_shardings as make_param_shardings
from azr_jax.rl.batch import batch_shardings
from azr_jax.rl.config import RLConfig
from azr_jax.rl.logprobs import token_logprobs
from azr_jax.rl.optimizer import opt_state_shardings
from azr_jax.rl.update import update_step


def jit_update_step(graphdef: nnx.GraphDef, optimizer: optax.GradientTransformation, config: RLConfig,
                    params: nnx.State, *, temperature: float, mesh: Mesh | None = None,
                    rules: Mapping[str, MeshAxes] = DEFAULT_RULES):
    """`update(params, opt_state, batch) -> (params, opt_state, metrics)`, params and opt_state donated.

    `params` (arrays or ShapeDtypeStructs) only supply the structure for the shardings; the caller
    must not use the params/opt_state it passes in after the call (their buffers are reused).
    temperature: that of the sampler's log-probs in the batch, azr_jax.sampling.logprob_temperature of
    the sampling temperature (no default: a wrong one silently biases every ratio).
    """
    _check_temperature(temperature)
    step = functools.partial(update_step, graphdef=graphdef, optimizer=optimizer, config=config,
                             temperature=temperature, mesh=mesh, rules=rules)
    if mesh is None:
        return jax.jit(step, donate_argnums=(0, 1))
    params_sh = make_param_shardings(params, mesh, rules)
    opt_sh = opt_state_shardings(optimizer, params, params_sh, mesh)
    replicated = NamedSharding(mesh, PartitionSpec())
    step = functools.partial(step, param_shardings=params_sh)
    return jax.jit(step, in_shardings=(params_sh, opt_sh, batch_shardings(mesh, rules)),
                   out_shardings=(params_sh, opt_sh, replicated), donate_argnums=(0, 1))


def jit_token_logprobs(graphdef: nnx.GraphDef, config: RLConfig, params: nnx.State, *, temperature: float,
                       mesh: Mesh | None = None, rules: Mapping[str, MeshAxes] = DEFAULT_RULES):
    """`logprobs(params, tokens_bt, mask_bt) -> logp_bt` (azr_jax.rl.logprobs alignment) at `temperature`
    (as jit_update_step), nothing donated."""
    _check_temperature(temperature)
    fn = functools.partial(token_logprobs, graphdef, chunk_size=config.logprob_chunk_size,
                           temperature=temperature, mesh=mesh, rules=rules)
    if mesh is None:
        return jax.jit(fn)
    rows = batch_shardings(mesh, rules).tokens_bt
    return jax.jit(fn, in_shardings=(make_param_shardings(params, mesh, rules), rows, rows), out_shardings=rows)


def _check_temperature(temperature: float) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 < temperature < float("inf"):
        raise ValueError(f"temperature of the sampler's log-probs must be a positive number (greedy sampling: 1, "
                         f"see azr_jax.sampling.logprob_temperature), got {temperature!r}")
