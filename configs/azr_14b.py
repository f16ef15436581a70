"""AZR with Qwen2.5-14B base weights, sized for a v5p-128 slice (64 chips): FSDP with 2-way tensor parallelism.

Sampling runs at most 512 rows per device call: the learnability rollouts of a step at once (2048 rows) would
need ~169 GiB per chip of KV cache and temporaries (docs/tpu_figures.md).

Convert the weights first:
  python launch/convert_hf.py --hf_dir=/path/to/Qwen2.5-14B --out=gs://YOUR_BUCKET/qwen2.5-14b
then point `model.checkpoint` there (e.g. --config.model.checkpoint=gs://my-bucket/qwen2.5-14b).
"""

from azr_jax.parallel.mesh import MeshConfig
from azr_jax.run_config import RunConfig
from configs._reference import reference_run


def get_config() -> RunConfig:
    return reference_run("azr_14b", preset="qwen2.5-14b", checkpoint="gs://YOUR_BUCKET/qwen2.5-14b",
                         mesh=MeshConfig(data=1, fsdp=-1, tensor=2), micro_batch_size=32,
                         max_rows_per_call=512)
