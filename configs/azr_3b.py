"""AZR with Qwen2.5-3B base weights, sized for a v5e-16 slice (16 chips): 8-way FSDP x 2-way tensor parallelism.

A v5e chip has 16 GiB of HBM: sampling runs at most 128 rows per device call (the KV cache of 14240 slots
per row; `launch/compile_check.py --config=azr_3b --plan` finds this), so a step's 384 proposer and
solver prompts take 3 calls and up to 192 x 8 learnability rollouts 12. The planner's choice for the update:
full remat, micro-batches of 16 rows (73.7% of HBM; 24 rows need 97.6%).

Convert the weights first:
  python launch/convert_hf.py --hf_dir=/path/to/Qwen2.5-3B --out=gs://YOUR_BUCKET/qwen2.5-3b
then point `model.checkpoint` there (e.g. --config.model.checkpoint=gs://my-bucket/qwen2.5-3b).
"""

from azr_jax.parallel.mesh import MeshConfig
from azr_jax.run_config import RunConfig
from configs._reference import reference_run


def get_config() -> RunConfig:
    return reference_run("azr_3b", preset="qwen2.5-3b", checkpoint="gs://YOUR_BUCKET/qwen2.5-3b",
                         mesh=MeshConfig(data=1, fsdp=8, tensor=2), micro_batch_size=16,
                         max_rows_per_call=128)
