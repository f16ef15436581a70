"""The typed, frozen configuration of the policy-gradient update (loss, advantages, optimizer).

Defaults follow the Absolute Zero paper (AZR_SPEC.md): PPO clip 0.2 both sides, entropy bonus 0.001,
no KL, AdamW with constant lr 1e-6, weight decay 0.01, gradient-norm clip 1.0.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any, Mapping

from azr_jax.rl.advantages import advantage_estimator_names


@dataclasses.dataclass(frozen=True)
class RLConfig:
    """Hyperparameters of one policy-gradient step. Every field is checked in `__post_init__`."""

    # Optimizer: AdamW (decoupled weight decay, as torch.optim.AdamW) after global-norm clipping.
    learning_rate: float = 1e-6
    b1: float = 0.9
    b2: float = 0.999
    adam_eps: float = 1e-8
    weight_decay: float = 0.01
    max_grad_norm: float | None = 1.0  # None: no clipping
    # PPO clipped surrogate: ratio clipped to [1 - clip_eps_low, 1 + clip_eps_high].
    clip_eps_low: float = 0.2
    clip_eps_high: float = 0.2  # 0.28 for the asymmetric ("clip-higher") variant
    dual_clip: float | None = None  # c > 1 bounds the loss of negative-advantage tokens by -c * A
    entropy_coef: float = 0.001  # paper: 0.001; 0 turns the bonus (and its backward pass) off
    # Advantages: a name in the registry of azr_jax.rl.advantages, and the whitening epsilon.
    advantage_estimator: str = "trr++"
    advantage_eps: float = 1e-8
    # PPO mini-batches: sequences per optimizer step. One update takes B / mini_batch_size AdamW steps over
    # the same rollouts, the ratio clipped from the second on (the reference: 384 sequences, mini-batches
    # of 128, 3 steps). None: one step over the whole batch.
    mini_batch_size: int | None = None
    # Gradient accumulation inside a mini-batch: rows per micro-batch (None: the whole mini-batch at once).
    # The memory knob; it does not change the step. Must divide mini_batch_size.
    micro_batch_size: int | None = None
    # Sequence positions per chunk when computing log-probs, so [B, T, V] logits never exist at once.
    # (The temperature of those log-probs is not a field: it is the sampler's, passed in by the trainer
    # from generation.temperature, so that the two cannot disagree.)
    logprob_chunk_size: int = 512

    def __post_init__(self):
        def fail(name, requirement):
            raise ValueError(f"RLConfig.{name} {requirement}, got {getattr(self, name)!r}")

        for name in ("learning_rate", "clip_eps_low", "clip_eps_high", "entropy_coef", "weight_decay",
                     "advantage_eps", "adam_eps", "b1", "b2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                fail(name, "must be a finite number")
        for name in ("learning_rate", "adam_eps", "advantage_eps"):
            if getattr(self, name) <= 0:
                fail(name, "must be positive")
        for name in ("entropy_coef", "weight_decay", "clip_eps_high"):
            if getattr(self, name) < 0:
                fail(name, "must be >= 0")
        if not 0 <= self.clip_eps_low < 1:
            fail("clip_eps_low", "must be in [0, 1) so that the lower clip bound 1 - eps stays positive")
        for name in ("b1", "b2"):
            if not 0 <= getattr(self, name) < 1:
                fail(name, "must be in [0, 1)")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            fail("max_grad_norm", "must be positive or None")
        if self.dual_clip is not None and not self.dual_clip > 1:
            fail("dual_clip", "must be > 1 (dual-clip PPO bound c) or None")
        for name in ("mini_batch_size", "micro_batch_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                fail(name, "must be a positive int or None")
        if self.mini_batch_size and self.micro_batch_size and self.mini_batch_size % self.micro_batch_size:
            fail("micro_batch_size", f"must divide RLConfig.mini_batch_size={self.mini_batch_size} (micro-batches "
                                     f"accumulate the gradient of one mini-batch's optimizer step)")
        if isinstance(self.logprob_chunk_size, bool) or not isinstance(self.logprob_chunk_size, int) \
                or self.logprob_chunk_size <= 0:
            fail("logprob_chunk_size", "must be a positive int")
        if self.advantage_estimator not in advantage_estimator_names():
            fail("advantage_estimator", f"must be one of {advantage_estimator_names()}")

    @classmethod
    def paper(cls, **overrides: Any) -> "RLConfig":
        """The Absolute Zero paper's settings (the defaults), with overrides."""
        return cls().replace(**overrides) if overrides else cls()

    @classmethod
    def clip_higher(cls, **overrides: Any) -> "RLConfig":
        """Asymmetric clipping 0.2 / 0.28 (AZR_SPEC: optional), with overrides."""
        return cls(clip_eps_high=0.28).replace(**overrides) if overrides else cls(clip_eps_high=0.28)

    def replace(self, **changes: Any) -> "RLConfig":
        _check_names(changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "RLConfig":
        _check_names(values)
        return cls(**values)


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(RLConfig))

# Fields that no longer exist, with what replaced them: a saved config or an old override that sets one
# must fail with the reason, not with a list of close spellings.
REMOVED_FIELDS = {
    "sampling_temperature": "the update's log-probs are at the sampler's temperature, generation.temperature "
                            "(greedy: 1); set that instead",
}


def _check_names(values: Mapping[str, Any]) -> None:
    for name in values:
        if name in REMOVED_FIELDS:
            raise ValueError(f"RLConfig.{name} was removed: {REMOVED_FIELDS[name]}")
        if name not in _FIELD_NAMES:
            close = difflib.get_close_matches(name, _FIELD_NAMES, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown RLConfig field {name!r}{hint} (known: {', '.join(sorted(_FIELD_NAMES))})")
