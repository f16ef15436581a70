"""Special and added tokens: single ids, their roles (BOS/EOS/PAD), and skipping them on decode."""

import pytest

from azr_jax.tokenizer import HFTokenizer, SpecialTokens

QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
LLAMA_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]


@pytest.mark.parametrize("tok_name,tokens", [
    ("qwen_tok", QWEN_SPECIALS + ["<think>", "</think>"]),
    ("llama_tok", LLAMA_SPECIALS),
    ("sp_tok", ["<think>", "</think>", "<answer>", "</answer>"]),
])
def test_special_tokens_are_single_ids_that_decode_back(request, tok_name, tokens):
    tok = request.getfixturevalue(tok_name)
    for token in tokens:
        token_id = tok.token_to_id(token)
        assert token_id is not None
        # SentencePiece starts every text with its "▁" dummy prefix, a piece of its own before a symbol.
        prefix = [tok.token_to_id("\u2581")] if tok_name == "sp_tok" else []
        assert tok.encode(token) == prefix + [token_id]
        assert tok.decode([token_id]) == token
        assert tok.id_to_token(token_id) == token
        # ...and stay whole when glued to surrounding text.
        assert token_id in tok.encode(f"abc{token}def")


def test_qwen_roles(qwen_tok):
    ids = {t: qwen_tok.token_to_id(t) for t in QWEN_SPECIALS}
    assert qwen_tok.bos_id is None
    # tokenizer_config's eos first, then generation_config's extra ones.
    assert qwen_tok.eos_ids == (ids["<|im_end|>"], ids["<|endoftext|>"])
    assert qwen_tok.pad_id == ids["<|endoftext|>"]
    assert qwen_tok.special_ids == tuple(sorted(ids.values()))


def test_llama_roles(llama_tok):
    ids = {t: llama_tok.token_to_id(t) for t in LLAMA_SPECIALS}
    assert llama_tok.bos_id == ids["<|begin_of_text|>"]
    assert llama_tok.eos_ids == (ids["<|eot_id|>"], ids["<|end_of_text|>"])
    # No pad token in the config: padding uses the first EOS, and masks say what is padding.
    assert llama_tok.pad_id == ids["<|eot_id|>"]
    assert llama_tok.special_ids == tuple(sorted(ids.values()))


def test_sentencepiece_roles(sp_tok):
    assert sp_tok.token_to_id("<unk>") == 0
    assert (sp_tok.bos_id, sp_tok.eos_ids, sp_tok.pad_id) == (1, (2,), 2)
    assert sp_tok.special_ids == (0, 1, 2)


def test_chat_template_text_encodes_special_tokens(qwen_tok):
    text = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>4</think>"
    ids = qwen_tok.encode(text)
    assert ids.count(qwen_tok.token_to_id("<|im_start|>")) == 2
    assert ids.count(qwen_tok.token_to_id("<|im_end|>")) == 1
    assert qwen_tok.decode(ids) == text
    # Skipping drops special tokens but keeps plain added tokens such as <think>.
    assert qwen_tok.decode(ids, skip_special_tokens=True) == "user\nWhat is 2+2?\nassistant\n<think>4</think>"


def test_skip_special_tokens_drops_exactly_the_special_ids(any_tok):
    assert any_tok.decode(list(any_tok.special_ids), skip_special_tokens=True) == ""
    assert any_tok.decode(list(any_tok.special_ids)) != ""


def test_sentencepiece_spells_out_control_pieces_and_keeps_spaces_around_them(sp_tok):
    hello, world = sp_tok.encode("Hello"), sp_tok.encode("world")
    ids = [sp_tok.bos_id] + hello + [sp_tok.eos_ids[0]] + world
    # The "▁" that starts "world" follows text, so it is a real space, as in a plain SentencePiece decode.
    assert sp_tok.decode(ids) == "<s>Hello</s> world"
    assert sp_tok.decode(ids, skip_special_tokens=True) == "Hello world"
    assert sp_tok.decode([sp_tok.eos_ids[0]] + world) == "</s>world"


def test_token_to_id_of_unknown_token_is_none(any_tok):
    assert any_tok.token_to_id("<|no such token|>") is None


def test_id_to_token_rejects_ids_outside_the_vocabulary(any_tok):
    with pytest.raises(ValueError, match="outside the tokenizer vocabulary"):
        any_tok.id_to_token(any_tok.vocab_size)
    with pytest.raises(ValueError, match="outside the tokenizer vocabulary"):
        any_tok.id_to_token(-1)


def test_explicit_special_tokens_override_the_config_files(qwen_dir):
    tok = HFTokenizer(qwen_dir / "tokenizer.json", SpecialTokens(eos="<|endoftext|>"))
    assert tok.eos_ids == (tok.token_to_id("<|endoftext|>"),)
    assert tok.bos_id is None
    assert tok.pad_id == tok.eos_ids[0]


def test_special_tokens_validates_its_fields():
    with pytest.raises(TypeError, match="SpecialTokens.bos"):
        SpecialTokens(bos=1)
    with pytest.raises(TypeError, match="SpecialTokens.eos"):
        SpecialTokens(eos=("<eos>", 2))
