"""One Absolute Zero self-play step: propose -> validate -> learnability rollouts -> solve -> verify ->
rewards -> TRR++ advantages -> the training batch (the update itself is the trainer's).

Device work is batched into two generate calls per step:
  1. every proposer prompt (B per task type) together with every solver prompt (B per task type; the
     solver batch of step t is built from the tasks proposed at t-1, so it is known before step t
     samples anything);
  2. n learnability rollouts for each new valid task.
The executor checks the solver answers of call 1 on a host thread while call 2 runs on the device.

All randomness of step t derives from (seed, t): a run resumed from a checkpoint of step t makes the
same choices as one that never stopped, given the same buffers (which the checkpoint holds).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from typing import Sequence

import jax
import numpy as np

from azr_jax.azr import grounding
from azr_jax.azr.buffers import TaskBuffers
from azr_jax.azr.parsing import ParseOptions, parse_proposal, parse_solution
from azr_jax.azr.prompts import proposer_prompt, solver_prompt
from azr_jax.azr.rewards import proposer_rewards, solver_rewards
from azr_jax.azr.streaming_grounding import StreamingGrounding, check_now
from azr_jax.azr.tasks import InductionTask, TaskType, Triplet
from azr_jax.parallel.host_collectives import allgather_concat, allgather_json, my_share
from azr_jax.rl.advantages import trr_group_id
from azr_jax.run_config import RunConfig
from azr_jax.sampling import Sampler, SamplingParams

# AZR_SPEC step order: abduction, deduction, induction; every per-type list follows it.
TASK_ORDER = (TaskType.ABDUCTION, TaskType.DEDUCTION, TaskType.INDUCTION)
STOP_STRINGS = ("</answer>",)
_TRAINING, _SEEDING = 0, 1  # RNG stream tags: step t of training, round r of buffer seeding


@dataclasses.dataclass
class Rollout:
    """One sampled response and what became of it."""

    role: str  # "propose" or "solve"
    task_type: TaskType
    prompt_ids: list[int]
    response_ids: list[int]
    logprobs: np.ndarray
    text: str
    reward: float = 0.0

    @property
    def group(self) -> int:
        return trr_group_id(self.role, self.task_type.executor_name)


@dataclasses.dataclass
class StepResult:
    rollouts: list[Rollout]  # the sequences trained on: proposer responses, then solver responses
    scalars: dict[str, float]
    texts: dict[str, str]
    new_tasks: dict[TaskType, list]


class SelfPlay:
    """Holds what persists between steps on the host: buffers and the tasks new since the last step."""

    def __init__(self, config: RunConfig, tokenizer, sampler: Sampler, executor, buffers: TaskBuffers,
                 stop_sequences: Sequence[Sequence[int]]):
        self.config = config
        self.azr = config.azr
        self.tokenizer = tokenizer
        self.sampler = sampler
        self.executor = executor
        self.buffers = buffers
        self.new_tasks: dict[TaskType, list] = {t: [] for t in TaskType}
        self.parse_options = ParseOptions.from_config(config.azr)
        self._stops = tuple(tuple(s) for s in stop_sequences)
        self._host_thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="azr-executor")

    def close(self):
        self._host_thread.shutdown(wait=True)

    # --- host state for checkpoints -------------------------------------------------------------------

    def host_state(self) -> dict:
        return {"buffers": self.buffers.to_dict(),
                "new_tasks": {t.value: [task.to_dict() for task in tasks] for t, tasks in self.new_tasks.items()}}

    def load_host_state(self, state: dict) -> None:
        self.buffers = TaskBuffers.from_dict(state["buffers"])
        self.new_tasks = {TaskType(k): [_task_from_dict(TaskType(k), d) for d in v]
                          for k, v in state["new_tasks"].items()}

    # --- pieces ---------------------------------------------------------------------------------------

    def _encode_prompt(self, build, max_refs: int) -> list[int] | None:
        """Token ids of the prompt `build(k)` with the most references k <= max_refs that fits."""
        for k in range(max_refs, -1, -1):
            ids = self.tokenizer.encode(build(k), add_bos=True)
            if len(ids) <= self.config.generation.max_prompt_tokens:
                return ids
        return None

    def _generate(self, params, prompts: list[list[int]], n: int, seed: int, on_finished=None):
        """This process's prompts in, their rows out (every process calls this, with any number of prompts).
        on_finished(row) is called for each row as it finishes, while the device decodes the rest."""
        g = self.config.generation
        sampling = SamplingParams(temperature=g.temperature, top_p=g.top_p, top_k=g.top_k,
                                  max_new_tokens=g.max_response_tokens, n=n, stop_sequences=self._stops,
                                  eos_ids=tuple(self.tokenizer.eos_ids))
        return self.sampler.generate(params, prompts, sampling, seed=seed, process_local=True,
                                     on_finished=on_finished, max_rows_per_call=g.max_rows_per_call)

    def proposer_plan(self, rng: np.random.Generator) -> list[tuple[TaskType, list]]:
        """(type, reference tasks) for B proposals per type: the same on every process, given the same buffers.
        Empty in the solver-only ablation (azr.propose False)."""
        plan = []
        if not self.azr.propose:
            return plan
        for task_type in TASK_ORDER:
            for _ in range(self.azr.batch_size):
                plan.append((task_type, self.buffers.references(task_type, self.azr.num_references, rng)))
        return plan

    def proposer_item(self, task_type: TaskType, refs: list) -> tuple[TaskType, list[int] | None, object]:
        """(type, prompt ids or None when too long or impossible, the induction program's triplet)."""
        if task_type is TaskType.INDUCTION:
            if not refs:
                return task_type, None, None
            build = lambda k: proposer_prompt(task_type, refs, num_inputs=self.azr.induction_num_inputs)
            return task_type, self._encode_prompt(build, 0), refs[0]
        build = lambda k: proposer_prompt(task_type, refs[:k], banned=self.azr.banned_modules)
        return task_type, self._encode_prompt(build, len(refs)), None

    def solver_tasks(self, rng: np.random.Generator) -> list[tuple[TaskType, object]]:
        out = []
        for task_type in TASK_ORDER:
            batch = self.buffers[task_type].solver_batch(self.new_tasks[task_type], self.azr.batch_size, rng)
            out.extend((task_type, task) for task in batch)
        return out

    def _solver_prompt_ids(self, task_type: TaskType, task) -> list[int] | None:
        return self._encode_prompt(lambda k: solver_prompt(task_type, task, banned=self.azr.banned_modules), 0)

    # --- the step -------------------------------------------------------------------------------------

    def step(self, params, step: int, seed: int) -> StepResult:
        """One step; on several processes each works on its share and the rollouts returned are its own."""
        rng = np.random.default_rng([seed, _TRAINING, step])
        timings = {"sampling": 0.0, "executor_wait": 0.0, "executor_busy": 0.0, "host": 0.0}
        t0 = time.perf_counter()

        # Every process draws the same global plan from identical buffers, then prompts only its share.
        proposer_items = [self.proposer_item(*planned) for planned in my_share(self.proposer_plan(rng))]
        solver_items = my_share(self.solver_tasks(rng))
        solver_prompt_ids = [self._solver_prompt_ids(t, task) for t, task in solver_items]
        proposing = [(t, p, source) for t, p, source in proposer_items if p is not None]
        solving = [(t, task, p) for (t, task), p in zip(solver_items, solver_prompt_ids) if p is not None]
        timings["host"] += time.perf_counter() - t0

        # Each row is parsed as it finishes and its proposal validated (or answer checked) by the executor
        # on the host thread while the device still decodes the longer rows.
        grounder = StreamingGrounding(self.executor, self.azr, self._host_thread)
        proposed: list = [None] * len(proposing)  # (rollout, parsed, proposal)
        answered: list = [None] * len(solving)  # (rollout, parsed answer)

        def on_finished(row) -> None:
            k = row.prompt_index
            if k < len(proposing):
                task_type, prompt_ids, source = proposing[k]
                rollout = Rollout("propose", task_type, prompt_ids, list(row.tokens), np.asarray(row.logprobs),
                                  self.tokenizer.decode_generated(row.tokens))
                parsed = parse_proposal(rollout.text, task_type, self.parse_options)
                proposal = grounding.proposal_from_parse(parsed, source.program if source else None)
                proposed[k] = (rollout, parsed, proposal)
                if proposal is not None:
                    grounder.validate(k, proposal)
            else:
                task_type, task, prompt_ids = solving[k - len(proposing)]
                rollout = Rollout("solve", task_type, prompt_ids, list(row.tokens), np.asarray(row.logprobs),
                                  self.tokenizer.decode_generated(row.tokens))
                answer = parse_solution(rollout.text, task_type, self.parse_options)
                answered[k - len(proposing)] = (rollout, answer)
                grounder.check(k - len(proposing), task, answer.solution, task_type)

        t = time.perf_counter()
        prompts = [p for _, p, _ in proposing] + [p for *_, p in solving]
        try:
            output = self._generate(params, prompts, n=1, seed=_seed(seed, _TRAINING, step, 1),
                                    on_finished=on_finished)
        except BaseException:
            grounder.finish_validation()  # frees the host thread before the error propagates
            raise
        for row in output.rows:  # a generate that did not stream (a scripted policy in tests) lands here
            if (proposed + answered)[row.prompt_index] is None:
                on_finished(row)
        timings["sampling"] += time.perf_counter() - t

        # The learnability rollouts need every validation; solver checks not yet run go behind them.
        t = time.perf_counter()
        unchecked = grounder.finish_validation()
        timings["executor_wait"] += time.perf_counter() - t
        proposer_rollouts = [rollout for rollout, _, _ in proposed]
        proposals = [(parsed, proposal) for _, parsed, proposal in proposed]
        validated = [grounder.outcomes[k] if proposal is not None else None for k, (_, proposal) in enumerate(proposals)]
        solver_rollouts = [rollout for rollout, _ in answered]
        solver_answers = [answer for _, answer in answered]

        def check_solver_answers():
            start = time.perf_counter()
            verdicts = {**grounder.verdicts, **check_now(self.executor, unchecked)}
            return [verdicts[j] for j in range(len(answered))], time.perf_counter() - start

        solver_check = self._host_thread.submit(check_solver_answers)

        # Every process learns every new valid task (global order: process 0's proposals first).
        t = time.perf_counter()
        parts = allgather_json([_task_record(r.task_type, v.task if v is not None and v.valid else None)
                                for r, v in zip(proposer_rollouts, validated)])
        first_proposal = sum(len(part) for part in parts[:jax.process_index()])
        new_tasks = [_task_from_record(record) for part in parts for record in part]  # (type, task) or None
        fresh = [(g, found) for g, found in enumerate(new_tasks) if found is not None]
        runnable = []
        for g, (task_type, task) in my_share(fresh):
            prompt_ids = self._solver_prompt_ids(task_type, task)
            if prompt_ids is not None:
                runnable.append((g, task_type, task, prompt_ids))
        timings["host"] += time.perf_counter() - t
        n = self.azr.learnability_rollouts
        my_verdicts: list[tuple[int, list[bool]]] = []
        if fresh:  # the same on every process
            # Queued behind the solver checks on the host thread; each rollout is checked as it finishes.
            learn_grounder = StreamingGrounding(self.executor, self.azr, self._host_thread)
            seen = set()

            def on_rollout(row) -> None:
                _, task_type, task, _ = runnable[row.prompt_index]
                answer = parse_solution(self.tokenizer.decode_generated(row.tokens), task_type, self.parse_options)
                seen.add((row.prompt_index, row.sample_index))
                learn_grounder.check(row.prompt_index * n + row.sample_index, task, answer.solution, task_type)

            t = time.perf_counter()
            try:
                learn_out = self._generate(params, [p for *_, p in runnable], n=n,
                                           seed=_seed(seed, _TRAINING, step, 2), on_finished=on_rollout)
            except BaseException:
                learn_grounder.finish_validation()
                raise
            for row in learn_out.rows:  # rows of a generate that did not stream
                if (row.prompt_index, row.sample_index) not in seen:
                    on_rollout(row)
            timings["sampling"] += time.perf_counter() - t
            t = time.perf_counter()
            leftover = learn_grounder.finish_validation()
            t_left = time.perf_counter()
            verdicts = {**learn_grounder.verdicts, **check_now(self.executor, leftover)}
            timings["executor_wait"] += time.perf_counter() - t
            timings["executor_busy"] += learn_grounder.busy_seconds + (time.perf_counter() - t_left)
            my_verdicts = [(g, [verdicts[k * n + j] for j in range(n)]) for k, (g, *_) in enumerate(runnable)]
        learn_verdicts = {g: v for g, v in allgather_concat(my_verdicts)}

        t = time.perf_counter()
        solver_verdicts, busy = solver_check.result()
        timings["executor_wait"] += time.perf_counter() - t
        timings["executor_busy"] += busy + grounder.busy_seconds

        t = time.perf_counter()
        # A valid task whose rollout prompt did not fit cannot be scored; it counts as invalid.
        mine = range(first_proposal, first_proposal + len(proposer_rollouts))
        valid = [g in learn_verdicts for g in mine]
        format_ok = [parsed.format_ok for parsed, _ in proposals]
        p_rewards = proposer_rewards(format_ok, valid, [learn_verdicts.get(g) for g in mine], self.azr.rewards)
        s_rewards = solver_rewards([a.format_ok for a in solver_answers], solver_verdicts, self.azr.rewards)
        for rollout, reward in zip(proposer_rollouts + solver_rollouts, p_rewards + s_rewards):
            rollout.reward = reward

        added = {t: [] for t in TaskType}
        for g, found in enumerate(new_tasks):
            if g in learn_verdicts and self.buffers[found[0]].add(found[1]):
                added[found[0]].append(found[1])
        self.new_tasks = added
        summaries = allgather_json({
            "propose": [_summary(r, format_ok=f, valid=v, solve_rate=_mean(learn_verdicts[g]) if v else None)
                        for r, f, v, g in zip(proposer_rollouts, format_ok, valid, mine)],
            "solve": [_summary(r, format_ok=a.format_ok, correct=c)
                      for r, a, c in zip(solver_rollouts, solver_answers, solver_verdicts)]})
        scalars = _step_metrics([s for part in summaries for s in part["propose"]],
                                [s for part in summaries for s in part["solve"]], self.buffers, added)
        texts = _sample_texts(proposer_rollouts, solver_rollouts, added)
        timings["host"] += time.perf_counter() - t
        scalars.update({f"time/{k}_s": v for k, v in timings.items()})
        return StepResult(proposer_rollouts + solver_rollouts, scalars, texts, added)

    def seed_round(self, params, round_index: int, seed: int) -> dict[TaskType, int]:
        """One seeding round: propose without training, keep the valid tasks. Returns tasks added per type."""
        rng = np.random.default_rng([seed, _SEEDING, round_index])
        items = [self.proposer_item(*planned) for planned in my_share(self.proposer_plan(rng))]
        prompts = [p for _, p, _ in items if p is not None]
        rows = iter(self._generate(params, prompts, n=1, seed=_seed(seed, _SEEDING, round_index, 1)).rows)
        proposals = []
        for task_type, prompt_ids, source in items:
            if prompt_ids is None:
                continue
            parsed = parse_proposal(self.tokenizer.decode_generated(next(rows).tokens), task_type, self.parse_options)
            proposals.append(grounding.proposal_from_parse(parsed, source.program if source else None))
        checked = [p for p in proposals if p is not None]
        outcomes = grounding.validate_proposals(self.executor, checked, self.azr)
        records = [_task_record(p.task_type, o.task if o.valid else None) for p, o in zip(checked, outcomes)]
        added = {t: 0 for t in TaskType}
        for found in map(_task_from_record, allgather_concat(records)):
            if found is not None and self.buffers[found[0]].add(found[1]):
                added[found[0]] += 1
        return added


def _seed(*key: int) -> int:
    """A sampling seed for a key such as (run seed, _TRAINING, step, call), spread over 31 bits."""
    return int(np.random.default_rng(list(key)).integers(2**31 - 1))


def _task_from_dict(task_type: TaskType, d: dict):
    return InductionTask.from_dict(d) if task_type is TaskType.INDUCTION else Triplet.from_dict(d)


def _mean(values) -> float:
    values = list(values)
    return float(np.mean(values)) if values else float("nan")


def _task_record(task_type: TaskType, task) -> dict | None:
    """A new task as plain data for the exchange between processes (None: no valid task)."""
    return None if task is None else {"type": task_type.value, "task": task.to_dict()}


def _task_from_record(record: dict | None):
    if record is None:
        return None
    task_type = TaskType(record["type"])
    return task_type, _task_from_dict(task_type, record["task"])


def _summary(rollout: Rollout, **fields) -> dict:
    """What the step's metrics need of one rollout, as plain data (processes exchange these)."""
    return {"type": rollout.task_type.value, "reward": rollout.reward, "tokens": len(rollout.response_ids), **fields}


def _step_metrics(proposed: list[dict], solved: list[dict], buffers, added) -> dict[str, float]:
    """Scalars of a step from every process's rollout summaries."""
    scalars: dict[str, float] = {}
    for task_type in TASK_ORDER:
        name = task_type.executor_name
        mine = [s for s in proposed if s["type"] == task_type.value]
        scalars[f"propose/{name}/reward"] = _mean(s["reward"] for s in mine)
        scalars[f"propose/{name}/format_rate"] = _mean(s["format_ok"] for s in mine)
        scalars[f"propose/{name}/valid_rate"] = _mean(s["valid"] for s in mine)
        scalars[f"propose/{name}/solve_rate"] = _mean(s["solve_rate"] for s in mine if s["valid"])
        scalars[f"propose/{name}/response_tokens"] = _mean(s["tokens"] for s in mine)
        mine = [s for s in solved if s["type"] == task_type.value]
        scalars[f"solve/{name}/reward"] = _mean(s["reward"] for s in mine)
        scalars[f"solve/{name}/accuracy"] = _mean(s["correct"] for s in mine)
        scalars[f"solve/{name}/format_rate"] = _mean(s["format_ok"] for s in mine)
        scalars[f"solve/{name}/response_tokens"] = _mean(s["tokens"] for s in mine)
        scalars[f"buffer/{name}/size"] = float(len(buffers[task_type]))
        scalars[f"buffer/{name}/added"] = float(len(added[task_type]))
        programs = [t.program for t in added[task_type]]
        if programs:
            scalars[f"tasks/{name}/program_chars"] = _mean(len(p) for p in programs)
            scalars[f"tasks/{name}/program_lines"] = _mean(p.count("\n") + 1 for p in programs)
            scalars[f"tasks/{name}/distinct_programs"] = float(len(set(programs)))
    scalars["propose/reward"] = _mean(s["reward"] for s in proposed)
    scalars["propose/valid_rate"] = _mean(s["valid"] for s in proposed)
    scalars["solve/reward"] = _mean(s["reward"] for s in solved)
    scalars["solve/accuracy"] = _mean(s["correct"] for s in solved)
    scalars["perf/sampled_tokens"] = float(sum(s["tokens"] for s in proposed + solved))
    return scalars


def _sample_texts(proposer_rollouts, solver_rollouts, added) -> dict[str, str]:
    """Examples for TensorBoard's text tab: a new task and one response per role x type (this process's)."""
    texts: dict[str, str] = {}
    for task_type in TASK_ORDER:
        name = task_type.executor_name
        if added[task_type]:
            example = added[task_type][0]
            texts[f"tasks/{name}"] = "```python\n" + example.program + "\n```\n" + str(example.to_dict())[:2000]
        for role, rollouts in (("propose", proposer_rollouts), ("solve", solver_rollouts)):
            first = next((r for r in rollouts if r.task_type is task_type), None)
            if first is not None:
                texts[f"samples/{role}_{name}"] = first.text[:4000]
    return texts


def assemble_batch(rollouts: Sequence[Rollout], num_rows: int, response_len: int, prompt_len: int):
    """Numpy arrays of the training batch: each row a left-padded prompt then a right-padded response.

    Rows beyond the rollouts are empty (all masks False), so the batch shape depends only on the
    config and the prompt length (a bucket): the update step compiles once per bucket.
    Returns (tokens, mask, response_mask, old_logprobs, rewards, group_ids).
    """
    if len(rollouts) > num_rows:
        raise ValueError(f"{len(rollouts)} rollouts do not fit a batch of {num_rows} rows")
    longest = max((len(r.prompt_ids) for r in rollouts), default=0)
    if longest > prompt_len:
        raise ValueError(f"prompt of {longest} tokens exceeds the batch's prompt length {prompt_len}")
    total = prompt_len + response_len
    tokens = np.zeros((num_rows, total), np.int32)
    mask = np.zeros((num_rows, total), bool)
    response_mask = np.zeros((num_rows, total), bool)
    old_logprobs = np.zeros((num_rows, total), np.float32)
    rewards = np.zeros((num_rows,), np.float32)
    groups = np.full((num_rows,), -1, np.int32)
    for b, r in enumerate(rollouts):
        p, n = len(r.prompt_ids), len(r.response_ids)
        tokens[b, prompt_len - p:prompt_len] = r.prompt_ids
        tokens[b, prompt_len:prompt_len + n] = r.response_ids
        mask[b, prompt_len - p:prompt_len + n] = True
        response_mask[b, prompt_len:prompt_len + n] = True
        old_logprobs[b, prompt_len:prompt_len + n] = r.logprobs[:n]
        rewards[b] = r.reward
        groups[b] = r.group
    return tokens, mask, response_mask, old_logprobs, rewards, groups
