"""The PPO clipped policy-gradient loss of Absolute Zero: token-level, no KL, no reference model.

Per response token, with advantage A, ratio r = exp(logp - logp_old) and entropy H of the policy:

    L_pg   = max(-A r, -A clip(r, 1 - eps_low, 1 + eps_high))       (= -min(r A, clip(r) A))
    dual clip (c > 1, only where A < 0):  L_pg = min(L_pg, -c A)    (surrogate bounded below by c A)
    L      = L_pg - entropy_coef H

aggregated as a token mean over one optimizer step's (mini-)batch: sum_tokens L / its response tokens. The
loss and every metric are returned as SumCount, so micro-batches and hosts combine exactly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from azr_jax.rl.config import RLConfig
from azr_jax.rl.metrics import SumCount


def ppo_clip_loss(logp_bt: jax.Array, old_logp_bt: jax.Array, advantages_bt: jax.Array, response_mask_bt: jax.Array,
                  entropy_bt: jax.Array | None, config: RLConfig) -> tuple[SumCount, dict[str, SumCount]]:
    """(loss, metrics) over the response tokens; see the module docstring for the math.

    Metrics (all SumCount over response tokens):
      pg_loss        L_pg
      entropy        H (0 when entropy_bt is None)
      clip_fraction  tokens whose clipped term is the active one (-A clip(r) > -A r: zero gradient)
      dual_clip_fraction  tokens where the dual-clip bound -c A is active
      approx_kl      (r - 1) - log r, Schulman's k3 estimate of KL(old || new), >= 0
      ratio          r
    """
    valid_bt = response_mask_bt.astype(jnp.bool_)
    advantages_bt = advantages_bt.astype(jnp.float32)
    # Zero the log-ratio off the response before exp: padding log-probs are arbitrary and an inf there
    # would turn into a NaN gradient through the mask.
    log_ratio_bt = jnp.where(valid_bt, logp_bt.astype(jnp.float32) - old_logp_bt.astype(jnp.float32), 0.0)
    ratio_bt = jnp.exp(log_ratio_bt)
    unclipped_bt = -advantages_bt * ratio_bt
    clipped_bt = -advantages_bt * jnp.clip(ratio_bt, 1.0 - config.clip_eps_low, 1.0 + config.clip_eps_high)
    pg_loss_bt = jnp.maximum(unclipped_bt, clipped_bt)
    if config.dual_clip is not None:
        bound_bt = -config.dual_clip * advantages_bt
        dual_active_bt = (advantages_bt < 0) & (bound_bt < pg_loss_bt)
        pg_loss_bt = jnp.where(dual_active_bt, bound_bt, pg_loss_bt)
    else:
        dual_active_bt = jnp.zeros_like(valid_bt)
    entropy_bt = jnp.zeros_like(pg_loss_bt) if entropy_bt is None else entropy_bt.astype(jnp.float32)
    loss_bt = pg_loss_bt - config.entropy_coef * entropy_bt if config.entropy_coef else pg_loss_bt
    metrics = {
        "pg_loss": SumCount.of(pg_loss_bt, valid_bt),
        "entropy": SumCount.of(entropy_bt, valid_bt),
        "clip_fraction": SumCount.of((clipped_bt > unclipped_bt).astype(jnp.float32), valid_bt),
        "dual_clip_fraction": SumCount.of(dual_active_bt.astype(jnp.float32), valid_bt),
        "approx_kl": SumCount.of(ratio_bt - 1.0 - log_ratio_bt, valid_bt),
        "ratio": SumCount.of(ratio_bt, valid_bt),
    }
    return SumCount.of(loss_bt, valid_bt), jax.tree.map(jax.lax.stop_gradient, metrics)
