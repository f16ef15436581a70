"""Device mesh, logical-axis sharding rules, sharded initialisation, multi-host helpers."""

from azr_jax.parallel.mesh import MeshConfig, make_mesh
from azr_jax.parallel.rules import DEFAULT_RULES, logical_to_spec
from azr_jax.parallel.sharding import constrain, param_shardings, use_mesh_rules

__all__ = ["MeshConfig", "make_mesh", "DEFAULT_RULES", "logical_to_spec", "constrain", "param_shardings",
           "use_mesh_rules"]
