"""encode/decode are inverses on the kinds of text self-play produces: prose, unicode, code."""

import numpy as np
import pytest

TEXTS = [
    "",
    "Hello world",
    "The answer is 42.",
    "  leading and trailing spaces   ",
    "multiple    spaces\tand\ttabs",
    "日本語のテキストと中文文本。",
    "emoji 😀🚀✨ and café naïve Ωmega",
    "unseen characters: 龍 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ☃",
    "def fib(n):\n\tif n < 2:\n\t\treturn n\n\treturn fib(n - 1) + fib(n - 2)\n",
    "class A:\n    def f(self):\n        return {'k': [1, 2, 3]}\n\n\n",
    "windows\r\nline endings\r\n",
    "<think>reasoning</think> <answer>x = 3</answer>",
]


@pytest.mark.parametrize("text", TEXTS)
def test_decode_inverts_encode(any_tok, text):
    ids = any_tok.encode(text)
    assert all(isinstance(i, int) and 0 <= i < any_tok.vocab_size for i in ids)
    assert any_tok.decode(ids) == text


def test_batch_encode_matches_encode(any_tok):
    assert any_tok.batch_encode(TEXTS) == [any_tok.encode(t) for t in TEXTS]
    assert any_tok.batch_encode(TEXTS, add_bos=True) == [any_tok.encode(t, add_bos=True) for t in TEXTS]


def test_decode_accepts_numpy_ids(any_tok):
    ids = any_tok.encode(TEXTS[8])
    assert any_tok.decode(np.asarray(ids, dtype=np.int32)) == TEXTS[8]
    assert any_tok.decode(np.asarray(ids, dtype=np.int64)) == TEXTS[8]


def test_add_bos_prepends_bos_only_where_the_vocabulary_has_one(qwen_tok, llama_tok, sp_tok):
    text = "Hello world"
    assert qwen_tok.bos_id is None
    assert qwen_tok.encode(text, add_bos=True) == qwen_tok.encode(text)
    for tok in (llama_tok, sp_tok):
        assert tok.bos_id is not None
        assert tok.encode(text, add_bos=True) == [tok.bos_id] + tok.encode(text)
        assert tok.encode(text)[0] != tok.bos_id


def test_code_whitespace_is_tokenized_not_dropped(any_tok):
    # A tokenizer that normalised whitespace would give these the same ids.
    a, b = "if x:\n\treturn 1", "if x:\n    return 1"
    assert any_tok.encode(a) != any_tok.encode(b)
