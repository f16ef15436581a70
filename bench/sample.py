"""Decode throughput of the sampler against transformers' `generate`, same weights, same CPU, one run.

    python bench/sample.py [--batch 32 --prompt 128 --new 256 --family qwen2]
    python bench/sample.py --mode streaming [--exec_ms 100 --exec_workers 4]

Both sides decode greedily with EOS disabled, so every row produces exactly `--new` tokens. Prints
compile time, prefill and per-decode-step times, generated tokens/s, the fraction of the machine's
memory bandwidth (a large numpy copy, measured in the same run) that our decode step reaches, and
last `sample: <ratio>x vs transformers` (ratio of end-to-end generated tokens/s, prefill included).

`--mode streaming` measures what streaming finished rows out of the loop buys: temperature-1
sampling with an EOS set that ends rows after a geometric number of tokens (a long tail up to
`--new`), each finished row handed to a simulated executor job (`--exec_ms` of waiting, in a pool of
`--exec_workers` threads). Compared: (a) at end: generate, then run every job; (b) streaming: jobs
start from `on_finished` while the loop decodes. Same seed, so the same rows both ways.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from jax._src import dispatch, monitoring  # noqa: E402

from azr_jax.model.testing import our_model_from_hf, tiny_hf_model  # noqa: E402
from azr_jax.sampling import Sampler, SamplingParams  # noqa: E402

# Tiny but not trivial: 31M parameters (8 layers, width 512, GQA 8/2 heads, vocab 16k, tied head).
MODEL = dict(vocab_size=16384, hidden_size=512, intermediate_size=1408, num_hidden_layers=8,
             num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=1024)


def copy_bandwidth(gib: float = 1.0, repeats: int = 5) -> float:
    """Bytes/s of a large numpy copy (read + write counted), best of `repeats`."""
    src = np.ones(int(gib * 2**30) // 4, np.float32)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.nbytes / best


def run_transformers(hf, prompts_bp: np.ndarray, new: int) -> tuple[float, np.ndarray]:
    ids = torch.tensor(prompts_bp, dtype=torch.long)
    mask = torch.ones_like(ids)
    kwargs = dict(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=new, pad_token_id=0,
                  eos_token_id=None, top_k=None, top_p=None, temperature=None)
    with torch.no_grad():
        hf.generate(**{**kwargs, "max_new_tokens": 2})  # warm-up
        start = time.perf_counter()
        out = hf.generate(**kwargs)
        elapsed = time.perf_counter() - start
    assert out.shape[1] == prompts_bp.shape[1] + new, out.shape
    return elapsed, out[:, prompts_bp.shape[1]:].numpy()


def measure_streaming(sampler, params, prompts, sampling, exec_ms: float, exec_workers: int, repeats: int = 2):
    def job(row):
        time.sleep(exec_ms / 1e3)
        return time.perf_counter()

    def at_end():
        with concurrent.futures.ThreadPoolExecutor(exec_workers) as pool:
            start = time.perf_counter()
            out = sampler.generate(params, prompts, sampling, seed=1)
            generated = time.perf_counter()
            done = [f.result() for f in [pool.submit(job, r) for r in out.rows]]
        return out, generated - start, max(done) - start, np.mean(done) - start

    def streaming():
        with concurrent.futures.ThreadPoolExecutor(exec_workers) as pool:
            futures = []
            start = time.perf_counter()
            out = sampler.generate(params, prompts, sampling, seed=1, on_finished=lambda r: futures.append(pool.submit(job, r)))
            generated = time.perf_counter()
            done = [f.result() for f in futures]
        return out, generated - start, max(done) - start, np.mean(done) - start

    at_end(), streaming()  # compile both programs
    results = {}
    for name, fn in (("at end", at_end), ("streaming", streaming)):
        runs = [fn() for _ in range(repeats)]
        results[name] = [float(np.median([r[i] for r in runs])) for i in (1, 2, 3)]
        lengths = sorted(len(r.tokens) for r in runs[0][0].rows)
    print(f"rows {len(lengths)}, lengths min {lengths[0]} median {lengths[len(lengths) // 2]} max {lengths[-1]}; "
          f"executor job {exec_ms:.0f} ms x {exec_workers} workers; medians of {repeats} runs")
    for name, (gen, last, mean) in results.items():
        print(f"{name:>9}: generate returns {gen:.2f} s, all executor results {last:.2f} s, "
              f"mean row result {mean:.2f} s")
    (gen_a, last_a, mean_a), (gen_s, last_s, mean_s) = results["at end"], results["streaming"]
    print(f"streaming: decode overhead {gen_s / gen_a - 1:+.1%}, all results {last_a / last_s:.2f}x sooner, "
          f"mean row result {mean_a / mean_s:.2f}x sooner")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--new", type=int, default=256)
    parser.add_argument("--family", default="qwen2", choices=["qwen2", "llama"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mode", default="throughput", choices=["throughput", "streaming"])
    parser.add_argument("--exec_ms", type=float, default=100.0)
    parser.add_argument("--exec_workers", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.mode == "streaming":
        hf = tiny_hf_model(args.family, seed=0, weight_std=0.05, **MODEL)
        config, graphdef, params = our_model_from_hf(hf)
        prompts = np.random.RandomState(0).randint(3, MODEL["vocab_size"], (args.batch, args.prompt)).tolist()
        # EOS = 1/64 of the vocabulary: near-uniform logits end a row with probability ~1/64 per token.
        sampling = SamplingParams(temperature=1.0, max_new_tokens=args.new,
                                  eos_ids=tuple(range(3, 3 + MODEL["vocab_size"] // 64)))
        sampler = Sampler(config, graphdef, prompt_buckets=(args.prompt,), batch_buckets=(args.batch,))
        measure_streaming(sampler, params, prompts, sampling, args.exec_ms, args.exec_workers)
        return

    hf = tiny_hf_model(args.family, seed=0, weight_std=0.05, **MODEL)
    hf.generation_config.eos_token_id = None
    config, graphdef, params = our_model_from_hf(hf)
    prompts_bp = np.random.RandomState(0).randint(3, MODEL["vocab_size"], (args.batch, args.prompt))
    print(f"model: {args.family} {config.num_params / 1e6:.1f}M params, batch {args.batch}, prompt {args.prompt}, "
          f"{args.new} new tokens, greedy; jax {jax.__version__} ({jax.devices()[0].platform}), "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)")

    compile_seconds = []
    monitoring.register_event_duration_secs_listener(
        lambda event, seconds, **kw: compile_seconds.append(seconds) if event == dispatch.BACKEND_COMPILE_EVENT else None)
    sampler = Sampler(config, graphdef, prompt_buckets=(args.prompt,), batch_buckets=(args.batch,))
    sampling = SamplingParams(temperature=0.0, max_new_tokens=args.new, eos_ids=())
    prompts = prompts_bp.tolist()
    start = time.perf_counter()
    sampler.generate(params, prompts, sampling)
    first_call = time.perf_counter() - start
    runs = []
    for _ in range(2):
        start = time.perf_counter()
        out = sampler.generate(params, prompts, sampling)
        runs.append((time.perf_counter() - start, out))
    ours_seconds, out = min(runs, key=lambda r: r[0])
    assert all(len(r.tokens) == args.new for r in out.rows)
    ours_tokens = np.asarray([r.tokens for r in out.rows])
    step = out.stats.decode_seconds / (out.stats.decode_steps - 1)  # token 0 comes from the prefill

    hf_seconds, hf_tokens = run_transformers(hf, prompts_bp, args.new)
    bandwidth = copy_bandwidth()

    generated = args.batch * args.new
    param_bytes = sum(x.nbytes for x in jax.tree.leaves(params))
    cache_bytes = 2 * config.num_layers * args.batch * (args.prompt + args.new) * config.num_kv_heads * \
        config.head_dim * np.dtype(config.compute_dtype).itemsize
    step_bytes = param_bytes + cache_bytes
    print(f"ours: compile {sum(compile_seconds):.2f} s (first call {first_call:.2f} s), prefill "
          f"{out.stats.prefill_seconds * 1e3:.1f} ms, decode step {step * 1e3:.2f} ms, "
          f"{generated / ours_seconds:.0f} tokens/s ({ours_seconds:.2f} s)")
    print(f"transformers: decode step {hf_seconds / args.new * 1e3:.2f} ms (prefill included), "
          f"{generated / hf_seconds:.0f} tokens/s ({hf_seconds:.2f} s)")
    print(f"memory: a decode step reads {step_bytes / 2**20:.0f} MiB (params {param_bytes / 2**20:.0f} + KV cache "
          f"{cache_bytes / 2**20:.0f}); copy bandwidth {bandwidth / 1e9:.1f} GB/s; decode step reaches "
          f"{step_bytes / step / 1e9:.1f} GB/s = {step_bytes / step / bandwidth:.0%} of it")
    print(f"greedy tokens identical to transformers: {np.mean(ours_tokens == hf_tokens):.1%}")
    print(f"sample: {hf_seconds / ours_seconds:.2f}x vs transformers")


if __name__ == "__main__":
    main()
