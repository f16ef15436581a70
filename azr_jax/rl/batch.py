"""The training batch of one update step, its shardings, and its split into mini- and micro-batches.

Layout. Row b holds one prompt followed by its sampled response, T tokens in all; any padding layout
works (the sampler's is a left-padded prompt then a right-padded response) because positions count
real tokens only. Per-token arrays are aligned with `tokens`: the entry at column t is about token t
(its log-prob given tokens[:t], see azr_jax.rl.logprobs), so column 0 is never a trained token.
"""

from __future__ import annotations

from typing import Mapping

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding

from azr_jax.parallel.rules import DEFAULT_RULES, MeshAxes, logical_to_spec


@flax.struct.dataclass
class TrainBatch:
    tokens_bt: jax.Array  # int32 [B, T] prompt + response token ids
    mask_bt: jax.Array  # bool [B, T] real tokens (False: padding)
    response_mask_bt: jax.Array  # bool [B, T] response tokens whose log-prob is trained (subset of mask)
    old_logprobs_bt: jax.Array  # float32 [B, T] log-probs of the sampling policy, on the response tokens
    advantages_bt: jax.Array  # float32 [B, T] from azr_jax.rl.advantages

    @property
    def shape(self) -> tuple[int, int]:
        return self.tokens_bt.shape

    def check(self) -> None:
        """Raises ValueError on inconsistent shapes or masks (host-side; call before the jitted step)."""
        for name, value in vars(self).items():
            if value.shape != self.shape:
                raise ValueError(f"TrainBatch.{name} has shape {value.shape}, tokens_bt has {self.shape}")
        response, mask = np.asarray(self.response_mask_bt, bool), np.asarray(self.mask_bt, bool)
        if np.any(response & ~mask):
            raise ValueError("TrainBatch.response_mask_bt marks padding positions (must be a subset of mask_bt)")
        if np.any(response[:, 0]):
            raise ValueError("TrainBatch.response_mask_bt marks column 0, which has no prefix to predict it")


def batch_shardings(mesh: Mesh, rules: Mapping[str, MeshAxes] = DEFAULT_RULES) -> TrainBatch:
    """A TrainBatch of NamedShardings: rows over the `batch` rule's mesh axes, sequence unsharded.

    B must be divisible by the product of those mesh axes.
    """
    sharding = NamedSharding(mesh, logical_to_spec(("batch", "length"), None, mesh, rules))
    return TrainBatch(*(sharding,) * 5)


def split_micro_batches(batch: TrainBatch, micro_batch_size: int) -> TrainBatch:
    """[B, T] arrays -> [B / m, m, T] with micro-batch k holding rows k, k + M, k + 2M, ... (M = B / m).

    Strided rather than contiguous rows: with B sharded in contiguous blocks over the devices, every
    micro-batch then takes the same number of rows from each device and no data moves (when each
    device's B / devices rows divide by M).
    """
    return _split_strided(batch, micro_batch_size, "micro_batch_size")


def split_mini_batches(batch: TrainBatch, mini_batch_size: int) -> TrainBatch:
    """[B, T] arrays -> [B / m, m, T], mini-batch k holding rows k, k + M, ... as `split_micro_batches`.

    Mini-batch k is the k-th optimizer step's; its micro-batches are then split from its m rows the same
    way, so that on a sharded mesh neither split moves data.
    """
    return _split_strided(batch, mini_batch_size, "mini_batch_size")


def _split_strided(batch: TrainBatch, size: int, field: str) -> TrainBatch:
    b = batch.shape[0]
    if b % size:
        raise ValueError(f"batch size {b} is not divisible by RLConfig.{field}={size}")
    count = b // size
    return jax.tree.map(lambda x: jnp.swapaxes(x.reshape(size, count, *x.shape[1:]), 0, 1), batch)
