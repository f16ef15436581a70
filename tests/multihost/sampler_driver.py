"""One process of a two-process sampler run (started by test_two_process_sampler.py, not pytest).

Usage: python sampler_driver.py PROCESS_ID NUM_PROCESSES PORT OUT_JSON
Each process passes its own prompts (process 0 five, process 1 two) to `generate(process_local=True)`,
once in a single device call and once split at max_rows_per_call, and writes the rows it got back.
"""

import json
import os
import sys

os.environ["JAX_PLATFORMS"] = "cpu"
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"

import jax  # noqa: E402
import numpy as np  # noqa: E402

from azr_jax.parallel.distributed import maybe_initialize_distributed  # noqa: E402

PROMPTS_PER_PROCESS = (5, 2)


def main(process_id, num_processes, port, out_path):
    maybe_initialize_distributed("on", f"127.0.0.1:{port}", int(num_processes), int(process_id))
    from azr_jax.model.config import get_model_config
    from azr_jax.model.functional import create_model
    from azr_jax.parallel import MeshConfig, make_mesh
    from azr_jax.sampling import Sampler, SamplingParams

    config = get_model_config("tiny-qwen2")
    mesh = make_mesh(MeshConfig(data=1, fsdp=-1, tensor=1))  # 4 devices over 2 processes: buckets 4, 8, ...
    graphdef, params = create_model(config, seed=0, mesh=mesh)
    sampler = Sampler(config, graphdef, mesh=mesh, prompt_buckets=(16,))
    rng = np.random.RandomState(10 + jax.process_index())
    prompts = [rng.randint(3, config.vocab_size, int(rng.randint(2, 15))).tolist()
               for _ in range(PROMPTS_PER_PROCESS[jax.process_index()])]
    record = {"process": jax.process_index()}
    for n in (1, 2):
        greedy = SamplingParams(temperature=0.0, max_new_tokens=10, n=n, eos_ids=(1,))
        finished = []
        for cap in (0, 4 * n):  # 4 * n rows: 4 prompts a call over both processes, 2 from each
            out = sampler.generate(params, prompts, greedy, process_local=True, max_rows_per_call=cap,
                                   on_finished=finished.append)
            record[f"n{n}_cap{cap}"] = {"rows": [[r.prompt_index, r.sample_index, r.tokens] for r in out.rows],
                                        "calls": out.stats.calls,
                                        "streamed": sorted([r.prompt_index, r.sample_index] for r in finished)}
            finished.clear()
    with open(out_path, "w") as f:
        json.dump(record, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
