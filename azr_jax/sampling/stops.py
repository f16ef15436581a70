"""Token-level stop conditions checked on device: EOS ids and stop sequences.

Stop sequences are stored right-aligned in a [S, W] table, padded on the left with -1 (matches
anything); each row keeps a window of its last W generated tokens, initialised to -2 (matches no
stop token), so a sequence only matches inside the generated text. The table is padded to
power-of-two shapes (at least MIN_*) so that other stop strings reuse the compiled program.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

_WILDCARD = -1
_NOTHING = -2


def _pow2(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


# Smallest table shapes: most stop strings are a few tokens, so they all share one program.
MIN_STOPS, MIN_STOP_WIDTH, MIN_EOS = 4, 8, 8


def stop_table(stop_sequences: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """[S, W] int32. A row of all -1 would match anything, so unused rows repeat a real sequence or,
    with no stop sequences at all, hold _NOTHING (matches no token)."""
    if not stop_sequences:
        return np.full((MIN_STOPS, MIN_STOP_WIDTH), _NOTHING, np.int32)
    width = max(MIN_STOP_WIDTH, _pow2(max(len(s) for s in stop_sequences)))
    table_sw = np.full((max(MIN_STOPS, _pow2(len(stop_sequences))), width), _WILDCARD, np.int32)
    for i in range(table_sw.shape[0]):
        seq = stop_sequences[min(i, len(stop_sequences) - 1)]
        table_sw[i, width - len(seq):] = seq
    return table_sw


def eos_table(eos_ids: tuple[int, ...]) -> np.ndarray:
    """[E] int32 padded with _NOTHING to a power of two (at least MIN_EOS)."""
    table_e = np.full((max(MIN_EOS, _pow2(len(eos_ids))),), _NOTHING, np.int32)
    table_e[:len(eos_ids)] = eos_ids
    return table_e


def initial_window(batch: int, stop_table_sw: np.ndarray) -> jnp.ndarray:
    return jnp.full((batch, stop_table_sw.shape[1]), _NOTHING, jnp.int32)


def push(window_bw: jnp.ndarray, token_b: jnp.ndarray) -> jnp.ndarray:
    """The window with the oldest token dropped and `token_b` appended."""
    return jnp.concatenate([window_bw[:, 1:], token_b[:, None]], axis=1)


def hits_stop(window_bw: jnp.ndarray, stop_table_sw: jnp.ndarray) -> jnp.ndarray:
    """[B] bool: the window ends with one of the stop sequences."""
    equal_bsw = (window_bw[:, None, :] == stop_table_sw[None]) | (stop_table_sw[None] == _WILDCARD)
    return jnp.any(jnp.all(equal_bsw, axis=-1), axis=-1)


def hits_eos(token_b: jnp.ndarray, eos_table_e: jnp.ndarray) -> jnp.ndarray:
    return jnp.any(token_b[:, None] == eos_table_e[None], axis=-1)
