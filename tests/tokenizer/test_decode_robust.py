"""decode never raises on ids in range and always returns valid text; ids out of range fail loudly."""

import numpy as np
import pytest


def _is_valid_str(text) -> bool:
    if not isinstance(text, str):
        return False
    text.encode("utf-8")  # raises on lone surrogates, which a sloppy byte decoder could produce
    return True


@pytest.mark.parametrize("skip_special_tokens", [False, True])
def test_random_id_lists_decode_to_valid_text(any_tok, skip_special_tokens):
    rng = np.random.default_rng(0)
    for _ in range(300):
        ids = rng.integers(0, any_tok.vocab_size, size=rng.integers(0, 40)).tolist()
        assert _is_valid_str(any_tok.decode(ids, skip_special_tokens=skip_special_tokens))


def test_every_single_id_decodes(any_tok):
    for i in range(any_tok.vocab_size):
        assert _is_valid_str(any_tok.decode([i]))


def test_cut_multibyte_character_decodes_to_replacement_character(any_tok):
    # "龍" is not in the training corpus, so every tokenizer spells it with its three UTF-8 bytes.
    ids = any_tok.encode("x龍")
    assert any_tok.decode(ids) == "x龍"
    cut = any_tok.decode(ids[:-1])
    assert cut.startswith("x") and "\ufffd" in cut and "龍" not in cut


def test_lone_continuation_bytes_decode_to_replacement_character(any_tok):
    last_byte = any_tok.encode("x龍")[-1:]  # 0x8D, the last byte of "龍"
    assert any_tok.decode(last_byte) == "\ufffd"


@pytest.mark.parametrize("bad", [[-1], [0, 10**6], [2**40]])
def test_ids_outside_the_vocabulary_raise_a_clear_error(any_tok, bad):
    ids = [any_tok.vocab_size if i == 10**6 else i for i in bad]
    with pytest.raises(ValueError, match="outside the tokenizer vocabulary"):
        any_tok.decode(ids)


def test_decode_rejects_non_1d_or_non_integer_input(any_tok):
    with pytest.raises(ValueError, match="1-D sequence of integer ids"):
        any_tok.decode(np.zeros((2, 3), dtype=np.int32))
    with pytest.raises(ValueError, match="1-D sequence of integer ids"):
        any_tok.decode([1.5, 2.0])
    assert any_tok.decode([]) == ""


def test_decode_generated_leaves_out_ids_past_the_tokenizer_but_keeps_the_text(any_tok):
    ids = any_tok.encode("x = [1, 2]")
    padded = ids[:2] + [any_tok.vocab_size, any_tok.vocab_size + 7] + ids[2:]  # a padded embedding table's ids
    assert any_tok.decode_generated(padded) == any_tok.decode(ids) == "x = [1, 2]"
    with pytest.raises(ValueError, match="outside the tokenizer vocabulary"):
        any_tok.decode(padded)
