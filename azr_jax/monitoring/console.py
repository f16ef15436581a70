"""One line per step with the figures a person checks first."""

from __future__ import annotations

from typing import Mapping

_KEYS = (("loss", "pg/loss", "{:+.4f}"), ("valid", "propose/valid_rate", "{:.2f}"),
         ("solve", "solve/accuracy", "{:.2f}"), ("reward_p", "propose/reward", "{:+.2f}"),
         ("reward_s", "solve/reward", "{:+.2f}"), ("tok/s", "perf/tokens_per_s", "{:.0f}"),
         ("mfu", "perf/mfu", "{:.1%}"))


def format_progress(step: int, total: int, seconds: float, metrics: Mapping[str, float]) -> str:
    parts = [f"step {step}/{total}", f"{seconds:.1f}s"]
    for label, key, fmt in _KEYS:
        if key in metrics:
            parts.append(f"{label} " + fmt.format(float(metrics[key])))
    return " | ".join(parts)
