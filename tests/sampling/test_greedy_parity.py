"""Greedy generation equals transformers' greedy `generate` on the same random weights, log-probs included."""

import numpy as np
import pytest

from azr_jax.sampling import Sampler, SamplingParams
from sampling_helpers import hf_greedy, random_prompts, shard_params

LENGTHS = [5, 17, 1, 30, 9]


@pytest.mark.parametrize("family", ["qwen2", "llama"])
def test_greedy_matches_transformers(family, request):
    hf, (config, graphdef, state) = request.getfixturevalue(family)
    prompts = random_prompts(LENGTHS, config.vocab_size, seed=3)
    free = hf_greedy(hf, prompts, 16, eos_id=config.vocab_size + 5)  # an EOS that never comes
    # Make EOS a token that row 0 produces mid-way, so some rows end early and others do not.
    eos = free[0][6]
    expected, expected_logprobs = hf_greedy(hf, prompts, 16, eos_id=eos, with_logprobs=True)
    assert any(len(r) < 16 for r in expected) and any(len(r) == 16 for r in expected)

    sampler = request.getfixturevalue("qwen2_sampler") if family == "qwen2" else \
        Sampler(config, graphdef, prompt_buckets=(16, 32))
    out = sampler.generate(state, prompts, SamplingParams(temperature=0.0, max_new_tokens=16, eos_ids=(eos,)))

    assert [r.prompt_index for r in out.rows] == list(range(len(prompts)))
    assert [r.tokens for r in out.rows] == expected
    for row, ref, ref_logprobs in zip(out.rows, expected, expected_logprobs):
        assert row.finish_reason == ("eos" if ref[-1] == eos else "length")
        # Greedy rows carry the model's own (temperature 1) log-probs: transformers' raw logits.
        np.testing.assert_allclose(row.logprobs, ref_logprobs, atol=1e-4, rtol=0)


def test_greedy_on_mesh_matches_transformers(qwen2, mesh):
    hf, (config, graphdef, state) = qwen2
    prompts = random_prompts(LENGTHS, config.vocab_size, seed=4)
    expected = hf_greedy(hf, prompts, 12, eos_id=config.vocab_size + 5)
    sampler = Sampler(config, graphdef, mesh=mesh, prompt_buckets=(32,))
    out = sampler.generate(shard_params(state, mesh), prompts,
                           SamplingParams(temperature=0.0, max_new_tokens=12, n=2, eos_ids=()))
    assert [(r.prompt_index, r.sample_index) for r in out.rows] == [(p, s) for p in range(5) for s in range(2)]
    assert [r.tokens for r in out.rows] == [ref for ref in expected for _ in range(2)]
