"""(sum, count) pairs: token means that stay exact under micro-batching and multi-host reduction.

A mean of means is wrong when micro-batches hold different numbers of tokens; a sum of sums divided
once by a sum of counts is not. Losses and metrics of this package are `SumCount`s until the end.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class SumCount:
    """A weighted sum and its total weight (a token count for token means)."""

    sum: jax.Array  # f32 []
    count: jax.Array  # f32 []

    @classmethod
    def of(cls, values_bt: jax.Array, mask_bt: jax.Array) -> "SumCount":
        """Sum of `values` where `mask` holds, and the number of such positions."""
        mask = mask_bt.astype(jnp.float32)
        return cls(sum=jnp.sum(jnp.where(mask_bt, values_bt.astype(jnp.float32), 0.0)), count=jnp.sum(mask))

    @classmethod
    def zero(cls) -> "SumCount":
        return cls(sum=jnp.zeros((), jnp.float32), count=jnp.zeros((), jnp.float32))

    def __add__(self, other: "SumCount") -> "SumCount":
        return SumCount(sum=self.sum + other.sum, count=self.count + other.count)

    def mean(self) -> jax.Array:
        """sum / count, and 0 (not NaN) when nothing was counted."""
        counted = self.count > 0
        return jnp.where(counted, self.sum / jnp.where(counted, self.count, 1.0), 0.0)
