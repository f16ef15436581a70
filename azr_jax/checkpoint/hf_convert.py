"""Hugging Face safetensors checkpoints <-> our model checkpoints."""

from __future__ import annotations

import json
import posixpath

import fsspec
import jax
import numpy as np
from flax import nnx

from azr_jax.checkpoint.hf_mapping import config_from_hf, config_to_hf, tensor_mappings
from azr_jax.checkpoint.hf_params import NP_DTYPES, hf_tensors_from_params, params_from_hf
from azr_jax.checkpoint.model_checkpoint import copy_tokenizer_files, load_model, save_model, tokenizer_path
from azr_jax.checkpoint.safetensors_io import SafetensorsCheckpoint, write_safetensors
from azr_jax.model.config import ModelConfig


def read_hf_config(hf_dir: str) -> dict:
    fs, root = fsspec.core.url_to_fs(hf_dir)
    path = posixpath.join(root, "config.json")
    if not fs.exists(path):
        raise FileNotFoundError(f"{hf_dir}: no config.json (is this a Hugging Face model directory?)")
    with fs.open(path, "r") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{hf_dir}/config.json is not valid JSON: {e}") from None


def import_hf(hf_dir: str, out: str, param_dtype: str = "bfloat16") -> ModelConfig:
    """Converts a HF Qwen2/Llama safetensors model into a model checkpoint at `out`."""
    config = config_from_hf(read_hf_config(hf_dir), param_dtype=param_dtype,
                            compute_dtype="bfloat16" if param_dtype == "bfloat16" else "float32")
    checkpoint = SafetensorsCheckpoint(hf_dir)
    try:
        params = params_from_hf(config, checkpoint.keys(), checkpoint.read)
    finally:
        checkpoint.close()
    save_model(out, config, params, tokenizer_dir=hf_dir)
    return config


def export_hf(checkpoint: str, out_dir: str, dtype: str = "bfloat16") -> ModelConfig:
    """Writes config.json + model.safetensors (+ tokenizer files) that `transformers` loads."""
    if dtype not in NP_DTYPES:
        raise ValueError(f"unsupported export dtype {dtype!r}: choose one of {sorted(NP_DTYPES)}")
    config, _, state = load_model(checkpoint)
    params = jax.tree.map(np.asarray, nnx.to_pure_dict(state))
    shapes = {m.hf_name: (m.hf_shape, np.dtype(NP_DTYPES[dtype])) for m in tensor_mappings(config)}
    fs, root = fsspec.core.url_to_fs(out_dir)
    fs.makedirs(root, exist_ok=True)
    protocol = out_dir.split("://")[0] + "://" if "://" in out_dir else ""
    write_safetensors(protocol + posixpath.join(root, "model.safetensors"),
                      hf_tensors_from_params(config, params, dtype), shapes)
    tok = tokenizer_path(checkpoint)
    if tok is not None:
        copy_tokenizer_files(tok, out_dir)
    # config.json last: transformers needs it, so a directory without it is visibly incomplete.
    with fs.open(posixpath.join(root, "config.json"), "w") as f:
        json.dump(config_to_hf(config, torch_dtype=dtype), f, indent=2)
    return config
