"""The one tokenizer interface the rest of azr_jax sees, whatever file the vocabulary came from.

Ids are plain Python ints on the host; arrays appear only in `pad_batch`, which builds the
[B, T] int32 ids and bool mask that the sampler and trainer put on device.
"""

from __future__ import annotations

import abc
from typing import Sequence

import numpy as np

from azr_jax.tokenizer.padding import pad_batch


class TokenizerLoadError(ValueError):
    """A tokenizer file or its config exists but cannot be used; the message names the file."""


class Tokenizer(abc.ABC):
    """Text <-> token ids for one vocabulary.

    Conventions shared by every implementation:
    - `encode` never adds BOS/EOS on its own; `add_bos=True` prepends `bos_id` when the vocabulary
      has one and is a no-op when it has none (Qwen), so callers need not know the family.
    - `decode` accepts any id in [0, vocab_size) and always returns a `str`: byte sequences that are
      not valid UTF-8 (a generation cut mid-character) come back as U+FFFD, never as an exception.
    - `vocab_size` is the tokenizer's, which can be smaller than the model's embedding table
      (Qwen2.5 pads 151665 to 151936); the sampler must mask logits at or beyond it.
    """

    # --- vocabulary -----------------------------------------------------------------------------

    @property
    @abc.abstractmethod
    def vocab_size(self) -> int:
        """One past the largest id the tokenizer can produce or decode."""

    @property
    @abc.abstractmethod
    def bos_id(self) -> int | None:
        ...

    @property
    @abc.abstractmethod
    def eos_ids(self) -> tuple[int, ...]:
        """Every id that ends a generation (Qwen2.5-Instruct: <|im_end|> and <|endoftext|>)."""

    @property
    @abc.abstractmethod
    def pad_id(self) -> int:
        """The id written into padding slots; always valid, since masks, not ids, mark padding."""

    @property
    @abc.abstractmethod
    def special_ids(self) -> tuple[int, ...]:
        """Sorted ids that `decode(..., skip_special_tokens=True)` drops."""

    @abc.abstractmethod
    def token_to_id(self, token: str) -> int | None:
        """The id of one vocabulary entry by its raw piece string, or None if there is none."""

    @abc.abstractmethod
    def id_to_token(self, token_id: int) -> str:
        """The raw piece string of an id (e.g. byte-level "Ġhello", SentencePiece "▁hello").

        Raises ValueError for an id outside the vocabulary; use `decode` for text.
        """

    # --- text -----------------------------------------------------------------------------------

    @abc.abstractmethod
    def encode(self, text: str, add_bos: bool = False) -> list[int]:
        ...

    @abc.abstractmethod
    def decode(self, ids: Sequence[int] | np.ndarray, skip_special_tokens: bool = False) -> str:
        ...

    def decode_generated(self, ids: Sequence[int] | np.ndarray) -> str:
        """The text of sampled ids. A model's embedding table may be larger than its tokenizer (padded for
        sharding): ids past the tokenizer's end carry no text and are left out."""
        return self.decode([i for i in ids if 0 <= i < self.vocab_size])

    def batch_encode(self, texts: Sequence[str], add_bos: bool = False) -> list[list[int]]:
        return [self.encode(text, add_bos=add_bos) for text in texts]

    def pad_batch(
        self,
        id_lists: Sequence[Sequence[int]],
        *,
        side: str = "left",
        pad_to_multiple: int | None = None,
        length_buckets: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """[B, T] int32 ids and bool mask (True = real token), padded with `pad_id`.

        Left padding is the default because generation appends to every row at the same slot.
        """
        return pad_batch(id_lists, self.pad_id, side=side, pad_to_multiple=pad_to_multiple,
                         length_buckets=length_buckets)

    # --- shared helpers for implementations -----------------------------------------------------

    def _checked_ids(self, ids: Sequence[int] | np.ndarray) -> list[int]:
        """Ids as Python ints, refusing ones outside the vocabulary with a message that names them.

        Backends differ here (SentencePiece raises IndexError, `tokenizers` silently drops large ids
        and overflows on negative ones), so out-of-range ids fail the same way everywhere.
        """
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise ValueError(f"decode takes a 1-D sequence of integer ids, got shape {arr.shape} dtype {arr.dtype}")
        out = arr.astype(np.int64).tolist()
        bad = [i for i in out if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"token ids {bad[:8]} are outside the tokenizer vocabulary [0, {self.vocab_size})")
        return out
