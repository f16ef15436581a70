"""Training checkpoints under <workdir>/checkpoints/<step>: params, optimizer state and host state.

orbax's CheckpointManager writes each step into a temporary directory and renames (locally) or commits
(on GCS) it only when complete, keeps the last N, and saves asynchronously so the device keeps working.
The host state (step, RNG seed, task buffers, data position) is plain JSON beside the arrays, so a
resumed run sees exactly what the interrupted one saw.
"""

from __future__ import annotations

import posixpath
from typing import Any

import jax
import orbax.checkpoint as ocp


class TrainCheckpointError(RuntimeError):
    """A checkpoint that exists but cannot be restored; it is left untouched."""


class TrainCheckpoints:
    def __init__(self, workdir: str, keep: int, async_save: bool = True):
        self.directory = posixpath.join(workdir.rstrip("/"), "checkpoints")
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                               enable_async_checkpointing=async_save)
        self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=("arrays", "host"))

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def save(self, step: int, arrays: Any, host: dict) -> None:
        """Starts an asynchronous save of `arrays` (a pytree of jax arrays) and the JSON `host` state."""
        self._manager.save(step, args=ocp.args.Composite(arrays=ocp.args.StandardSave(arrays),
                                                         host=ocp.args.JsonSave(host)))

    def restore(self, step: int, abstract_arrays: Any) -> tuple[Any, dict]:
        """Arrays laid out like `abstract_arrays` (ShapeDtypeStructs with shardings) and the host state."""
        try:
            restored = self._manager.restore(step, args=ocp.args.Composite(
                arrays=ocp.args.StandardRestore(abstract_arrays), host=ocp.args.JsonRestore()))
        except Exception as e:  # orbax raises many types for a damaged directory; name the checkpoint
            raise TrainCheckpointError(
                f"checkpoint {posixpath.join(self.directory, str(step))} cannot be restored ({type(e).__name__}: "
                f"{str(e)[:500]}). It was left untouched; move it aside to resume from an earlier one.") from e
        return restored.arrays, restored.host

    def wait(self) -> None:
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()


def abstract_like(tree: Any) -> Any:
    """ShapeDtypeStructs carrying each array's sharding: the restore target for `tree`'s layout."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)
