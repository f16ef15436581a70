"""Host side of a generate call: prompts -> left-padded, bucketed numpy arrays.

Prompt lengths are rounded up to a bucket and the number of prompts to a batch bucket (with padding
rows), so a new batch reuses a compiled program unless it needs a larger bucket.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np


def default_batch_buckets(multiple_of: int, largest: int = 4096) -> tuple[int, ...]:
    """Powers of two, each rounded up to a multiple of the batch-sharding factor."""
    buckets, size = [], 1
    while size <= largest:
        rounded = -(-size // multiple_of) * multiple_of
        if rounded not in buckets:
            buckets.append(rounded)
        size *= 2
    return tuple(buckets)


def prompts_per_call(batch_buckets: Sequence[int], n: int, max_rows_per_call: int) -> int:
    """Prompts in one generate call when its rows (bucketed prompts x n) may not exceed max_rows_per_call:
    the largest batch bucket that keeps within it (a smaller call would be padded up to that bucket anyway)."""
    fitting = [b for b in batch_buckets if b * n <= max_rows_per_call]
    if not fitting:
        raise ValueError(f"max_rows_per_call {max_rows_per_call} is too small: the smallest batch bucket "
                         f"{min(batch_buckets)} x n={n} samples per prompt is {min(batch_buckets) * n} rows")
    return max(fitting)


def pick_bucket(size: int, buckets: Sequence[int], what: str) -> int:
    for bucket in sorted(buckets):
        if size <= bucket:
            return bucket
    raise ValueError(f"{what} {size} is larger than the largest bucket {max(buckets)} (buckets: {tuple(buckets)}); "
                     f"make the Sampler with larger buckets")


@dataclasses.dataclass(frozen=True)
class PromptBatch:
    """Prompts left-padded to [Bp, P]; rows past the prompts are dummies with an all-false mask."""

    tokens_bp: np.ndarray  # int32 [Bp, P]
    mask_bp: np.ndarray  # bool [Bp, P]


def pad_prompts(prompts: Sequence[Sequence[int]], prompt_buckets: Sequence[int], batch_buckets: Sequence[int],
                pad_id: int = 0) -> PromptBatch:
    if len(prompts) == 0:
        raise ValueError("generate: no prompts given")
    check_prompt_lengths(prompts, prompt_buckets)
    length = pick_bucket(max(len(p) for p in prompts), prompt_buckets, "prompt length")
    batch = pick_bucket(len(prompts), batch_buckets, "number of prompts")
    tokens_bp, mask_bp = left_pad(prompts, range(len(prompts)), batch, length, pad_id)
    return PromptBatch(tokens_bp=tokens_bp, mask_bp=mask_bp)


def check_prompt_lengths(prompts: Sequence[Sequence[int]], prompt_buckets: Sequence[int]) -> None:
    for i, prompt in enumerate(prompts):
        if len(prompt) == 0:
            raise ValueError(f"generate: prompt {i} is empty; every prompt needs at least one token")
        if len(prompt) > max(prompt_buckets):
            raise ValueError(f"generate: prompt {i} has {len(prompt)} tokens, longer than the cache's prompt part "
                             f"(largest prompt bucket {max(prompt_buckets)}); make the Sampler with larger "
                             f"prompt_buckets or truncate the prompt")


def left_pad(prompts: Sequence[Sequence[int]], rows: Sequence[int], batch: int, length: int,
             pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """[batch, length] tokens and mask with prompt i left-padded into row rows[i]; other rows are empty."""
    tokens_bp = np.full((batch, length), pad_id, np.int32)
    mask_bp = np.zeros((batch, length), bool)
    for row, prompt in zip(rows, prompts):
        tokens_bp[row, length - len(prompt):] = prompt
        mask_bp[row, length - len(prompt):] = True
    return tokens_bp, mask_bp
