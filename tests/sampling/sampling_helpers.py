"""Helpers shared by the sampler tests (imported by name: pytest puts this directory on sys.path)."""

import jax
import numpy as np
import torch

from azr_jax.parallel import param_shardings


def shard_params(state, mesh):
    return jax.device_put(state, param_shardings(state, mesh))


def random_prompts(lengths, vocab, seed=0):
    rng = np.random.RandomState(seed)
    return [rng.randint(3, vocab, n).tolist() for n in lengths]


def hf_greedy(hf_model, prompts, max_new_tokens, eos_id, with_logprobs=False):
    """transformers greedy generate on left-padded prompts; each row cut after its EOS.

    with_logprobs: also each token's log-prob, log_softmax of transformers' raw (temperature 1) logits.
    """
    width = max(len(p) for p in prompts)
    ids = torch.zeros((len(prompts), width), dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = 1
    with torch.no_grad():
        out = hf_model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=max_new_tokens,
                                eos_token_id=eos_id, pad_token_id=0, top_k=None, top_p=None, temperature=None,
                                output_logits=True, return_dict_in_generate=True)
    rows = []
    for row in out.sequences[:, width:].tolist():
        rows.append(row[:row.index(eos_id) + 1] if eos_id in row else row)
    if not with_logprobs:
        return rows
    logprobs_btv = torch.log_softmax(torch.stack(out.logits, dim=1).double(), dim=-1).numpy()
    return rows, [logprobs_btv[i, np.arange(len(row)), row] for i, row in enumerate(rows)]
