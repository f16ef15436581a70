"""The held-out evaluator: the current policy solves the fixed held-out tasks greedily; the executor checks.

    evaluator = HeldoutEvaluator(sampler, tokenizer, executor, EvalSettings(...), report=HeldoutReport(workdir))
    scalars = evaluator(params, step)   # {"deduction": 0.31, "abduction": ..., "induction": ..., "mean": ...}

It plugs into the trainer's evaluator hook (logged as eval/heldout/<type>). Prompts are the solver prompts
self-play uses, answers are parsed and checked exactly as a solver rollout's are, so a point of held-out
accuracy means what a point of solve rate means in training. On several processes each solves its own
contiguous share and the counts are summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from azr_jax.azr import grounding
from azr_jax.azr.config import PAPER_BANNED_MODULES
from azr_jax.azr.parsing import ParseOptions, parse_solution
from azr_jax.azr.prompts import solver_prompt
from azr_jax.azr.tasks import Task, TaskType
from azr_jax.eval.heldout_tasks import heldout_tasks
from azr_jax.eval.heldout_report import HeldoutReport
from azr_jax.parallel.host_collectives import global_sum, my_share
from azr_jax.sampling import Sampler, SamplingParams
from azr_jax.selfplay import STOP_STRINGS
from azr_jax.tokenizer import Tokenizer, stop_token_sequences

@dataclass(frozen=True)
class EvalSettings:
    max_prompt_tokens: int
    max_response_tokens: int
    per_type: int = 100
    max_rows_per_call: int = 0
    banned: tuple[str, ...] = PAPER_BANNED_MODULES  # named to induction solvers, as in self-play


class HeldoutEvaluator:
    """Callable(params, step) -> accuracy per task type and their mean (the trainer's Evaluator)."""

    def __init__(self, sampler: Sampler, tokenizer: Tokenizer, executor, settings: EvalSettings,
                 parse_options: ParseOptions = ParseOptions(), report: HeldoutReport | None = None):
        self.sampler, self.tokenizer, self.executor = sampler, tokenizer, executor
        self.settings, self.parse_options, self.report = settings, parse_options, report
        self.tasks = heldout_tasks(settings.per_type)
        self._mine = my_share(list(range(len(self.tasks))))
        self._prompts = [self._prompt_ids(*self.tasks[i]) for i in self._mine]
        self._sampling = SamplingParams(temperature=0.0, max_new_tokens=settings.max_response_tokens, n=1,
                                        stop_sequences=stop_token_sequences(tokenizer, list(STOP_STRINGS)),
                                        eos_ids=tuple(tokenizer.eos_ids))

    def _prompt_ids(self, task_type: TaskType, task: Task) -> list[int]:
        ids = self.tokenizer.encode(solver_prompt(task_type, task, banned=self.settings.banned), add_bos=True)
        if len(ids) > self.settings.max_prompt_tokens:
            raise ValueError(f"held-out {task_type.executor_name} prompt has {len(ids)} tokens, more than "
                             f"generation.max_prompt_tokens={self.settings.max_prompt_tokens}")
        return ids

    def completions(self, params) -> list[str]:
        """The policy's greedy completion of each of this process's prompts (in the order of `self._mine`).

        One generate call per task type: a call pads its prompts to the longest one's bucket, and induction
        prompts are about four times as long as the others."""
        texts = [""] * len(self._prompts)
        for task_type in TaskType:
            # Every process makes the same calls (one SPMD program each), with its own prompts or none.
            where = [k for k, i in enumerate(self._mine) if self.tasks[i][0] is task_type]
            output = self.sampler.generate(params, [self._prompts[k] for k in where], self._sampling, seed=0,
                                           process_local=True, max_rows_per_call=self.settings.max_rows_per_call)
            for row in output.rows:
                texts[where[row.prompt_index]] = self.tokenizer.decode_generated(row.tokens)
        return texts

    def score(self, texts: Sequence[str]) -> list[bool]:
        """Correct or not, per completion of this process's tasks, parsed and checked as in self-play."""
        mine = [self.tasks[i] for i in self._mine]
        answers = [parse_solution(text, t, self.parse_options).solution for text, (t, _) in zip(texts, mine)]
        return grounding.check_answers(self.executor, [task for _, task in mine], answers, [t for t, _ in mine])

    def __call__(self, params, step: int) -> dict[str, float]:
        correct = self.score(self.completions(params))
        types = [self.tasks[i][0] for i in self._mine]
        counts = []
        for task_type in TaskType:
            counts += [sum(c for c, t in zip(correct, types) if t is task_type),
                       sum(1 for t in types if t is task_type)]
        totals = global_sum([float(c) for c in counts])
        scalars = {t.executor_name: totals[2 * k] / max(totals[2 * k + 1], 1.0) for k, t in enumerate(TaskType)}
        scalars["mean"] = sum(scalars[t.executor_name] for t in TaskType) / len(TaskType)
        if self.report is not None:
            self.report.record(step, scalars)
        return scalars


def accuracy_table(scalars: dict[str, float], types: Sequence[TaskType] = tuple(TaskType)) -> str:
    return ", ".join(f"{t.executor_name} {scalars[t.executor_name]:.1%}" for t in types) + \
        f", mean {scalars['mean']:.1%}"
