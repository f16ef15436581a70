"""Hugging Face safetensors checkpoints <-> our model checkpoints."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Iterable

import fsspec
import jax
import numpy as np
from flax import nnx

from azr_jax.checkpoint.hf_mapping import config_from_hf, config_to_hf, tensor_mappings
from azr_jax.checkpoint.hf_params import (AUTO_DTYPE, NP_DTYPES, hf_tensors_from_params, params_from_hf,
                                          resolve_dtype)
from azr_jax.checkpoint.model_checkpoint import (copy_tokenizer_files, load_model, load_model_config, save_model,
                                                   tokenizer_path)
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


@dataclass(frozen=True)
class Conversion:
    """What a conversion wrote: the model, and the dtype its tensors were stored in and read from."""

    config: ModelConfig
    num_tensors: int
    dtype: str
    source_dtypes: tuple[str, ...]  # sorted, distinct

    def summary(self) -> str:
        """One line saying what was stored, e.g. "stored 24 tensors as float32 (source dtype)"."""
        origin = "source dtype" if self.source_dtypes == (self.dtype,) else "source: " + ", ".join(self.source_dtypes)
        return f"stored {self.num_tensors} tensors as {self.dtype} ({origin})"


def _dtype_names(dtypes: Iterable[np.dtype]) -> tuple[str, ...]:
    return tuple(sorted({np.dtype(d).name for d in dtypes}))


def import_hf(hf_dir: str, out: str, param_dtype: str = AUTO_DTYPE) -> Conversion:
    """Converts a HF Qwen2/Llama safetensors model into a model checkpoint at `out`.

    `param_dtype` "auto" stores the dtype of the source tensors (see hf_params.resolve_dtype); a
    named dtype casts to it. bfloat16 parameters compute in bfloat16, others in float32.
    """
    config = config_from_hf(read_hf_config(hf_dir))
    checkpoint = SafetensorsCheckpoint(hf_dir)
    try:
        # Only the tensors that become parameters decide; missing ones fail in params_from_hf, by name.
        names = set(checkpoint.keys())
        source = _dtype_names(checkpoint.dtype(m.hf_name) for m in tensor_mappings(config) if m.hf_name in names)
        dtype = resolve_dtype(param_dtype, source)
        config = config.replace(param_dtype=dtype, compute_dtype="bfloat16" if dtype == "bfloat16" else "float32")
        params = params_from_hf(config, names, checkpoint.read)
    finally:
        checkpoint.close()
    save_model(out, config, params, tokenizer_dir=hf_dir)
    return Conversion(config, len(tensor_mappings(config)), dtype, source)


def export_hf(checkpoint: str, out_dir: str, dtype: str = AUTO_DTYPE) -> Conversion:
    """Writes config.json + model.safetensors (+ tokenizer files) that `transformers` loads.

    `dtype` "auto" keeps the checkpoint's parameter dtype; a named dtype casts to it.
    """
    # load_model restores every parameter in the config's param_dtype: that is the source dtype.
    source = (load_model_config(checkpoint).param_dtype,)
    dtype = resolve_dtype(dtype, source)
    config, _, state = load_model(checkpoint)
    params = jax.tree.map(np.asarray, nnx.to_pure_dict(state))
    mappings = tensor_mappings(config)
    shapes = {m.hf_name: (m.hf_shape, np.dtype(NP_DTYPES[dtype])) for m in mappings}
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
    return Conversion(config, len(mappings), dtype, source)
