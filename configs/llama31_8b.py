"""AZR with Llama-3.1-8B base weights, sized for a v5p-64 slice (32 chips): FSDP over every chip.

At most 512 rows per sampling call: Llama-3.1-8B keeps 8 KV heads in 32 layers, 2.3x Qwen2.5-7B's KV cache
per token.

Convert the weights first:
  python launch/convert_hf.py --hf_dir=/path/to/Llama-3.1-8B --out=gs://YOUR_BUCKET/llama-3.1-8b
then point `model.checkpoint` there (e.g. --config.model.checkpoint=gs://my-bucket/llama-3.1-8b).
"""

from azr_jax.parallel.mesh import MeshConfig
from azr_jax.run_config import RunConfig
from configs._reference import reference_run


def get_config() -> RunConfig:
    return reference_run("llama31_8b", preset="llama-3.1-8b", checkpoint="gs://YOUR_BUCKET/llama-3.1-8b",
                         mesh=MeshConfig(data=1, fsdp=-1, tensor=1), micro_batch_size=32,
                         max_rows_per_call=512)
