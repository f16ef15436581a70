"""Platform and jax.distributed choices of tpu_run. On a host without TPU chips CPU is chosen before JAX
probes for a TPU, even when libtpu is installed (which would otherwise take /tmp/libtpu_lockfile and
block a second JAX process); jax.distributed starts itself only on multi-worker TPU VMs or when asked."""

import importlib.util
import os
import subprocess
import sys

import pytest

from azr_jax.parallel.distributed import tpu_chips_present, wants_distributed

PROBE = ("from azr_jax.parallel.distributed import default_to_cpu_without_tpu as choose; chosen = choose(); "
         "import jax; print(chosen, jax.devices()[0].platform)")


def run_probe(**env_changes):
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    env.update(env_changes)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()


@pytest.mark.skipif(tpu_chips_present(), reason="this host has TPU chips: JAX should use them")
def test_cpu_is_chosen_without_tpu_chips():
    chosen, platform = run_probe()
    has_libtpu = importlib.util.find_spec("libtpu") is not None
    assert chosen == ("cpu" if has_libtpu else "None")  # without libtpu JAX picks CPU by itself
    assert platform == "cpu"


def test_an_explicit_platform_is_respected():
    chosen, platform = run_probe(JAX_PLATFORMS="cpu")
    assert (chosen, platform) == ("None", "cpu")


@pytest.mark.parametrize("mode, explicit, environ, expected", [
    ("auto", False, {}, False),  # a laptop: one process
    ("auto", False, {"TPU_WORKER_HOSTNAMES": "w-0"}, False),  # a single-host TPU VM
    ("auto", False, {"TPU_WORKER_HOSTNAMES": "w-0,w-1,w-2,w-3"}, True),  # a pod slice
    ("auto", False, {"MEGASCALE_COORDINATOR_ADDRESS": "10.0.0.2:8080"}, True),  # multislice
    ("auto", True, {}, True),  # --coordinator_address given
    ("off", False, {"TPU_WORKER_HOSTNAMES": "w-0,w-1"}, False),
    ("on", False, {}, True),
])
def test_when_jax_distributed_is_initialised(mode, explicit, environ, expected):
    assert wants_distributed(mode, explicit, environ) is expected


def test_tpu_environment_without_chips_is_not_a_pod_slice():
    assert not wants_distributed("auto", False, {"TPU_WORKER_HOSTNAMES": "w-0,w-1"}, tpu_chips=False)


def test_unknown_distributed_mode_is_named():
    with pytest.raises(ValueError, match="'sometimes'"):
        wants_distributed("sometimes", False, {})
