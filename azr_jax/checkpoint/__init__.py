"""Checkpoints: orbax model checkpoints, Hugging Face safetensors import and export."""
