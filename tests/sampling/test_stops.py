"""EOS, stop sequences and max_new_tokens end rows on device, with the right lengths and reasons."""

import pytest

from azr_jax.sampling import SamplingParams
from sampling_helpers import random_prompts

NEW = 16


@pytest.fixture(scope="module")
def setup(qwen2, qwen2_sampler):
    _, (config, graphdef, state) = qwen2
    sampler = qwen2_sampler
    prompts = random_prompts([5, 17, 1, 30, 9], config.vocab_size, seed=3)
    free = sampler.generate(state, prompts, SamplingParams(temperature=0.0, max_new_tokens=NEW, eos_ids=()))
    return sampler, state, prompts, [r.tokens for r in free.rows]


def first_end(tokens, seq):
    """Length of `tokens` cut after the first occurrence of `seq`, or None."""
    for end in range(len(seq), len(tokens) + 1):
        if tuple(tokens[end - len(seq):end]) == tuple(seq):
            return end
    return None


def test_stop_sequences_cut_rows(setup):
    sampler, state, prompts, free = setup
    two = tuple(free[1][4:6])  # a two-token sequence row 1 produces at tokens 4..5
    three = tuple(free[3][9:12])
    stop_sequences = (two, three, (free[0][2],) * 5)  # the last one never occurs
    out = sampler.generate(state, prompts, SamplingParams(temperature=0.0, max_new_tokens=NEW, eos_ids=(),
                                                          stop_sequences=stop_sequences))
    for row, full in zip(out.rows, free):
        ends = [e for e in (first_end(full, s) for s in stop_sequences) if e is not None]
        if ends:
            assert row.finish_reason == "stop" and row.tokens == full[:min(ends)]
        else:
            assert row.finish_reason == "length" and row.tokens == full
        assert len(row.logprobs) == len(row.tokens)
    assert out.rows[1].tokens[-2:] == list(two) and len(out.rows[1].tokens) <= 6
    assert out.rows[3].finish_reason == "stop"


def test_stop_sequence_in_prompt_only_does_not_stop(setup):
    sampler, state, prompts, free = setup
    # The last two prompt tokens plus the first generated token span the boundary; the prompt tail alone
    # never counts.
    prompt_tail = tuple(prompts[3][-2:])
    assert first_end(free[3], prompt_tail) is None
    out = sampler.generate(state, prompts, SamplingParams(temperature=0.0, max_new_tokens=NEW, eos_ids=(),
                                                          stop_sequences=(prompt_tail,)))
    assert out.rows[3].tokens == free[3] and out.rows[3].finish_reason == "length"


def test_eos_beats_stop(setup):
    sampler, state, prompts, free = setup
    eos = free[2][3]
    out = sampler.generate(state, prompts, SamplingParams(temperature=0.0, max_new_tokens=NEW, eos_ids=(eos, 999),
                                                          stop_sequences=((eos,),)))
    row = out.rows[2]
    assert row.finish_reason == "eos" and row.tokens == free[2][:free[2].index(eos) + 1]
    for row, full in zip(out.rows, free):
        assert row.finish_reason == ("eos" if eos in full else "length")
