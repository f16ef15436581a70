"""`Tokenizer` over a Hugging Face `tokenizer.json` (Qwen2.5 and Llama-3 byte-level BPE)."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import tokenizers

from azr_jax.tokenizer.base import Tokenizer, TokenizerLoadError
from azr_jax.tokenizer.hf_config import SpecialTokens

TOKENIZER_JSON = "tokenizer.json"


class HFTokenizer(Tokenizer):
    """Encodes like `PreTrainedTokenizerFast.encode(text, add_special_tokens=False)`.

    - Special-token strings in the text ("<|im_start|>") become their single ids, which is how chat
      templates rendered as text are meant to be encoded.
    - `decode` is the exact inverse of `encode` (up to the vocabulary's normaliser, NFC for Qwen): it
      does not apply transformers' `clean_up_tokenization_spaces`, which Llama-3 enables and which
      rewrites " ." to ".".
    - BOS/EOS/PAD come from `special_tokens` if given, else from tokenizer_config.json and
      generation_config.json next to tokenizer.json; with neither, there is no BOS and no EOS.
    `path` is a local tokenizer.json or its directory; `load_tokenizer` also takes gs:// paths.
    """

    def __init__(self, path: str | os.PathLike, special_tokens: SpecialTokens | None = None):
        json_path = _tokenizer_json_path(os.fspath(path))
        try:
            self._tok = tokenizers.Tokenizer.from_file(json_path)
        except Exception as e:  # `tokenizers` raises bare Exception for unreadable or malformed files
            raise TokenizerLoadError(f"{json_path} is not a valid Hugging Face tokenizer.json: {e}") from e
        # Some exported tokenizer.json files carry truncation/padding settings that would silently
        # cut or pad every encode; lengths are the caller's business here.
        self._tok.no_truncation()
        self._tok.no_padding()
        self._path = json_path
        vocab = self._tok.get_vocab(with_added_tokens=True)
        if not vocab:
            raise TokenizerLoadError(f"{json_path} has an empty vocabulary")
        self._vocab_size = max(vocab.values()) + 1
        self._special_ids = tuple(sorted(i for i, t in self._tok.get_added_tokens_decoder().items() if t.special))
        roles = special_tokens if special_tokens is not None else SpecialTokens.from_hf_dir(os.path.dirname(json_path))
        self._bos_id = self._role_id(roles, "bos", roles.bos)
        eos = [self._role_id(roles, "eos", name) for name in roles.eos]
        for i in roles.extra_eos_ids:
            if not 0 <= i < self._vocab_size:
                raise TokenizerLoadError(f"eos_token_id {i} from generation_config.json is outside the "
                                         f"vocabulary [0, {self._vocab_size}) of {json_path}")
            eos.append(i)
        self._eos_ids = tuple(dict.fromkeys(eos))  # config's own EOS first, duplicates dropped
        pad = self._role_id(roles, "pad", roles.pad)
        self._pad_id = pad if pad is not None else (self._eos_ids[0] if self._eos_ids else 0)

    def _role_id(self, roles: SpecialTokens, role: str, name: str | None) -> int | None:
        if name is None:
            return None
        token_id = self._tok.token_to_id(name)
        if token_id is None:
            raise TokenizerLoadError(f"{roles.source} names {role} token {name!r}, which is not in the "
                                     f"vocabulary of {self._path}")
        return token_id

    def __repr__(self) -> str:
        return f"HFTokenizer({self._path!r}, vocab_size={self.vocab_size})"

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def bos_id(self) -> int | None:
        return self._bos_id

    @property
    def eos_ids(self) -> tuple[int, ...]:
        return self._eos_ids

    @property
    def pad_id(self) -> int:
        return self._pad_id

    @property
    def special_ids(self) -> tuple[int, ...]:
        return self._special_ids

    def token_to_id(self, token: str) -> int | None:
        return self._tok.token_to_id(token)

    def id_to_token(self, token_id: int) -> str:
        (token_id,) = self._checked_ids([token_id])
        token = self._tok.id_to_token(token_id)
        if token is None:
            raise ValueError(f"token id {token_id} is unassigned in {self._path}")
        return token

    def encode(self, text: str, add_bos: bool = False) -> list[int]:
        return self._with_bos(self._tok.encode(text, add_special_tokens=False).ids, add_bos)

    def batch_encode(self, texts: Sequence[str], add_bos: bool = False) -> list[list[int]]:
        encodings = self._tok.encode_batch(list(texts), add_special_tokens=False)
        return [self._with_bos(e.ids, add_bos) for e in encodings]

    def decode(self, ids: Sequence[int] | np.ndarray, skip_special_tokens: bool = False) -> str:
        # The byte-level decoder turns bytes that are not UTF-8 into U+FFFD; ids inside the range
        # but assigned to no token (gaps in odd vocabularies) decode to nothing.
        return self._tok.decode(self._checked_ids(ids), skip_special_tokens=skip_special_tokens)

    def _with_bos(self, ids: list[int], add_bos: bool) -> list[int]:
        return [self._bos_id, *ids] if add_bos and self._bos_id is not None else list(ids)


def _tokenizer_json_path(path: str) -> str:
    if os.path.isdir(path):
        json_path = os.path.join(path, TOKENIZER_JSON)
        if not os.path.isfile(json_path):
            raise FileNotFoundError(f"directory {path} has no {TOKENIZER_JSON}")
        return json_path
    if not os.path.isfile(path):
        raise FileNotFoundError(f"tokenizer.json file does not exist: {path}")
    return path
