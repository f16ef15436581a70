"""azr_jax: Absolute Zero self-play RL for reasoning, JAX/TPU-native."""

__version__ = "0.1.0"
