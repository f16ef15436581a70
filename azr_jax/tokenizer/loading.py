"""`load_tokenizer(path)`: find the tokenizer file at a local or remote (gs://) path and load it.

Both backends read from local files, so remote files are copied to a temporary directory first;
the loaded tokenizer holds its vocabulary in memory, and the copy is deleted before returning.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import shutil
import tempfile

import fsspec
from fsspec.implementations.local import LocalFileSystem

from azr_jax.tokenizer.base import Tokenizer, TokenizerLoadError
from azr_jax.tokenizer.hf_config import GENERATION_CONFIG, TOKENIZER_CONFIG
from azr_jax.tokenizer.hf_tokenizer import TOKENIZER_JSON, HFTokenizer
from azr_jax.tokenizer.sp_tokenizer import SentencePieceTokenizer

SP_MODEL = "tokenizer.model"
_HF_SIDECARS = (TOKENIZER_CONFIG, GENERATION_CONFIG)


@dataclasses.dataclass(frozen=True)
class TokenizerFiles:
    """The files one tokenizer is built from, as paths on one filesystem."""

    kind: str  # "hf" or "sentencepiece"
    main: str  # the tokenizer.json or .model file
    sidecars: tuple[str, ...] = ()  # HF configs beside tokenizer.json that name BOS/EOS/PAD


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Loads a SentencePiece `.model`, a `tokenizer.json`, or a directory holding one of them.

    A directory with both (Llama-2 style HF checkpoints) loads tokenizer.json, as transformers'
    fast tokenizers do. Paths may be any fsspec URL (gs://bucket/ckpt, memory://...).
    """
    fs, root = fsspec.core.url_to_fs(os.fspath(path))
    files = find_tokenizer_files(fs, root, shown=os.fspath(path))
    if isinstance(fs, LocalFileSystem):
        return _build(files)
    with tempfile.TemporaryDirectory(prefix="azr_tokenizer_") as tmp:
        return _build(_copy_to_local(fs, files, tmp))


def find_tokenizer_files(fs: fsspec.AbstractFileSystem, root: str, shown: str | None = None) -> TokenizerFiles:
    """Decides what `root` holds; `shown` is the path as the user wrote it, for error messages."""
    shown = shown or root
    if not fs.exists(root):
        raise FileNotFoundError(f"tokenizer path does not exist: {shown}")
    if fs.isdir(root):
        return _files_in_dir(fs, root, shown)
    name = posixpath.basename(root.rstrip("/"))
    if name.endswith(".model"):
        return TokenizerFiles("sentencepiece", root)
    if name in _HF_SIDECARS:
        raise TokenizerLoadError(f"{shown} is a config, not a tokenizer; pass its directory or the {TOKENIZER_JSON}")
    if name.endswith(".json"):
        return TokenizerFiles("hf", root, _existing(fs, posixpath.dirname(root), _HF_SIDECARS))
    raise TokenizerLoadError(f"{shown} is neither a SentencePiece .model file nor a {TOKENIZER_JSON}")


def _files_in_dir(fs: fsspec.AbstractFileSystem, root: str, shown: str) -> TokenizerFiles:
    names = sorted(posixpath.basename(p.rstrip("/")) for p in fs.ls(root, detail=False))
    if TOKENIZER_JSON in names:
        return TokenizerFiles("hf", posixpath.join(root, TOKENIZER_JSON), _existing(fs, root, _HF_SIDECARS))
    models = [n for n in names if n.endswith(".model")]
    if SP_MODEL in models or len(models) == 1:
        return TokenizerFiles("sentencepiece", posixpath.join(root, SP_MODEL if SP_MODEL in models else models[0]))
    if models:
        raise TokenizerLoadError(f"directory {shown} holds several .model files {models} and no {SP_MODEL}; "
                                 f"pass the one to load")
    raise TokenizerLoadError(f"directory {shown} has no {TOKENIZER_JSON} and no SentencePiece .model file "
                             f"(it holds: {names[:20]})")


def _existing(fs: fsspec.AbstractFileSystem, directory: str, names: tuple[str, ...]) -> tuple[str, ...]:
    paths = (posixpath.join(directory, n) for n in names)
    return tuple(p for p in paths if fs.isfile(p))


def _copy_to_local(fs: fsspec.AbstractFileSystem, files: TokenizerFiles, tmp: str) -> TokenizerFiles:
    """Copies under the original base names, so HFTokenizer still finds the configs beside tokenizer.json."""

    def copy(src: str) -> str:
        dst = os.path.join(tmp, posixpath.basename(src))
        with fs.open(src, "rb") as fin, open(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        return dst

    return TokenizerFiles(files.kind, copy(files.main), tuple(copy(p) for p in files.sidecars))


def _build(files: TokenizerFiles) -> Tokenizer:
    if files.kind == "sentencepiece":
        return SentencePieceTokenizer(files.main)
    return HFTokenizer(files.main)
