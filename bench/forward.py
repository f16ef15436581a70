"""Prefill throughput: our jitted forward vs `transformers` on the same weights, in one run.

Prints tokens/s for both, achieved GFLOP/s against this machine's matmul peak (measured here too),
and as the last line `forward: <ratio>x vs transformers`.
"""

import argparse
import os
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import numpy as np
import torch

from azr_jax.model import masks
from azr_jax.model.functional import apply
from azr_jax.model.testing import our_model_from_hf, tiny_hf_model


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_peak_gflops(n=2048, repeats=5):
    a = jnp.ones((n, n), jnp.float32)
    mm = jax.jit(lambda x: x @ x)
    mm(a).block_until_ready()
    return 2 * n**3 / best_time(lambda: mm(a).block_until_ready(), repeats) / 1e9


def forward_flops(config, batch, length):
    """Matmul FLOPs of one forward: projections, MLP, attention scores/values, LM head."""
    d, h, l = config.hidden_size, config.head_dim, config.num_layers
    proj = d * h * (2 * config.num_heads + 2 * config.num_kv_heads) + 3 * d * config.intermediate_size
    tokens = batch * length
    attention = 2 * 2 * batch * length * length * config.num_heads * h
    return l * (2 * tokens * proj + attention) + 2 * tokens * d * config.vocab_size


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count())

    hf = tiny_hf_model("qwen2", vocab_size=8192, hidden_size=512, intermediate_size=1536, num_hidden_layers=8,
                       num_attention_heads=8, num_key_value_heads=4, weight_std=0.02)
    config, graphdef, state = our_model_from_hf(hf)
    ids = np.random.RandomState(0).randint(0, config.vocab_size, (args.batch, args.length)).astype(np.int32)
    mask = jnp.ones(ids.shape, bool)
    positions, attn_mask = masks.positions_from_mask(mask), masks.causal_padding_mask(mask)
    forward = jax.jit(apply, static_argnums=0)

    start = time.perf_counter()
    forward(graphdef, state, ids, positions, attn_mask)[0].block_until_ready()
    compile_s = time.perf_counter() - start
    ours_s = best_time(lambda: forward(graphdef, state, ids, positions, attn_mask)[0].block_until_ready(),
                       args.repeats)

    ids_t = torch.tensor(ids, dtype=torch.long)
    with torch.inference_mode():
        hf(input_ids=ids_t)
        theirs_s = best_time(lambda: hf(input_ids=ids_t), args.repeats)

    peak = matmul_peak_gflops()
    flops = forward_flops(config, args.batch, args.length)
    tokens = args.batch * args.length
    print(f"config: qwen2 D={config.hidden_size} L={config.num_layers} V={config.vocab_size}, "
          f"{config.num_params / 1e6:.1f}M params, batch {args.batch} x {args.length} tokens, float32")
    print(f"ours:         {tokens / ours_s:10.0f} tokens/s  ({ours_s * 1e3:.1f} ms, compile {compile_s:.1f} s)")
    print(f"transformers: {tokens / theirs_s:10.0f} tokens/s  ({theirs_s * 1e3:.1f} ms)")
    print(f"achieved {flops / ours_s / 1e9:.1f} GFLOP/s = {flops / ours_s / 1e9 / peak:.0%} of measured "
          f"matmul peak {peak:.0f} GFLOP/s (transformers: {flops / theirs_s / 1e9 / peak:.0%})")
    print(f"forward: {theirs_s / ours_s:.2f}x vs transformers")


if __name__ == "__main__":
    main()
