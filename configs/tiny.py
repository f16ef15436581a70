"""The CPU default: AZR self-play from the shipped zero-data base, in under 45 minutes on 2 cores.

The base (azr_jax/assets/tiny_base, made by launch/pretrain_base.py) is a 3.7M-parameter Qwen2-shaped
model pretrained only on generated Python programs. The held-out evaluation (300 tasks of a program family
that neither pretraining nor self-play ever sees) runs before the first step, every `eval_every` steps and
after the last, into TensorBoard, <workdir>/heldout.json and <workdir>/heldout.png.
"""

from pathlib import Path

from azr_jax.azr.config import AZRConfig
from azr_jax.parallel.mesh import MeshConfig
from azr_jax.rl.config import RLConfig
from azr_jax.run_config import GenerationConfig, ModelSource, RunConfig

TINY_BASE = str(Path(__file__).resolve().parent.parent / "azr_jax" / "assets" / "tiny_base")


def get_config() -> RunConfig:
    return RunConfig(
        name="tiny",
        model=ModelSource(preset="azr-tiny-base", checkpoint=TINY_BASE),
        mesh=MeshConfig(data=1, fsdp=-1, tensor=1),
        # Proposer prompts with the executor's rules run to ~900 tokens; induction proposals to ~160.
        generation=GenerationConfig(temperature=1.0, top_p=1.0, max_prompt_tokens=1024, max_response_tokens=192),
        # B=4 per task x role: 24 sequences of up to 1216 tokens a step. A step takes about 80 s on 2 cores,
        # half of it the update (the rows are as long as the longest prompt), so 20 steps, 5 held-out
        # evaluations (80 s each) and the seeding fit in 45 minutes.
        azr=AZRConfig(batch_size=4, learnability_rollouts=4, num_references=1, seed_size=8, timeout_s=2.0,
                      memory_mb=256),
        rl=RLConfig(learning_rate=1e-4, micro_batch_size=None),
        steps=20,
        seed_max_rounds=3,
        checkpoint_every=5,
        keep_checkpoints=2,
        eval_every=5,
        heldout_eval_per_type=100,
        workdir="workdir/tiny",
    )
