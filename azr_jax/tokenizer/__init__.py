"""One tokenizer interface over SentencePiece `.model` files and Hugging Face `tokenizer.json` files."""

from azr_jax.tokenizer.base import Tokenizer, TokenizerLoadError
from azr_jax.tokenizer.hf_config import SpecialTokens
from azr_jax.tokenizer.hf_tokenizer import HFTokenizer
from azr_jax.tokenizer.loading import load_tokenizer
from azr_jax.tokenizer.padding import pad_batch, padded_length
from azr_jax.tokenizer.sp_tokenizer import SentencePieceTokenizer
from azr_jax.tokenizer.stop import ends_with_stop_string, stop_token_sequences

__all__ = ["Tokenizer", "TokenizerLoadError", "SpecialTokens", "HFTokenizer", "SentencePieceTokenizer",
           "load_tokenizer", "pad_batch", "padded_length", "stop_token_sequences", "ends_with_stop_string"]
