"""Streaming safetensors reader and writer over local or gs:// paths (fsspec).

The format is a little-endian u64 header length, a JSON header of name -> dtype/shape/byte range, then
raw bytes. Reading seeks to one tensor at a time and writing emits one tensor at a time, so neither
holds a whole checkpoint in memory; the writer goes to a temporary name and renames at the end.
"""

from __future__ import annotations

import json
import math
import posixpath
import struct
from typing import Iterable

import fsspec
import ml_dtypes
import numpy as np

_DTYPES = {
    "F64": np.dtype(np.float64), "F32": np.dtype(np.float32), "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16), "I64": np.dtype(np.int64), "I32": np.dtype(np.int32),
    "I16": np.dtype(np.int16), "I8": np.dtype(np.int8), "U8": np.dtype(np.uint8), "BOOL": np.dtype(np.bool_),
}
_NAMES = {v: k for k, v in _DTYPES.items()}
_MAX_HEADER_BYTES = 100 * 2**20


class SafetensorsError(ValueError):
    """A safetensors file or index that cannot be read as one."""


class SafetensorsFile:
    """Lazily reads tensors from one .safetensors file."""

    def __init__(self, path: str):
        self.path = path
        try:
            self._file = fsspec.open(path, "rb").open()
        except FileNotFoundError:
            raise FileNotFoundError(f"safetensors file not found: {path}") from None
        raw_len = self._file.read(8)
        if len(raw_len) != 8:
            raise SafetensorsError(f"{path}: too short to be a safetensors file")
        (header_len,) = struct.unpack("<Q", raw_len)
        if header_len > _MAX_HEADER_BYTES:
            raise SafetensorsError(f"{path}: header length {header_len} is implausible; not a safetensors file?")
        try:
            header = json.loads(self._file.read(header_len))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SafetensorsError(f"{path}: header is not valid JSON ({e})") from None
        header.pop("__metadata__", None)
        self._data_start = 8 + header_len
        self._entries = header
        for name, entry in header.items():
            if entry.get("dtype") not in _DTYPES:
                raise SafetensorsError(f"{path}: tensor {name} has unsupported dtype {entry.get('dtype')!r}")
            begin, end = entry["data_offsets"]
            expected = math.prod(entry["shape"]) * _DTYPES[entry["dtype"]].itemsize
            if end - begin != expected:
                raise SafetensorsError(f"{path}: tensor {name} spans {end - begin} bytes, its shape needs {expected}")

    def keys(self) -> list[str]:
        return list(self._entries)

    def dtype(self, name: str) -> np.dtype:
        """The stored dtype of one tensor, from the header (no tensor data is read)."""
        return _DTYPES[self._entries[name]["dtype"]]

    def read(self, name: str) -> np.ndarray:
        entry = self._entries[name]
        begin, end = entry["data_offsets"]
        self._file.seek(self._data_start + begin)
        data = self._file.read(end - begin)
        if len(data) != end - begin:
            raise SafetensorsError(f"{self.path}: tensor {name} is truncated ({len(data)} of {end - begin} bytes)")
        return np.frombuffer(data, dtype=_DTYPES[entry["dtype"]]).reshape(entry["shape"])

    def close(self):
        self._file.close()


class SafetensorsCheckpoint:
    """All tensors of a HF model directory: one `model.safetensors` or shards listed in an index."""

    def __init__(self, directory: str):
        fs, root = fsspec.core.url_to_fs(directory)
        index_path = posixpath.join(root, "model.safetensors.index.json")
        single_path = posixpath.join(root, "model.safetensors")
        self._files: dict[str, SafetensorsFile] = {}
        self._where: dict[str, str] = {}
        protocol = directory.split("://")[0] + "://" if "://" in directory else ""
        if fs.exists(index_path):
            with fs.open(index_path, "r") as f:
                try:
                    weight_map = json.load(f)["weight_map"]
                except (json.JSONDecodeError, KeyError) as e:
                    raise SafetensorsError(f"{directory}: malformed model.safetensors.index.json ({e})") from None
            for shard in sorted(set(weight_map.values())):
                self._files[shard] = SafetensorsFile(protocol + posixpath.join(root, shard))
            for name, shard in weight_map.items():
                if name not in self._files[shard].keys():
                    raise SafetensorsError(f"{directory}: index lists {name} in {shard}, which lacks it")
                self._where[name] = shard
        elif fs.exists(single_path):
            self._files["model.safetensors"] = SafetensorsFile(protocol + single_path)
            self._where = {name: "model.safetensors" for name in self._files["model.safetensors"].keys()}
        else:
            raise FileNotFoundError(f"{directory}: no model.safetensors or model.safetensors.index.json")

    def keys(self) -> list[str]:
        return list(self._where)

    def dtype(self, name: str) -> np.dtype:
        return self._files[self._where[name]].dtype(name)

    def read(self, name: str) -> np.ndarray:
        return self._files[self._where[name]].read(name)

    def close(self):
        for f in self._files.values():
            f.close()


def write_safetensors(path: str, tensors: Iterable[tuple[str, np.ndarray]], shapes: dict[str, tuple[tuple[int, ...], np.dtype]],
                      metadata: dict[str, str] | None = None) -> None:
    """Writes tensors in the order given; `shapes` (name -> (shape, dtype)) lays out the header first.

    The file appears under `path` only once complete.
    """
    header: dict = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for name, (shape, dtype) in shapes.items():
        size = math.prod(shape) * np.dtype(dtype).itemsize
        header[name] = {"dtype": _NAMES[np.dtype(dtype)], "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)  # keeps tensor data 8-byte aligned
    fs, root = fsspec.core.url_to_fs(path)
    tmp = root + ".partial"
    with fs.open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for name, tensor in tensors:
            shape, dtype = shapes[name]
            if tuple(tensor.shape) != tuple(shape) or tensor.dtype != np.dtype(dtype):
                raise SafetensorsError(f"tensor {name}: got {tensor.shape} {tensor.dtype}, header says {shape} {dtype}")
            f.write(np.ascontiguousarray(tensor).tobytes())
    fs.mv(tmp, root)

