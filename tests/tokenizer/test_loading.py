"""load_tokenizer: what it picks from files and directories, local or remote, and how it refuses."""

import json
import os
import shutil
import uuid

import fsspec
import pytest

from azr_jax.tokenizer import HFTokenizer, SentencePieceTokenizer, TokenizerLoadError, load_tokenizer

PROBE = "def f(x):\n\treturn x * 2  # 日本語 😀"


def _same(a, b):
    return (type(a), a.vocab_size, a.bos_id, a.eos_ids, a.pad_id, a.encode(PROBE)) == \
           (type(b), b.vocab_size, b.bos_id, b.eos_ids, b.pad_id, b.encode(PROBE))


def test_hf_directory_and_its_tokenizer_json(qwen_dir, qwen_tok):
    for path in (qwen_dir, str(qwen_dir), qwen_dir / "tokenizer.json"):
        tok = load_tokenizer(path)
        assert isinstance(tok, HFTokenizer)
        assert _same(tok, qwen_tok)  # including EOS/PAD from the configs beside tokenizer.json


def test_sentencepiece_directory_and_model_file(sp_dir, sp_tok):
    for path in (sp_dir, sp_dir / "tokenizer.model"):
        tok = load_tokenizer(path)
        assert isinstance(tok, SentencePieceTokenizer)
        assert _same(tok, sp_tok)


def test_directory_with_both_prefers_tokenizer_json(tmp_path, qwen_dir, sp_dir):
    shutil.copytree(qwen_dir, tmp_path, dirs_exist_ok=True)
    shutil.copy(sp_dir / "tokenizer.model", tmp_path)
    assert isinstance(load_tokenizer(tmp_path), HFTokenizer)


def test_directory_with_one_differently_named_model_file(tmp_path, sp_dir, sp_tok):
    shutil.copy(sp_dir / "tokenizer.model", tmp_path / "spiece.model")
    assert _same(load_tokenizer(tmp_path), sp_tok)
    shutil.copy(sp_dir / "tokenizer.model", tmp_path / "other.model")
    with pytest.raises(TokenizerLoadError, match="several .model files"):
        load_tokenizer(tmp_path)


def test_missing_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="nope"):
        load_tokenizer(missing)
    with pytest.raises(FileNotFoundError, match="nope"):
        HFTokenizer(missing)
    with pytest.raises(FileNotFoundError, match="nope"):
        SentencePieceTokenizer(missing)


def test_directory_without_a_tokenizer(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(TokenizerLoadError, match=r"no tokenizer.json and no SentencePiece .model.*config.json"):
        load_tokenizer(tmp_path)
    with pytest.raises(FileNotFoundError, match="has no tokenizer.json"):
        HFTokenizer(tmp_path)


def test_corrupt_sentencepiece_model(tmp_path):
    path = tmp_path / "tokenizer.model"
    path.write_bytes(os.urandom(512))
    with pytest.raises(TokenizerLoadError, match=r"tokenizer.model is not a valid SentencePiece model"):
        load_tokenizer(path)


@pytest.mark.parametrize("content", ["{not json", '{"version": "1.0"}', "[]", ""])
def test_corrupt_tokenizer_json(tmp_path, content):
    (tmp_path / "tokenizer.json").write_text(content)
    with pytest.raises(TokenizerLoadError, match="is not a valid Hugging Face tokenizer.json"):
        load_tokenizer(tmp_path)


def _hf_copy(src, dst, **config_updates):
    shutil.copytree(src, dst, dirs_exist_ok=True)
    config = json.loads((dst / "tokenizer_config.json").read_text())
    config.update(config_updates)
    (dst / "tokenizer_config.json").write_text(json.dumps(config))
    return dst


def test_unknown_special_token_in_config_is_named(tmp_path, qwen_dir):
    _hf_copy(qwen_dir, tmp_path, eos_token="<|im_finished|>")
    with pytest.raises(TokenizerLoadError, match=r"tokenizer_config.json names eos token '<\|im_finished\|>'"):
        load_tokenizer(tmp_path)


def test_special_tokens_as_serialised_added_tokens(tmp_path, qwen_dir, qwen_tok):
    _hf_copy(qwen_dir, tmp_path, pad_token={"__type": "AddedToken", "content": "<|im_start|>", "special": True})
    assert load_tokenizer(tmp_path).pad_id == qwen_tok.token_to_id("<|im_start|>")
    _hf_copy(qwen_dir, tmp_path, pad_token=7)
    with pytest.raises(TokenizerLoadError, match="pad_token must be a token string"):
        load_tokenizer(tmp_path)


def test_corrupt_configs_are_named(tmp_path, qwen_dir):
    shutil.copytree(qwen_dir, tmp_path, dirs_exist_ok=True)
    (tmp_path / "tokenizer_config.json").write_text("{oops")
    with pytest.raises(TokenizerLoadError, match="tokenizer_config.json is not valid JSON"):
        load_tokenizer(tmp_path)
    shutil.copy(qwen_dir / "tokenizer_config.json", tmp_path)
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [1, 10**6]}))
    with pytest.raises(TokenizerLoadError, match="eos_token_id 1000000 from generation_config.json"):
        load_tokenizer(tmp_path)
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": "x"}))
    with pytest.raises(TokenizerLoadError, match="eos_token_id must be an int"):
        load_tokenizer(tmp_path)


def test_bare_tokenizer_json_has_no_roles(tmp_path, qwen_dir):
    shutil.copy(qwen_dir / "tokenizer.json", tmp_path)
    tok = load_tokenizer(tmp_path)
    assert (tok.bos_id, tok.eos_ids, tok.pad_id) == (None, (), 0)


def test_files_that_are_not_tokenizers(tmp_path, qwen_dir):
    with pytest.raises(TokenizerLoadError, match="is a config, not a tokenizer"):
        load_tokenizer(qwen_dir / "tokenizer_config.json")
    (tmp_path / "vocab.txt").write_text("a\nb\n")
    with pytest.raises(TokenizerLoadError, match="neither a SentencePiece .model file nor a tokenizer.json"):
        load_tokenizer(tmp_path / "vocab.txt")


def _upload(local_dir, url):
    fs, root = fsspec.core.url_to_fs(url)
    for name in os.listdir(local_dir):
        fs.put_file(os.path.join(local_dir, name), f"{root}/{name}")


def test_remote_paths_through_fsspec(qwen_dir, sp_dir, qwen_tok, sp_tok):
    base = f"memory://tok-{uuid.uuid4().hex[:8]}"
    _upload(qwen_dir, f"{base}/qwen")
    _upload(sp_dir, f"{base}/sp")
    assert _same(load_tokenizer(f"{base}/qwen"), qwen_tok)
    assert _same(load_tokenizer(f"{base}/qwen/tokenizer.json"), qwen_tok)
    assert _same(load_tokenizer(f"{base}/sp"), sp_tok)
    with pytest.raises(FileNotFoundError, match=f"{base}/missing"):
        load_tokenizer(f"{base}/missing")


def test_gcs_paths(gcs_bucket, llama_dir, sp_dir, llama_tok, sp_tok):
    _upload(llama_dir, f"{gcs_bucket}/ckpt/llama")
    _upload(sp_dir, f"{gcs_bucket}/ckpt/sp")
    assert _same(load_tokenizer(f"{gcs_bucket}/ckpt/llama"), llama_tok)
    assert _same(load_tokenizer(f"{gcs_bucket}/ckpt/sp/tokenizer.model"), sp_tok)
