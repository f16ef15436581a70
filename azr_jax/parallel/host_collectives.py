"""Small host-side exchanges between the processes of a multi-host run.

Self-play keeps its host state (buffers, new tasks) identical on every process by having each process
work on its own share of the prompts and then exchanging the results as plain JSON. Everything here is
a collective: every process must make the same calls in the same order. On one process nothing is
sent and no device is touched.
"""

from __future__ import annotations

import json
from typing import Any, Sequence, TypeVar

import jax
import numpy as np
from jax.experimental import multihost_utils

T = TypeVar("T")


def my_share(items: Sequence[T]) -> list[T]:
    """This process's contiguous share of `items` (share sizes differ by at most one)."""
    count, me = jax.process_count(), jax.process_index()
    return list(items[me * len(items) // count:(me + 1) * len(items) // count])


def allgather_json(value: Any) -> list[Any]:
    """Every process's `value` (anything json can encode), in process order."""
    if jax.process_count() == 1:
        return [json.loads(json.dumps(value))]  # the same round trip as on many processes: no aliasing
    data = np.frombuffer(json.dumps(value, separators=(",", ":")).encode(), np.uint8)
    sizes = np.asarray(multihost_utils.process_allgather(np.array([data.size], np.int64))).reshape(-1)
    padded = np.zeros((int(sizes.max()),), np.uint8)
    padded[:data.size] = data
    gathered = np.asarray(multihost_utils.process_allgather(padded)).reshape(len(sizes), -1)
    return [json.loads(gathered[i, :sizes[i]].tobytes()) for i in range(len(sizes))]


def allgather_concat(values: Sequence[Any]) -> list[Any]:
    """The concatenation, in process order, of every process's list."""
    return [v for part in allgather_json(list(values)) for v in part]


def global_sum(values: Sequence[float]) -> list[float]:
    """Element-wise sums over processes of a fixed-length list of numbers."""
    return [float(sum(column)) for column in zip(*allgather_json([float(v) for v in values]))]


def global_max(value: int) -> int:
    return int(max(allgather_json(int(value))))
