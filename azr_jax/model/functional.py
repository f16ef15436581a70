"""Pure-function views of the model for jit: (graphdef, state) in, arrays out, plus sharded creation."""

from __future__ import annotations

from typing import Mapping

import jax
from flax import nnx
from jax.sharding import Mesh

from azr_jax.model.config import ModelConfig
from azr_jax.model.kv_cache import KVCache
from azr_jax.model.transformer import Transformer
from azr_jax.parallel.rules import DEFAULT_RULES, MeshAxes
from azr_jax.parallel.sharding import param_shardings, use_mesh_rules


def abstract_model(config: ModelConfig) -> tuple[nnx.GraphDef, nnx.State]:
    """Graph definition and a state of ShapeDtypeStructs: shapes without allocating anything."""
    return nnx.split(nnx.eval_shape(lambda: Transformer(config, nnx.Rngs(0))))


def create_model(config: ModelConfig, seed: int = 0, mesh: Mesh | None = None,
                 rules: Mapping[str, MeshAxes] = DEFAULT_RULES) -> tuple[nnx.GraphDef, nnx.State]:
    """Randomly initialised parameters, created directly in their shards when a mesh is given.

    The initialiser is jitted with `out_shardings`, so no host ever holds the whole model.
    """
    graphdef, abstract_state = abstract_model(config)

    def init():
        return nnx.split(Transformer(config, nnx.Rngs(seed)))[1]

    if mesh is None:
        return graphdef, jax.jit(init)()
    shardings = param_shardings(abstract_state, mesh, rules)
    return graphdef, jax.jit(init, out_shardings=shardings)()


def apply(graphdef: nnx.GraphDef, state: nnx.State, tokens_bt, positions_bt, mask_bts,
          cache: KVCache | None = None, cache_index=0, mesh: Mesh | None = None,
          rules: Mapping[str, MeshAxes] = DEFAULT_RULES):
    """Logits [B, T, V] and new cache; activations are constrained to the mesh when one is given."""
    model = nnx.merge(graphdef, state)
    if mesh is None:
        return model(tokens_bt, positions_bt, mask_bts, cache, cache_index)
    with use_mesh_rules(mesh, rules):
        return model(tokens_bt, positions_bt, mask_bts, cache, cache_index)


def state_to_dict(state: nnx.State) -> dict:
    """Plain nested dict of arrays (what checkpoints store)."""
    return nnx.to_pure_dict(state)
