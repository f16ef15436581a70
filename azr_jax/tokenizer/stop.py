"""Stop strings ("</answer>") as token-id sequences the sampler can match on device.

Limitation: a BPE vocabulary can spell one string with different tokens depending on its
neighbours. With Qwen2.5's vocabulary "x</answer>" ends in ["</", "answer", ">"] but "x </answer>"
in [" </", "answer", ">"], a token such as ">\n" can run past the end of the string, and a model may
emit any non-canonical spelling. The sequence returned here is the canonical one for the string
following other text, so a token-level match is a fast, usually-right trigger, not a guarantee:
confirm on decoded text with `ends_with_stop_string`, and rely on the length limit (or a periodic
decoded-text check) for spellings the ids miss. Special and user-defined tokens ("<|im_end|>", a
SentencePiece "</answer>" symbol) have exactly one spelling.
"""

from __future__ import annotations

from typing import Sequence

from azr_jax.tokenizer.base import Tokenizer

# Text placed before a stop string so it is encoded as a continuation, not as the start of a text
# (where SentencePiece adds its "▁" dummy prefix). A newline ends a pre-token in the Qwen and
# Llama-3 split patterns, so it rarely merges with what follows; "a" covers strings starting with
# whitespace, which would merge with the newline.
_CONTEXTS = ("\n", "a")


def stop_token_sequences(tokenizer: Tokenizer, stop_strings: Sequence[str]) -> list[list[int]]:
    """One canonical id sequence per stop string, in order: the ids that spell it after other text."""
    return [_continuation_ids(tokenizer, s) for s in stop_strings]


def ends_with_stop_string(text: str, stop_strings: Sequence[str]) -> bool:
    """Host-side confirmation of a token-level stop: does the decoded text end with a stop string?"""
    return any(s and text.endswith(s) for s in stop_strings)


def _continuation_ids(tokenizer: Tokenizer, stop: str) -> list[int]:
    if not stop:
        raise ValueError("stop strings must be non-empty")
    for context in _CONTEXTS:
        head = tokenizer.encode(context)
        ids = tokenizer.encode(context + stop)
        tail = ids[len(head):]
        # The context must tokenize the same alone and before the stop string, and both must decode
        # back exactly; otherwise the two merged and this context tells us nothing. (Decoding `tail`
        # alone is no check: SentencePiece would drop a leading "▁" there as the text's dummy prefix.)
        if (tail and ids[:len(head)] == head and tokenizer.decode(head) == context
                and tokenizer.decode(ids) == context + stop):
            return tail
    ids = tokenizer.encode(stop)
    if tokenizer.decode(ids) != stop:
        raise ValueError(f"stop string {stop!r} does not survive encode/decode with {tokenizer!r}")
    return ids
