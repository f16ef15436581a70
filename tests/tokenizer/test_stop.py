"""Stop strings as token-id sequences, and the host-side check that confirms them."""

import pytest

from azr_jax.tokenizer import ends_with_stop_string, stop_token_sequences

STOPS = ["</answer>", "<|im_end|>", "```", " STOP", "\n\n"]


def test_sequences_spell_their_stop_string_after_other_text(any_tok):
    seqs = stop_token_sequences(any_tok, STOPS)
    assert len(seqs) == len(STOPS)
    for stop, seq in zip(STOPS, seqs):
        assert seq and all(0 <= i < any_tok.vocab_size for i in seq)
        assert any_tok.decode(any_tok.encode("answer") + seq) == "answer" + stop


@pytest.mark.parametrize("text", ["The result is 42</answer>", "<answer>f(3) = 9</answer>",
                                  "x = 1\n</answer>", "done.\n\n</answer>"])
def test_canonical_sequence_ends_typical_generations(any_tok, text):
    (seq,) = stop_token_sequences(any_tok, ["</answer>"])
    assert any_tok.encode(text)[-len(seq):] == seq


def test_special_and_user_defined_stop_tokens_are_single_ids(qwen_tok, sp_tok):
    assert stop_token_sequences(qwen_tok, ["<|im_end|>"]) == [[qwen_tok.token_to_id("<|im_end|>")]]
    # The SentencePiece symbol comes without the "▁" dummy prefix its standalone encoding has.
    assert stop_token_sequences(sp_tok, ["</answer>"]) == [[sp_tok.token_to_id("</answer>")]]


def test_byte_level_stop_string_is_multi_token_and_context_dependent(qwen_tok):
    # The documented limitation: the vocabulary has merges ".</" and ">\n" that straddle the stop
    # string's edges, so these spellings do not contain the canonical ids; the host-side text check
    # must catch the first, and the second ends the text at a token that runs past the stop string.
    (seq,) = stop_token_sequences(qwen_tok, ["</answer>"])
    assert [qwen_tok.id_to_token(i) for i in seq] == ["</", "answer", ">"]
    ids = qwen_tok.encode("done.</answer>")
    assert ids[-len(seq):] != seq
    assert ends_with_stop_string(qwen_tok.decode(ids), ["</answer>"])
    ids = qwen_tok.encode("</answer>\n")
    assert not any(ids[i:i + len(seq)] == seq for i in range(len(ids)))


def test_empty_stop_string_is_refused(any_tok):
    with pytest.raises(ValueError, match="non-empty"):
        stop_token_sequences(any_tok, ["</answer>", ""])


def test_ends_with_stop_string():
    assert ends_with_stop_string("x</answer>", ["<|im_end|>", "</answer>"])
    assert not ends_with_stop_string("</answer> trailing", ["</answer>"])
    assert not ends_with_stop_string("anything", [])
    assert not ends_with_stop_string("anything", [""])
