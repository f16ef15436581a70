"""Next-token choice from logits: temperature, top-k, top-p, and the behaviour policy's log-probabilities.

Shape letters: B rows, V vocabulary, K candidates kept after top-k (V when top-k is off).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def candidates(logits_bv: jnp.ndarray, temperature, top_k: int, top_p) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Tempered logits of the tokens that may be sampled, most likely first, and their token ids.

    Returns (logits_bk, ids_bk); removed tokens have logit -inf. top_k = 0 keeps all V tokens
    (sorted, which top-p needs). Top-p keeps token i (in descending order) when the probability of
    the tokens before it is < top_p, i.e. the smallest prefix whose mass reaches top_p; the first
    token is always kept. top_p = 1 keeps everything that top-k kept.
    """
    k = top_k if top_k else logits_bv.shape[-1]
    logits_bk, ids_bk = jax.lax.top_k(logits_bv / temperature, k)
    probs_bk = jax.nn.softmax(logits_bk, axis=-1)
    mass_before_bk = jnp.cumsum(probs_bk, axis=-1) - probs_bk
    keep_bk = (mass_before_bk < top_p) | (jnp.arange(k) == 0)
    return jnp.where(keep_bk, logits_bk, -jnp.inf), ids_bk


def choose_tokens(logits_bv: jnp.ndarray, key: jax.Array, temperature, top_p, *, greedy: bool,
                  top_k: int, use_top_p: bool) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(token_b, logprob_b): the chosen tokens and their log-probability under the behaviour policy.

    The log-probability is log_softmax(logits / temperature) at the chosen token: the distribution the
    token was drawn from, before top-k / top-p filtering (as verl and OpenRLHF define the behaviour
    policy). The trainer recomputes log-probs at the same temperature (`logprob_temperature`), so the
    PPO ratio is 1 on-policy. Filtering is not included: a filtered-out token has probability 0 under
    the truncated distribution but not under the tempered one, which is what the ratio compares.
    Greedy decoding (temperature 0) draws from no distribution; it returns the model's own log-probs
    (temperature 1) and ignores `temperature`.
    `greedy`, `top_k` and `use_top_p` are static (they change the program); temperature and top_p
    are traced, so other values do not recompile.
    """
    if greedy:
        tempered_bv = logits_bv
        token_b = jnp.argmax(logits_bv, axis=-1).astype(jnp.int32)
    else:
        tempered_bv = logits_bv / temperature
        if top_k or use_top_p:
            cand_logits_bk, cand_ids_bk = candidates(logits_bv, temperature, top_k, top_p if use_top_p else 1.0)
            choice_b = jax.random.categorical(key, cand_logits_bk, axis=-1)
            token_b = jnp.take_along_axis(cand_ids_bk, choice_b[:, None], axis=-1)[:, 0].astype(jnp.int32)
        else:
            token_b = jax.random.categorical(key, tempered_bv, axis=-1).astype(jnp.int32)
    logprobs_bv = jax.nn.log_softmax(tempered_bv, axis=-1)
    logprob_b = jnp.take_along_axis(logprobs_bv, token_b[:, None], axis=-1)[:, 0]
    return token_b, logprob_b
