"""The 7B reference run of AZR_SPEC.md, shared by the pod-slice configs (not a config itself)."""

from azr_jax.azr.config import AZRConfig
from azr_jax.parallel.mesh import MeshConfig
from azr_jax.rl.config import RLConfig
from azr_jax.run_config import GenerationConfig, ModelSource, RunConfig


def reference_run(name: str, preset: str, checkpoint: str, mesh: MeshConfig, micro_batch_size: int,
                  max_rows_per_call: int = 0) -> RunConfig:
    """B=64 per task x role (384 sequences a step), temperature 1, prompts up to 6144 and responses up to
    8096 tokens, 500 steps, a checkpoint every 10, AdamW at a constant 1e-6 with clipping at 1.0, one step
    per mini-batch of 128 sequences (3 a step, as the reference), each accumulated over micro-batches of
    micro_batch_size rows.

    float32 master parameters (and so float32 Adam moments) with bfloat16 compute: at lr 1e-6 most updates
    are ~1e-4 of a weight, below bfloat16's 2^-8 resolution, and would round away. Blockwise attention:
    the dense [heads, T, T] scores of a 14240-token row do not fit a v5e chip (docs/tpu_figures.md).
    max_rows_per_call bounds the KV cache of one device call (0: a step's calls are not split).
    """
    return RunConfig(
        name=name,
        model=ModelSource(preset=preset, checkpoint=checkpoint, param_dtype="float32", compute_dtype="bfloat16",
                          remat="full", scan_layers=True, attention_impl="blockwise", attention_block_size=512),
        mesh=mesh,
        generation=GenerationConfig(temperature=1.0, top_p=1.0, max_prompt_tokens=6144, max_response_tokens=8096,
                                    max_rows_per_call=max_rows_per_call),
        azr=AZRConfig(batch_size=64, learnability_rollouts=8, num_references=6, seed_size=256),
        rl=RLConfig(learning_rate=1e-6, max_grad_norm=1.0, weight_decay=0.01, clip_eps_low=0.2, clip_eps_high=0.2,
                    entropy_coef=0.001, mini_batch_size=128, micro_batch_size=micro_batch_size),
        steps=500,
        checkpoint_every=10,
        keep_checkpoints=3,
        workdir=f"gs://YOUR_BUCKET/azr/{name}",
    )
