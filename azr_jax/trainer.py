"""The training loop: initialise or restore, seed the buffers, run self-play steps, checkpoint, log.

This is the one module (with launch/) that knows every part: model, mesh, sampler, executor, AZR
text side, RL update, checkpoints and monitoring.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import time
from typing import Callable, Mapping

import fsspec
import jax
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from azr_jax.azr import grounding
from azr_jax.azr.buffers import TaskBuffers
from azr_jax.azr.parsing import ParseOptions
from azr_jax.azr.prompts import proposer_prompt, solver_prompt
from azr_jax.azr.tasks import InductionTask, TaskType, identity_triplet
from azr_jax.executor import ExecutorService
from azr_jax.executor.config import usable_cpus
from azr_jax.checkpoint.model_checkpoint import CONFIG_FILE, check_family, load_model, save_model, tokenizer_path
from azr_jax.eval.heldout import EvalSettings, HeldoutEvaluator
from azr_jax.eval.heldout_report import HeldoutReport
from azr_jax.data.tasks import training_tasks
from azr_jax.checkpoint.train_checkpoints import TrainCheckpoints, abstract_like
from azr_jax.model.config import get_model_config
from azr_jax.model.functional import create_model
from azr_jax.monitoring import MetricsWriter, SafetyMonitor, format_progress
from azr_jax.monitoring.flops import total_peak_flops
from azr_jax.parallel.host_collectives import global_max, global_sum
from azr_jax.parallel.mesh import make_mesh
from azr_jax.rl import (TrainBatch, batch_shardings, compute_advantages, init_opt_state, jit_update_step,
                        make_optimizer, opt_state_shardings)
from azr_jax.rl.advantages import NUM_TRR_GROUPS
from azr_jax.parallel.sharding import param_shardings
from azr_jax.run_config import RunConfig
from azr_jax.sampling import Sampler, logprob_temperature
from azr_jax.sampling.batching import default_batch_buckets, prompts_per_call
from azr_jax.sampling.sampler import batch_parallelism
from azr_jax.selfplay import STOP_STRINGS, SelfPlay, StepResult, assemble_batch
from azr_jax.tokenizer import load_tokenizer, stop_token_sequences


TINY_VOCAB = 1024  # learned BPE tokens of the tokenizer built for random-weight runs


def template_corpus() -> tuple[str, ...]:
    """Every prompt kind, filled with the seed task: the text a random-weight run tokenizes most."""
    seed = identity_triplet()
    induction = InductionTask(seed.program, tuple(f"{i}" for i in range(10)), tuple(f"{i}" for i in range(10)),
                              "return the argument unchanged")
    texts = [proposer_prompt(t, [seed]) for t in (TaskType.DEDUCTION, TaskType.ABDUCTION, TaskType.INDUCTION)]
    texts += [solver_prompt(TaskType.DEDUCTION, seed), solver_prompt(TaskType.ABDUCTION, seed),
              solver_prompt(TaskType.INDUCTION, induction)]
    return tuple(texts) * 4


def log(message: str) -> None:
    if jax.process_index() == 0:
        print(message, flush=True)


def _check_rows_per_call(config: RunConfig, mesh) -> None:
    """generation.max_rows_per_call must hold one batch bucket of prompts in every generate call of a step;
    the learnability call, with the most samples per prompt, needs the most rows."""
    cap = config.generation.max_rows_per_call
    if not cap:
        return
    shards = batch_parallelism(mesh)
    try:
        prompts_per_call(default_batch_buckets(shards), max(1, config.azr.learnability_rollouts), cap)
    except ValueError as e:
        raise ValueError(f"generation.max_rows_per_call: {e} (the learnability rollouts sample "
                         f"azr.learnability_rollouts={config.azr.learnability_rollouts} rows per prompt, and "
                         f"the mesh's {shards} batch shards make the smallest call {shards} prompts)") from None


def _check_mini_batches(config: RunConfig, rows: int) -> None:
    """rl.mini_batch_size must split the update's rows (the step's sequences, padded to the mesh) evenly."""
    mini = config.rl.mini_batch_size
    if mini and rows % mini:
        raise ValueError(f"rl.mini_batch_size={mini} does not divide the {rows} rows of a step's update "
                         f"({NUM_TRR_GROUPS} x azr.batch_size={config.azr.batch_size} sequences, padded to a "
                         f"multiple of the mesh's batch parallelism on every process)")


def make_update_step(config: RunConfig, graphdef, optimizer, params, mesh):
    """The jitted update of this run. Its log-probs are recomputed at the temperature of the sampler's
    (generation.temperature; 1 when greedy): the one source of that temperature, so that the PPO ratio
    compares the same distribution on both sides."""
    return jit_update_step(graphdef, optimizer, config.rl, params,
                           temperature=logprob_temperature(config.generation.temperature), mesh=mesh)


def _buckets(limit: int, smallest: int = 128) -> tuple[int, ...]:
    """Powers of two from `smallest` up to and including `limit` (the largest accepted length)."""
    out, b = [], smallest
    while b < limit:
        out.append(b)
        b *= 2
    return tuple(out) + (limit,)


Evaluator = Callable[[nnx.State, int], Mapping[str, float]]


class Trainer:
    """evaluators: name -> fn(params, steps_done) -> scalars, run before the first step, every `eval_every`
    steps and after the last, and logged as eval/<name>/<scalar> at TensorBoard step `steps_done`
    (benchmarks such as HumanEval plug in here). `heldout_eval_per_type` adds the held-out AZR tasks."""

    def __init__(self, config: RunConfig, evaluators: Mapping[str, Evaluator] | None = None):
        self.config = config
        self.evaluators = dict(evaluators or {})
        # orbax needs absolute local paths; gs:// URLs pass through.
        self.workdir = config.workdir if "://" in config.workdir else os.path.abspath(config.workdir)
        self.mesh = make_mesh(config.mesh)
        # Before the weights load: a bad value fails at once.
        _check_rows_per_call(config, self.mesh)
        _check_mini_batches(config, self._rows_per_process() * jax.process_count())
        self.model_config, self.graphdef, self.params = self._init_model()
        self.tokenizer = self._init_tokenizer()
        if self.tokenizer.vocab_size > self.model_config.vocab_size:
            raise ValueError(f"tokenizer {self.tokenizer} has {self.tokenizer.vocab_size} tokens but the model "
                             f"{config.model.checkpoint or config.model.preset} only {self.model_config.vocab_size}: "
                             "they do not belong together")
        g = config.generation
        self.prompt_buckets = _buckets(g.max_prompt_tokens)
        self.sampler = Sampler(self.model_config, self.graphdef, mesh=self.mesh, prompt_buckets=self.prompt_buckets)
        pool_size = config.executor_pool_size or usable_cpus()
        self.executor = ExecutorService(grounding.executor_config(config.azr, pool_size=pool_size))
        if config.heldout_eval_per_type:
            self.evaluators.setdefault("heldout", self._heldout_evaluator())
        if config.eval_every and not self.evaluators:
            log(f"warning: eval_every={config.eval_every} but no evaluator is registered; nothing will be evaluated")
        self.selfplay = SelfPlay(config, self.tokenizer, self.sampler, self.executor,
                                 TaskBuffers.initial(config.azr),
                                 stop_token_sequences(self.tokenizer, list(STOP_STRINGS)))
        self.optimizer = make_optimizer(config.rl)
        shardings = param_shardings(self.params, self.mesh)
        self.opt_state = init_opt_state(self.optimizer, self.params,
                                        opt_state_shardings(self.optimizer, self.params, shardings, self.mesh))
        self.update = make_update_step(config, self.graphdef, self.optimizer, self.params, self.mesh)
        self.batch_shardings = batch_shardings(self.mesh)
        self.advantages = jax.jit(lambda r, g, m: compute_advantages(config.rl.advantage_estimator, r, g, m,
                                                                     num_groups=NUM_TRR_GROUPS,
                                                                     epsilon=config.rl.advantage_eps),
                                  out_shardings=self.batch_shardings.advantages_bt)
        self.checkpoints = TrainCheckpoints(self.workdir, keep=config.keep_checkpoints)
        self.metrics = MetricsWriter(self.workdir)
        self.safety = SafetyMonitor(self.workdir,
                                    process_index=jax.process_index() if jax.process_count() > 1 else None)
        self.step = 0
        self.skipped_updates = 0  # optimizer steps the update's guard refused, over the whole run
        self.peak_flops = total_peak_flops()

    # --- set-up ---------------------------------------------------------------------------------------

    def _init_model(self):
        m = self.config.model
        runtime = m.runtime_fields()
        if m.checkpoint:
            check_family(m.checkpoint, get_model_config(m.preset).family)
            config, graphdef, params = load_model(m.checkpoint, mesh=self.mesh, **runtime)
            log(f"base weights: {m.checkpoint} ({config.num_params / 1e6:.2f}M params)")
            return config, graphdef, params
        if m.vocab_size:
            runtime["vocab_size"] = m.vocab_size
        config = get_model_config(m.preset, **runtime)
        graphdef, params = create_model(config, seed=self.config.seed, mesh=self.mesh)
        log(f"random {m.preset} weights ({config.num_params / 1e6:.2f}M params): no base checkpoint configured")
        return config, graphdef, params

    def _init_tokenizer(self):
        m = self.config.model
        path = m.tokenizer or (tokenizer_path(m.checkpoint) if m.checkpoint else None)
        if path:
            fs, root = fsspec.core.url_to_fs(path)  # a tokenizer file or its directory; the policy copies the dir
            self._tokenizer_dir = path if fs.isdir(root) else posixpath.dirname(path.rstrip("/"))
            return load_tokenizer(path)
        if m.checkpoint:
            raise ValueError(f"{m.checkpoint} holds no tokenizer; set model.tokenizer")
        # Random weights: a small byte-level BPE trained here (deterministically) on the prompt templates
        # themselves, so that prompts take few tokens and the tiny model's attention stays cheap.
        from azr_jax.tokenizer.testing import TINY_CORPUS, build_tiny_bpe_tokenizer

        local = os.path.join(tempfile.gettempdir(), f"azr_jax_tiny_tokenizer_{os.getuid()}_{TINY_VOCAB}")
        self._tokenizer_dir = local
        return load_tokenizer(build_tiny_bpe_tokenizer(local, vocab_size=TINY_VOCAB,
                                                       corpus=TINY_CORPUS + template_corpus()))

    def _heldout_evaluator(self) -> HeldoutEvaluator:
        g = self.config.generation
        settings = EvalSettings(g.max_prompt_tokens, g.max_response_tokens, self.config.heldout_eval_per_type,
                                g.max_rows_per_call, self.config.azr.banned_modules)
        return HeldoutEvaluator(self.sampler, self.tokenizer, self.executor, settings,
                                ParseOptions.from_config(self.config.azr), HeldoutReport(self.workdir))

    def _arrays(self):
        return {"params": nnx.to_pure_dict(self.params), "opt_state": self.opt_state}

    def restore_or_seed(self) -> None:
        latest = self.checkpoints.latest_step()
        if latest is not None:
            arrays, host = self.checkpoints.restore(latest, abstract_like(self._arrays()))
            nnx.replace_by_pure_dict(self.params, arrays["params"])
            self.opt_state = arrays["opt_state"]
            if host["config_name"] != self.config.name:
                log(f"warning: checkpoint was written by config {host['config_name']!r}, running {self.config.name!r}")
            self.selfplay.load_host_state(host["selfplay"])
            self.step = int(host["step"])
            self.skipped_updates = int(host.get("skipped_updates", 0))
            sizes = ", ".join(f"{t.executor_name} {len(self.selfplay.buffers[t])}" for t in TaskType)
            log(f"resumed from checkpoint at step {self.step} ({self.checkpoints.directory}/{latest}); buffers: {sizes}")
            return
        self.seed_buffers()

    def seed_buffers(self) -> None:
        """Propose without training until every buffer holds seed_size tasks (or the round limit), or take
        them from the procedural generator (seed_buffers_from "generator")."""
        azr = self.config.azr
        if self.config.seed_buffers_from == "generator":
            for task_type in TaskType:
                self.selfplay.buffers[task_type].extend(training_tasks(task_type, azr.seed_size, self.config.seed))
            sizes = {t.executor_name: len(self.selfplay.buffers[t]) for t in TaskType}
            log(f"buffers seeded from the program generator's training families: {sizes}")
            return
        rounds = self.config.seed_max_rounds
        start = time.perf_counter()
        done_at_start = self._seed_progress()
        for r in range(rounds):
            if self.selfplay.buffers.seeded(azr.seed_size):
                break
            self.selfplay.seed_round(self.params, r, self.config.seed)
            done = self._seed_progress()
            rate = (done - done_at_start) / (time.perf_counter() - start)  # progress per second so far
            eta = f"{(1 - done) / rate:.0f}s" if rate > 0 else "unknown (no valid proposals yet)"
            bar = "#" * int(20 * done) + "." * (20 - int(20 * done))
            sizes = {t.executor_name: len(self.selfplay.buffers[t]) for t in TaskType}
            log(f"seeding buffers [{bar}] {done:4.0%} round {r + 1}/{rounds} sizes {sizes} ETA {eta}")
        if not self.selfplay.buffers.seeded(azr.seed_size):
            log(f"warning: buffers not full after {rounds} seeding rounds (seed_size {azr.seed_size}); "
                "training starts with what they hold")

    def _seed_progress(self) -> float:
        size = self.config.azr.seed_size
        return sum(min(len(self.selfplay.buffers[t]), size) for t in TaskType) / (len(TaskType) * size)

    # --- the loop -------------------------------------------------------------------------------------

    def train_step(self) -> dict:
        """One self-play step and its update; returns the step's scalar metrics."""
        start = time.perf_counter()
        result = self.selfplay.step(self.params, self.step, self.config.seed)
        return self.learn(result, start)

    def _rows_per_process(self) -> int:
        """Training rows each process contributes: its largest possible share of the 6 x B rollouts,
        rounded up to a multiple of the batch parallelism of its own devices."""
        parallel, processes = batch_parallelism(self.mesh), jax.process_count()
        if parallel % processes:
            raise ValueError(f"the mesh's batch axes (data x fsdp = {parallel}) must split evenly over the "
                             f"{processes} processes: each process trains on its own rollouts")
        share = 2 * -(-len(TaskType) * self.config.azr.batch_size // processes)  # proposer + solver
        local_parallel = parallel // processes
        return -(-share // local_parallel) * local_parallel

    def _global_rows(self, local: np.ndarray, sharding) -> jax.Array:
        """This process's rows -> the global array (rows of all processes, process 0's first)."""
        shape = (local.shape[0] * jax.process_count(),) + local.shape[1:]
        return jax.make_array_from_process_local_data(sharding, local, shape)

    def learn(self, result: StepResult, start: float) -> dict:
        """The update from a self-play step's rollouts, then metrics, flagged samples and logging."""
        config = self.config
        # Every process must build the same shapes: the prompt bucket of the longest prompt anywhere.
        longest = global_max(max((len(r.prompt_ids) for r in result.rollouts), default=1))
        prompt_len = next(b for b in self.prompt_buckets if b >= longest)
        tokens, mask, response_mask, old_logprobs, rewards, groups = assemble_batch(
            result.rollouts, self._rows_per_process(), config.generation.max_response_tokens, prompt_len)
        local_counts = [float(response_mask.sum()), float(mask.sum())]
        rows = self.batch_shardings.tokens_bt
        rows_1d = NamedSharding(self.mesh, PartitionSpec(rows.spec[0]))
        response_mask = self._global_rows(response_mask, rows)
        # TRR++ whitening statistics are per group over the global batch: computed on the device arrays.
        advantages = self.advantages(self._global_rows(rewards, rows_1d), self._global_rows(groups, rows_1d),
                                     response_mask)
        batch = TrainBatch(tokens_bt=self._global_rows(tokens, rows), mask_bt=self._global_rows(mask, rows),
                           response_mask_bt=response_mask, old_logprobs_bt=self._global_rows(old_logprobs, rows),
                           advantages_bt=advantages)
        update_start = time.perf_counter()
        self.params, self.opt_state, update_metrics = self.update(self.params, self.opt_state, batch)
        skipped = int(update_metrics["skipped_steps"])
        update_s = time.perf_counter() - update_start
        if skipped:  # the guard refused some of the iteration's optimizer steps (one per mini-batch)
            self.skipped_updates += skipped
            steps = skipped + int(update_metrics["optimizer_steps"])
            log(f"step {self.step}: update skipped (non-finite loss or gradient, or no response tokens) in "
                f"{skipped} of {steps} optimizer steps")
        step_s = time.perf_counter() - start

        scalars = dict(result.scalars)
        for name, value in update_metrics.items():
            if hasattr(value, "sum") and hasattr(value, "count"):
                scalars[f"pg/{name}"] = float(value.sum) / max(float(value.count), 1.0)
            else:
                scalars[f"pg/{name}"] = float(np.asarray(value))
        scalars["pg/skipped_updates"] = float(self.skipped_updates)
        scalars["time/update_s"] = update_s
        scalars["time/step_s"] = step_s
        known = sum(scalars.get(f"time/{k}_s", 0.0) for k in ("sampling", "executor_wait", "host")) + update_s
        scalars["time/idle_s"] = max(step_s - known, 0.0)
        flagged_keys, flagged = [], []
        for role in ("propose", "solve"):
            for task_type in TaskType:
                texts = [r.text for r in result.rollouts if r.role == role and r.task_type is task_type]
                flagged_keys.append(f"safety/{role}/{task_type.executor_name}_flagged")
                flagged.append(self.safety.scan(self.step, role, task_type.executor_name, texts))
        trained, real, *flagged = global_sum(local_counts + flagged)
        scalars.update(zip(flagged_keys, flagged))
        sampled = scalars["perf/sampled_tokens"]
        scalars["perf/tokens_per_s"] = sampled / max(scalars.get("time/sampling_s", step_s), 1e-9)
        # Sampling costs 2N per token (prompt and response); the update 2N forward + 4N backward on every
        # real token of the batch.
        flops = 2 * self.model_config.num_params * (sampled + real) + 6 * self.model_config.num_params * real
        scalars["perf/mfu"] = flops / step_s / self.peak_flops
        scalars["perf/trained_tokens"] = trained
        self.metrics.write(self.step, scalars, result.texts)
        return scalars

    def run(self) -> None:
        self.restore_or_seed()
        config = self.config
        if self.step == 0:
            self.evaluate_and_log()  # the base, before any update
        while self.step < config.steps:
            scalars = self.train_step()
            self.step += 1
            if self.step % config.log_every == 0:
                log(format_progress(self.step, config.steps, scalars["time/step_s"], scalars))
            if config.eval_every and (self.step % config.eval_every == 0 or self.step == config.steps):
                self.evaluate_and_log()
            if self.step % config.checkpoint_every == 0 or self.step == config.steps:
                self.save()
        self.checkpoints.wait()
        if jax.process_count() > 1:  # save_model writes from one process (its atomic rename is local)
            log(f"done: {self.step} steps; checkpoints in {self.checkpoints.directory}")
            return
        policy = self.save_policy()
        log(f"done: {self.step} steps; checkpoints in {self.checkpoints.directory}; policy in {policy} "
            f"(python launch/convert_hf.py --to_hf --checkpoint={policy} --out=DIR exports it)")

    def evaluate_and_log(self) -> None:
        """Runs the evaluators (when eval_every is set), one console line each, and writes their scalars
        as eval/<name>/<scalar> at TensorBoard step `self.step`."""
        if not (self.config.eval_every and self.evaluators):
            return
        scalars = {}
        for name, evaluator in self.evaluators.items():
            values = {key: float(value) for key, value in evaluator(self.params, self.step).items()}
            log(f"eval {name} after {self.step} steps: " + ", ".join(f"{k} {v:.4g}" for k, v in values.items()))
            scalars.update({f"eval/{name}/{key}": value for key, value in values.items()})
        self.metrics.write(self.step, scalars)

    def save(self) -> None:
        host = {"step": self.step, "seed": self.config.seed, "config_name": self.config.name,
                "skipped_updates": self.skipped_updates, "selfplay": self.selfplay.host_state()}
        self.checkpoints.save(self.step, self._arrays(), host)

    def save_policy(self) -> str:
        """The current parameters as a model checkpoint, <workdir>/policy_step_<N> (the base's format,
        with its tokenizer): what launch/convert_hf.py exports and launch/sample.py samples from."""
        path = posixpath.join(self.workdir, f"policy_step_{self.step}")
        fs, root = fsspec.core.url_to_fs(path)
        if not fs.exists(posixpath.join(root, CONFIG_FILE)):  # a rerun of a finished run has saved it already
            save_model(path, self.model_config, nnx.to_pure_dict(self.params), tokenizer_dir=self._tokenizer_dir)
        return path

    def close(self) -> None:
        self.metrics.close()
        self.checkpoints.close()
        self.selfplay.close()
        self.executor.close()

    def __enter__(self) -> "Trainer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
