"""Assemble our parameter dict from HF tensors one at a time, and take it apart again.

Both directions touch one tensor at a time, so a model converts with its own size in memory plus one
tensor, never two copies of the whole model.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np
import ml_dtypes

from azr_jax.checkpoint.hf_mapping import IGNORED_HF_SUFFIXES, TensorMapping, tensor_mappings
from azr_jax.model.config import ModelConfig
from azr_jax.model.functional import abstract_model

NP_DTYPES = {"float32": np.float32, "bfloat16": ml_dtypes.bfloat16, "float16": np.float16}
# Conversion dtype that keeps the source's: the dtype of the tensors read, not a rounding of them.
AUTO_DTYPE = "auto"


class CheckpointMismatchError(ValueError):
    """The tensors on disk do not describe the configured model."""


def resolve_dtype(requested: str, source: Iterable[np.dtype]) -> str:
    """The dtype to store: `requested`, or with "auto" the source tensors' own dtype.

    A source in one dtype we store (float32, bfloat16, float16) keeps it. A source that mixes dtypes,
    or is in one we do not store (float64), becomes float32: it holds bfloat16 and float16 values
    exactly, so nothing is rounded that the source did not round already.
    """
    if requested != AUTO_DTYPE:
        if requested not in NP_DTYPES:
            raise ValueError(f"unsupported dtype {requested!r}: choose {AUTO_DTYPE!r} or one of {sorted(NP_DTYPES)}")
        return requested
    names = {np.dtype(d).name for d in source}
    if len(names) == 1 and next(iter(names)) in NP_DTYPES:
        return names.pop()
    return "float32"


def empty_params(config: ModelConfig) -> dict:
    """Numpy buffers shaped like our parameters, in the config's param dtype, to be filled in place."""
    _, abstract_state = abstract_model(config)
    from flax import nnx

    shapes = nnx.to_pure_dict(abstract_state)
    dtype = NP_DTYPES[config.param_dtype]
    return _map_dict(shapes, lambda s: np.empty(s.shape, dtype))


def _map_dict(tree: dict, fn):
    return {k: _map_dict(v, fn) if isinstance(v, dict) else fn(v) for k, v in tree.items()}


def _slot(params: dict, mapping: TensorMapping) -> tuple[dict, str]:
    node = params
    for key in mapping.our_path[:-1]:
        node = node[key]
    return node, mapping.our_path[-1]


def params_from_hf(config: ModelConfig, hf_names: Iterable[str],
                   read_tensor: Callable[[str], np.ndarray]) -> dict:
    """Our parameter dict from a HF checkpoint given its tensor names and a reader of one tensor.

    Missing, unexpected and misshapen tensors fail with their names.
    """
    names = set(hf_names)
    mappings = tensor_mappings(config)
    expected = {m.hf_name for m in mappings}
    missing = sorted(expected - names)
    if missing:
        raise CheckpointMismatchError(f"checkpoint lacks {len(missing)} tensors, e.g. {missing[:3]}")
    tied_head = config.tie_word_embeddings and "lm_head.weight" in names
    extra = sorted(n for n in names - expected
                   if not n.endswith(IGNORED_HF_SUFFIXES) and not (tied_head and n == "lm_head.weight"))
    if extra:
        raise CheckpointMismatchError(f"checkpoint has {len(extra)} tensors the config does not use, e.g. "
                                      f"{extra[:3]} (does the config.json match the weights?)")
    params = empty_params(config)
    dtype = NP_DTYPES[config.param_dtype]
    for m in mappings:
        tensor = read_tensor(m.hf_name)
        if tuple(tensor.shape) != m.hf_shape:
            raise CheckpointMismatchError(f"tensor {m.hf_name} has shape {tuple(tensor.shape)}, "
                                          f"the config expects {m.hf_shape}")
        if not np.issubdtype(tensor.dtype, np.floating) and tensor.dtype != ml_dtypes.bfloat16:
            raise CheckpointMismatchError(f"tensor {m.hf_name} has dtype {tensor.dtype}; expected a float type")
        node, key = _slot(params, m)
        value = m.to_ours(np.asarray(tensor)).astype(dtype, copy=False)
        if m.layer is None:
            node[key] = value
        else:
            node[key][m.layer] = value
    return params


def hf_tensors_from_params(config: ModelConfig, params: dict, dtype: str) -> Iterator[tuple[str, np.ndarray]]:
    """(HF name, tensor) pairs in HF layout and the given dtype, one at a time."""
    np_dtype = NP_DTYPES[dtype]
    for m in tensor_mappings(config):
        node, key = _slot(params, m)
        ours = np.asarray(node[key] if m.layer is None else node[key][m.layer])
        yield m.hf_name, m.to_hf(ours).astype(np_dtype)
