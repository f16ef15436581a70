"""TrainBatch checks and the strided micro-batch split."""

import jax.numpy as jnp
import numpy as np
import pytest

from azr_jax.rl import TrainBatch, split_micro_batches


def batch_of(b=6, t=4, response=None):
    mask = np.ones((b, t), bool)
    response = np.zeros((b, t), bool) if response is None else response
    rows = np.arange(b, dtype=np.int32)[:, None] * np.ones((1, t), np.int32)
    return TrainBatch(tokens_bt=jnp.asarray(rows), mask_bt=jnp.asarray(mask), response_mask_bt=jnp.asarray(response),
                      old_logprobs_bt=jnp.zeros((b, t)), advantages_bt=jnp.zeros((b, t)))


def test_micro_batches_take_strided_rows():
    micro = split_micro_batches(batch_of(b=6), 2)
    assert micro.tokens_bt.shape == (3, 2, 4)
    # Micro-batch k holds rows k and k + 3: with rows sharded in contiguous halves over 2 devices,
    # each micro-batch takes one row from each device.
    np.testing.assert_array_equal(np.asarray(micro.tokens_bt)[:, :, 0], [[0, 3], [1, 4], [2, 5]])
    with pytest.raises(ValueError, match="not divisible by RLConfig.micro_batch_size=4"):
        split_micro_batches(batch_of(b=6), 4)


def test_check_rejects_inconsistent_batches():
    batch_of().check()
    with pytest.raises(ValueError, match="TrainBatch.advantages_bt has shape"):
        batch_of().replace(advantages_bt=jnp.zeros((6, 5))).check()
    response = np.zeros((6, 4), bool)
    response[1, 0] = True
    with pytest.raises(ValueError, match="marks column 0"):
        batch_of(response=response).check()
    padded = batch_of(response=np.ones((6, 4), bool) & (np.arange(4) > 0))
    padded = padded.replace(mask_bt=padded.mask_bt.at[2, 3].set(False))
    with pytest.raises(ValueError, match="marks padding positions"):
        padded.check()
