"""Our decoder against Hugging Face transformers on the same random tiny weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import transformers

from azr_jax.checkpoint.hf_convert import export_hf, import_hf
from azr_jax.checkpoint.model_checkpoint import load_model
from azr_jax.model import KVCache, masks
from azr_jax.model.functional import apply
from azr_jax.model.testing import our_model_from_hf, tiny_hf_model

FAMILIES = ["qwen2", "llama"]

# One compiled program per shape; the graph definition is static, cache slot and masks are traced.
jit_apply = jax.jit(apply, static_argnums=0)


def left_padded_batch(lengths, total, vocab, seed=0):
    rng = np.random.RandomState(seed)
    ids = np.zeros((len(lengths), total), np.int32)
    mask = np.zeros((len(lengths), total), bool)
    for row, n in enumerate(lengths):
        ids[row, total - n:] = rng.randint(3, vocab, n)
        mask[row, total - n:] = True
    return ids, mask


def hf_logits(hf_model, ids, mask):
    with torch.no_grad():
        return hf_model(input_ids=torch.tensor(ids, dtype=torch.long),
                        attention_mask=torch.tensor(mask, dtype=torch.long)).logits.numpy()


@pytest.fixture(scope="module", params=FAMILIES)
def models(request):
    hf = tiny_hf_model(request.param)
    return hf, our_model_from_hf(hf)


def full_logits(graphdef, state, ids, mask):
    mask = jnp.asarray(mask)
    logits, _ = jit_apply(graphdef, state, jnp.asarray(ids), masks.positions_from_mask(mask),
                      masks.causal_padding_mask(mask))
    return np.asarray(logits)


def test_logits_match_hf_on_left_padded_batch(models):
    hf, (config, graphdef, state) = models
    ids, mask = left_padded_batch([16, 9, 3, 12], 16, config.vocab_size)
    ours = full_logits(graphdef, state, ids, mask)
    ref = hf_logits(hf, ids, mask)
    assert np.abs(ours - ref)[mask].max() <= 1e-4
    # The comparison is not vacuous: logits vary by several units across the vocabulary.
    assert ref[mask].std() > 0.5


@pytest.mark.slow  # three extra compiles per family; scan/remat equivalence is a refactoring guard
def test_unrolled_layers_and_remat_match_scan(models):
    hf, (config, graphdef, state) = models
    ids, mask = left_padded_batch([10, 6], 10, config.vocab_size, seed=1)
    base = full_logits(graphdef, state, ids, mask)
    for overrides in (dict(scan_layers=False), dict(remat="full"), dict(remat="dots", scan_layers=False)):
        _, alt_graphdef, alt_state = our_model_from_hf(hf, **overrides)
        np.testing.assert_allclose(full_logits(alt_graphdef, alt_state, ids, mask), base, atol=1e-5)


def greedy_with_cache(config, graphdef, state, ids, mask, new_tokens):
    """Prefill the left-padded prompts, then decode one token at a time against the KV cache."""
    batch, prompt_len = ids.shape
    total = prompt_len + new_tokens
    cache = KVCache.zeros(config, batch, total)
    key_valid = np.zeros((batch, total), bool)
    key_valid[:, :prompt_len] = mask
    positions = np.asarray(masks.positions_from_mask(jnp.asarray(mask)))
    logits, cache = jit_apply(graphdef, state, jnp.asarray(ids), jnp.asarray(positions),
                          masks.cache_attention_mask(jnp.asarray(key_valid), 0, prompt_len), cache, jnp.int32(0))
    next_pos = positions[:, -1] + 1
    out = []
    token = np.asarray(jnp.argmax(logits[:, -1], -1))
    for step in range(new_tokens):
        out.append(token)
        if step == new_tokens - 1:
            break
        slot = prompt_len + step
        key_valid[:, slot] = True
        logits, cache = jit_apply(graphdef, state, jnp.asarray(token[:, None]), jnp.asarray(next_pos[:, None]),
                              masks.cache_attention_mask(jnp.asarray(key_valid), slot, 1), cache, jnp.int32(slot))
        token = np.asarray(jnp.argmax(logits[:, -1], -1))
        next_pos = next_pos + 1
    return np.stack(out, 1)


def test_greedy_continuation_matches_hf_generate(models):
    hf, (config, graphdef, state) = models
    ids, mask = left_padded_batch([7, 4, 11], 11, config.vocab_size, seed=2)
    ours = greedy_with_cache(config, graphdef, state, ids, mask, new_tokens=12)
    with torch.no_grad():
        ref = hf.generate(input_ids=torch.tensor(ids, dtype=torch.long),
                          attention_mask=torch.tensor(mask, dtype=torch.long), do_sample=False,
                          max_new_tokens=12, min_new_tokens=12, pad_token_id=0).numpy()[:, ids.shape[1]:]
    np.testing.assert_array_equal(ours, ref)
    assert len(np.unique(ref)) > 3  # the continuation is not one repeated token


def test_cached_decode_equals_full_forward(models):
    _, (config, graphdef, state) = models
    ids, mask = left_padded_batch([9, 5], 9, config.vocab_size, seed=3)
    tokens = greedy_with_cache(config, graphdef, state, ids, mask, new_tokens=5)
    full_ids = np.concatenate([ids, tokens], 1)
    full_mask = np.concatenate([mask, np.ones_like(tokens, bool)], 1)
    logits = full_logits(graphdef, state, full_ids, full_mask)
    # Each generated token was the argmax of the full-sequence logits one position earlier.
    np.testing.assert_array_equal(logits[:, ids.shape[1] - 1:-1].argmax(-1), tokens)


def test_bf16_compute_stays_close_to_f32(models):
    hf, (config, graphdef, state) = models
    ids, mask = left_padded_batch([8, 8], 8, config.vocab_size, seed=4)
    _, bf_graphdef, bf_state = our_model_from_hf(hf, param_dtype="bfloat16", compute_dtype="bfloat16")
    assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(bf_state))
    ref = full_logits(graphdef, state, ids, mask)
    ours = full_logits(bf_graphdef, bf_state, ids, mask)
    assert ours.dtype == np.float32
    assert np.abs(ours - ref).max() < 0.1 * np.abs(ref).max()


def test_blockwise_attention_matches_hf(models):
    """Full forward and cached prefill + decode with blockwise attention (5-key blocks, a short last one)."""
    hf, _ = models
    config, graphdef, state = our_model_from_hf(hf, attention_impl="blockwise", attention_block_size=5)
    ids, mask = left_padded_batch([16, 9, 3, 12], 16, config.vocab_size)
    assert np.abs(full_logits(graphdef, state, ids, mask) - hf_logits(hf, ids, mask))[mask].max() <= 1e-4
    ids, mask = left_padded_batch([7, 4, 11], 11, config.vocab_size, seed=2)
    with torch.no_grad():
        ref = hf.generate(input_ids=torch.tensor(ids, dtype=torch.long),
                          attention_mask=torch.tensor(mask, dtype=torch.long), do_sample=False,
                          max_new_tokens=6, min_new_tokens=6, pad_token_id=0).numpy()[:, ids.shape[1]:]
    np.testing.assert_array_equal(greedy_with_cache(config, graphdef, state, ids, mask, new_tokens=6), ref)


@pytest.mark.parametrize("family", FAMILIES)
def test_float32_model_converted_with_default_flags(tmp_path, family):
    """HF float32 safetensors -> our checkpoint -> HF, all with default dtypes: nothing is rounded."""
    hf = tiny_hf_model(family)
    hf.save_pretrained(tmp_path / "hf")
    import_hf(str(tmp_path / "hf"), str(tmp_path / "ckpt"))
    config, graphdef, state = load_model(str(tmp_path / "ckpt"))
    ids, mask = left_padded_batch([16, 9, 3, 12], 16, config.vocab_size)
    ref = hf_logits(hf, ids, mask)
    assert np.abs(full_logits(graphdef, state, ids, mask) - ref)[mask].max() <= 1e-4
    assert (config.param_dtype, config.compute_dtype) == ("float32", "float32")
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(state))

    ids, mask = left_padded_batch([7, 4, 11], 11, config.vocab_size, seed=2)
    with torch.no_grad():
        expected = hf.generate(input_ids=torch.tensor(ids, dtype=torch.long),
                               attention_mask=torch.tensor(mask, dtype=torch.long), do_sample=False,
                               max_new_tokens=8, min_new_tokens=8, pad_token_id=0).numpy()[:, ids.shape[1]:]
    np.testing.assert_array_equal(greedy_with_cache(config, graphdef, state, ids, mask, new_tokens=8), expected)

    export_hf(str(tmp_path / "ckpt"), str(tmp_path / "back"))
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "back")
    assert reloaded.dtype == torch.float32
    ids, mask = left_padded_batch([16, 9, 3, 12], 16, config.vocab_size)
    np.testing.assert_array_equal(hf_logits(reloaded, ids, mask), ref)
