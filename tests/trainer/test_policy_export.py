"""A run ends by saving its policy as a model checkpoint; exported with the converter's defaults,
transformers loads it and writes the same greedy tokens as our sampler on a held-out prompt."""

import jax
import numpy as np
import torch
import transformers
from flax import nnx

from azr_jax.azr.prompts import solver_prompt
from azr_jax.checkpoint.hf_convert import export_hf
from azr_jax.checkpoint.model_checkpoint import load_model
from azr_jax.eval.heldout_tasks import heldout_tasks
from azr_jax.sampling import Sampler, SamplingParams
from azr_jax.trainer import Trainer
from tests_trainer_helpers import small_config

NEW_TOKENS = 12


def test_the_trained_policy_exports_and_transformers_reproduces_its_greedy_output(tmp_path):
    with Trainer(small_config(tmp_path / "run", steps=1, checkpoint_every=1)) as trainer:
        trainer.run()
        tokenizer, trained = trainer.tokenizer, nnx.to_pure_dict(trainer.params)
    policy = tmp_path / "run" / "policy_step_1"
    config, graphdef, params = load_model(str(policy))
    for saved, live in zip(jax.tree.leaves(nnx.to_pure_dict(params)), jax.tree.leaves(trained)):
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(live))

    task_type, task = heldout_tasks(1)[0]
    prompt = tokenizer.encode(solver_prompt(task_type, task), add_bos=True)
    sampler = Sampler(config, graphdef, prompt_buckets=(1024,))
    ours = sampler.generate(params, [prompt], SamplingParams(temperature=0.0, max_new_tokens=NEW_TOKENS,
                                                             eos_ids=())).rows[0].tokens

    export_hf(str(policy), str(tmp_path / "hf"))
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf")
    with torch.no_grad():
        out = hf.generate(input_ids=torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                          do_sample=False, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, pad_token_id=0)
    assert list(ours) == out[0, len(prompt):].tolist()
