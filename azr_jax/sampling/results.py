"""What a generate call returns: one SampleRow per (prompt, sample)."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class SampleRow:
    """One generated continuation.

    tokens: generated ids, the EOS / stop tokens included. logprobs: float32 [len(tokens)], each token's
    log-probability under the distribution that drew it: log_softmax(logits / temperature), before
    top-k / top-p filtering (temperature 1 for greedy rows; see `logprob_temperature`).
    finish_reason: "eos", "stop" (a stop sequence ended it) or "length" (max_new_tokens reached).
    """

    prompt_index: int
    sample_index: int
    tokens: list[int]
    logprobs: np.ndarray
    finish_reason: str


@dataclasses.dataclass(frozen=True)
class GenerateStats:
    """Wall-clock split of one generate call (compilation included on a program's first call)."""

    prefill_seconds: float
    decode_seconds: float
    decode_steps: int  # decode-loop steps run (per call: the longest row's length), summed over device calls
    rows: int  # rows decoded, batch padding included
    calls: int = 1  # prefill + decode programs run (several when max_rows_per_call splits the prompts)


@dataclasses.dataclass(frozen=True)
class SampleOutput:
    """Rows in prompt-major order: all n samples of prompt 0, then prompt 1, ...

    On several processes, only this process's rows (those on its addressable devices).
    """

    rows: list[SampleRow]
    n: int
    stats: GenerateStats

    def samples_of(self, prompt_index: int) -> list[SampleRow]:
        return [row for row in self.rows if row.prompt_index == prompt_index]
