"""Peak FLOP/s of the devices a run is on, for MFU."""

from __future__ import annotations

import jax

# Published dense bf16 peaks per chip (Cloud TPU documentation); JAX sees one device per chip on
# v5e and per megacore chip on v4/v5p.
_TPU_PEAK_FLOPS = {"TPU v4": 275e12, "TPU v5 lite": 197e12, "TPU v5e": 197e12, "TPU v5p": 459e12,
                   "TPU v5": 459e12, "TPU v6 lite": 918e12, "TPU v6e": 918e12}
# float32 matmul peak measured on the 2-core development machine (FACTS.md); a stand-in for CPUs.
_CPU_PEAK_FLOPS = 2.5e11


def device_peak_flops(device: jax.Device | None = None) -> float:
    device = device or jax.devices()[0]
    kind = getattr(device, "device_kind", "")
    for name, flops in _TPU_PEAK_FLOPS.items():
        if kind.startswith(name):
            return flops
    return _CPU_PEAK_FLOPS


def total_peak_flops() -> float:
    """Peak of all devices of the run; simulated CPU devices share one host's cores, so count it once."""
    devices = jax.devices()
    if devices[0].platform == "cpu":
        return _CPU_PEAK_FLOPS
    return device_peak_flops(devices[0]) * len(devices)
