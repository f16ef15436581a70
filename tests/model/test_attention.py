"""Blockwise (flash-style) attention against the dense path: values and gradients, alone, in the model,
and sharded on the 8-device CPU mesh (heads over 'tensor', batch over data x fsdp)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from azr_jax.model import get_model_config, masks
from azr_jax.model.attention import blockwise_attention, dense_attention
from azr_jax.model.functional import apply, create_model
from azr_jax.parallel import MeshConfig, make_mesh


def left_padded_mask(lengths, total):
    mask = np.zeros((len(lengths), total), bool)
    for row, n in enumerate(lengths):
        mask[row, total - n:] = True
    return mask


def random_qkv(seed, b, t, s, n, k, h, dtype=jnp.float32):
    rng = np.random.RandomState(seed)
    q, key, v, w = (jnp.asarray(rng.randn(b, length, heads, h), dtype)
                    for length, heads in ((t, n), (s, k), (s, k), (t, n)))
    return q, key, v, w


# (block size, scan over blocks): dividing the keys, a short last block, one block larger than S, unrolled.
BLOCKS = [(8, True), (5, True), (64, True), (5, False)]


@pytest.mark.parametrize("block, scan", BLOCKS)
def test_blockwise_equals_dense_values_and_gradients(block, scan):
    # GQA: 4 query heads over 2 kv heads; rows with left padding, including queries that see no key.
    q, k, v, w = random_qkv(0, 3, 24, 24, 4, 2, 16)
    mask_bts = masks.causal_padding_mask(jnp.asarray(left_padded_mask([24, 17, 6], 24)))

    def loss(fn):
        return lambda q, k, v: jnp.sum(fn(q, k, v, mask_bts) * w)

    blockwise = lambda q, k, v, m: blockwise_attention(q, k, v, m, block, scan)  # noqa: E731
    np.testing.assert_allclose(jax.jit(blockwise)(q, k, v, mask_bts), dense_attention(q, k, v, mask_bts), atol=1e-6)
    want = jax.jit(jax.grad(loss(dense_attention), argnums=(0, 1, 2)))(q, k, v)
    got = jax.jit(jax.grad(loss(blockwise), argnums=(0, 1, 2)))(q, k, v)
    for name, a, b in zip("qkv", got, want):
        assert float(jnp.abs(b).max()) > 0.1, name  # the gradient is not trivially zero
        np.testing.assert_allclose(a, b, atol=2e-6, err_msg=f"d{name}")


def test_blockwise_prefill_shape_keys_beyond_queries():
    """Prefill attends T prompt queries to S > T cache slots, the slots after the prompt all masked."""
    q, k, v, _ = random_qkv(1, 2, 12, 20, 4, 2, 8)
    key_valid = np.zeros((2, 20), bool)
    key_valid[:, :12] = left_padded_mask([12, 7], 12)
    mask_bts = masks.cache_attention_mask(jnp.asarray(key_valid), 0, 12)
    blockwise = jax.jit(blockwise_attention, static_argnums=4)
    np.testing.assert_allclose(blockwise(q, k, v, mask_bts, 8), dense_attention(q, k, v, mask_bts), atol=1e-6)


def test_blockwise_in_bf16_stays_within_bf16_rounding_of_dense():
    q, k, v, _ = random_qkv(2, 2, 40, 40, 4, 2, 16, jnp.bfloat16)
    mask_bts = masks.causal_padding_mask(jnp.asarray(left_padded_mask([40, 25], 40)))
    dense = dense_attention(q, k, v, mask_bts).astype(jnp.float32)
    blockwise = jax.jit(blockwise_attention, static_argnums=4)(q, k, v, mask_bts, 16).astype(jnp.float32)
    assert blockwise.dtype == dense.dtype and float(jnp.abs(dense).max()) > 0.5
    # Probabilities are rounded to bf16 before (dense) or after (blockwise) normalising: 2^-8 relative.
    assert float(jnp.abs(blockwise - dense).max()) < 2e-2


CONFIG = get_model_config("tiny-qwen2")
BLOCKWISE = CONFIG.replace(attention_impl="blockwise", attention_block_size=5)


def model_loss(graphdef, state, ids, mask, mesh=None):
    """Mean log-likelihood-like scalar over real tokens; every parameter receives gradient."""
    logits, _ = apply(graphdef, state, ids, masks.positions_from_mask(mask), masks.causal_padding_mask(mask),
                      mesh=mesh)
    logp = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.take_along_axis(logp, ids[..., None], axis=-1)[..., 0]
    return jnp.sum(jnp.where(mask, picked, 0.0)) / jnp.sum(mask)


@pytest.fixture(scope="module")
def dense_reference():
    graphdef, state = create_model(CONFIG.replace(remat="full"), seed=3)
    rng = np.random.RandomState(0)
    ids = jnp.asarray(rng.randint(0, CONFIG.vocab_size, (8, 13)).astype(np.int32))
    mask = jnp.asarray(left_padded_mask([13, 8, 13, 2, 13, 13, 4, 11], 13))
    loss, grads = jax.jit(jax.value_and_grad(model_loss), static_argnums=0)(graphdef, state, ids, mask)
    return state, ids, mask, loss, grads


def assert_grads_close(got, want, atol):
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol, err_msg=jax.tree_util.keystr(path))


def test_model_with_blockwise_attention_matches_dense(dense_reference):
    state, ids, mask, want_loss, want_grads = dense_reference
    graphdef, _ = create_model(BLOCKWISE.replace(remat="full"), seed=3)
    loss, grads = jax.jit(jax.value_and_grad(model_loss), static_argnums=0)(graphdef, state, ids, mask)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6)
    assert_grads_close(grads, want_grads, atol=1e-6)


@pytest.mark.parametrize("mesh_shape", [(1, 4, 2), (2, 2, 2)])
def test_sharded_blockwise_matches_unsharded_dense(mesh_shape, dense_reference):
    _, ids, mask, want_loss, want_grads = dense_reference
    mesh = make_mesh(MeshConfig(*mesh_shape))
    graphdef, state = create_model(BLOCKWISE.replace(remat="full"), seed=3, mesh=mesh)
    rows = NamedSharding(mesh, P(("data", "fsdp")))
    step = jax.jit(jax.value_and_grad(lambda s, i, m: model_loss(graphdef, s, i, m, mesh=mesh)))
    loss, grads = step(state, jax.device_put(ids, rows), jax.device_put(mask, rows))
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5)
    assert_grads_close(grads, want_grads, atol=2e-5)
    # The heads really are split over 'tensor' (2 query heads of 4 on each shard).
    assert grads["layers"]["q_kernel"].sharding.spec[2] == "tensor"
