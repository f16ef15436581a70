"""AdamW over the pure parameter state, and optimizer state created in the parameters' shards.

The optimizer sees the `nnx.State` of parameters as an ordinary pytree (no `nnx.Optimizer`), so the
update step is a pure function of (params, opt_state, batch) that jit can shard and donate.
"""

from __future__ import annotations

import jax
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from azr_jax.rl.config import RLConfig


def make_optimizer(config: RLConfig) -> optax.GradientTransformation:
    """Global-norm clipping then AdamW with a constant learning rate.

    Weight decay is decoupled (p <- p - lr * wd * p, as torch.optim.AdamW) and applies to every
    parameter, norms and biases included, as in the reference implementation.
    """
    adamw = optax.adamw(config.learning_rate, b1=config.b1, b2=config.b2, eps=config.adam_eps,
                        weight_decay=config.weight_decay)
    if config.max_grad_norm is None:
        return adamw
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), adamw)


def opt_state_shardings(optimizer: optax.GradientTransformation, params: nnx.State, param_shardings: nnx.State,
                        mesh: Mesh):
    """Shardings of the optimizer state: moment trees mirror `param_shardings`, scalars are replicated."""
    abstract_state = jax.eval_shape(optimizer.init, params)
    replicated = NamedSharding(mesh, PartitionSpec())
    return optax.tree_map_params(optimizer, lambda _, sharding: sharding, abstract_state, param_shardings,
                                 transform_non_params=lambda _: replicated,
                                 is_leaf=lambda x: isinstance(x, NamedSharding))


def init_opt_state(optimizer: optax.GradientTransformation, params: nnx.State, shardings=None):
    """Optimizer state for `params`, created directly in `shardings` (from `opt_state_shardings`) if given."""
    return jax.jit(optimizer.init, out_shardings=shardings)(params)
