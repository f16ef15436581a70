"""Packing keeps documents apart; the pretraining loss and loop on a real tiny model."""

import numpy as np
import pytest

from azr_jax.data.packing import pack_documents
from azr_jax.model.config import get_model_config
from azr_jax.model.functional import create_model
from azr_jax.pretrain import PretrainConfig, loss_sum_and_count, pretrain

CONFIG = get_model_config("tiny-qwen2", vocab_size=64)


def test_rows_hold_whole_documents_with_restarting_positions():
    docs = [[1, 5, 6, 2], [1, 7, 2], [1, 8, 9, 10, 11, 2], [1] + [3] * 20 + [2]]
    packed = pack_documents(docs, row_length=8, pad_id=0)
    assert packed.dropped == 1  # the 22-token document does not fit a row of 8
    np.testing.assert_array_equal(packed.tokens_bt, [[1, 5, 6, 2, 1, 7, 2, 0], [1, 8, 9, 10, 11, 2, 0, 0]])
    np.testing.assert_array_equal(packed.segments_bt, [[1, 1, 1, 1, 2, 2, 2, 0], [1, 1, 1, 1, 1, 1, 0, 0]])
    np.testing.assert_array_equal(packed.positions_bt, [[0, 1, 2, 3, 0, 1, 2, 0], [0, 1, 2, 3, 4, 5, 0, 0]])


def test_nothing_fits_is_an_error():
    with pytest.raises(ValueError, match="no document fits"):
        pack_documents([[1] * 9], row_length=8, pad_id=0)


def test_packed_loss_is_the_sum_of_each_document_alone():
    graphdef, state = create_model(CONFIG, seed=0)
    rng = np.random.default_rng(0)
    docs = [list(rng.integers(3, 64, size=n)) for n in (5, 9, 4)]
    packed = pack_documents(docs, row_length=20, pad_id=0)
    assert packed.num_rows == 1
    total, count = loss_sum_and_count(graphdef, state, packed.tokens_bt, packed.segments_bt, packed.positions_bt)
    alone_total = alone_count = 0.0
    for doc in docs:
        one = pack_documents([doc], row_length=len(doc), pad_id=0)
        s, c = loss_sum_and_count(graphdef, state, one.tokens_bt, one.segments_bt, one.positions_bt)
        alone_total, alone_count = alone_total + float(s), alone_count + float(c)
    assert float(count) == alone_count == sum(len(d) - 1 for d in docs)
    np.testing.assert_allclose(float(total), alone_total, rtol=1e-5)


def test_pretraining_learns_a_repeated_pattern_and_keeps_its_best_state():
    graphdef, state = create_model(CONFIG, seed=0)
    docs = [[1] + [10 + (i + j) % 7 for j in range(12)] + [2] for i in range(64)]
    train = pack_documents(docs[:48], row_length=28, pad_id=0)
    val = pack_documents(docs[48:], row_length=28, pad_id=0)
    config = PretrainConfig(batch_tokens=4 * 28, learning_rate=3e-3, warmup_steps=5, max_steps=60, eval_every=10,
                            patience=3)
    best, curve = pretrain(graphdef, state, [train], [val], config, log=lambda m: None)
    assert curve.val_loss[-1] < curve.val_loss[0] - 1.0  # the pattern is learnable: loss falls by > 1 nat
    assert curve.best_step == curve.steps[int(np.argmin(curve.val_loss))]
    total, count = loss_sum_and_count(graphdef, best, val.tokens_bt, val.segments_bt, val.positions_bt)
    np.testing.assert_allclose(float(total) / float(count), min(curve.val_loss), rtol=1e-4)
