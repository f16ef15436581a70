"""One process of a two-process run on this machine (started by test_two_process_selfplay.py, not pytest).

Usage: python multihost_driver.py PROCESS_ID NUM_PROCESSES PORT WORKDIR STEPS POLICY OUT_JSON
POLICY: "model" samples from the tiny random model; "scripted" answers with the test's scripted policy
(random weights never write a parseable program, so only it makes the executor's share visible).
Writes what the test compares across processes: per step the rollouts this process trained on and
the executor jobs it ran, a digest of its host state (buffers, new tasks), the step's global metrics,
and at the end a digest of the parameters.
"""

import collections
import hashlib
import itertools
import json
import os
import sys

os.environ["JAX_PLATFORMS"] = "cpu"
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "trainer"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from flax import nnx  # noqa: E402

from azr_jax.parallel.distributed import maybe_initialize_distributed  # noqa: E402

SHARED_METRICS = ("propose/valid_rate", "propose/reward", "solve/reward", "solve/accuracy", "perf/sampled_tokens",
                  *(f"buffer/{t}/{k}" for t in ("deduction", "abduction", "induction") for k in ("size", "added")))


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def params_digest(params) -> float:
    """A sum over every parameter, computed on the devices of all processes and replicated to each."""
    leaves = jax.tree.leaves(nnx.to_pure_dict(params))
    total = jax.jit(lambda xs: sum(jnp.sum(jnp.abs(x.astype(jnp.float32))) for x in xs))(leaves)
    return float(total.addressable_shards[0].data)  # replicated: every device holds the whole sum


def main(process_id, num_processes, port, workdir, steps, policy, out_path):
    maybe_initialize_distributed("on", f"127.0.0.1:{port}", int(num_processes), int(process_id))
    from azr_jax.trainer import Trainer
    from tests_trainer_helpers import scripted_generate, small_config

    record = {"process": jax.process_index(), "local_devices": jax.local_device_count(),
              "global_devices": jax.device_count(), "steps": []}
    # Scripted completions run longer than small_config's 24 response tokens; training must take them whole.
    longer = {"generation.max_response_tokens": 192} if policy == "scripted" else {}
    config = small_config(workdir, steps=int(steps), checkpoint_every=2, **longer)
    with Trainer(config) as trainer:
        if policy == "scripted":  # distinct counters: the processes' proposals must not be duplicates
            trainer.selfplay._generate = scripted_generate(trainer.tokenizer,
                                                           itertools.count(1 + 1000 * jax.process_index()))
        jobs = collections.Counter()
        submit = trainer.executor.submit

        def counting_submit(batch):
            batch = list(batch)
            jobs.update(type(job).__name__ for job in batch)
            return submit(batch)

        restore = trainer.restore_or_seed

        def recording_restore():
            restore()
            record["start"] = {"step": trainer.step, "host_state": digest(trainer.selfplay.host_state()),
                               "params": params_digest(trainer.params)}

        trainer.executor.submit = counting_submit
        step = trainer.selfplay.step

        def recording_step(params, index, seed):
            jobs.clear()
            result = step(params, index, seed)
            record["steps"].append({
                "step": index,
                "rollouts": collections.Counter(r.role for r in result.rollouts),
                "executor_jobs": dict(jobs),
                "host_state": digest(trainer.selfplay.host_state()),
                "metrics": {k: result.scalars.get(k) for k in SHARED_METRICS}})
            return result

        trainer.selfplay.step = recording_step
        trainer.restore_or_seed = recording_restore
        trainer.run()
        record["final_step"] = trainer.step
        record["host_state"] = digest(trainer.selfplay.host_state())
        record["params"] = params_digest(trainer.params)
    with open(out_path, "w") as f:
        json.dump(record, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
