"""HF safetensors -> our checkpoint -> HF round trips, on local disk and a GCS emulator, and bad input."""

import json
import os
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest
import torch
import transformers

from azr_jax.checkpoint.hf_convert import export_hf, import_hf
from azr_jax.checkpoint.hf_params import CheckpointMismatchError
from azr_jax.checkpoint.model_checkpoint import CheckpointError, load_model
from azr_jax.checkpoint.safetensors_io import SafetensorsCheckpoint, SafetensorsError, write_safetensors
from azr_jax.model import masks
from azr_jax.model.functional import apply
from azr_jax.model.testing import tiny_hf_model

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def hf_logits(model, ids):
    with torch.no_grad():
        return model(input_ids=torch.tensor(ids, dtype=torch.long)).logits.numpy()


def our_logits(checkpoint, ids):
    _, graphdef, state = load_model(checkpoint)
    mask = np.ones(ids.shape, bool)
    logits, _ = apply(graphdef, state, ids, masks.positions_from_mask(mask), masks.causal_padding_mask(mask))
    return np.asarray(logits)


IDS = np.random.RandomState(0).randint(3, 384, (2, 10)).astype(np.int32)


@pytest.mark.parametrize("family,shard", [("qwen2", False), ("llama", True)])
def test_round_trip_through_our_checkpoint(tmp_path, family, shard):
    hf = tiny_hf_model(family)
    hf.save_pretrained(tmp_path / "hf", max_shard_size="100KB" if shard else "1GB")
    assert (tmp_path / "hf" / "model.safetensors.index.json").exists() == shard
    import_hf(str(tmp_path / "hf"), str(tmp_path / "ckpt"), param_dtype="float32")
    ref = hf_logits(hf, IDS)
    assert np.abs(our_logits(str(tmp_path / "ckpt"), IDS) - ref).max() <= 1e-4

    export_hf(str(tmp_path / "ckpt"), str(tmp_path / "back"), dtype="float32")
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "back")
    np.testing.assert_array_equal(hf_logits(reloaded, IDS), ref)


def run_cli(*args):
    return subprocess.run([sys.executable, os.path.join(REPO, "launch/convert_hf.py"), *args],
                          capture_output=True, text=True, timeout=300)


def test_cli_converts_both_ways(tmp_path):
    tiny_hf_model("qwen2").save_pretrained(tmp_path / "hf")
    r = run_cli(f"--hf_dir={tmp_path / 'hf'}", f"--out={tmp_path / 'ckpt'}", "--param_dtype=bfloat16")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "converted qwen2 model" in r.stdout
    assert "stored 26 tensors as bfloat16 (source: float32)" in r.stdout
    config = json.loads((tmp_path / "ckpt" / "model_config.json").read_text())
    assert config["param_dtype"] == "bfloat16"
    r = run_cli("--to_hf", f"--checkpoint={tmp_path / 'ckpt'}", f"--out={tmp_path / 'back'}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "stored 26 tensors as bfloat16 (source dtype)" in r.stdout
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "back")
    assert reloaded.dtype == torch.bfloat16
    r = run_cli(f"--hf_dir={tmp_path / 'nowhere'}", f"--out={tmp_path / 'x'}")
    assert r.returncode != 0 and "no config.json" in r.stderr


def test_cli_defaults_keep_a_float32_model_float32(tmp_path):
    hf = tiny_hf_model("llama")
    hf.save_pretrained(tmp_path / "hf")
    r = run_cli(f"--hf_dir={tmp_path / 'hf'}", f"--out={tmp_path / 'ckpt'}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "stored 21 tensors as float32 (source dtype)" in r.stdout
    config = json.loads((tmp_path / "ckpt" / "model_config.json").read_text())
    assert (config["param_dtype"], config["compute_dtype"]) == ("float32", "float32")
    ref = hf_logits(hf, IDS)
    assert np.abs(our_logits(str(tmp_path / "ckpt"), IDS) - ref).max() <= 1e-4
    r = run_cli("--to_hf", f"--checkpoint={tmp_path / 'ckpt'}", f"--out={tmp_path / 'back'}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "stored 21 tensors as float32 (source dtype)" in r.stdout
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "back")
    assert reloaded.dtype == torch.float32
    np.testing.assert_array_equal(hf_logits(reloaded, IDS), ref)


def test_bfloat16_source_stays_bfloat16(tmp_path):
    tiny_hf_model("qwen2").to(torch.bfloat16).save_pretrained(tmp_path / "hf")
    conversion = import_hf(str(tmp_path / "hf"), str(tmp_path / "ckpt"))
    assert (conversion.config.param_dtype, conversion.config.compute_dtype) == ("bfloat16", "bfloat16")
    assert conversion.summary() == "stored 26 tensors as bfloat16 (source dtype)"
    export_hf(str(tmp_path / "ckpt"), str(tmp_path / "back"))
    source, back = SafetensorsCheckpoint(str(tmp_path / "hf")), SafetensorsCheckpoint(str(tmp_path / "back"))
    assert sorted(back.keys()) == sorted(source.keys())
    for name in back.keys():
        assert back.dtype(name) == ml_dtypes.bfloat16
        np.testing.assert_array_equal(back.read(name), source.read(name))
    assert json.loads((tmp_path / "back" / "config.json").read_text())["torch_dtype"] == "bfloat16"


def test_mixed_source_dtypes_are_stored_as_float32(hf_dir, tmp_path):
    """A mix keeps every value exactly in float32; a named dtype still casts."""
    rewrite_tensors(hf_dir, lambda t: t.update({"model.norm.weight": t["model.norm.weight"].astype(ml_dtypes.bfloat16),
                                                "model.embed_tokens.weight": t["model.embed_tokens.weight"].astype(np.float16)}))
    conversion = import_hf(str(hf_dir), str(tmp_path / "ckpt"))
    assert conversion.summary() == "stored 26 tensors as float32 (source: bfloat16, float16, float32)"
    _, _, state = load_model(str(tmp_path / "ckpt"))
    source = SafetensorsCheckpoint(str(hf_dir))
    np.testing.assert_array_equal(np.asarray(state["final_norm"][...]), source.read("model.norm.weight").astype(np.float32))
    np.testing.assert_array_equal(np.asarray(state["embedding"][...]),
                                  source.read("model.embed_tokens.weight").astype(np.float32))
    cast = import_hf(str(hf_dir), str(tmp_path / "ckpt16"), param_dtype="float16")
    assert cast.config.param_dtype == "float16" and cast.summary().startswith("stored 26 tensors as float16 (source: ")
    with pytest.raises(ValueError, match="unsupported dtype 'int8'"):
        import_hf(str(hf_dir), str(tmp_path / "ckpt8"), param_dtype="int8")


def test_round_trip_on_gcs(tmp_path, gcs_bucket):
    import fsspec

    hf = tiny_hf_model("llama")
    hf.save_pretrained(tmp_path / "hf")
    fs = fsspec.filesystem("gs")
    fs.put(str(tmp_path / "hf"), gcs_bucket + "/hf", recursive=True)
    import_hf(gcs_bucket + "/hf", gcs_bucket + "/ckpt", param_dtype="float32")
    assert fs.exists(gcs_bucket + "/ckpt/model_config.json")
    ref = hf_logits(hf, IDS)
    assert np.abs(our_logits(gcs_bucket + "/ckpt", IDS) - ref).max() <= 1e-4
    export_hf(gcs_bucket + "/ckpt", gcs_bucket + "/back", dtype="float32")
    fs.get(gcs_bucket + "/back", str(tmp_path / "back"), recursive=True)
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "back")
    np.testing.assert_array_equal(hf_logits(reloaded, IDS), ref)


@pytest.fixture
def hf_dir(tmp_path):
    tiny_hf_model("qwen2").save_pretrained(tmp_path / "hf")
    return tmp_path / "hf"


def rewrite_tensors(hf_dir, edit):
    """Rewrites model.safetensors with `edit(dict)` applied to its tensors."""
    source = SafetensorsCheckpoint(str(hf_dir))
    tensors = {name: np.array(source.read(name)) for name in source.keys()}
    source.close()
    edit(tensors)
    write_safetensors(str(hf_dir / "model.safetensors"), tensors.items(),
                      {k: (v.shape, v.dtype) for k, v in tensors.items()})


def test_missing_tensor_is_named(hf_dir, tmp_path):
    rewrite_tensors(hf_dir, lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))
    with pytest.raises(CheckpointMismatchError, match="model.layers.1.mlp.up_proj.weight"):
        import_hf(str(hf_dir), str(tmp_path / "ckpt"))
    assert not (tmp_path / "ckpt").exists()


def test_extra_tensor_is_named(hf_dir, tmp_path):
    rewrite_tensors(hf_dir, lambda t: t.update({"model.layers.2.mlp.up_proj.weight": np.zeros((2, 2), np.float32)}))
    with pytest.raises(CheckpointMismatchError, match="model.layers.2.mlp.up_proj.weight"):
        import_hf(str(hf_dir), str(tmp_path / "ckpt"))


def test_shape_mismatch_is_named(hf_dir, tmp_path):
    rewrite_tensors(hf_dir, lambda t: t.update({"model.norm.weight": np.ones((63,), np.float32)}))
    with pytest.raises(CheckpointMismatchError, match=r"model.norm.weight has shape \(63,\)"):
        import_hf(str(hf_dir), str(tmp_path / "ckpt"))


def test_integer_dtype_is_rejected(hf_dir, tmp_path):
    rewrite_tensors(hf_dir, lambda t: t.update({"model.norm.weight": np.ones((64,), np.int32)}))
    with pytest.raises(CheckpointMismatchError, match="model.norm.weight has dtype int32"):
        import_hf(str(hf_dir), str(tmp_path / "ckpt"))


def test_unsupported_architecture(hf_dir, tmp_path):
    config = json.loads((hf_dir / "config.json").read_text())
    config.update(architectures=["MistralForCausalLM"], model_type="mistral")
    (hf_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="unsupported architecture.*MistralForCausalLM"):
        import_hf(str(hf_dir), str(tmp_path / "ckpt"))


def test_corrupt_safetensors(hf_dir, tmp_path):
    (hf_dir / "model.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(SafetensorsError, match="not a safetensors file"):
        import_hf(str(hf_dir), str(tmp_path / "ckpt"))
    data = bytearray((hf_dir / "config.json").read_bytes())
    (hf_dir / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{bad json")
    with pytest.raises(SafetensorsError, match="not valid JSON"):
        import_hf(str(hf_dir), str(tmp_path / "ckpt"))
    assert data  # config untouched


def test_truncated_safetensors(hf_dir, tmp_path):
    path = hf_dir / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(SafetensorsError, match="truncated"):
        import_hf(str(hf_dir), str(tmp_path / "ckpt"))


def test_unreadable_or_incomplete_checkpoint(tmp_path, hf_dir):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(str(tmp_path / "missing"))
    import_hf(str(hf_dir), str(tmp_path / "ckpt"), param_dtype="float32")
    # An interrupted write leaves no model_config.json: it must read as incomplete, not as a model.
    (tmp_path / "ckpt" / "model_config.json").unlink()
    with pytest.raises(CheckpointError, match="not a complete model checkpoint"):
        load_model(str(tmp_path / "ckpt"))
    (tmp_path / "ckpt" / "model_config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable model_config.json"):
        load_model(str(tmp_path / "ckpt"))


def test_refuses_to_overwrite(tmp_path, hf_dir):
    import_hf(str(hf_dir), str(tmp_path / "ckpt"), param_dtype="float32")
    with pytest.raises(CheckpointError, match="refusing to overwrite"):
        import_hf(str(hf_dir), str(tmp_path / "ckpt"), param_dtype="float32")
