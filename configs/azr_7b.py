"""AZR with Qwen2.5-7B base weights, sized for a v5p-64 slice (32 chips): FSDP over every chip.

Sampling runs at most 1024 rows per device call: all 192 x 8 learnability rollouts at once (2048 rows after
padding) would fit at 81% of HBM, with little room for the runtime. Halving the call reads the weights twice
as often, which is under 1% of a decode step's HBM traffic (docs/tpu_figures.md).

Convert the weights first:
  python launch/convert_hf.py --hf_dir=/path/to/Qwen2.5-7B --out=gs://YOUR_BUCKET/qwen2.5-7b
then point `model.checkpoint` there (e.g. --config.model.checkpoint=gs://my-bucket/qwen2.5-7b).
"""

from azr_jax.parallel.mesh import MeshConfig
from azr_jax.run_config import RunConfig
from configs._reference import reference_run


def get_config() -> RunConfig:
    return reference_run("azr_7b", preset="qwen2.5-7b", checkpoint="gs://YOUR_BUCKET/qwen2.5-7b",
                         mesh=MeshConfig(data=1, fsdp=-1, tensor=1), micro_batch_size=32,
                         max_rows_per_call=1024)
