"""The Sampler: host API over the jitted prefill and decode loop."""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
import time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding

from azr_jax.model.config import ModelConfig
from azr_jax.parallel.rules import logical_to_spec
from azr_jax.parallel.sharding import replicate
from azr_jax.sampling import loop, stops
from azr_jax.sampling.batching import (check_prompt_lengths, default_batch_buckets, left_pad, pad_prompts, pick_bucket,
                                       prompts_per_call)
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
        self._batch_parallel = batch_parallelism(mesh)
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
                 seed: int = 0, on_finished: Callable[[SampleRow], None] | None = None,
                 process_local: bool = False, max_rows_per_call: int = 0) -> SampleOutput:
        """Samples `sampling.n` continuations of every prompt.

        prompts: token ids. By default every process passes the same global list and receives the rows
        that its devices hold. With process_local=True each process passes only its own prompts (any
        number, zero included) and receives exactly their rows, prompt_index counting in its own list;
        every process must still call generate (it is one SPMD program), and when no process has a
        prompt the output is empty.
        on_finished: called with each row as soon as it finishes, from a worker thread, while the device
        keeps decoding the others; all calls have returned when generate returns. Rows of the output are
        prompt-major.
        max_rows_per_call: when positive, the prompts are sampled in consecutive device calls of at most this
        many rows each (bucketed prompts x n, over all processes), which bounds the KV cache in HBM. Call c
        draws from its own key derived from (seed, c); call 0 uses `seed` itself.
        """
        if not isinstance(sampling, SamplingParams):
            raise TypeError(f"generate: sampling must be a SamplingParams, got {type(sampling).__name__}")
        self._check_token_ids(prompts)
        if max_rows_per_call < 0:
            raise ValueError(f"generate: max_rows_per_call must be >= 0 (0: no limit), got {max_rows_per_call}")
        if max_rows_per_call == 0:
            return self._generate_call(params, prompts, sampling, seed, on_finished, process_local)
        chunks = self._chunks(len(prompts), prompts_per_call(self.batch_buckets, sampling.n, max_rows_per_call),
                              process_local)
        rows, stats = [], []
        for c, (start, stop) in enumerate(chunks):
            report = None if on_finished is None else functools.partial(_report_offset, on_finished, start)
            out = self._generate_call(params, prompts[start:stop], sampling, _chunk_seed(seed, c), report,
                                      process_local)
            rows += [_offset_row(start, row) for row in out.rows]
            stats.append(out.stats)
        return SampleOutput(rows=rows, n=sampling.n, stats=GenerateStats(
            prefill_seconds=sum(s.prefill_seconds for s in stats), decode_seconds=sum(s.decode_seconds for s in stats),
            decode_steps=sum(s.decode_steps for s in stats), rows=sum(s.rows for s in stats), calls=len(stats)))

    def _chunks(self, count: int, per_call: int, process_local: bool) -> list[tuple[int, int]]:
        """[start, stop) of this process's prompts in each device call. Every process makes the same number
        of calls (each is one SPMD program), each holding at most per_call prompts over all processes."""
        processes = jax.process_count() if process_local else 1
        mine = per_call // processes
        if mine == 0:
            raise ValueError(f"generate: a call of {per_call} prompts cannot be shared by {processes} processes; "
                             f"raise max_rows_per_call")
        most = count
        if processes > 1:
            most = int(np.asarray(multihost_utils.process_allgather(np.int32(count))).max())
        calls = max(1, -(-most // mine))
        return [(min(c * mine, count), min((c + 1) * mine, count)) for c in range(calls)]

    def _generate_call(self, params, prompts, sampling: SamplingParams, seed: int, on_finished,
                       process_local: bool) -> SampleOutput:
        """One prefill + decode over all of `prompts` (see generate)."""
        if process_local and jax.process_count() > 1:
            placed = self._place_process_local(prompts)
            if placed is None:
                return _empty_output(sampling.n)
            tokens_bp, mask_bp, prompt_of_row = placed
        elif process_local and not prompts:
            return _empty_output(sampling.n)
        else:
            batch = pad_prompts(prompts, self.prompt_buckets, self.batch_buckets, self.pad_id)
            tokens_bp, mask_bp, prompt_of_row = batch.tokens_bp, batch.mask_bp, None
        spec = loop.LoopSpec(prompt_slots=tokens_bp.shape[1], num_prompt_rows=tokens_bp.shape[0],
                             n=sampling.n, max_new_tokens=sampling.max_new_tokens, greedy=sampling.greedy,
                             top_k=sampling.top_k, use_top_p=sampling.top_p < 1.0, stream=on_finished is not None)
        eos_ids = self.config.eos_token_ids if sampling.eos_ids is None else sampling.eos_ids
        controls = loop.Controls(
            temperature=jnp.float32(sampling.logprob_temperature), top_p=jnp.float32(sampling.top_p),
            eos_e=jnp.asarray(stops.eos_table(eos_ids)), stop_sw=jnp.asarray(stops.stop_table(sampling.stop_sequences)),
            rng=jax.random.key(seed))
        if self.mesh is not None:
            controls = replicate(controls, self.mesh)
        with self._lock:
            self._stream = RowStream(sampling.n, prompt_of_row, on_finished) if on_finished is not None else None
            try:
                start = time.perf_counter()
                state = self._prefill(params, self._rows_to_device(tokens_bp), self._rows_to_device(mask_bp),
                                      controls, spec=spec)
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
        return SampleOutput(rows=rows_from_arrays(sampling.n, prompt_of_row, *fields), n=sampling.n, stats=stats)

    def _place_process_local(self, prompts: Sequence[Sequence[int]]):
        """Global [Bp, P] tokens and mask with this process's prompts in rows its devices hold.

        The processes agree on the shapes (the longest prompt and the largest count anywhere) through
        one small all-gather; each then fills only its own rows, the only ones it sends to devices.
        """
        if prompts:
            check_prompt_lengths(prompts, self.prompt_buckets)
        mine = np.array([len(prompts), max((len(p) for p in prompts), default=0)], np.int32)
        everyone = np.asarray(multihost_utils.process_allgather(mine)).reshape(-1, 2)
        most, longest = int(everyone[:, 0].max()), int(everyone[:, 1].max())
        if most == 0:
            return None
        processes = everyone.shape[0]
        length = pick_bucket(longest, self.prompt_buckets, "prompt length")
        rows = pick_bucket(most * processes, self.batch_buckets, "number of prompts")
        local_rows = self._addressable_rows(rows)
        if len(local_rows) * processes != rows:
            raise ValueError(f"generate(process_local=True): this process's devices hold {len(local_rows)} of {rows} "
                             f"rows; the mesh's batch axes (data, fsdp) must split rows evenly over the "
                             f"{processes} processes")
        tokens_bp, mask_bp = left_pad(prompts, local_rows, rows, length, self.pad_id)
        return tokens_bp, mask_bp, {row: i for i, row in enumerate(local_rows[:len(prompts)])}

    def _addressable_rows(self, rows: int) -> list[int]:
        """Indices of the batch rows on this process's devices, ascending."""
        spec = logical_to_spec(("batch",), (rows,), self.mesh)
        held = set()
        for index in NamedSharding(self.mesh, spec).addressable_devices_indices_map((rows,)).values():
            held.update(range(*index[0].indices(rows)))
        return sorted(held)

    def _receive_rows(self, *arrays) -> None:
        """io_callback target: a device's local rows, some of which finished this step."""
        if self._stream is not None:
            self._stream.push(*arrays)

    def _check_token_ids(self, prompts) -> None:
        for i, prompt in enumerate(prompts):
            if any(not 0 <= t < self.config.vocab_size for t in prompt):
                raise ValueError(f"generate: prompt {i} holds token ids outside [0, {self.config.vocab_size})")

    def _rows_to_device(self, x: np.ndarray) -> jax.Array:
        """Global host array -> device array sharded over the batch axes; each process sends its own rows."""
        if self.mesh is None:
            return jnp.asarray(x)
        spec = logical_to_spec(("batch",) + (None,) * (x.ndim - 1), x.shape, self.mesh)
        return jax.make_array_from_callback(x.shape, NamedSharding(self.mesh, spec), lambda index: x[index])


def batch_parallelism(mesh: Mesh | None) -> int:
    """How many ways a mesh splits the batch (data x fsdp): every batch bucket is a multiple of it."""
    return 1 if mesh is None else math.prod(mesh.shape[a] for a in ("data", "fsdp") if a in mesh.shape)


def _offset_row(offset: int, row: SampleRow) -> SampleRow:
    """The row with its prompt index counted in the whole prompt list."""
    return dataclasses.replace(row, prompt_index=row.prompt_index + offset)


def _report_offset(on_finished: Callable[[SampleRow], None], offset: int, row: SampleRow) -> None:
    on_finished(_offset_row(offset, row))


def _chunk_seed(seed: int, call: int) -> int:
    if call == 0:
        return seed
    return int(np.random.SeedSequence([seed % 2 ** 63, call]).generate_state(1, np.uint32)[0])


def _empty_output(n: int) -> SampleOutput:
    return SampleOutput(rows=[], n=n, stats=GenerateStats(prefill_seconds=0.0, decode_seconds=0.0, decode_steps=0,
                                                          rows=0))


def _local_rows(x: jax.Array) -> np.ndarray:
    """The rows of `x` on this process's devices, in row order (all rows on a single process)."""
    if x.is_fully_addressable:
        return np.asarray(x)
    pieces = {}
    for shard in x.addressable_shards:
        pieces.setdefault(shard.index[0].start or 0, np.asarray(shard.data))
    return np.concatenate([pieces[start] for start in sorted(pieces)], axis=0)
