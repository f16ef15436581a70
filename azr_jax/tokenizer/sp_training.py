"""Trains a SentencePiece BPE model for code: exact round trips of indentation, digits split one by one.

Byte fallback makes every string encodable (256 pieces are bytes); the identity normaliser keeps tabs,
newlines and runs of spaces; single digits make every number spell the same way whatever its length,
which is what lets a small model learn arithmetic on them. Pieces come out in the Llama-2 layout:
<unk>=0, <s>=1 (BOS), </s>=2 (EOS), no pad (the tokenizer pads with EOS).
"""

from __future__ import annotations

import io
import os
import pathlib
from typing import Iterable

import sentencepiece

from azr_jax.tokenizer.loading import SP_MODEL

# The R1 format's tags: each one piece, so a prompt ending in "<think>" ends on a token boundary.
FORMAT_SYMBOLS = ("<think>", "</think>", "<answer>", "</answer>")


def train_sentencepiece(texts: Iterable[str], out_dir: str | os.PathLike, vocab_size: int,
                        user_defined_symbols: tuple[str, ...] = FORMAT_SYMBOLS,
                        exact_vocab_size: bool = True) -> pathlib.Path:
    """Writes `out_dir/tokenizer.model` trained on `texts` (deterministic for the same texts); returns
    `out_dir`. With exact_vocab_size=False a small corpus may give fewer pieces than asked."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=model, vocab_size=vocab_size, model_type="bpe",
        byte_fallback=True, character_coverage=1.0, normalization_rule_name="identity",
        remove_extra_whitespaces=False, split_digits=True, allow_whitespace_only_pieces=True,
        user_defined_symbols=list(user_defined_symbols), max_sentence_length=1 << 16,
        num_threads=1, hard_vocab_limit=exact_vocab_size, minloglevel=2)
    (out / SP_MODEL).write_bytes(model.getvalue())
    return out
