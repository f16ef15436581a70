"""A model checkpoint: orbax-saved parameters, our model config, and the tokenizer, in one directory.

    CKPT/params/             orbax PyTree checkpoint of the pure parameter dict
    CKPT/model_config.json   ModelConfig.to_dict(); written last, so its presence marks completion
    CKPT/tokenizer/          tokenizer files copied from the source (optional)

This is the format of base weights (converted from HF) and of exported policies; the trainer's own
checkpoints (optimizer, buffers, RNG) are a CheckpointManager layout built on the same parameter tree.
"""

from __future__ import annotations

import json
import os
import posixpath
import uuid
from typing import Mapping

import fsspec
import jax
import orbax.checkpoint as ocp
from flax import nnx
from jax.sharding import Mesh

from azr_jax.model.config import ModelConfig
from azr_jax.model.functional import abstract_model
from azr_jax.parallel.rules import DEFAULT_RULES, MeshAxes
from azr_jax.parallel.sharding import param_shardings

CONFIG_FILE = "model_config.json"
TOKENIZER_DIR = "tokenizer"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                   "generation_config.json")


class CheckpointError(ValueError):
    """A checkpoint path that does not hold a complete, readable model checkpoint."""


def _join(base: str, *parts: str) -> str:
    return posixpath.join(base.rstrip("/"), *parts)


def _absolute(path: str) -> str:
    """orbax takes only absolute local paths; URLs (gs://...) pass through."""
    return path if "://" in path else os.path.abspath(path)


def save_model(path: str, config: ModelConfig, params: dict, tokenizer_dir: str | None = None) -> None:
    """Writes a complete checkpoint at `path` (local or gs://), refusing to overwrite one.

    Locally everything is written under a temporary sibling and renamed into place, so a crash never
    leaves a half-written directory under the final name. On GCS (no atomic rename) the config file is
    written last and readers treat a directory without it as incomplete.
    """
    fs, root = fsspec.core.url_to_fs(path)
    if fs.exists(_join(root, CONFIG_FILE)):
        raise CheckpointError(f"{path} already holds a model checkpoint; refusing to overwrite it")
    is_local = "://" not in path
    work = f"{root.rstrip('/')}.partial-{uuid.uuid4().hex[:8]}" if is_local else root
    work_url = work if is_local else path
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(_join(work_url, "params"), params)
    checkpointer.wait_until_finished()
    if tokenizer_dir is not None:
        copy_tokenizer_files(tokenizer_dir, _join(work_url, TOKENIZER_DIR))
    with fs.open(_join(work, CONFIG_FILE), "w") as f:
        json.dump(config.to_dict(), f, indent=2)
    if is_local:
        if fs.exists(root):
            fs.rm(root, recursive=True)  # an incomplete leftover: no config file, checked above
        fs.mv(work, root, recursive=True)


def copy_tokenizer_files(source_dir: str, target_dir: str) -> list[str]:
    """Copies the known tokenizer files found in `source_dir`; returns their names."""
    src_fs, src_root = fsspec.core.url_to_fs(source_dir)
    dst_fs, dst_root = fsspec.core.url_to_fs(target_dir)
    copied = []
    for name in TOKENIZER_FILES:
        src = _join(src_root, name)
        if src_fs.exists(src):
            dst_fs.makedirs(dst_root, exist_ok=True)
            with src_fs.open(src, "rb") as fin, dst_fs.open(_join(dst_root, name), "wb") as fout:
                fout.write(fin.read())
            copied.append(name)
    return copied


def load_model_config(path: str) -> ModelConfig:
    fs, root = fsspec.core.url_to_fs(path)
    if not fs.exists(root):
        raise FileNotFoundError(f"checkpoint path does not exist: {path}")
    config_path = _join(root, CONFIG_FILE)
    if not fs.exists(config_path):
        raise CheckpointError(f"{path} is not a complete model checkpoint: {CONFIG_FILE} is missing "
                              "(an interrupted conversion, or not a checkpoint directory)")
    try:
        with fs.open(config_path, "r") as f:
            return ModelConfig.from_dict(json.load(f))
    except (json.JSONDecodeError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable {CONFIG_FILE}: {e}") from None


def check_family(path: str, family: str) -> None:
    """Refuses, before anything is loaded, a checkpoint whose model family is not the one expected."""
    config = load_model_config(path)
    if config.family != family:
        raise CheckpointError(f"{_join(path, CONFIG_FILE)} describes a {config.family} model, but the run "
                              f"expects a {family} model (model.preset): point model.checkpoint at a {family} "
                              f"checkpoint or set model.preset to a {config.family} preset")


def load_model(path: str, mesh: Mesh | None = None, rules: Mapping[str, MeshAxes] = DEFAULT_RULES,
               **config_overrides) -> tuple[ModelConfig, nnx.GraphDef, nnx.State]:
    """Restores (config, graphdef, state); with a mesh, every parameter is read straight into its shards.

    `config_overrides` change runtime fields such as compute_dtype, remat or scan_layers; the stored
    parameters are cast to the (possibly overridden) param_dtype.
    """
    config = load_model_config(path)
    if config_overrides:
        config = config.replace(**config_overrides)
    graphdef, abstract_state = abstract_model(config)
    if mesh is not None:
        shardings = param_shardings(abstract_state, mesh, rules)
        targets = jax.tree.map(lambda v, s: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=s),
                               nnx.to_pure_dict(abstract_state), nnx.to_pure_dict(shardings))
    else:
        device = jax.devices()[0]
        sharding = jax.sharding.SingleDeviceSharding(device)
        targets = jax.tree.map(lambda v: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=sharding),
                               nnx.to_pure_dict(abstract_state))
    try:
        params = ocp.StandardCheckpointer().restore(_join(_absolute(path), "params"), targets)
    except (FileNotFoundError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: cannot restore parameters for this config: {e}") from None
    nnx.replace_by_pure_dict(abstract_state, params)
    return config, graphdef, abstract_state


def tokenizer_path(path: str) -> str | None:
    """The checkpoint's tokenizer directory, or None when it has none."""
    fs, root = fsspec.core.url_to_fs(path)
    tok = _join(root, TOKENIZER_DIR)
    return _join(path, TOKENIZER_DIR) if fs.exists(tok) else None
