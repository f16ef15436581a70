"""Sampler and trainer agree on the behaviour policy: rollouts of the real sampler at temperature 0.7, the
update the trainer builds for that run config, and a first-update PPO ratio of 1."""

import jax.numpy as jnp
import numpy as np
import pytest

from azr_jax.rl import TrainBatch, compute_advantages, init_opt_state, jit_token_logprobs, make_optimizer
from azr_jax.run_config import load_run_config
from azr_jax.sampling import Sampler, SamplingParams
from azr_jax.trainer import make_update_step

from rl_testing import fresh

PROMPT_SLOTS, NEW_TOKENS = 16, 12
# The sampler-vs-trainer tolerance of the trainer tests (tests/trainer: pg/logprob_max_abs_diff < 1e-3).
LOGPROB_TOLERANCE = 1e-3


def rollout_batch(model, temperature: float) -> TrainBatch:
    """Rows of the real sampler in the trainer's layout (left-padded prompt, right-padded response), the
    sampler's log-probs as the old ones, TRR++ advantages of made-up rewards."""
    config, graphdef, params = model
    rng = np.random.default_rng(0)
    prompts = [rng.integers(2, config.vocab_size, size=n).tolist() for n in (3, 9, 16, 6)]
    sampling = SamplingParams(temperature=temperature, max_new_tokens=NEW_TOKENS, n=2, eos_ids=(1,))
    out = Sampler(config, graphdef, prompt_buckets=(PROMPT_SLOTS,)).generate(params, prompts, sampling, seed=3)
    rows, width = len(out.rows), PROMPT_SLOTS + NEW_TOKENS
    tokens, mask = np.zeros((rows, width), np.int32), np.zeros((rows, width), bool)
    response, old_logprobs = np.zeros((rows, width), bool), np.zeros((rows, width), np.float32)
    for b, row in enumerate(out.rows):
        prompt, n = prompts[row.prompt_index], len(row.tokens)
        tokens[b, PROMPT_SLOTS - len(prompt):PROMPT_SLOTS + n] = prompt + row.tokens
        mask[b, PROMPT_SLOTS - len(prompt):PROMPT_SLOTS + n] = True
        response[b, PROMPT_SLOTS:PROMPT_SLOTS + n] = True
        old_logprobs[b, PROMPT_SLOTS:PROMPT_SLOTS + n] = row.logprobs
    rewards = rng.choice([-1.0, 0.0, 1.0], size=rows).astype(np.float32)
    advantages = compute_advantages("trr++", rewards, (np.arange(rows) % 3).astype(np.int32), response)
    return TrainBatch(tokens_bt=jnp.asarray(tokens), mask_bt=jnp.asarray(mask), response_mask_bt=jnp.asarray(response),
                      old_logprobs_bt=jnp.asarray(old_logprobs), advantages_bt=jnp.asarray(advantages, jnp.float32))


@pytest.mark.parametrize("temperature", [0.7, 0.0])
def test_first_update_ratio_is_one_at_the_sampling_temperature(tiny_model, temperature):
    _, graphdef, params = tiny_model
    run_config = load_run_config("tiny", {"generation.temperature": str(temperature)})
    batch = rollout_batch(tiny_model, run_config.generation.temperature)
    batch.check()
    optimizer = make_optimizer(run_config.rl)
    update = make_update_step(run_config, graphdef, optimizer, params, None)  # as the Trainer builds it
    _, _, metrics = update(fresh(params), init_opt_state(optimizer, params), batch)

    assert bool(metrics["update_applied"])
    assert float(metrics["logprob_max_abs_diff"]) < LOGPROB_TOLERANCE
    assert float(metrics["ratio"].mean()) == pytest.approx(1.0, abs=LOGPROB_TOLERANCE)
    assert float(metrics["approx_kl"].mean()) < LOGPROB_TOLERANCE ** 2
    # The old log-probs are those of the distribution the tokens were drawn from: at 0.7 they differ from
    # the temperature-1 model's by far more than the tolerance (greedy rows carry the temperature-1 ones).
    at_one = jit_token_logprobs(graphdef, run_config.rl, params, temperature=1.0)(params, batch.tokens_bt,
                                                                                  batch.mask_bt)
    gap = np.abs(np.asarray(at_one) - np.asarray(batch.old_logprobs_bt))[np.asarray(batch.response_mask_bt)]
    if temperature:
        assert gap.max() > 0.1
    else:
        assert gap.max() < LOGPROB_TOLERANCE
