"""Finished rows reach `on_finished` during the loop, once each, equal to the returned rows."""

import threading

import numpy as np
import pytest

from azr_jax.sampling import Sampler, SamplingParams
from sampling_helpers import random_prompts, shard_params


def collect(sampler, params, prompts, sampling):
    received, lock = [], threading.Lock()

    def on_finished(row):
        with lock:
            received.append(row)

    out = sampler.generate(params, prompts, sampling, on_finished=on_finished)
    return out, received


def key(row):
    return row.prompt_index, row.sample_index


def assert_same_rows(received, out):
    assert sorted(map(key, received)) == [key(r) for r in out.rows]  # each row exactly once
    by_key = {key(r): r for r in out.rows}
    for row in received:
        ref = by_key[key(row)]
        assert row.tokens == ref.tokens and row.finish_reason == ref.finish_reason
        np.testing.assert_array_equal(row.logprobs, ref.logprobs)


# EOS ids that random sampling meets at different times: a spread of row lengths.
SAMPLING = SamplingParams(temperature=1.0, max_new_tokens=40, n=3, eos_ids=tuple(range(3, 40)))


@pytest.fixture(scope="module")
def single_device(qwen2):
    _, (config, graphdef, state) = qwen2
    prompts = random_prompts([5, 9, 2, 14, 7, 11], config.vocab_size, seed=8)
    return Sampler(config, graphdef, prompt_buckets=(16,)), state, prompts


def test_rows_stream_in_finishing_order(single_device):
    sampler, state, prompts = single_device
    out, received = collect(sampler, state, prompts, SAMPLING)
    assert_same_rows(received, out)
    lengths = [len(r.tokens) for r in received]
    assert len(set(lengths)) > 3
    # One device: the host gets rows step by step, so in order of length.
    assert lengths == sorted(lengths)


def test_streaming_on_mesh_each_row_once(qwen2, mesh):
    _, (config, graphdef, state) = qwen2
    sampler = Sampler(config, graphdef, mesh=mesh, prompt_buckets=(16,))
    prompts = random_prompts([5, 9, 2, 14, 7], config.vocab_size, seed=9)  # 5 prompts: 3 padding rows in bucket 8
    sampling = SamplingParams(temperature=1.0, max_new_tokens=24, n=2, eos_ids=tuple(range(3, 30)))
    out, received = collect(sampler, shard_params(state, mesh), prompts, sampling)
    assert len(out.rows) == 10
    assert_same_rows(received, out)


def test_on_finished_errors_are_raised(single_device):
    sampler, state, prompts = single_device

    def on_finished(row):
        raise KeyError("executor is down")

    with pytest.raises(RuntimeError, match="on_finished raised") as info:
        sampler.generate(state, prompts, SAMPLING, on_finished=on_finished)
    assert isinstance(info.value.__cause__, KeyError)
