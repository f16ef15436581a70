"""The CPU default: the whole AZR loop with a tiny random model, in minutes on a laptop.

Random weights rarely write valid programs, so rewards start near the format penalty; the point of this
config is that every stage of a self-play step runs, checkpoints and resumes, on any machine.
"""

from azr_jax.azr.config import AZRConfig
from azr_jax.parallel.mesh import MeshConfig
from azr_jax.rl.config import RLConfig
from azr_jax.run_config import GenerationConfig, ModelSource, RunConfig


def get_config() -> RunConfig:
    return RunConfig(
        name="tiny",
        model=ModelSource(preset="tiny-qwen2", vocab_size=1088),
        mesh=MeshConfig(data=1, fsdp=-1, tensor=1),
        generation=GenerationConfig(temperature=1.0, top_p=1.0, max_prompt_tokens=768, max_response_tokens=96),
        azr=AZRConfig(batch_size=4, learnability_rollouts=4, num_references=1, seed_size=4, timeout_s=2.0,
                      memory_mb=256),
        rl=RLConfig(learning_rate=1e-4, micro_batch_size=None),
        steps=6,
        seed_max_rounds=2,  # random weights never fill the buffers; do not wait for them
        checkpoint_every=2,
        keep_checkpoints=2,
        workdir="workdir/tiny",
    )
