"""The model on real 8-device CPU meshes: values equal the unsharded model, shards follow the rules."""

import jax
import numpy as np
import pytest
from flax import nnx
from jax.sharding import PartitionSpec as P

from azr_jax.model import get_model_config, masks
from azr_jax.model.functional import apply, create_model
from azr_jax.parallel import MeshConfig, make_mesh

MESHES = [(8, 1, 1), (1, 8, 1), (1, 4, 2), (2, 2, 2)]

# tiny-qwen2 widened so every sharded dimension divides 8 ways: D=64, F=128, V=512, N=4, K=2.
CONFIG = get_model_config("tiny-qwen2")


def expected_spec(name: str, mesh_shape) -> P:
    """What DEFAULT_RULES should give each parameter, written out by hand for the tiny config."""
    data, fsdp, tensor = mesh_shape
    f = "fsdp" if fsdp > 1 else None
    t = "tensor" if tensor > 1 else None
    return {
        "embedding": P(t, f),  # vocab -> tensor, embed -> fsdp
        "final_norm": P(None),
        "attn_norm": P(None, None), "mlp_norm": P(None, None),
        "q_kernel": P(None, f, t, None), "k_kernel": P(None, f, t, None), "v_kernel": P(None, f, t, None),
        "q_bias": P(None, t, None), "k_bias": P(None, t, None), "v_bias": P(None, t, None),
        "o_kernel": P(None, t, None, f),
        "gate_kernel": P(None, f, t), "up_kernel": P(None, f, t), "down_kernel": P(None, t, f),
    }[name]


@pytest.fixture(scope="module")
def reference():
    graphdef, state = create_model(CONFIG, seed=3)
    rng = np.random.RandomState(0)
    ids = rng.randint(0, CONFIG.vocab_size, (8, 12)).astype(np.int32)
    mask = np.ones((8, 12), bool)
    mask[1, :5] = mask[6, :9] = False
    logits = jax.jit(apply, static_argnums=0)(graphdef, state, ids, masks.positions_from_mask(mask),
                                               masks.causal_padding_mask(mask))[0]
    return ids, mask, np.asarray(logits)


@pytest.mark.parametrize("mesh_shape", MESHES)
def test_sharded_forward_matches_unsharded(mesh_shape, reference):
    ids, mask, ref_logits = reference
    mesh = make_mesh(MeshConfig(*mesh_shape))
    graphdef, state = create_model(CONFIG, seed=3, mesh=mesh)

    pure = nnx.to_pure_dict(state)
    for name, value in [("embedding", pure["embedding"]), ("final_norm", pure["final_norm"]),
                        *pure["layers"].items()]:
        assert value.sharding.spec == expected_spec(name, mesh_shape), name
        # The shard really is a slice: its shape is the global shape divided along the sharded axes.
        spec = expected_spec(name, mesh_shape)
        want = tuple(dim // (mesh.shape[axis] if axis else 1) for dim, axis in
                     zip(value.shape, tuple(spec) + (None,) * (value.ndim - len(spec))))
        assert value.addressable_shards[0].data.shape == want, name

    batch_sharding = jax.sharding.NamedSharding(mesh, P(("data", "fsdp")))
    ids_sharded = jax.device_put(ids, batch_sharding)
    mask_sharded = jax.device_put(mask, batch_sharding)
    fwd = jax.jit(lambda s, i, m: apply(graphdef, s, i, masks.positions_from_mask(m),
                                        masks.causal_padding_mask(m), mesh=mesh)[0])
    logits = fwd(state, ids_sharded, mask_sharded)
    np.testing.assert_allclose(np.asarray(logits)[mask], ref_logits[mask], atol=2e-5, rtol=1e-5)


def test_uneven_dimension_stays_replicated():
    """2 kv heads cannot split 4 ways: the rule drops the tensor axis for that dimension only."""
    mesh = make_mesh(MeshConfig(1, 2, 4))
    _, state = create_model(CONFIG, seed=0, mesh=mesh)
    layers = nnx.to_pure_dict(state)["layers"]
    assert layers["k_kernel"].sharding.spec == P(None, "fsdp", None, None)
    assert layers["q_kernel"].sharding.spec == P(None, "fsdp", "tensor", None)


def test_mesh_config_fills_and_validates():
    assert MeshConfig(2, -1, 2).resolve(8) == (2, 2, 2)
    with pytest.raises(ValueError, match="at most one axis"):
        MeshConfig(-1, -1, 1)
    with pytest.raises(ValueError, match="needs 12 devices"):
        MeshConfig(3, 2, 2).resolve(8)
    with pytest.raises(ValueError, match="not divisible"):
        MeshConfig(3, -1, 1).resolve(8)
