"""Returned log-probs equal log_softmax(logits / temperature) of a full forward pass over the finished sequence:
the distribution each token was drawn from, before top-k / top-p."""

import jax
import numpy as np

from azr_jax.model import masks
from azr_jax.model.functional import apply
from azr_jax.sampling import Sampler, SamplingParams
from sampling_helpers import random_prompts, shard_params


def full_forward_logprobs(graphdef, state, sequences, prompt_lengths, temperature=1.0):
    """log p_T(seq[i] | seq[:i]) = log_softmax(logits / T) for the generated part of each sequence, from one
    cache-free forward pass over the right-padded batch."""
    width = max(len(s) for s in sequences)
    ids = np.zeros((len(sequences), width), np.int32)
    mask = np.zeros((len(sequences), width), bool)
    for i, seq in enumerate(sequences):
        ids[i, :len(seq)], mask[i, :len(seq)] = seq, True

    @jax.jit
    def logprobs_btv(ids, mask):
        logits, _ = apply(graphdef, state, ids, masks.positions_from_mask(mask), masks.causal_padding_mask(mask))
        return jax.nn.log_softmax(logits / temperature, axis=-1)

    all_logprobs = np.asarray(logprobs_btv(ids, mask))
    return [all_logprobs[i, np.arange(p - 1, len(seq) - 1), seq[p:]]
            for i, (seq, p) in enumerate(zip(sequences, prompt_lengths))]


def check_logprobs(out, prompts, graphdef, state, temperature=1.0):
    sequences = [prompts[row.prompt_index] + row.tokens for row in out.rows]
    expected = full_forward_logprobs(graphdef, state, sequences, [len(prompts[r.prompt_index]) for r in out.rows],
                                     temperature)
    for row, ref in zip(out.rows, expected):
        np.testing.assert_allclose(row.logprobs, ref, atol=1e-4, rtol=0)
    return sum(len(row.tokens) for row in out.rows)


def test_logprobs_match_full_forward(llama):
    """Sampled at temperature 0.7 with top-k and top-p: the log-probs are those of the tempered distribution
    (what the trainer recomputes at logprob_temperature), unfiltered, and not the temperature-1 model's."""
    params = SamplingParams(temperature=0.7, top_k=20, top_p=0.9, max_new_tokens=20, n=3, eos_ids=())
    _, (config, graphdef, state) = llama
    prompts = random_prompts([4, 11, 7], config.vocab_size, seed=5)
    out = Sampler(config, graphdef, prompt_buckets=(16,)).generate(state, prompts, params, seed=11)
    assert len(out.rows) == 3 * params.n
    assert check_logprobs(out, prompts, graphdef, state, temperature=0.7) == 3 * params.n * 20
    # Different samples of one prompt really differ (the n rows do not share randomness).
    assert out.rows[0].tokens != out.rows[1].tokens


def test_logprobs_on_mesh(qwen2, mesh):
    _, (config, graphdef, state) = qwen2
    prompts = random_prompts([6, 13, 2], config.vocab_size, seed=6)
    sampler = Sampler(config, graphdef, mesh=mesh, prompt_buckets=(16,))
    out = sampler.generate(shard_params(state, mesh), prompts,
                           SamplingParams(temperature=1.0, max_new_tokens=16, n=4, eos_ids=()), seed=2)
    assert check_logprobs(out, prompts, graphdef, state) == 3 * 4 * 16
