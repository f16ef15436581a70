"""`Tokenizer` over a SentencePiece `.model` file (Llama-2 / Gemma style vocabularies)."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import sentencepiece

from azr_jax.tokenizer.base import Tokenizer, TokenizerLoadError


class SentencePieceTokenizer(Tokenizer):
    """BOS/EOS/PAD come from the model file itself; special ids are its control and unknown pieces.

    User-defined symbols ("<think>", "</answer>") are ordinary text here: `encode` always keeps them
    whole and `skip_special_tokens` keeps them. Control pieces written in text ("</s>") are encoded
    as plain characters, as SentencePiece does; put them in by id. `path` is local; `load_tokenizer`
    also takes gs:// paths.
    """

    def __init__(self, path: str | os.PathLike):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"SentencePiece model file does not exist: {path}")
        try:
            self._sp = sentencepiece.SentencePieceProcessor(model_file=path)
        except (RuntimeError, OSError) as e:
            raise TokenizerLoadError(f"{path} is not a valid SentencePiece model: {e}") from e
        self._path = path
        n = self._sp.get_piece_size()
        self._special_ids = tuple(i for i in range(n) if self._sp.is_control(i) or self._sp.is_unknown(i))
        self._special_set = frozenset(self._special_ids)
        self._glue = _glue_piece(self._sp)

    def __repr__(self) -> str:
        return f"SentencePieceTokenizer({self._path!r}, vocab_size={self.vocab_size})"

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    @property
    def bos_id(self) -> int | None:
        return _optional_id(self._sp.bos_id())

    @property
    def eos_ids(self) -> tuple[int, ...]:
        eos = _optional_id(self._sp.eos_id())
        return () if eos is None else (eos,)

    @property
    def pad_id(self) -> int:
        # Models trained without a pad piece (most) pad with EOS; the mask marks padding anyway.
        for candidate in (self._sp.pad_id(), self._sp.eos_id(), self._sp.unk_id()):
            if candidate >= 0:
                return candidate
        return 0

    @property
    def special_ids(self) -> tuple[int, ...]:
        return self._special_ids

    def token_to_id(self, token: str) -> int | None:
        token_id = self._sp.piece_to_id(token)
        # piece_to_id answers unk_id for unknown pieces, indistinguishable from the unk piece itself.
        if self._sp.is_unknown(token_id) and self._sp.id_to_piece(token_id) != token:
            return None
        return token_id

    def id_to_token(self, token_id: int) -> str:
        (token_id,) = self._checked_ids([token_id])
        return self._sp.id_to_piece(token_id)

    def encode(self, text: str, add_bos: bool = False) -> list[int]:
        ids = self._sp.encode(text)
        return self._with_bos(ids, add_bos)

    def batch_encode(self, texts: Sequence[str], add_bos: bool = False) -> list[list[int]]:
        return [self._with_bos(ids, add_bos) for ids in self._sp.encode(list(texts))]

    def decode(self, ids: Sequence[int] | np.ndarray, skip_special_tokens: bool = False) -> str:
        """SentencePiece renders control pieces as "", so they are spelled out here between runs of
        ordinary pieces decoded by SentencePiece (which turns bad UTF-8 from byte pieces into U+FFFD).
        """
        ids = self._checked_ids(ids)
        parts: list[str] = []
        run: list[int] = []
        after_text = False  # has an ordinary piece come before? Then a leading "▁" is a real space.
        for token_id in ids + [-1]:  # -1 flushes the last run
            if token_id >= 0 and token_id not in self._special_set:
                run.append(token_id)
                continue
            if run:
                parts.append(self._decode_run(run, after_text))
                after_text, run = True, []
            if token_id >= 0 and not skip_special_tokens:
                parts.append(self._sp.id_to_piece(token_id))
        return "".join(parts)

    def _decode_run(self, run: list[int], after_text: bool) -> str:
        # SentencePiece drops a leading "▁" of every decode as the dummy prefix of the whole text; after
        # earlier text (a special piece in between) that "▁" was a real space, so decode behind a
        # throwaway piece that has no "▁" and cut its text off again.
        if not after_text or self._glue is None:
            return self._sp.decode(run)
        glue_id, glue_text = self._glue
        return self._sp.decode([glue_id, *run])[len(glue_text):]

    def _with_bos(self, ids: list[int], add_bos: bool) -> list[int]:
        return [self.bos_id, *ids] if add_bos and self.bos_id is not None else list(ids)


def _glue_piece(sp: sentencepiece.SentencePieceProcessor) -> tuple[int, str] | None:
    """A plain ASCII piece without "▁" and its text, to decode a run as if it continued earlier text."""
    for i in range(sp.get_piece_size()):
        piece = sp.id_to_piece(i)
        if sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i) or sp.is_unused(i):
            continue
        if piece.isascii() and piece.isalnum() and sp.decode([i]) == piece:
            return i, piece
    return None


def _optional_id(token_id: int) -> int | None:
    return token_id if token_id >= 0 else None
