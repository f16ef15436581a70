"""The device side of sampling: prefill, then a donated `lax.while_loop` of single-token decode steps.

Shape letters: Bp prompts (bucketed), B = Bp * n rows, P prompt slots (bucket), T = max_new_tokens,
S = P + T cache slots, V vocabulary, W stop window, L layers, K kv heads, H head dim.

Cache layout: prompts are left-padded into slots [0, P); generated token t lives in slot P + t, so
every row writes the same slot each step. Positions (RoPE) count real tokens only, so a row's token
t sits at position prompt_len + t whatever its padding.
"""

from __future__ import annotations

import contextlib
import dataclasses
import flax.struct
import jax
import jax.numpy as jnp
from flax import nnx
from jax.sharding import Mesh

from azr_jax.model.config import ModelConfig
from azr_jax.model.kv_cache import KVCache
from azr_jax.model.masks import cache_attention_mask, positions_from_mask
from azr_jax.parallel.rules import logical_to_spec
from azr_jax.parallel.sharding import constrain, use_mesh_rules
from azr_jax.sampling import stops
from azr_jax.sampling.params import EOS, LENGTH, RUNNING, STOP
from azr_jax.sampling.processing import choose_tokens
from azr_jax.sampling.streaming import HostFn, report_finished

PAD_TOKEN = 0


@dataclasses.dataclass(frozen=True)
class LoopSpec:
    """Everything about a generate call that fixes the compiled program (static under jit)."""

    prompt_slots: int  # P
    num_prompt_rows: int  # Bp
    n: int
    max_new_tokens: int  # T
    greedy: bool
    top_k: int
    use_top_p: bool
    stream: bool

    @property
    def rows(self) -> int:
        return self.num_prompt_rows * self.n

    @property
    def cache_slots(self) -> int:
        return self.prompt_slots + self.max_new_tokens


@flax.struct.dataclass
class Controls:
    """Per-call values that do not change the program (traced, so new values do not recompile)."""

    temperature: jax.Array  # [] float32
    top_p: jax.Array  # [] float32
    eos_e: jax.Array  # [E] int32
    stop_sw: jax.Array  # [S, W] int32
    rng: jax.Array  # key


@flax.struct.dataclass
class SamplingState:
    step: jax.Array  # [] int32: index of the next token to choose
    cache: KVCache  # [L, B, S, K, H]
    key_valid_bs: jax.Array  # [B, S] bool: slot holds a real prompt token or a generated one
    prompt_len_b: jax.Array  # [B] int32: real prompt tokens = position of generated token 0
    tokens_bt: jax.Array  # [B, T] int32, PAD_TOKEN past a row's end
    logprobs_bt: jax.Array  # [B, T] float32, 0 past a row's end
    window_bw: jax.Array  # [B, W] int32: last generated tokens, for stop sequences
    done_b: jax.Array  # [B] bool
    reason_b: jax.Array  # [B] int32: RUNNING / EOS / STOP / LENGTH
    length_b: jax.Array  # [B] int32: generated tokens, stop token included
    row_id_b: jax.Array  # [B] int32: prompt row * n + sample, -1 for batch padding rows


def _constrain_state(state: SamplingState) -> SamplingState:
    """Rows over the batch mesh axes, cache heads over tensor (identity without a mesh)."""
    cache_axes = ("layers", "cache_batch", "cache_length", "kv_heads", "head_dim")
    row_axes = lambda x: ("batch",) + (None,) * (x.ndim - 1)
    return state.replace(
        cache=KVCache(constrain(state.cache.k_lbskh, cache_axes), constrain(state.cache.v_lbskh, cache_axes)),
        **{f.name: constrain(getattr(state, f.name), row_axes(getattr(state, f.name)))
           for f in dataclasses.fields(state) if f.name not in ("step", "cache")})


def _advance(spec: LoopSpec, mesh: Mesh | None, host_fn: HostFn | None, state: SamplingState,
             logits_bv: jax.Array, controls: Controls) -> SamplingState:
    """Chooses token `state.step` of every live row from its logits and checks the stop conditions."""
    t = state.step
    key = jax.random.fold_in(controls.rng, t)
    token_b, logprob_b = choose_tokens(logits_bv, key, controls.temperature, controls.top_p, greedy=spec.greedy,
                                       top_k=spec.top_k, use_top_p=spec.use_top_p)
    live_b = ~state.done_b
    token_b = jnp.where(live_b, token_b, PAD_TOKEN)
    logprob_b = jnp.where(live_b, logprob_b, 0.0)
    window_bw = jnp.where(live_b[:, None], stops.push(state.window_bw, token_b), state.window_bw)
    eos_b = live_b & stops.hits_eos(token_b, controls.eos_e)
    stop_b = live_b & ~eos_b & stops.hits_stop(window_bw, controls.stop_sw)
    out_of_room_b = live_b & ~eos_b & ~stop_b & (t + 1 >= spec.max_new_tokens)
    reason_b = jnp.select([eos_b, stop_b, out_of_room_b], [EOS, STOP, LENGTH], state.reason_b)
    done_b = state.done_b | (reason_b != RUNNING)
    new = state.replace(
        step=t + 1,
        tokens_bt=jax.lax.dynamic_update_index_in_dim(state.tokens_bt, token_b, t, axis=1),
        logprobs_bt=jax.lax.dynamic_update_index_in_dim(state.logprobs_bt, logprob_b, t, axis=1),
        window_bw=window_bw, done_b=done_b, reason_b=reason_b.astype(jnp.int32),
        length_b=jnp.where(live_b, t + 1, state.length_b))
    if spec.stream:
        batch_spec = logical_to_spec(("batch",), (spec.rows,), mesh) if mesh is not None else None
        report_finished(host_fn, mesh, batch_spec, done_b & live_b, new.row_id_b, new.tokens_bt, new.logprobs_bt,
                        new.length_b, new.reason_b)
    return new


def prefill(config: ModelConfig, graphdef: nnx.GraphDef, mesh: Mesh | None, host_fn: HostFn | None,
            params: nnx.State, tokens_bp: jax.Array, mask_bp: jax.Array, controls: Controls, *,
            spec: LoopSpec) -> SamplingState:
    """Runs the prompts once, shares each prompt's cache with its n rows and chooses token 0."""
    with _mesh_rules(mesh):
        model = nnx.merge(graphdef, params)
        n, p, t = spec.n, spec.prompt_slots, spec.max_new_tokens
        cache = KVCache.zeros(config, spec.num_prompt_rows, p)
        hidden_bpd, cache = model.hidden_states(tokens_bp, positions_from_mask(mask_bp),
                                                cache_attention_mask(mask_bp, 0, p), cache, 0)
        logits_bv = model.logits(hidden_bpd[:, -1:])[:, 0]  # only the last position: no [Bp, P, V] logits

        def share(x, axis):  # [.., Bp, ..] -> [.., Bp * n, ..], prompt-major
            return jnp.repeat(x, n, axis=axis)

        grow = ((0, 0), (0, 0), (0, t), (0, 0), (0, 0))
        cache = KVCache(share(jnp.pad(cache.k_lbskh, grow), 1), share(jnp.pad(cache.v_lbskh, grow), 1))
        mask_bp = share(mask_bp, 0)
        rows = spec.rows
        row_b = jnp.arange(rows, dtype=jnp.int32)
        real_b = jnp.any(mask_bp, axis=1)  # padding rows have no prompt token (empty prompts are refused)
        state = SamplingState(
            step=jnp.zeros((), jnp.int32),
            cache=cache,
            key_valid_bs=jnp.concatenate([mask_bp, jnp.ones((rows, t), bool)], axis=1),
            prompt_len_b=jnp.sum(mask_bp, axis=1, dtype=jnp.int32),
            tokens_bt=jnp.full((rows, t), PAD_TOKEN, jnp.int32),
            logprobs_bt=jnp.zeros((rows, t), jnp.float32),
            window_bw=stops.initial_window(rows, controls.stop_sw),
            done_b=~real_b,
            reason_b=jnp.full((rows,), RUNNING, jnp.int32),
            length_b=jnp.zeros((rows,), jnp.int32),
            row_id_b=jnp.where(real_b, row_b, -1))
        state = _constrain_state(state)
        return _constrain_state(_advance(spec, mesh, host_fn, state, share(logits_bv, 0), controls))


def decode(config: ModelConfig, graphdef: nnx.GraphDef, mesh: Mesh | None, host_fn: HostFn | None,
           params: nnx.State, state: SamplingState, controls: Controls, *, spec: LoopSpec) -> SamplingState:
    """Decode steps until every row is done or T tokens exist; `state` is donated."""
    del config
    with _mesh_rules(mesh):
        model = nnx.merge(graphdef, params)

        def running(state: SamplingState):
            return (state.step < spec.max_new_tokens) & ~jnp.all(state.done_b)

        def step(state: SamplingState) -> SamplingState:
            t = state.step
            slot = spec.prompt_slots + t - 1  # where the previous token's key/value goes
            last_b1 = jax.lax.dynamic_index_in_dim(state.tokens_bt, t - 1, axis=1, keepdims=True)
            positions_b1 = (state.prompt_len_b + t - 1)[:, None]
            mask_b1s = cache_attention_mask(state.key_valid_bs, slot, 1)
            logits_b1v, cache = model(last_b1, positions_b1, mask_b1s, state.cache, slot)
            state = _constrain_state(state.replace(cache=cache))
            return _constrain_state(_advance(spec, mesh, host_fn, state, logits_b1v[:, 0], controls))

        return jax.lax.while_loop(running, step, state)


def _mesh_rules(mesh: Mesh | None):
    return contextlib.nullcontext() if mesh is None else use_mesh_rules(mesh)
