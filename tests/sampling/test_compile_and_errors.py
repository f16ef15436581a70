"""Bucketing avoids recompiles; bad input fails with clear errors."""

import pytest
from jax._src import dispatch, monitoring

from azr_jax.sampling import Sampler, SamplingParams
from sampling_helpers import random_prompts


class CompileCounter:
    """Counts XLA backend compilations (every new jit signature compiles exactly once)."""

    def __init__(self):
        self.count = 0
        monitoring.register_event_duration_secs_listener(self._on_event)

    def _on_event(self, event, seconds, **kwargs):
        if event == dispatch.BACKEND_COMPILE_EVENT:
            self.count += 1


def test_same_bucket_does_not_recompile(qwen2):
    _, (config, graphdef, state) = qwen2
    counter = CompileCounter()
    sampler = Sampler(config, graphdef, prompt_buckets=(16, 32))
    params = SamplingParams(temperature=0.9, top_p=0.95, max_new_tokens=8, n=2, eos_ids=(1,))
    sampler.generate(state, random_prompts([3, 10, 16], config.vocab_size), params, seed=0)
    assert counter.count >= 2  # the counter sees compilations: prefill and decode

    # Other prompt lengths in bucket 16, another number of prompts in batch bucket 4, other traced values.
    before = counter.count
    out = sampler.generate(state, random_prompts([9, 1, 12, 15], config.vocab_size, seed=1),
                           SamplingParams(temperature=1.3, top_p=0.5, max_new_tokens=8, n=2, eos_ids=(2, 3),
                                          stop_sequences=((5, 6), (7,))), seed=1)
    assert len(out.rows) == 8
    assert counter.count == before, f"{counter.count - before} compilations for a batch in the same buckets"


@pytest.fixture(scope="module")
def sampler(qwen2):
    _, (config, graphdef, _) = qwen2
    return Sampler(config, graphdef, prompt_buckets=(16, 32))


def test_empty_prompt(sampler, qwen2):
    with pytest.raises(ValueError, match="prompt 1 is empty"):
        sampler.generate(qwen2[1][2], [[5, 6], []], SamplingParams())


def test_no_prompts(sampler, qwen2):
    with pytest.raises(ValueError, match="no prompts"):
        sampler.generate(qwen2[1][2], [], SamplingParams())


def test_prompt_longer_than_cache(sampler, qwen2):
    with pytest.raises(ValueError, match=r"prompt 1 has 33 tokens, longer than the cache's prompt part .*32"):
        sampler.generate(qwen2[1][2], [[5], [5] * 33], SamplingParams())


def test_token_outside_vocabulary(sampler, qwen2):
    with pytest.raises(ValueError, match=r"prompt 0 holds token ids outside \[0, 384\)"):
        sampler.generate(qwen2[1][2], [[5, 384]], SamplingParams())


@pytest.mark.parametrize("kwargs,message", [
    (dict(n=0), r"n \(samples per prompt\) must be >= 1, got 0"),
    (dict(temperature=-0.5), r"temperature must be >= 0 \(0 = greedy\), got -0.5"),
    (dict(temperature=float("nan")), "temperature must be >= 0"),
    (dict(top_p=0.0), r"top_p must be in \(0, 1\], got 0.0"),
    (dict(top_p=1.5), r"top_p must be in \(0, 1\]"),
    (dict(top_k=-1), "top_k must be >= 0"),
    (dict(max_new_tokens=0), "max_new_tokens must be >= 1"),
    (dict(stop_sequences=((),)), "stop sequence must not be empty"),
    (dict(stop_sequences=((3, -1),)), "negative token id"),
])
def test_bad_sampling_params(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SamplingParams(**kwargs)


def test_bad_buckets(qwen2, mesh):
    _, (config, graphdef, _) = qwen2
    with pytest.raises(ValueError, match="prompt_buckets must be positive"):
        Sampler(config, graphdef, prompt_buckets=())
    with pytest.raises(ValueError, match=r"batch_buckets \[6\] are not multiples of the mesh's batch parallelism 4"):
        Sampler(config, graphdef, mesh=mesh, batch_buckets=(4, 6, 8))
