"""The Sampler: host API over the jitted prefill and decode loop."""

from __future__ import annotations

import functools
import math
import threading
import time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from azr_jax.model.config import ModelConfig
from azr_jax.parallel.rules import logical_to_spec
from azr_jax.sampling import loop, stops
from azr_jax.sampling.batching import default_batch_buckets, pad_prompts
from azr_jax.sampling.params import SamplingParams
from azr_jax.sampling.results import GenerateStats, SampleOutput, SampleRow
from azr_jax.sampling.streaming import RowStream, rows_from_arrays

DEFAULT_PROMPT_BUCKETS = (64, 128, 256, 512, 1024, 2048)


class Sampler:
    """Generates continuations of token-id prompts with one model architecture on one mesh.

    prompt_buckets: prompt lengths are left-padded up to the next bucket; the largest bucket is the
      longest prompt accepted. The cache holds bucket + max_new_tokens slots.
    batch_buckets: the number of prompts is padded up to the next bucket with padding rows; defaults to
      powers of two rounded up to a multiple of the mesh's batch parallelism (data * fsdp).
    Compiled programs are cached per (prompt bucket, batch bucket, n, max_new_tokens, greedy, top_k,
    top-p on/off, streaming on/off); temperature, top_p, EOS ids and stop sequences are traced.
    """

    def __init__(self, config: ModelConfig, graphdef: nnx.GraphDef, mesh: Mesh | None = None,
                 prompt_buckets: Sequence[int] = DEFAULT_PROMPT_BUCKETS,
                 batch_buckets: Sequence[int] | None = None, pad_id: int = 0):
        if not prompt_buckets or min(prompt_buckets) < 1:
            raise ValueError(f"Sampler: prompt_buckets must be positive lengths, got {tuple(prompt_buckets)}")
        self.config = config
        self.mesh = mesh
        self.prompt_buckets = tuple(sorted(prompt_buckets))
        self._batch_parallel = 1 if mesh is None else math.prod(
            mesh.shape[a] for a in ("data", "fsdp") if a in mesh.shape)
        self.batch_buckets = tuple(sorted(batch_buckets or default_batch_buckets(self._batch_parallel)))
        bad = [b for b in self.batch_buckets if b % self._batch_parallel]
        if bad:
            raise ValueError(f"Sampler: batch_buckets {bad} are not multiples of the mesh's batch parallelism "
                             f"{self._batch_parallel}")
        self.pad_id = pad_id
        self._lock = threading.Lock()
        self._stream: RowStream | None = None
        common = (config, graphdef, mesh, self._receive_rows)
        self._prefill = jax.jit(functools.partial(loop.prefill, *common), static_argnames=("spec",))
        self._decode = jax.jit(functools.partial(loop.decode, *common), static_argnames=("spec",),
                               donate_argnames=("state",))

    def generate(self, params: nnx.State, prompts: Sequence[Sequence[int]], sampling: SamplingParams,
                 seed: int = 0, on_finished: Callable[[SampleRow], None] | None = None) -> SampleOutput:
        """Samples `sampling.n` continuations of every prompt.

        prompts: token ids (every process passes the same global list). on_finished: called with each
        row as soon as it finishes, from a worker thread, while the device keeps decoding the others;
        all calls have returned when generate returns. Rows of the output are prompt-major.
        """
        if not isinstance(sampling, SamplingParams):
            raise TypeError(f"generate: sampling must be a SamplingParams, got {type(sampling).__name__}")
        self._check_token_ids(prompts)
        batch = pad_prompts(prompts, self.prompt_buckets, self.batch_buckets, self.pad_id)
        spec = loop.LoopSpec(prompt_slots=batch.tokens_bp.shape[1], num_prompt_rows=batch.tokens_bp.shape[0],
                             n=sampling.n, max_new_tokens=sampling.max_new_tokens, greedy=sampling.greedy,
                             top_k=sampling.top_k, use_top_p=sampling.top_p < 1.0, stream=on_finished is not None)
        eos_ids = self.config.eos_token_ids if sampling.eos_ids is None else sampling.eos_ids
        controls = loop.Controls(
            temperature=jnp.float32(sampling.temperature or 1.0), top_p=jnp.float32(sampling.top_p),
            eos_e=jnp.asarray(stops.eos_table(eos_ids)), stop_sw=jnp.asarray(stops.stop_table(sampling.stop_sequences)),
            num_prompts=jnp.int32(batch.num_prompts), rng=jax.random.key(seed))
        controls = jax.device_put(controls, self._replicated())
        with self._lock:
            self._stream = RowStream(sampling.n, on_finished) if on_finished is not None else None
            try:
                start = time.perf_counter()
                state = self._prefill(params, self._rows_to_device(batch.tokens_bp),
                                      self._rows_to_device(batch.mask_bp), controls, spec=spec)
                state.step.block_until_ready()
                prefilled = time.perf_counter()
                state = self._decode(params, state, controls, spec=spec)
                fields = [_local_rows(x) for x in
                          (state.row_id_b, state.tokens_bt, state.logprobs_bt, state.length_b, state.reason_b)]
                stats = GenerateStats(prefill_seconds=prefilled - start, decode_seconds=time.perf_counter() - prefilled,
                                      decode_steps=int(state.step), rows=spec.rows)
            finally:
                stream, self._stream = self._stream, None
                if stream is not None:
                    stream.close()
        return SampleOutput(rows=rows_from_arrays(sampling.n, *fields), n=sampling.n, stats=stats)

    def _receive_rows(self, *arrays) -> None:
        """io_callback target: a device's local rows, some of which finished this step."""
        if self._stream is not None:
            self._stream.push(*arrays)

    def _check_token_ids(self, prompts) -> None:
        for i, prompt in enumerate(prompts):
            if any(not 0 <= t < self.config.vocab_size for t in prompt):
                raise ValueError(f"generate: prompt {i} holds token ids outside [0, {self.config.vocab_size})")

    def _replicated(self):
        return None if self.mesh is None else NamedSharding(self.mesh, PartitionSpec())

    def _rows_to_device(self, x: np.ndarray) -> jax.Array:
        """Global host array -> device array sharded over the batch axes; each process sends its own rows."""
        if self.mesh is None:
            return jnp.asarray(x)
        spec = logical_to_spec(("batch",) + (None,) * (x.ndim - 1), x.shape, self.mesh)
        return jax.make_array_from_callback(x.shape, NamedSharding(self.mesh, spec), lambda index: x[index])


def _local_rows(x: jax.Array) -> np.ndarray:
    """The rows of `x` on this process's devices, in row order (all rows on a single process)."""
    if x.is_fully_addressable:
        return np.asarray(x)
    pieces = {}
    for shard in x.addressable_shards:
        pieces.setdefault(shard.index[0].start or 0, np.asarray(shard.data))
    return np.concatenate([pieces[start] for start in sorted(pieces)], axis=0)
