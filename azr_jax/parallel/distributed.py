"""jax.distributed set-up: automatic on multi-worker TPU VMs, explicit for local multi-process runs."""

from __future__ import annotations

import os

import jax

# Set by the TPU VM runtime on every worker of a multi-host slice.
_TPU_MULTIHOST_ENV = ("TPU_WORKER_HOSTNAMES", "CLOUD_TPU_TASK_ID", "MEGASCALE_COORDINATOR_ADDRESS")


def maybe_initialize_distributed(mode: str = "auto", coordinator_address: str | None = None,
                                 num_processes: int | None = None, process_id: int | None = None) -> bool:
    """Initialises jax.distributed when asked to or when on a multi-worker TPU VM; returns whether it did."""
    explicit = coordinator_address is not None
    if mode == "off":
        return False
    hosts = os.environ.get("TPU_WORKER_HOSTNAMES", "")
    on_multihost_tpu = "," in hosts or any(os.environ.get(k) for k in _TPU_MULTIHOST_ENV[1:])
    if mode == "auto" and not (explicit or on_multihost_tpu):
        return False
    if explicit:
        if jax.config.jax_platforms in (None, "", "cpu") or "cpu" in (jax.config.jax_platforms or ""):
            # CPU processes exchange collectives through gloo (FACTS.md).
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address, num_processes=num_processes, process_id=process_id)
    else:
        jax.distributed.initialize()  # TPU VMs: everything comes from the metadata server
    return True
