"""Helpers shared by the rl tests: a tiny batch in the sampler's layout, donation-safe copies, comparisons."""

import jax
import jax.numpy as jnp
import numpy as np

from azr_jax.rl import TrainBatch, compute_advantages, token_logprobs

# Ratios exp(offset): 1 (unclipped), e^0.5 (clipped when A > 0) and e^-0.5 (clipped when A < 0), all
# far from the clip boundaries so that a small finite-difference step crosses no kink.
OFFSETS = (0.0, 0.5, -0.5, 0.05)

# A large Adam epsilon makes the first step lr * g / (|g| + eps) ~ lr * g / eps: linear in the gradient,
# so comparing parameters after one step compares gradients (with eps = 1e-8 it would be lr * sign(g)).
GRADIENT_SENSITIVE = dict(learning_rate=1e-2, adam_eps=1.0)


_jitted_logprobs = jax.jit(token_logprobs, static_argnums=0)


def make_batch(graphdef, params, *, batch_size=8, length=16, prompt_length=6, seed=0,
               log_ratio_offsets=(0.0,)) -> TrainBatch:
    """A batch in the sampler's layout: left-padded prompts, right-padded responses of varied lengths.

    Old log-probs are the current ones minus an offset cycling through `log_ratio_offsets`, so the
    ratio exp(offset) can be put inside or outside the clip range on purpose.
    """
    rng = np.random.default_rng(seed)
    tokens = rng.integers(2, 512, size=(batch_size, length)).astype(np.int32)
    mask = np.zeros((batch_size, length), bool)
    response = np.zeros((batch_size, length), bool)
    for b in range(batch_size):
        prompt_len = 2 + b % (prompt_length - 1)  # real prompt tokens, left-padded to prompt_length
        response_len = 1 + (3 * b) % (length - prompt_length)  # varied so micro-batches differ in tokens
        mask[b, prompt_length - prompt_len: prompt_length + response_len] = True
        response[b, prompt_length: prompt_length + response_len] = True
    tokens = np.where(mask, tokens, 0)
    logp = np.asarray(_jitted_logprobs(graphdef, params, jnp.asarray(tokens), jnp.asarray(mask)))
    offsets = np.resize(np.asarray(log_ratio_offsets, np.float32), batch_size * length).reshape(batch_size, length)
    old_logp = np.where(response, logp - offsets, 0.0).astype(np.float32)
    rewards = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=batch_size).astype(np.float32)
    group_ids = (np.arange(batch_size) % 3).astype(np.int32)
    advantages = compute_advantages("trr++", rewards, group_ids, response)
    return TrainBatch(tokens_bt=jnp.asarray(tokens), mask_bt=jnp.asarray(mask), response_mask_bt=jnp.asarray(response),
                      old_logprobs_bt=jnp.asarray(old_logp), advantages_bt=jnp.asarray(advantages, jnp.float32))


def fresh(tree):
    """A copy whose buffers a donating jit may consume without invalidating `tree`."""
    return jax.tree.map(jnp.copy, tree)



def assert_same_step(params, got, want):
    """Parameter updates and optimizer states agree up to float32 summation-order rounding.

    Updates are compared as differences from the old parameters with atol = one float32 ulp of a
    parameter of size ~0.1 (the resolution of such a difference); optimizer moments relative to the
    largest entry of each tensor.
    """
    (p_got, o_got), (p_want, o_want) = got, want
    for old, a, b in zip(jax.tree.leaves(params), jax.tree.leaves(p_got), jax.tree.leaves(p_want)):
        np.testing.assert_allclose(np.asarray(a) - np.asarray(old), np.asarray(b) - np.asarray(old),
                                   rtol=1e-4, atol=2e-8)
    for a, b in zip(jax.tree.leaves(o_got), jax.tree.leaves(o_want)):
        b = np.asarray(b)
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-4, atol=1e-4 * float(np.max(np.abs(b), initial=0.0)))
