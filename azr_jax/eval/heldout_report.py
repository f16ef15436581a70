"""`<workdir>/heldout.json` and `<workdir>/heldout.png`: the held-out accuracy history of a run.

    {"base": <mean accuracy at step 0>, "final": <mean at the last evaluation>,
     "by_type": {"deduction": ..., "abduction": ..., "induction": ...},   # at the last evaluation
     "history": [{"step": 0, "deduction": ..., "abduction": ..., "induction": ..., "mean": ...}, ...]}

A resumed run reads the file back and keeps the entries before its own first evaluation, so the history
covers the whole run. Only process 0 writes; paths may be gs://.
"""

from __future__ import annotations

import io
import json
import posixpath

import fsspec
import jax

TYPES = ("deduction", "abduction", "induction")
JSON_NAME, PLOT_NAME = "heldout.json", "heldout.png"


class HeldoutReport:
    def __init__(self, workdir: str):
        self.json_path = posixpath.join(workdir.rstrip("/"), JSON_NAME)
        self.plot_path = posixpath.join(workdir.rstrip("/"), PLOT_NAME)
        self.history: list[dict] = self._read_history()

    def _read_history(self) -> list[dict]:
        fs, path = fsspec.core.url_to_fs(self.json_path)
        if not fs.exists(path):
            return []
        try:
            with fs.open(path, "r") as f:
                history = json.load(f)["history"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"{self.json_path} is not a held-out report ({e}); move it away to start a new one") \
                from None
        return [dict(entry) for entry in history]

    def record(self, step: int, scalars: dict[str, float]) -> None:
        """Adds the evaluation at `step` (replacing any later entries of an earlier, resumed attempt)."""
        self.history = [e for e in self.history if e["step"] < step]
        self.history.append({"step": int(step), **{k: float(scalars[k]) for k in (*TYPES, "mean")}})
        if jax.process_index() == 0:
            self._write()

    def summary(self) -> dict:
        last = self.history[-1]
        return {"base": self.history[0]["mean"], "final": last["mean"],
                "by_type": {t: last[t] for t in TYPES}, "history": self.history}

    def _write(self) -> None:
        fs, path = fsspec.core.url_to_fs(self.json_path)
        with fs.open(path, "w") as f:
            json.dump(self.summary(), f, indent=1)
        with fsspec.open(self.plot_path, "wb") as f:
            f.write(self._plot_png())

    def _plot_png(self) -> bytes:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        steps = [e["step"] for e in self.history]
        fig, ax = plt.subplots(figsize=(6, 4))
        for key in (*TYPES, "mean"):
            ax.plot(steps, [100 * e[key] for e in self.history], marker="o", label=key,
                    linewidth=2.5 if key == "mean" else 1.2)
        ax.set_xlabel("self-play step")
        ax.set_ylabel("held-out accuracy (%)")
        ax.set_title("held-out AZR tasks, greedy")
        ax.legend()
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        return buffer.getvalue()
