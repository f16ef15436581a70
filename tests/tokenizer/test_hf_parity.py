"""Our HFTokenizer encodes and decodes exactly as transformers does on the same tokenizer.json."""

import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from azr_jax.tokenizer.testing import TINY_CORPUS

TEXTS = list(TINY_CORPUS) + [
    "",
    "Hello world!  Two spaces, then\ttab.",
    "unseen 龍 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ☃ 12345678",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nhi<|im_end|>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "x = [i ** 2 for i in range(100)]\r\nprint(x[-1])\n\n\n",
    "don't won't I'll we've they're",
]


@pytest.fixture(params=["qwen", "llama"])
def pair(request):
    directory = request.getfixturevalue(f"{request.param}_dir")
    ours = request.getfixturevalue(f"{request.param}_tok")
    return ours, PreTrainedTokenizerFast(tokenizer_file=str(directory / "tokenizer.json"))


def test_encode_matches_transformers(pair):
    ours, theirs = pair
    for text in TEXTS:
        assert ours.encode(text) == theirs.encode(text, add_special_tokens=False), text
    assert ours.batch_encode(TEXTS) == theirs(TEXTS, add_special_tokens=False)["input_ids"]


def test_decode_matches_transformers(pair):
    ours, theirs = pair
    for text in TEXTS:
        ids = ours.encode(text)
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(
                ids, skip_special_tokens=skip, clean_up_tokenization_spaces=False), text


def test_llama_add_bos_matches_the_tokenizer_json_post_processor(llama_tok, llama_dir):
    theirs = PreTrainedTokenizerFast(tokenizer_file=str(llama_dir / "tokenizer.json"))
    for text in TEXTS:
        assert llama_tok.encode(text, add_bos=True) == theirs.encode(text, add_special_tokens=True)


@pytest.mark.parametrize("name", ["qwen", "llama"])
def test_autotokenizer_reads_the_built_directory_with_the_same_roles(request, name):
    ours = request.getfixturevalue(f"{name}_tok")
    theirs = AutoTokenizer.from_pretrained(str(request.getfixturevalue(f"{name}_dir")))
    assert theirs.bos_token_id == ours.bos_id
    assert theirs.eos_token_id == ours.eos_ids[0]
    if theirs.pad_token_id is not None:
        assert theirs.pad_token_id == ours.pad_id
    assert len(theirs) == ours.vocab_size
    assert theirs.encode(TEXTS[3], add_special_tokens=False) == ours.encode(TEXTS[3])
