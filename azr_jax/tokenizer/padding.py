"""Ragged id lists -> rectangular [B, T] ids and mask, with T drawn from few values.

Every distinct T is a fresh XLA compilation, so callers round T up to a multiple or to one of a
fixed set of bucket lengths instead of using the batch's exact longest row.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def padded_length(longest: int, *, pad_to_multiple: int | None = None,
                  length_buckets: Sequence[int] | None = None) -> int:
    """The T a batch whose longest row is `longest` tokens pads to."""
    if pad_to_multiple is not None and length_buckets is not None:
        raise ValueError("pass either pad_to_multiple or length_buckets, not both")
    if length_buckets is not None:
        buckets = sorted(length_buckets)
        if not buckets or buckets[0] <= 0:
            raise ValueError(f"length_buckets must be non-empty positive lengths, got {list(length_buckets)}")
        for bucket in buckets:
            if bucket >= longest:
                return bucket
        raise ValueError(f"longest sequence has {longest} tokens, more than the largest length bucket {buckets[-1]}")
    if pad_to_multiple is not None:
        if pad_to_multiple <= 0:
            raise ValueError(f"pad_to_multiple must be positive, got {pad_to_multiple}")
        return -(-longest // pad_to_multiple) * pad_to_multiple
    return longest


def pad_batch(
    id_lists: Sequence[Sequence[int]],
    pad_id: int,
    *,
    side: str = "left",
    pad_to_multiple: int | None = None,
    length_buckets: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Returns (ids_bt int32 [B, T], mask_bt bool [B, T]); mask is True on real tokens.

    side="left" right-aligns every row, so the last real token of every row sits at T-1 and
    generation writes the next token of every row at the same position.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    if len(id_lists) == 0:
        raise ValueError("pad_batch needs at least one sequence")
    lengths = [len(ids) for ids in id_lists]
    t = padded_length(max(lengths), pad_to_multiple=pad_to_multiple, length_buckets=length_buckets)
    ids_bt = np.full((len(id_lists), t), pad_id, dtype=np.int32)
    mask_bt = np.zeros((len(id_lists), t), dtype=np.bool_)
    for b, (ids, n) in enumerate(zip(id_lists, lengths)):
        start = t - n if side == "left" else 0
        ids_bt[b, start:start + n] = np.asarray(ids, dtype=np.int32)
        mask_bt[b, start:start + n] = True
    return ids_bt, mask_bt
