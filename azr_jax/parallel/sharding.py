"""Sharding of parameters and activations from their logical axes.

`use_mesh_rules` makes a mesh and rule table current while a function is traced; `constrain` then
pins activations at layer boundaries. Outside that context `constrain` is the identity, so the model
runs unchanged on one device.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Mapping

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from azr_jax.parallel.rules import DEFAULT_RULES, MeshAxes, logical_to_spec

_CURRENT: contextvars.ContextVar[tuple[Mesh, Mapping[str, MeshAxes]] | None] = contextvars.ContextVar(
    "azr_jax_mesh_rules", default=None)


@contextlib.contextmanager
def use_mesh_rules(mesh: Mesh, rules: Mapping[str, MeshAxes] = DEFAULT_RULES):
    token = _CURRENT.set((mesh, rules))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current_mesh_rules() -> tuple[Mesh, Mapping[str, MeshAxes]] | None:
    return _CURRENT.get()


def constrain(x: jax.Array, logical_axes: tuple[str | None, ...]) -> jax.Array:
    current = _CURRENT.get()
    if current is None:
        return x
    mesh, rules = current
    spec = logical_to_spec(logical_axes, x.shape, mesh, rules)
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, spec))


def named_sharding(mesh: Mesh, logical_axes, shape, rules=DEFAULT_RULES) -> NamedSharding:
    return NamedSharding(mesh, logical_to_spec(logical_axes, shape, mesh, rules))


def param_shardings(state: nnx.State, mesh: Mesh, rules: Mapping[str, MeshAxes] = DEFAULT_RULES):
    """A pytree like `state` with a NamedSharding for every variable, from its `logical_axes`."""

    def sharding_of(var):
        axes = var.get_metadata().get("logical_axes")
        if axes is None:
            raise ValueError(f"variable of shape {var.shape} has no logical_axes metadata")
        return var.replace(named_sharding(mesh, axes, var.shape, rules))

    return jax.tree.map(sharding_of, state, is_leaf=lambda x: isinstance(x, nnx.Variable))


def replicate(tree, mesh: Mesh):
    """Host values (the same on every process) -> arrays replicated over the whole mesh.

    Unlike jax.device_put, this also works when the mesh spans devices of other processes: each
    process supplies the copies on its own devices. PRNG keys travel as their raw key data.
    """
    sharding = NamedSharding(mesh, PartitionSpec())

    def put(x):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(put(jax.random.key_data(x)), impl=jax.random.key_impl(x))
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree.map(put, tree)
