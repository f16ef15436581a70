"""launch/sample.py on converted checkpoints, with their tokenizer and without one (ids in, ids out)."""

import json
import os
import subprocess
import sys

import pytest
import torch

from azr_jax.checkpoint.hf_convert import import_hf
from azr_jax.model.testing import tiny_hf_model
from azr_jax.tokenizer import load_tokenizer
from azr_jax.tokenizer.testing import build_tiny_bpe_tokenizer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    hf = tiny_hf_model("qwen2", vocab_size=640)
    hf.save_pretrained(root / "hf")
    build_tiny_bpe_tokenizer(root / "hf")
    import_hf(str(root / "hf"), str(root / "ckpt"), param_dtype="float32")
    return hf, str(root / "ckpt")


def sample(*args):
    return subprocess.run([sys.executable, os.path.join(REPO, "launch/sample.py"), *args],
                          capture_output=True, text=True, timeout=600)


def test_greedy_text_prompt_matches_transformers(checkpoint):
    hf, ckpt = checkpoint
    tokenizer = load_tokenizer(os.path.join(ckpt, "tokenizer"))
    prompt = "def add(a, b):"
    out = sample(f"--checkpoint={ckpt}", f"--prompt={prompt}", "--max_new_tokens=12", "--temperature=0", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    completion = json.loads(out.stdout.strip().splitlines()[-1])["completions"][0]
    ids = tokenizer.encode(prompt)
    with torch.no_grad():
        ref = hf.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=12,
                          eos_token_id=list(tokenizer.eos_ids), pad_token_id=tokenizer.pad_id)[0, len(ids):].tolist()
    assert completion["ids"] == ref
    assert completion["text"] == tokenizer.decode([i for i in ref if i < tokenizer.vocab_size])


def test_prompt_ids_sampling_and_bad_input(checkpoint):
    _, ckpt = checkpoint
    out = sample(f"--checkpoint={ckpt}", "--prompt_ids=5,6,7", "--max_new_tokens=5", "--temperature=1",
                 "--n=3", "--top_p=0.9", "--top_k=20", "--seed=1", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    completions = json.loads(out.stdout.strip().splitlines()[-1])["completions"]
    assert len(completions) == 3 and all(1 <= len(c["ids"]) <= 5 for c in completions)
    bad = sample(f"--checkpoint={ckpt}", "--prompt_ids=5,6", "--n=0")
    assert bad.returncode == 2 and "n (samples per prompt) must be >= 1" in bad.stderr
    bad = sample(f"--checkpoint={ckpt}", "--prompt_ids=5,x")
    assert bad.returncode != 0 and "comma-separated integers" in bad.stderr


@pytest.fixture(scope="module")
def checkpoint_without_tokenizer(tmp_path_factory):
    """Converted from a HF directory without tokenizer files: save_pretrained writes only the model
    and its generation_config.json, which the checkpoint's tokenizer directory then holds alone."""
    root = tmp_path_factory.mktemp("sample_ids")
    hf = tiny_hf_model("llama")
    hf.save_pretrained(root / "hf")
    import_hf(str(root / "hf"), str(root / "ckpt"))
    assert sorted(os.listdir(root / "ckpt" / "tokenizer")) == ["generation_config.json"]
    return hf, root / "ckpt"


def greedy_ids(hf, prompt, new_tokens):
    with torch.no_grad():
        out = hf.generate(torch.tensor([prompt]), do_sample=False, max_new_tokens=new_tokens,
                          eos_token_id=hf.config.eos_token_id, pad_token_id=0)
    return out[0, len(prompt):].tolist()


def test_prompt_ids_json_needs_no_tokenizer(checkpoint_without_tokenizer):
    hf, ckpt = checkpoint_without_tokenizer
    args = (f"--checkpoint={ckpt}", "--prompt_ids=5,6,7", "--max_new_tokens=8", "--temperature=0", "--json")
    out = sample(*args)
    assert out.returncode == 0, out.stderr[-3000:]
    [completion] = json.loads(out.stdout.strip().splitlines()[-1])["completions"]
    ref = greedy_ids(hf, [5, 6, 7], 8)
    assert completion == {"ids": ref, "finish_reason": "length"}

    # Without a tokenizer, generation_config.json's EOS ids still end a generation, as HF's generate does.
    k = next(i for i in range(1, len(ref)) if ref[i] not in ref[:i])
    generation_config = ckpt / "tokenizer" / "generation_config.json"
    original = generation_config.read_text()
    generation_config.write_text(json.dumps({"eos_token_id": [1, ref[k]]}))
    try:
        out = sample(*args)
    finally:
        generation_config.write_text(original)
    assert out.returncode == 0, out.stderr[-3000:]
    [completion] = json.loads(out.stdout.strip().splitlines()[-1])["completions"]
    assert completion == {"ids": ref[:k + 1], "finish_reason": "eos"}


@pytest.mark.parametrize("args,needed_by", [
    (["--prompt=def f(x):", "--json"], "--prompt"),
    (["--prompt_ids=5,6", "--stop=</answer>", "--json"], "--stop"),
    (["--prompt_ids=5,6"], "text output (without --json)"),
])
def test_text_without_a_tokenizer_fails_clearly(checkpoint_without_tokenizer, args, needed_by):
    _, ckpt = checkpoint_without_tokenizer
    out = sample(f"--checkpoint={ckpt}", "--max_new_tokens=2", *args)
    assert out.returncode != 0
    assert f"its tokenizer does not load (directory {ckpt}/tokenizer has no tokenizer.json" in out.stderr
    assert f"and {needed_by} needs it; give --prompt_ids and --json" in out.stderr
