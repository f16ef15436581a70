"""TPU chips and slices by their Cloud TPU names, and their devices for ahead-of-time compilation.

Naming (Cloud TPU accelerator types): `v4-N` and `v5p-N` count TensorCores; their chips hold two
cores that run as one "megacore" JAX device, so such a slice has N / 2 chips = N / 2 JAX devices.
`v5litepod-N` (also written `v5e-N`) counts chips of one core each: N devices.

`topology_devices` asks libtpu for compile-only devices of the slice (no TPU needed, only the
`libtpu` package); `jax.jit(...).lower(...).compile()` against a mesh of them yields the real TPU
program with its memory and cost analyses.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re

GiB = 1024 ** 3


@dataclasses.dataclass(frozen=True)
class Chip:
    """Published per-chip figures of one TPU generation (one JAX device = one chip here)."""

    name: str
    hbm_bytes: int  # HBM per chip
    peak_flops: float  # dense bf16 FLOP/s per chip
    hbm_bandwidth: float  # bytes/s per chip
    topology_prefix: str  # libtpu topology name prefix, e.g. "v5p" in "v5p:2x4x4"
    chip_config: str  # "megacore" (two cores, one device) or "default"
    cores_per_chip: int


# Sources (Cloud TPU system architecture pages, docs.cloud.google.com/tpu/docs/<version>):
#   v4:  "Peak compute per chip 275 teraflops (bf16)", "HBM2 capacity and bandwidth 32 GiB, 1200 GBps",
#        two TensorCores per chip.
#   v5e: "Peak compute per chip (bf16) 197 TFLOPs", "HBM2 capacity and bandwidth 16 GB, 819 GBps", one
#        TensorCore per chip.
#   v5p: "Peak compute per chip (bf16) 459 TFLOPs", "HBM2e capacity and bandwidth 95GB, 2765 GBps", two
#        TensorCores per chip.
# Google writes "GB" for v5e/v5p capacities; the devices report binary sizes (a v5e shows ~16 GiB), so
# capacities are taken in GiB; the fit check keeps headroom (default 10%) below these figures anyway.
CHIPS: dict[str, Chip] = {
    "v4": Chip("v4", 32 * GiB, 275e12, 1200e9, "v4", "megacore", 2),
    "v5e": Chip("v5e", 16 * GiB, 197e12, 819e9, "v5e", "default", 1),
    "v5p": Chip("v5p", 95 * GiB, 459e12, 2765e9, "v5p", "megacore", 2),
}

# Slice shapes in chips, as Cloud TPU provisions them (v4/v5p 3D, v5e 2D); the key is the chip count.
_SHAPES_3D = {4: (2, 2, 1), 8: (2, 2, 2), 16: (2, 2, 4), 32: (2, 4, 4), 64: (4, 4, 4), 128: (4, 4, 8),
              256: (4, 8, 8), 512: (8, 8, 8), 1024: (8, 8, 16), 2048: (8, 16, 16), 4096: (16, 16, 16)}
_SHAPES_2D = {1: (1, 1), 4: (2, 2), 8: (2, 4), 16: (4, 4), 32: (4, 8), 64: (8, 8), 128: (8, 16), 256: (16, 16)}
_ALIASES = {"v4": "v4", "v5p": "v5p", "v5e": "v5e", "v5litepod": "v5e"}


@dataclasses.dataclass(frozen=True)
class TpuSlice:
    """One slice: its Cloud TPU name, chip generation and physical shape in chips."""

    name: str
    chip: Chip
    shape: tuple[int, ...]

    @property
    def num_chips(self) -> int:
        return functools.reduce(lambda a, b: a * b, self.shape)

    @property
    def num_devices(self) -> int:
        return self.num_chips  # megacore: one JAX device per chip

    @property
    def topology_name(self) -> str:
        return f"{self.chip.topology_prefix}:{'x'.join(map(str, self.shape))}"

    @property
    def wrap(self) -> tuple[bool, bool, bool]:
        """Torus wrap-around links: v4/v5p slices of full 4x4x4 cubes, v5e dimensions of 16 chips."""
        if len(self.shape) == 3:
            return (min(self.shape) >= 4,) * 3
        return (self.shape[0] >= 16, self.shape[1] >= 16, False)


def known_slice_names() -> list[str]:
    names = [f"{v}-{2 * chips}" for v in ("v4", "v5p") for chips in _SHAPES_3D]
    return names + [f"v5litepod-{chips}" for chips in _SHAPES_2D]


def parse_slice(name: str) -> TpuSlice:
    """`v5p-64` -> 32 v5p chips (2x4x4); `v4-32` -> 16 v4 chips; `v5litepod-16` / `v5e-16` -> 16 v5e chips."""
    match = re.fullmatch(r"(v4|v5p|v5e|v5litepod)-(\d+)", name.strip().lower())
    if not match:
        raise ValueError(_unknown(name))
    chip = CHIPS[_ALIASES[match.group(1)]]
    count = int(match.group(2))
    if chip.cores_per_chip == 2:
        if count % 2 or count // 2 not in _SHAPES_3D:
            raise ValueError(_unknown(name))
        return TpuSlice(name, chip, _SHAPES_3D[count // 2])
    if count not in _SHAPES_2D:
        raise ValueError(_unknown(name))
    return TpuSlice(name, chip, _SHAPES_2D[count])


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, known_slice_names(), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return (f"unknown TPU slice {name!r}{hint}. v4-N / v5p-N count TensorCores (N / 2 chips), "
            f"v5litepod-N counts chips; known: {', '.join(known_slice_names())}")


def libtpu_available() -> tuple[bool, str]:
    """(True, "") if TPU programs can be compiled here, else (False, why not)."""
    try:
        import libtpu  # noqa: F401
    except ImportError:
        return False, "libtpu is not installed (pip install 'azr_jax[tpu]' or 'libtpu==0.0.42.*')"
    return True, ""


@functools.lru_cache(maxsize=None)
def topology_devices(name: str) -> tuple:
    """Compile-only JAX devices of the slice (needs libtpu, not a TPU)."""
    import os

    from jax.experimental import topologies

    # libtpu takes /tmp/libtpu_lockfile for exclusive use of local TPU chips; compiling for a topology
    # uses no chip, so it must not fail because another process (a test worker, a CPU run) holds it.
    os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")

    tpu_slice = parse_slice(name)
    ok, why = libtpu_available()
    if not ok:
        raise RuntimeError(why)
    desc = topologies.get_topology_desc(
        topology_name=tpu_slice.topology_name, platform="tpu", chip_config_name=tpu_slice.chip.chip_config,
        chips_per_host_bounds=(2, 2, 1), num_slices=1, wrap=tpu_slice.wrap)
    devices = tuple(desc.devices)
    if len(devices) != tpu_slice.num_devices:
        raise RuntimeError(f"libtpu gave {len(devices)} devices for {name} ({tpu_slice.topology_name}), "
                           f"expected {tpu_slice.num_devices}")
    return devices
