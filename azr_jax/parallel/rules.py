"""Logical axis names -> mesh axes.

Parameters and activations are annotated with logical names (`embed`, `heads`, ...); one rule
table turns them into PartitionSpecs. A mesh axis that does not divide a dimension is dropped for that
dimension (it would not shard evenly), so e.g. 2 kv heads stay replicated on a tensor axis of 4.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from jax.sharding import Mesh, PartitionSpec

MeshAxes = str | tuple[str, ...] | None

# FSDP shards the model width of every weight; tensor parallelism splits heads, MLP and vocabulary.
DEFAULT_RULES: Mapping[str, MeshAxes] = {
    "batch": ("data", "fsdp"),
    "length": None,
    "act_embed": None,
    "embed": "fsdp",
    "vocab": "tensor",
    "heads": "tensor",
    "kv_heads": "tensor",
    "head_dim": None,
    "mlp": "tensor",
    "norm": None,
    "layers": None,
    "cache_batch": ("data", "fsdp"),
    "cache_length": None,
}


def logical_to_spec(logical_axes: Sequence[str | None], shape: Sequence[int] | None, mesh: Mesh,
                    rules: Mapping[str, MeshAxes] = DEFAULT_RULES) -> PartitionSpec:
    """PartitionSpec for an array with these logical axes; axes of size 1 in the mesh are left out."""
    used: set[str] = set()
    spec = []
    for i, name in enumerate(logical_axes):
        if name is not None and name not in rules:
            raise KeyError(f"no sharding rule for logical axis {name!r} (rules: {sorted(rules)})")
        mesh_axes = rules.get(name) if name is not None else None
        if mesh_axes is None:
            spec.append(None)
            continue
        mesh_axes = (mesh_axes,) if isinstance(mesh_axes, str) else tuple(mesh_axes)
        kept = []
        for axis in mesh_axes:
            size = mesh.shape[axis]
            product = size
            for k in kept:
                product *= mesh.shape[k]
            if size == 1 or axis in used or (shape is not None and shape[i] % product):
                continue
            kept.append(axis)
        used.update(kept)
        spec.append(None if not kept else kept[0] if len(kept) == 1 else tuple(kept))
    return PartitionSpec(*spec)
