"""Tiny tokenizers trained in milliseconds, for tests that must not download a real one.

They copy the structure of the real files (pre-tokenizer split pattern, normaliser, decoder,
special tokens appended after the learned vocabulary, the config files beside tokenizer.json), so
code that works on them meets the same shapes of data as on Qwen2.5 and Llama-3 checkpoints:
`build_tiny_bpe_tokenizer(dir)` writes a directory `load_tokenizer` and transformers' AutoTokenizer
both read, which can sit next to a tiny HF model's config.json and safetensors.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib

from tokenizers import AddedToken, Regex, decoders, models, normalizers, pre_tokenizers, processors, trainers
from tokenizers import Tokenizer as RustTokenizer

from azr_jax.tokenizer.hf_config import GENERATION_CONFIG, TOKENIZER_CONFIG
from azr_jax.tokenizer.hf_tokenizer import TOKENIZER_JSON
from azr_jax.tokenizer.sp_training import FORMAT_SYMBOLS, train_sentencepiece

# The split patterns of the published tokenizer.json files; they differ only in digit grouping.
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")

TINY_CORPUS: tuple[str, ...] = (
    "def add(a, b):\n    return a + b\n",
    "def fib(n):\n\tif n < 2:\n\t\treturn n\n\treturn fib(n - 1) + fib(n - 2)\n",
    "for i in range(10):\n    print(i * i)\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n"
    "    def push(self, x):\n        self.items.append(x)\n",
    "import numpy as np\nx = np.zeros((3, 4), dtype=np.int32)\nprint(x.shape)\n",
    "<think>The function returns the sum of its inputs.</think> <answer>f(2, 3) = 5</answer>",
    "<think>Try the input 7; the output is 13.</think>\n<answer>13</answer>",
    "The quick brown fox jumps over the lazy dog. Self-play teaches the model to propose and solve tasks.",
    "Absolute Zero: reinforced self-play reasoning with zero data. Deduction, abduction, induction.",
    "if x == 0 and y != 1 or z >= 2:\n    raise ValueError('bad input: %r' % (x,))\n",
    "日本語のテキストと中文文本。 Emoji: 😀🚀✨ café naïve Ωmega",
    "assert sorted([3, 1, 2]) == [1, 2, 3]\nassert 'abc'.upper() == 'ABC'\n",
)


@dataclasses.dataclass(frozen=True)
class BpeFlavor:
    """What tells one family's byte-level BPE tokenizer.json apart, in miniature."""

    split_pattern: str
    nfc: bool  # Qwen normalises to NFC; Llama-3 has no normaliser
    special_tokens: tuple[str, ...]  # appended after the learned vocabulary, as in the real files
    plain_added_tokens: tuple[str, ...]  # always kept whole but not skipped as special (Qwen3 "<think>")
    bos: str | None
    eos: str
    pad: str | None
    generation_eos: tuple[str, ...]  # generation_config.json's eos_token_id, by name
    tokenizer_class: str
    clean_up_tokenization_spaces: bool


BPE_FLAVORS: dict[str, BpeFlavor] = {
    # Qwen2.5-Instruct: no BOS, chat turns end with <|im_end|>, documents with <|endoftext|>.
    "qwen2": BpeFlavor(
        split_pattern=QWEN2_SPLIT, nfc=True,
        special_tokens=("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
        plain_added_tokens=("<think>", "</think>"),
        bos=None, eos="<|im_end|>", pad="<|endoftext|>", generation_eos=("<|im_end|>", "<|endoftext|>"),
        tokenizer_class="Qwen2Tokenizer", clean_up_tokenization_spaces=False),
    # Llama-3.1-Instruct: BOS added by a TemplateProcessing post-processor, no pad token.
    "llama3": BpeFlavor(
        split_pattern=LLAMA3_SPLIT, nfc=False,
        special_tokens=("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                        "<|eot_id|>"),
        plain_added_tokens=(),
        bos="<|begin_of_text|>", eos="<|eot_id|>", pad=None, generation_eos=("<|end_of_text|>", "<|eot_id|>"),
        tokenizer_class="PreTrainedTokenizerFast", clean_up_tokenization_spaces=True),
}


def build_tiny_bpe_tokenizer(out_dir: str | os.PathLike, vocab_size: int = 512, flavor: str = "qwen2",
                             corpus: tuple[str, ...] = TINY_CORPUS) -> pathlib.Path:
    """Writes tokenizer.json, tokenizer_config.json and generation_config.json; returns `out_dir`.

    `vocab_size` counts the learned vocabulary (at least the 256 byte symbols); the added tokens
    come after it, so the tokenizer's vocab_size is `vocab_size + len(added tokens)` when the corpus
    is rich enough to learn every merge asked for (the default corpus stops near 600).
    """
    if flavor not in BPE_FLAVORS:
        raise ValueError(f"unknown BPE flavor {flavor!r}; known: {sorted(BPE_FLAVORS)}")
    if vocab_size < 256:
        raise ValueError(f"vocab_size must be at least 256 (the byte alphabet), got {vocab_size}")
    spec = BPE_FLAVORS[flavor]
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tok = RustTokenizer(models.BPE())
    if spec.nfc:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(spec.split_pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in spec.special_tokens])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in spec.plain_added_tokens])
    byte_level = processors.ByteLevel(trim_offsets=False)
    if spec.bos is None:
        tok.post_processor = byte_level
    else:
        bos_pair = (spec.bos, tok.token_to_id(spec.bos))
        template = processors.TemplateProcessing(single=f"{spec.bos} $A", pair=f"{spec.bos} $A {spec.bos} $B",
                                                 special_tokens=[bos_pair])
        tok.post_processor = processors.Sequence([byte_level, template])
    tok.save(str(out / TOKENIZER_JSON))

    config = {
        "tokenizer_class": spec.tokenizer_class,
        "bos_token": spec.bos,
        "eos_token": spec.eos,
        "pad_token": spec.pad,
        "model_max_length": 4096,
        "clean_up_tokenization_spaces": spec.clean_up_tokenization_spaces,
    }
    (out / TOKENIZER_CONFIG).write_text(json.dumps(config, indent=2))
    generation = {"eos_token_id": [tok.token_to_id(t) for t in spec.generation_eos]}
    if spec.bos is not None:
        generation["bos_token_id"] = tok.token_to_id(spec.bos)
    (out / GENERATION_CONFIG).write_text(json.dumps(generation, indent=2))
    return out


DEFAULT_SP_SYMBOLS = FORMAT_SYMBOLS  # the R1 tags, one piece each


def build_tiny_sentencepiece(out_dir: str | os.PathLike, vocab_size: int = 400,
                             user_defined_symbols: tuple[str, ...] = DEFAULT_SP_SYMBOLS,
                             corpus: tuple[str, ...] = TINY_CORPUS) -> pathlib.Path:
    """Writes `out_dir/tokenizer.model` (BPE, Llama-2 style: <unk>=0 <s>=1 </s>=2, no pad); returns `out_dir`.

    Byte fallback makes every string encodable (256 of the pieces are bytes), and the identity
    normaliser keeps tabs, newlines and runs of spaces, so code round-trips exactly. The bytes, the
    meta pieces, the symbols and every character of the corpus need a piece each, so the default
    corpus needs vocab_size >= 344; SentencePiece's own error says so when it is smaller.
    """
    # A tiny corpus may not support every piece asked for; take what it supports.
    return train_sentencepiece(corpus, out_dir, vocab_size, user_defined_symbols, exact_vocab_size=False)
