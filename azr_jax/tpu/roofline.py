"""Model FLOPs of the three programs, and a roofline estimate of their time and MFU on one chip.

Model FLOPs are the useful work, counted analytically (the usual MFU convention):
  update   3 x forward (forward + backward) over every token of every row:
           forward = 2 * P_matmul * T + 2 * L * N * H * T^2   (causal attention: half of the T x T scores)
  prefill  forward over the prompt slots; the LM head only at the last position (all the sampler computes)
  decode   one token for every row: 2 * P_matmul + 4 * L * N * H * S, S = mean context over a full-length
           decode (prompt slots + max_new_tokens / 2)
P_matmul counts the weights used in matmuls (layers and LM head; not the embedding lookup).

The time estimate is a roofline on the compiler's per-device cost (azr_jax.tpu.programs.probe_cost):
  compute = HLO FLOPs / peak FLOP/s   (HLO FLOPs include rematerialisation and the full T x T scores)
  memory  = HLO bytes accessed / HBM bandwidth
  time    = max(compute, memory), bound = the larger; MFU = model FLOPs / (time * peak).
The max assumes compute and memory traffic overlap perfectly, so it is a lower bound on time and an
upper bound on MFU; `mfu_no_overlap` (time = compute + memory) is the pessimistic end. Neither counts
collectives over ICI, host work or kernel launch gaps; measured MFU on real runs is typically lower.
"""

from __future__ import annotations

import dataclasses

from azr_jax.model.config import ModelConfig
from azr_jax.tpu.specs import CompileSpec
from azr_jax.tpu.topologies import Chip


def matmul_params(c: ModelConfig) -> int:
    """Weights a token meets in matmuls: attention and MLP of every layer, and the LM head."""
    attention = c.hidden_size * c.head_dim * (2 * c.num_heads + 2 * c.num_kv_heads)
    return c.num_layers * (attention + 3 * c.hidden_size * c.intermediate_size) + c.hidden_size * c.vocab_size


def _causal_attention_flops(c: ModelConfig, length: int) -> float:
    """Forward FLOPs of scores and weighted values for one causal sequence (half the square)."""
    return 2.0 * c.num_layers * c.num_heads * c.head_dim * length * length


def update_model_flops(spec: CompileSpec) -> float:
    c, t = spec.model, spec.update_length
    forward = 2.0 * matmul_params(c) * t + _causal_attention_flops(c, t)
    return 3.0 * spec.update_rows * forward


def prefill_model_flops(spec: CompileSpec) -> float:
    c, p = spec.model, spec.prompt_length
    head = 2.0 * c.hidden_size * c.vocab_size
    forward = (2.0 * matmul_params(c) - head) * p + _causal_attention_flops(c, p) + head
    return spec.prefill_call[0] * forward


def decode_step_model_flops(spec: CompileSpec) -> float:
    c = spec.model
    context = spec.prompt_length + spec.max_new_tokens / 2
    per_row = 2.0 * matmul_params(c) + 4.0 * c.num_layers * c.num_heads * c.head_dim * context
    return spec.sample_rows * per_row


MODEL_FLOPS = {"update": update_model_flops, "prefill": prefill_model_flops, "decode": decode_step_model_flops}


@dataclasses.dataclass(frozen=True)
class Estimate:
    """Roofline of one program call on one device (decode: one step)."""

    model_flops: float  # per device
    hlo_flops: float  # per device, as compiled (remat and masked-out scores included)
    hlo_bytes: float  # per device HBM bytes accessed
    peak_flops: float
    hbm_bandwidth: float

    @property
    def compute_seconds(self) -> float:
        return self.hlo_flops / self.peak_flops

    @property
    def memory_seconds(self) -> float:
        return self.hlo_bytes / self.hbm_bandwidth

    @property
    def seconds(self) -> float:
        return max(self.compute_seconds, self.memory_seconds)

    @property
    def bound(self) -> str:
        return "compute" if self.compute_seconds >= self.memory_seconds else "memory"

    @property
    def mfu(self) -> float:
        return self.model_flops / (self.seconds * self.peak_flops) if self.seconds else 0.0

    @property
    def mfu_no_overlap(self) -> float:
        total = self.compute_seconds + self.memory_seconds
        return self.model_flops / (total * self.peak_flops) if total else 0.0

    def to_dict(self) -> dict:
        return {"model_flops": self.model_flops, "hlo_flops": self.hlo_flops, "hlo_bytes": self.hlo_bytes,
                "compute_seconds": self.compute_seconds, "memory_seconds": self.memory_seconds,
                "seconds": self.seconds, "bound": self.bound, "mfu": self.mfu, "mfu_no_overlap": self.mfu_no_overlap}


def estimate(program: str, spec: CompileSpec, num_devices: int, chip: Chip, hlo_flops: float,
             hlo_bytes: float) -> Estimate:
    return Estimate(model_flops=MODEL_FLOPS[program](spec) / num_devices, hlo_flops=hlo_flops, hlo_bytes=hlo_bytes,
                    peak_flops=chip.peak_flops, hbm_bandwidth=chip.hbm_bandwidth)
