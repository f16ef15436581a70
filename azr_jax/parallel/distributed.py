"""jax.distributed set-up: automatic on multi-worker TPU VMs, explicit for local multi-process runs."""

from __future__ import annotations

import glob
import importlib.util
import os

import jax

# Set by the TPU VM runtime on every worker of a multi-host slice.
_TPU_MULTIHOST_ENV = ("TPU_WORKER_HOSTNAMES", "CLOUD_TPU_TASK_ID", "MEGASCALE_COORDINATOR_ADDRESS")


def maybe_initialize_distributed(mode: str = "auto", coordinator_address: str | None = None,
                                 num_processes: int | None = None, process_id: int | None = None) -> bool:
    """Initialises jax.distributed when asked to or when on a multi-worker TPU VM; returns whether it did."""
    explicit = coordinator_address is not None
    if not wants_distributed(mode, explicit, os.environ, tpu_chips_present()):
        return False
    if explicit:
        if jax.config.jax_platforms in (None, "", "cpu") or "cpu" in (jax.config.jax_platforms or ""):
            # CPU processes exchange collectives through gloo (FACTS.md).
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address, num_processes=num_processes, process_id=process_id)
    else:
        jax.distributed.initialize()  # TPU VMs: everything comes from the metadata server
    return True


def wants_distributed(mode: str, explicit: bool, environ, tpu_chips: bool = True) -> bool:
    """off: never; on: always; auto: with a coordinator address, or on a TPU VM (chips present) whose
    environment names several workers. libtpu sets TPU_* variables in-process on any host, so the
    environment alone does not make a TPU VM."""
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"distributed mode must be auto, on or off, got {mode!r}")
    if mode != "auto":
        return mode == "on"
    on_multihost_tpu = "," in environ.get("TPU_WORKER_HOSTNAMES", "") or any(
        environ.get(k) for k in _TPU_MULTIHOST_ENV[1:])
    return explicit or (tpu_chips and on_multihost_tpu)


def tpu_chips_present() -> bool:
    """Whether this host has TPU chips: /dev/accel* (v2-v4) or /dev/vfio/N (v5e, v5p and later)."""
    return bool(glob.glob("/dev/accel*")) or any(os.path.basename(p).isdigit() for p in glob.glob("/dev/vfio/*"))


def default_to_cpu_without_tpu() -> str | None:
    """On a host without TPU chips but with libtpu installed (e.g. a laptop set up for AOT compile
    checks), JAX would probe for a TPU, warn, and hold /tmp/libtpu_lockfile so a second JAX process
    fails. Choose CPU there unless JAX_PLATFORMS says otherwise; returns the platform chosen, if any.
    Call before JAX initialises its backends."""
    if os.environ.get("JAX_PLATFORMS") or tpu_chips_present() or importlib.util.find_spec("libtpu") is None:
        return None
    os.environ["JAX_PLATFORMS"] = "cpu"
    jax.config.update("jax_platforms", "cpu")
    return "cpu"
