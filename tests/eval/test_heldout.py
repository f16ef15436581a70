"""The held-out evaluation: its fixed task set, its scoring, and a real run through sampler and executor."""

import json

import numpy as np
import pytest

from azr_jax.azr import grounding
from azr_jax.azr.config import AZRConfig
from azr_jax.azr.tasks import TaskType
from azr_jax.data.corpus import completion
from azr_jax.data.families import HELDOUT_FAMILY
from azr_jax.data.generator import HELDOUT_SEED_START
from azr_jax.eval.heldout import EvalSettings, HeldoutEvaluator
from azr_jax.eval.heldout_report import HeldoutReport
from azr_jax.eval.heldout_tasks import heldout_tasks
from azr_jax.executor import ExecutorService
from azr_jax.model.config import get_model_config
from azr_jax.model.functional import create_model
from azr_jax.sampling import Sampler
from azr_jax.tokenizer import load_tokenizer
from azr_jax.tokenizer.sp_training import train_sentencepiece

PER_TYPE = 4


@pytest.fixture(scope="module")
def service():
    with ExecutorService(grounding.executor_config(AZRConfig(timeout_s=2.0, memory_mb=256), pool_size=2)) as svc:
        yield svc


@pytest.fixture(scope="module")
def evaluator(service, tmp_path_factory):
    from azr_jax.azr.prompts import solver_prompt

    texts = [solver_prompt(t, task) for t, task in heldout_tasks(PER_TYPE)]
    tokenizer = load_tokenizer(train_sentencepiece(texts * 3, tmp_path_factory.mktemp("tok"), 2000,
                                                   exact_vocab_size=False))
    config = get_model_config("tiny-qwen2", vocab_size=tokenizer.vocab_size, eos_token_ids=tokenizer.eos_ids)
    graphdef, params = create_model(config, seed=0)
    sampler = Sampler(config, graphdef, prompt_buckets=(1024, 2048))
    report = HeldoutReport(str(tmp_path_factory.mktemp("run")))
    ev = HeldoutEvaluator(sampler, tokenizer, service, EvalSettings(2048, 8, per_type=PER_TYPE), report=report)
    return ev, params


def test_the_task_set_is_fixed_and_held_out():
    tasks = heldout_tasks()
    assert len(tasks) == 300
    assert [t for t, _ in tasks] == [TaskType.DEDUCTION] * 100 + [TaskType.ABDUCTION] * 100 + [TaskType.INDUCTION] * 100
    assert tasks == heldout_tasks()
    programs = {task.program for _, task in tasks}
    assert len(programs) > 250  # distinct programs, not one repeated
    assert all("for" in p and " if " in p for p in programs)  # the held-out family's shape
    assert all(task.output != "[]" for t, task in tasks if t is not TaskType.INDUCTION)


def _gold(task_type, task) -> str:
    if task_type is TaskType.DEDUCTION:
        return completion("t", [("output", task.output)])
    if task_type is TaskType.ABDUCTION:
        return completion("t", [("input", task.input)])
    return completion("t", [("python", task.program)])


def test_scoring_counts_right_and_wrong_answers(evaluator):
    ev, _ = evaluator
    mine = [ev.tasks[i] for i in ev._mine]
    gold = [_gold(t, task) for t, task in mine]
    assert ev.score(gold) == [True] * len(mine)
    wrong = [completion("t", [("output", "[12345]")]), completion("t", [("input", "[]")]),
             completion("t", [("python", "def f(xs):\n    return xs")])]
    kinds = {TaskType.DEDUCTION: 0, TaskType.ABDUCTION: 1, TaskType.INDUCTION: 2}
    assert ev.score([wrong[kinds[t]] for t, _ in mine]) == [False] * len(mine)
    assert ev.score(["no answer at all"] * len(mine)) == [False] * len(mine)


def test_a_real_evaluation_writes_the_report(evaluator):
    ev, params = evaluator
    first = ev(params, 0)
    assert set(first) == {"deduction", "abduction", "induction", "mean"}
    assert all(0.0 <= v <= 1.0 for v in first.values())
    again = ev(params, 3)
    assert again == first  # greedy: the same policy gives the same answers
    summary = json.loads(open(ev.report.json_path).read())
    assert [e["step"] for e in summary["history"]] == [0, 3]
    assert summary["base"] == first["mean"] and summary["final"] == again["mean"]
    assert set(summary["by_type"]) == {"deduction", "abduction", "induction"}
    with open(ev.report.plot_path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_resumed_report_keeps_the_earlier_history(tmp_path):
    report = HeldoutReport(str(tmp_path))
    scalars = {"deduction": 0.1, "abduction": 0.2, "induction": 0.0, "mean": 0.1}
    for step in (0, 5, 10):
        report.record(step, scalars)
    resumed = HeldoutReport(str(tmp_path))
    resumed.record(5, {**scalars, "mean": 0.5})  # the run resumed from step 5: its later entry is replaced
    assert [e["step"] for e in resumed.history] == [0, 5]
    assert resumed.summary()["final"] == 0.5


def test_a_report_that_is_not_one_is_named(tmp_path):
    (tmp_path / "heldout.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="heldout.json is not a held-out report"):
        HeldoutReport(str(tmp_path))
