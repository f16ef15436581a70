"""The tiny base's training and validation rows: corpus -> SentencePiece tokenizer -> packed token ids.

The validation documents are drawn with another corpus seed than the training ones (both from the
training families and seed range; the held-out family never appears in either).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

from azr_jax.azr.config import PAPER_BANNED_MODULES
from azr_jax.data.corpus import documents
from azr_jax.data.packing import PackedRows, pack_documents
from azr_jax.tokenizer import Tokenizer, load_tokenizer
from azr_jax.tokenizer.sp_training import train_sentencepiece

TOKENIZER_TRAINING_DOCS = 20_000  # enough for stable merges; training on all documents only costs time


@dataclasses.dataclass(frozen=True)
class CorpusConfig:
    train_docs: int = 200_000
    val_docs: int = 3_000
    format_share: float = 0.1  # documents in the exact AZR proposer/solver formats
    proposer_share: float = 0.25  # of the format documents: proposer prompts; the rest are solver prompts
    max_examples: int = 8  # calls shown by a documentation-style document at most
    vocab_size: int = 2048
    # Two row lengths: most documents are short, and attention over a long row costs T^2 even when the
    # segment mask leaves only short blocks; documents longer than a short row go to the long rows.
    short_row_length: int = 256
    long_row_length: int = 1280
    seed: int = 0  # training documents
    val_seed: int = 1_000_003  # validation documents: fixed, so curves of runs with other `seed`s compare

    def __post_init__(self):
        if self.long_row_length < self.short_row_length:
            raise ValueError("CorpusConfig.long_row_length must be >= short_row_length")
        for name in ("format_share", "proposer_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"CorpusConfig.{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("train_docs", "max_examples", "val_docs", "vocab_size", "short_row_length", "long_row_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"CorpusConfig.{name} must be >= 1, got {getattr(self, name)}")


def encode_documents(tokenizer: Tokenizer, docs: Sequence[str]) -> list[list[int]]:
    """[BOS] ids [EOS] per document: a prompt is encoded with BOS, and EOS ends what the model writes."""
    eos = list(tokenizer.eos_ids[:1])
    return [ids + eos for ids in tokenizer.batch_encode(list(docs), add_bos=True)]


def pack_by_length(docs_ids: list[list[int]], config: CorpusConfig, pad_id: int) -> list[PackedRows]:
    """Short documents packed into short rows, the others into long rows (pools without rows left out)."""
    short = [d for d in docs_ids if len(d) <= config.short_row_length]
    long = [d for d in docs_ids if len(d) > config.short_row_length]
    pools = [pack_documents(short, config.short_row_length, pad_id)] if short else []
    if long:
        pools.append(pack_documents(long, config.long_row_length, pad_id))
    return pools


def build_datasets(config: CorpusConfig, tokenizer_dir: str | os.PathLike, banned: tuple[str, ...] = PAPER_BANNED_MODULES,
                   train_tokenizer: bool = True) -> tuple[Tokenizer, list[PackedRows], list[PackedRows]]:
    """The tokenizer (trained into `tokenizer_dir`, or the one already there) with the training and
    validation row pools."""
    mix = dict(format_share=config.format_share, banned=banned, max_examples=config.max_examples,
               proposer_share=config.proposer_share)
    train_docs = list(documents(config.train_docs, config.seed, **mix))
    val_docs = list(documents(config.val_docs, config.val_seed, **mix))
    if train_tokenizer:
        train_sentencepiece(train_docs[:TOKENIZER_TRAINING_DOCS], tokenizer_dir, config.vocab_size)
    tokenizer = load_tokenizer(tokenizer_dir)
    pad = tokenizer.pad_id
    train = pack_by_length(encode_documents(tokenizer, train_docs), config, pad)
    val = pack_by_length(encode_documents(tokenizer, val_docs), config, pad)
    return tokenizer, train, val
