"""max_rows_per_call: prompts split over several device calls, rows and streaming as if it were one call."""

import threading

import pytest

from azr_jax.sampling import Sampler, SamplingParams
from azr_jax.sampling.batching import prompts_per_call
from sampling_helpers import random_prompts, shard_params

GREEDY = SamplingParams(temperature=0.0, max_new_tokens=12, n=2, eos_ids=(1,))


def rows_by_key(out):
    return {(r.prompt_index, r.sample_index): (r.tokens, r.finish_reason) for r in out.rows}


def test_prompts_per_call_is_the_largest_bucket_within_the_cap():
    assert prompts_per_call((1, 2, 4, 8), n=2, max_rows_per_call=4) == 2
    assert prompts_per_call((1, 2, 4, 8), n=2, max_rows_per_call=7) == 2  # a bucket of 4 would be 8 rows
    assert prompts_per_call((4, 8, 16), n=1, max_rows_per_call=100) == 16
    with pytest.raises(ValueError, match=r"max_rows_per_call 3 is too small: the smallest batch bucket 4 x n=1"):
        prompts_per_call((4, 8), n=1, max_rows_per_call=3)


def test_split_calls_give_the_rows_of_one_call(qwen2):
    """Greedy rows do not depend on which call a prompt lands in; indices count in the whole list."""
    _, (config, graphdef, state) = qwen2
    sampler = Sampler(config, graphdef, prompt_buckets=(16,))
    prompts = random_prompts([5, 9, 2, 14, 7, 11], config.vocab_size, seed=3)
    whole = sampler.generate(state, prompts, GREEDY)
    received, lock = [], threading.Lock()

    def on_finished(row):
        with lock:
            received.append(row)

    split = sampler.generate(state, prompts, GREEDY, max_rows_per_call=5, on_finished=on_finished)
    assert whole.stats.calls == 1 and whole.stats.rows == 16  # 6 prompts padded to the bucket of 8, x 2
    assert split.stats.calls == 3 and split.stats.rows == 12  # 2 prompts (4 rows) per call
    assert [(r.prompt_index, r.sample_index) for r in split.rows] == [(p, s) for p in range(6) for s in range(2)]
    assert rows_by_key(split) == rows_by_key(whole)
    assert sorted((r.prompt_index, r.sample_index) for r in received) == sorted(rows_by_key(split))
    assert {(r.prompt_index, r.sample_index): (r.tokens, r.finish_reason) for r in received} == rows_by_key(split)


def test_split_calls_on_a_mesh(qwen2, mesh):
    _, (config, graphdef, state) = qwen2
    sampler = Sampler(config, graphdef, mesh=mesh, prompt_buckets=(16,))  # batch buckets 4, 8, ...
    params = shard_params(state, mesh)
    prompts = random_prompts([5, 9, 2, 14, 7], config.vocab_size, seed=4)
    whole = sampler.generate(params, prompts, GREEDY)
    split = sampler.generate(params, prompts, GREEDY, max_rows_per_call=8)  # 4 prompts x 2 per call
    assert split.stats.calls == 2
    assert rows_by_key(split) == rows_by_key(whole)


def test_sampled_calls_draw_different_keys(qwen2):
    """Two calls of the same prompts must not repeat each other's random draws."""
    _, (config, graphdef, state) = qwen2
    sampler = Sampler(config, graphdef, prompt_buckets=(16,))
    prompt = random_prompts([6], config.vocab_size, seed=5)[0]
    sampling = SamplingParams(temperature=1.0, max_new_tokens=16, n=1, eos_ids=(1,))
    out = sampler.generate(state, [prompt, prompt], sampling, seed=7, max_rows_per_call=1)
    assert out.stats.calls == 2
    assert out.rows[0].tokens != out.rows[1].tokens


def test_bad_max_rows_per_call(qwen2):
    _, (config, graphdef, state) = qwen2
    sampler = Sampler(config, graphdef, prompt_buckets=(16,))
    prompts = random_prompts([5], config.vocab_size)
    with pytest.raises(ValueError, match="max_rows_per_call must be >= 0"):
        sampler.generate(state, prompts, GREEDY, max_rows_per_call=-1)
    with pytest.raises(ValueError, match="max_rows_per_call 1 is too small"):
        sampler.generate(state, prompts, GREEDY, max_rows_per_call=1)  # n=2 needs at least 2 rows
