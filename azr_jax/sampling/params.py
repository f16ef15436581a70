"""What to sample: the user-facing, validated sampling parameters."""

from __future__ import annotations

import dataclasses
from typing import Sequence

# A row's finish reason, as stored on device ([B] int32) and as reported to the host.
RUNNING, EOS, STOP, LENGTH = 0, 1, 2, 3
FINISH_REASONS = {EOS: "eos", STOP: "stop", LENGTH: "length"}


@dataclasses.dataclass(frozen=True)
class SamplingParams:
    """How to sample; every field is checked when the object is made.

    temperature: 0 means greedy (argmax); > 0 divides the logits before top-k / top-p. The returned
      log-probs are at this temperature (1 when greedy): see `logprob_temperature`.
    top_k: keep the k most likely tokens (0: off). top_p: keep the smallest set of most likely tokens
      whose probability reaches top_p (1.0: off); top-k is applied first, then top-p, both after the
      temperature, as Hugging Face's warpers do.
    max_new_tokens: generated tokens per row at most (the stop token included).
    n: samples per prompt; the prompt is prefilled once and its cache shared by the n rows.
    stop_sequences: token-id sequences that end a row (the matched tokens stay in the output);
      matched on device against the generated tokens only, never the prompt.
    eos_ids: tokens that end a row; None takes the model config's `eos_token_ids`.
    """

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 256
    n: int = 1
    stop_sequences: tuple[tuple[int, ...], ...] = ()
    eos_ids: tuple[int, ...] | None = None

    def __post_init__(self):
        if not self.temperature >= 0:  # also rejects NaN
            raise ValueError(f"SamplingParams.temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"SamplingParams.top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"SamplingParams.top_k must be >= 0 (0 = off), got {self.top_k}")
        if self.max_new_tokens < 1:
            raise ValueError(f"SamplingParams.max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.n < 1:
            raise ValueError(f"SamplingParams.n (samples per prompt) must be >= 1, got {self.n}")
        stops = tuple(_token_ids(s, "stop_sequences entry") for s in self.stop_sequences)
        if any(len(s) == 0 for s in stops):
            raise ValueError("SamplingParams.stop_sequences: a stop sequence must not be empty")
        object.__setattr__(self, "stop_sequences", stops)
        if self.eos_ids is not None:
            object.__setattr__(self, "eos_ids", _token_ids(self.eos_ids, "eos_ids"))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def logprob_temperature(self) -> float:
        """The temperature of the returned log-probs (see `logprob_temperature`)."""
        return logprob_temperature(self.temperature)


def _token_ids(ids: Sequence[int], what: str) -> tuple[int, ...]:
    ids = tuple(int(i) for i in ids)
    if any(i < 0 for i in ids):
        raise ValueError(f"SamplingParams.{what} holds a negative token id: {ids}")
    return ids


def logprob_temperature(temperature: float) -> float:
    """The temperature of the log-probs the sampler returns when it samples at `temperature`.

    The same temperature: the log-probs are of the distribution the tokens were drawn from (the PPO
    behaviour policy), and the trainer must recompute its own at this temperature too. Greedy decoding
    (temperature 0) draws from no distribution; its log-probs are the model's own, at temperature 1.
    """
    return float(temperature) if temperature > 0 else 1.0
