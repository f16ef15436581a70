"""Left/right padding into [B, T] int32 ids and bool masks, with T rounded to few values."""

import numpy as np
import pytest

from azr_jax.tokenizer import pad_batch, padded_length

ROWS = [[5, 6, 7], [8], [], [1, 2, 3, 4, 9]]


def test_left_padding_is_the_default_and_right_aligns_rows():
    ids, mask = pad_batch(ROWS, pad_id=0)
    assert ids.dtype == np.int32 and mask.dtype == np.bool_
    np.testing.assert_array_equal(ids, [[0, 0, 5, 6, 7], [0, 0, 0, 0, 8], [0, 0, 0, 0, 0], [1, 2, 3, 4, 9]])
    np.testing.assert_array_equal(mask.sum(1), [3, 1, 0, 5])
    # Every non-empty row's last real token is in the last column, where generation continues from.
    assert mask[[0, 1, 3], -1].all()
    for row, ids_t, mask_t in zip(ROWS, ids, mask):
        assert ids_t[mask_t].tolist() == row


def test_right_padding_left_aligns_rows():
    ids, mask = pad_batch(ROWS, pad_id=-7, side="right")
    np.testing.assert_array_equal(ids[0], [5, 6, 7, -7, -7])
    np.testing.assert_array_equal(mask[1], [True, False, False, False, False])
    for row, ids_t, mask_t in zip(ROWS, ids, mask):
        assert ids_t[mask_t].tolist() == row
        assert (ids_t[~mask_t] == -7).all()


@pytest.mark.parametrize("side", ["left", "right"])
def test_pad_to_multiple_rounds_the_length_up(side):
    ids, mask = pad_batch(ROWS, 0, side=side, pad_to_multiple=4)
    assert ids.shape == mask.shape == (4, 8)
    assert mask.sum() == sum(map(len, ROWS))
    assert pad_batch([[1] * 8], 0, pad_to_multiple=4)[0].shape == (1, 8)


def test_length_buckets_pick_the_smallest_that_fits():
    assert padded_length(5, length_buckets=[16, 4, 8]) == 8
    assert padded_length(8, length_buckets=[16, 4, 8]) == 8
    assert padded_length(9, length_buckets=[16, 4, 8]) == 16
    ids, mask = pad_batch(ROWS, 0, length_buckets=(8, 32))
    assert ids.shape == (4, 8)
    assert ids[3, 3:].tolist() == [1, 2, 3, 4, 9]


def test_bad_padding_requests_fail_with_messages():
    with pytest.raises(ValueError, match="largest length bucket 4"):
        pad_batch(ROWS, 0, length_buckets=[2, 4])
    with pytest.raises(ValueError, match="not both"):
        pad_batch(ROWS, 0, length_buckets=[8], pad_to_multiple=8)
    with pytest.raises(ValueError, match="side must be"):
        pad_batch(ROWS, 0, side="middle")
    with pytest.raises(ValueError, match="at least one sequence"):
        pad_batch([], 0)
    with pytest.raises(ValueError, match="pad_to_multiple must be positive"):
        pad_batch(ROWS, 0, pad_to_multiple=0)
    with pytest.raises(ValueError, match="length_buckets"):
        pad_batch(ROWS, 0, length_buckets=[])


def test_tokenizer_pad_batch_pads_with_its_pad_id(any_tok):
    rows = any_tok.batch_encode(["a", "a longer line of text"])
    ids, mask = any_tok.pad_batch(rows, pad_to_multiple=16)
    assert ids.shape[1] % 16 == 0
    assert (ids[~mask] == any_tok.pad_id).all()
    assert [any_tok.decode(r[m]) for r, m in zip(ids, mask)] == ["a", "a longer line of text"]
