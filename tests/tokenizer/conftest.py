"""Tiny tokenizers of every supported kind, built once per session in a temporary directory."""

import pathlib

import pytest

from azr_jax.tokenizer import HFTokenizer, SentencePieceTokenizer
from azr_jax.tokenizer.testing import build_tiny_bpe_tokenizer, build_tiny_sentencepiece


@pytest.fixture(scope="session")
def qwen_dir(tmp_path_factory) -> pathlib.Path:
    return build_tiny_bpe_tokenizer(tmp_path_factory.mktemp("qwen2_tok"), flavor="qwen2")


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory) -> pathlib.Path:
    return build_tiny_bpe_tokenizer(tmp_path_factory.mktemp("llama3_tok"), flavor="llama3")


@pytest.fixture(scope="session")
def sp_dir(tmp_path_factory) -> pathlib.Path:
    return build_tiny_sentencepiece(tmp_path_factory.mktemp("sp_tok"))


@pytest.fixture(scope="session")
def qwen_tok(qwen_dir) -> HFTokenizer:
    return HFTokenizer(qwen_dir)


@pytest.fixture(scope="session")
def llama_tok(llama_dir) -> HFTokenizer:
    return HFTokenizer(llama_dir)


@pytest.fixture(scope="session")
def sp_tok(sp_dir) -> SentencePieceTokenizer:
    return SentencePieceTokenizer(sp_dir / "tokenizer.model")


@pytest.fixture(params=["qwen", "llama", "sp"])
def any_tok(request):
    """Each implementation in turn, for behaviour the interface promises everywhere."""
    return request.getfixturevalue(f"{request.param}_tok")
