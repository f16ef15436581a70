"""Which tokens of a Hugging Face vocabulary play BOS, EOS and PAD.

`tokenizer.json` stores the vocabulary but not these roles: HF checkpoints name them in
`tokenizer_config.json` ("eos_token": "<|im_end|>"), and list every id that ends a generation in
`generation_config.json` ("eos_token_id": [151645, 151643]); chat models stop on more than one.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from azr_jax.tokenizer.base import TokenizerLoadError

TOKENIZER_CONFIG = "tokenizer_config.json"
GENERATION_CONFIG = "generation_config.json"


@dataclasses.dataclass(frozen=True)
class SpecialTokens:
    """Roles by token name; `extra_eos_ids` are ids because generation_config.json names ids."""

    bos: str | None = None
    eos: tuple[str, ...] = ()
    pad: str | None = None
    extra_eos_ids: tuple[int, ...] = ()
    source: str = "SpecialTokens(...)"  # where the names came from, for error messages

    def __post_init__(self):
        eos = (self.eos,) if isinstance(self.eos, str) else tuple(self.eos)
        object.__setattr__(self, "eos", eos)
        object.__setattr__(self, "extra_eos_ids", tuple(int(i) for i in self.extra_eos_ids))
        for name in ("bos", "pad"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise TypeError(f"SpecialTokens.{name} must be a token string or None, got {getattr(self, name)!r}")
        if not all(isinstance(e, str) for e in eos):
            raise TypeError(f"SpecialTokens.eos must be token strings, got {eos!r}")

    @classmethod
    def from_hf_dir(cls, directory: str | os.PathLike) -> "SpecialTokens":
        """Reads whichever of tokenizer_config.json and generation_config.json the directory has."""
        directory = os.fspath(directory)
        tok_path = os.path.join(directory, TOKENIZER_CONFIG)
        gen_path = os.path.join(directory, GENERATION_CONFIG)
        tok_cfg = _read_json(tok_path) if os.path.isfile(tok_path) else {}
        gen_cfg = _read_json(gen_path) if os.path.isfile(gen_path) else {}
        eos = _token_name(tok_cfg, "eos_token", tok_path)
        return cls(
            bos=_token_name(tok_cfg, "bos_token", tok_path),
            eos=() if eos is None else (eos,),
            pad=_token_name(tok_cfg, "pad_token", tok_path),
            extra_eos_ids=_id_list(gen_cfg.get("eos_token_id"), gen_path),
            source=tok_path if tok_cfg else directory,
        )


def _read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TokenizerLoadError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise TokenizerLoadError(f"{path} must hold a JSON object, got {type(data).__name__}")
    return data


def _token_name(config: dict[str, Any], key: str, path: str) -> str | None:
    """HF writes a role as a string, null, or a serialised AddedToken {"content": ..., ...}."""
    value = config.get(key)
    if isinstance(value, dict):
        value = value.get("content")
    if value is not None and not isinstance(value, str):
        raise TokenizerLoadError(f"{path}: {key} must be a token string, null or an AddedToken, got {config[key]!r}")
    return value


def _id_list(value: Any, path: str) -> tuple[int, ...]:
    if value is None:
        return ()
    ids = value if isinstance(value, list) else [value]
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise TokenizerLoadError(f"{path}: eos_token_id must be an int or a list of ints, got {value!r}")
    return tuple(ids)
