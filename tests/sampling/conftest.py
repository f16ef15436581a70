"""Sampler tests: an 8-device CPU mesh, tiny random HF models and ours with the same weights."""

import os

# Before JAX is imported: 8 simulated CPU devices give a real (data, fsdp, tensor) mesh.
_FLAG = "--xla_force_host_platform_device_count=8"
if _FLAG not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _FLAG).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

from azr_jax.model.testing import our_model_from_hf, tiny_hf_model  # noqa: E402
from azr_jax.parallel import MeshConfig, make_mesh  # noqa: E402
from azr_jax.sampling import Sampler  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running test, excluded from the default (CI) run")


@pytest.fixture(scope="session")
def qwen2():
    hf = tiny_hf_model("qwen2", seed=0)
    return hf, our_model_from_hf(hf)


@pytest.fixture(scope="session")
def llama():
    hf = tiny_hf_model("llama", seed=1)
    return hf, our_model_from_hf(hf)


@pytest.fixture(scope="session")
def mesh():
    if jax.device_count() != 8:
        pytest.fail(f"sampler mesh tests need 8 CPU devices, got {jax.device_count()}: JAX was imported before "
                    f"tests/sampling/conftest.py could set XLA_FLAGS")
    return make_mesh(MeshConfig(data=2, fsdp=2, tensor=2))


@pytest.fixture(scope="session")
def qwen2_sampler(qwen2):
    """One Sampler shared by tests that use the same programs (compiling is most of their time)."""
    _, (config, graphdef, _) = qwen2
    return Sampler(config, graphdef, prompt_buckets=(16, 32))
