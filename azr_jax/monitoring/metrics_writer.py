"""TensorBoard event files written one step late, by process 0 only.

`write(step, metrics)` keeps the step's metrics (which may still be device arrays being computed) and
writes the previous step's, whose values are ready by then; so fetching metrics never stalls the
device pipeline (the MaxText pattern).
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from typing import Any, Mapping

import jax
import numpy as np


class MetricsWriter:
    def __init__(self, logdir: str, enabled: bool | None = None):
        self.enabled = jax.process_index() == 0 if enabled is None else enabled
        self._pending: tuple[int, Mapping[str, Any], Mapping[str, str]] | None = None
        self._writer = None
        self._remote_dir = None
        if self.enabled:
            from tensorboardX import SummaryWriter

            target = posixpath.join(logdir.rstrip("/"), "tensorboard")
            local = target
            if "://" in target:
                # Event files are written locally and mirrored after each flush: object stores have no append.
                self._remote_dir, local = target, tempfile.mkdtemp(prefix="azr_jax_tb_")
            self._writer = SummaryWriter(logdir=local)

    def write(self, step: int, scalars: Mapping[str, Any], texts: Mapping[str, str] | None = None) -> None:
        """Queues this step's metrics and writes the previous step's."""
        self._flush_pending()
        self._pending = (step, dict(scalars), dict(texts or {}))

    def _flush_pending(self) -> None:
        if self._pending is None or self._writer is None:
            self._pending = None
            return
        step, scalars, texts = self._pending
        for name, value in scalars.items():
            value = float(np.asarray(value))
            if np.isfinite(value):
                self._writer.add_scalar(name, value, step)
        for name, text in texts.items():
            self._writer.add_text(name, text, step)
        self._writer.flush()
        self._mirror()
        self._pending = None

    def _mirror(self) -> None:
        if self._remote_dir is None:
            return
        import fsspec

        local = self._writer.logdir
        fs, root = fsspec.core.url_to_fs(self._remote_dir)
        for name in os.listdir(local):
            fs.put_file(os.path.join(local, name), posixpath.join(root, name))

    def close(self) -> None:
        self._flush_pending()
        if self._writer is not None:
            self._writer.close()
