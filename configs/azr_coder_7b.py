"""AZR with Qwen2.5-Coder-7B base weights, sized for a v5p-64 slice (32 chips): FSDP over every chip.

Convert the weights first:
  python launch/convert_hf.py --hf_dir=/path/to/Qwen2.5-Coder-7B --out=gs://YOUR_BUCKET/qwen2.5-coder-7b
then point `model.checkpoint` there (e.g. --config.model.checkpoint=gs://my-bucket/qwen2.5-coder-7b).
"""

from azr_jax.parallel.mesh import MeshConfig
from azr_jax.run_config import RunConfig
from configs._reference import reference_run


def get_config() -> RunConfig:
    return reference_run("azr_coder_7b", preset="qwen2.5-coder-7b", checkpoint="gs://YOUR_BUCKET/qwen2.5-coder-7b",
                         mesh=MeshConfig(data=1, fsdp=-1, tensor=1), micro_batch_size=32,
                         max_rows_per_call=1024)
