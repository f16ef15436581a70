"""Eight host CPU devices for the mesh tests (set before jax is imported), and shared tiny fixtures."""

import os

if "--xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()

import pytest  # noqa: E402

from azr_jax.model.config import get_model_config  # noqa: E402
from azr_jax.model.functional import create_model  # noqa: E402
from azr_jax.rl import RLConfig, jit_update_step, make_optimizer  # noqa: E402
from rl_testing import GRADIENT_SENSITIVE  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds (compiles a sharded update step)")


@pytest.fixture(scope="session")
def tiny_model():
    """(config, graphdef, params) of the tiny Qwen2 preset in float32."""
    config = get_model_config("tiny-qwen2")
    graphdef, params = create_model(config, seed=0)
    return config, graphdef, params


@pytest.fixture(scope="session")
def full_batch_step(tiny_model):
    """(config, optimizer, jitted step) without micro-batching, reused by several test files."""
    _, graphdef, params = tiny_model
    config = RLConfig(**GRADIENT_SENSITIVE)
    optimizer = make_optimizer(config)
    return config, optimizer, jit_update_step(graphdef, optimizer, config, params, temperature=1.0)
