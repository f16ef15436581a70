"""Finished rows leave the decode loop through `io_callback`, one batch of rows per device shard.

Inside the loop, `report_finished` runs under `shard_map` over the batch axes: every device looks
only at its own rows and, when one of them finished this step, calls the host with its local slice.
A device's callback runs in the process that owns the device, so on several hosts each process
receives exactly the rows of its addressable shards and nothing is gathered across hosts. Devices
that hold replicas of the same rows (the tensor axis) stay silent except the first.

The device waits while the callback runs, so the host side only copies the rows into a queue; a
worker thread hands them to the user's `on_finished`, which may take its time.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback
from jax.sharding import Mesh, PartitionSpec

from azr_jax.sampling.params import FINISH_REASONS
from azr_jax.sampling.results import SampleRow

HostFn = Callable[..., None]


def report_finished(host_fn: HostFn, mesh: Mesh | None, batch_spec: PartitionSpec, newly_done_b, row_id_b,
                    tokens_bt, logprobs_bt, length_b, reason_b) -> None:
    """Calls host_fn(row_id_b, newly_done_b, tokens_bt, logprobs_bt, length_b, reason_b) with each
    device's local rows, only on steps where one of them finished."""
    operands = (row_id_b, newly_done_b, tokens_bt, logprobs_bt, length_b, reason_b)

    def call_if_any(first_replica, *local):
        def call():
            io_callback(host_fn, None, *local, ordered=False)

        jax.lax.cond(jnp.any(local[1]) & first_replica, call, lambda: None)

    if mesh is None:
        call_if_any(jnp.bool_(True), *operands)
        return
    batch_axes = batch_spec[0] if batch_spec else None
    batch_axes = () if batch_axes is None else (batch_axes,) if isinstance(batch_axes, str) else tuple(batch_axes)
    replica_axes = [a for a in mesh.axis_names if a not in batch_axes]

    def local_fn(*local):
        first_replica = jnp.bool_(True)
        for axis in replica_axes:
            first_replica &= jax.lax.axis_index(axis) == 0
        call_if_any(first_replica, *local)
        return ()

    in_specs = tuple(PartitionSpec(batch_spec[0], *([None] * (x.ndim - 1))) for x in operands)
    jax.shard_map(local_fn, mesh=mesh, in_specs=in_specs, out_specs=())(*operands)


def rows_from_arrays(n: int, prompt_of_row: Mapping[int, int] | None, row_id_b, tokens_bt, logprobs_bt, length_b,
                     reason_b, select_b=None) -> list[SampleRow]:
    """SampleRows of the real (row id >= 0) rows, optionally only where select_b is true.

    prompt_of_row maps a prompt's row in the batch to the caller's index of the prompt (None: the same).
    """
    rows = []
    for i in range(len(row_id_b)):
        row_id = int(row_id_b[i])
        if row_id < 0 or (select_b is not None and not select_b[i]):
            continue
        length = int(length_b[i])
        prompt_row = row_id // n
        rows.append(SampleRow(prompt_index=prompt_row if prompt_of_row is None else prompt_of_row[prompt_row],
                              sample_index=row_id % n,
                              tokens=[int(t) for t in tokens_bt[i, :length]],
                              logprobs=np.asarray(logprobs_bt[i, :length], np.float32),
                              finish_reason=FINISH_REASONS[int(reason_b[i])]))
    return rows


class RowStream:
    """Host end of the stream for one generate call: queue in, `on_finished(row)` on a worker thread.

    Errors raised by `on_finished` are kept and re-raised by `close`.
    """

    def __init__(self, n: int, prompt_of_row: Mapping[int, int] | None, on_finished: Callable[[SampleRow], None]):
        self._n = n
        self._prompt_of_row = prompt_of_row
        self._on_finished = on_finished
        self._queue: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="sampler-rows", daemon=True)
        self._thread.start()

    def push(self, row_id_b, newly_done_b, tokens_bt, logprobs_bt, length_b, reason_b) -> None:
        for row in rows_from_arrays(self._n, self._prompt_of_row, row_id_b, tokens_bt, logprobs_bt, length_b,
                                    reason_b, newly_done_b):
            self._queue.put(row)

    def _work(self):
        while (row := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._on_finished(row)
                except BaseException as error:  # re-raised in the caller's thread by close()
                    self._error = error

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise RuntimeError("on_finished raised while rows were streamed") from self._error
