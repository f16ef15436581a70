"""Corpus documents: the AZR-format share parses with the trainer's own parser and is correct."""

import pytest

from azr_jax.azr import grounding
from azr_jax.azr.config import PAPER_BANNED_MODULES, AZRConfig
from azr_jax.azr.parsing import ParseOptions, parse_proposal, parse_solution
from azr_jax.azr.prompts import ASSISTANT_START
from azr_jax.azr.tasks import InductionTask, TaskType, Triplet
from azr_jax.data import corpus
from azr_jax.data.generator import generate
from azr_jax.executor import ExecutorService

CONFIG = AZRConfig(timeout_s=2.0, memory_mb=256)


@pytest.fixture(scope="module")
def service():
    with ExecutorService(grounding.executor_config(CONFIG, pool_size=2)) as svc:
        yield svc


def _completion(doc: str) -> str:
    return doc[doc.index(ASSISTANT_START) + len(ASSISTANT_START):]


def test_documents_are_deterministic_and_mix_styles():
    docs = list(corpus.documents(400, seed=3, format_share=0.2, banned=PAPER_BANNED_MODULES))
    assert docs == list(corpus.documents(400, seed=3, format_share=0.2, banned=PAPER_BANNED_MODULES))
    formatted = [d for d in docs if ASSISTANT_START in d]
    assert 40 <= len(formatted) <= 120  # about a fifth
    assert any(d.startswith("# Examples:") for d in docs) and any(">>> f(" in d for d in docs)
    assert any("is returned by f(" in d for d in docs)


def test_proposer_share_and_max_examples_shape_the_mix():
    def mix(**kw):
        docs = list(corpus.documents(600, seed=5, format_share=0.5, banned=PAPER_BANNED_MODULES, **kw))
        formatted = [d for d in docs if ASSISTANT_START in d]
        proposer = [d for d in formatted if "## Task: write a new" in d or "## Task: choose" in d]
        calls = [d.count(">>> f(") for d in docs if d.startswith("def f(") and ">>> f(" in d]
        return len(proposer) / len(formatted), max(calls)

    solver_only, few = mix(proposer_share=0.0, max_examples=2)
    mostly_proposer, many = mix(proposer_share=0.9, max_examples=8)
    assert solver_only == 0.0 and 0.8 <= mostly_proposer <= 0.97
    assert few == 2 and many > 4


@pytest.mark.parametrize("task_type", list(TaskType))
def test_solver_documents_hold_answers_the_executor_judges_correct(service, task_type):
    programs = [generate("list_filter", s, corpus.INDUCTION_INPUTS) for s in range(6)]
    answers, tasks = [], []
    for p in programs:
        parsed = parse_solution(_completion(corpus.solver_doc(p, task_type)), task_type, ParseOptions())
        assert parsed.format_ok, parsed.reason
        answers.append(parsed.solution)
        if task_type is TaskType.INDUCTION:
            tasks.append(InductionTask(p.source, p.inputs, p.outputs, "m"))
        else:
            tasks.append(Triplet(p.source, p.inputs[0], p.outputs[0]))
    assert grounding.check_answers(service, tasks, answers, task_type) == [True] * len(tasks)


@pytest.mark.parametrize("task_type", list(TaskType))
def test_proposer_documents_parse_into_valid_proposals(service, task_type):
    p, ref = generate("string_loop", 4, corpus.INDUCTION_INPUTS), generate("arith", 9, 1)
    doc = corpus.proposer_doc(p, ref, task_type, PAPER_BANNED_MODULES)
    parsed = parse_proposal(_completion(doc), task_type, ParseOptions())
    assert parsed.format_ok, parsed.reason
    proposal = grounding.proposal_from_parse(parsed, p.source)
    (outcome,) = grounding.validate_proposals(service, [proposal], CONFIG)
    assert outcome.valid, outcome.message
