"""Documents -> fixed-length rows of token ids, several documents a row, each its own segment.

Every document is `[BOS] text [EOS]`, as the sampler sees a prompt (encoded with BOS) and a completion
(ended by EOS or a stop string). Rows are filled greedily in document order; a document that does not fit
what is left of a row starts the next one. Segment ids (1, 2, ... per row; 0 for padding) keep attention
inside a document and restart positions at 0 for each, so a packed document is seen exactly as it would
be alone in a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np


@dataclass(frozen=True)
class PackedRows:
    tokens_bt: np.ndarray  # [B, T] int32
    segments_bt: np.ndarray  # [B, T] int32: 1, 2, ... per document in its row; 0 for padding
    positions_bt: np.ndarray  # [B, T] int32: position within the document
    dropped: int  # documents longer than a row, left out

    @property
    def num_rows(self) -> int:
        return self.tokens_bt.shape[0]


def pack_documents(docs_ids: Iterable[Sequence[int]], row_length: int, pad_id: int) -> PackedRows:
    """`docs_ids` already hold their BOS/EOS; a document longer than `row_length` is dropped (counted)."""
    rows: list[tuple[list[int], list[int], list[int]]] = []
    tokens: list[int] = []
    segments: list[int] = []
    positions: list[int] = []
    dropped = 0

    def flush() -> None:
        nonlocal tokens, segments, positions
        if tokens:
            pad = row_length - len(tokens)
            rows.append((tokens + [pad_id] * pad, segments + [0] * pad, positions + [0] * pad))
        tokens, segments, positions = [], [], []

    for ids in docs_ids:
        if len(ids) > row_length:
            dropped += 1
            continue
        if len(tokens) + len(ids) > row_length:
            flush()
        segment = (segments[-1] if segments else 0) + 1
        tokens += list(ids)
        segments += [segment] * len(ids)
        positions += list(range(len(ids)))
    flush()
    if not rows:
        raise ValueError(f"no document fits in a row of {row_length} tokens")
    tokens_bt, segments_bt, positions_bt = (np.asarray(a, dtype=np.int32) for a in zip(*rows))
    return PackedRows(tokens_bt, segments_bt, positions_bt, dropped)

