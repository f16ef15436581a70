"""Reward arithmetic end to end with a scripted policy: fixed completions instead of sampling, the real
prompts, parser, sandboxed executor, buffers and rewards. (The real-model step is test_selfplay_step.)"""

import itertools

import pytest

from azr_jax.azr.tasks import TaskType
from azr_jax.sampling.results import SampleOutput, SampleRow
from azr_jax.trainer import Trainer
from tests_trainer_helpers import scripted_completion, scripted_generate, small_config


@pytest.fixture
def scripted_trainer(tmp_path):
    with Trainer(small_config(tmp_path)) as trainer:
        trainer.selfplay._generate = scripted_generate(trainer.tokenizer, itertools.count(1))
        yield trainer


def test_rewards_of_a_scripted_step(scripted_trainer):
    t = scripted_trainer
    b, n = t.config.azr.batch_size, t.config.azr.learnability_rollouts
    assert n == 2
    first = t.selfplay.step(t.params, 0, seed=0)
    # Every proposal is well formed and valid, and its n=2 rollouts solve it once: s = 1/2, r = 1 - s.
    proposer = [r for r in first.rollouts if r.role == "propose"]
    assert len(proposer) == 3 * b and all(r.reward == 0.5 for r in proposer)
    assert all(len(first.new_tasks[tt]) == b for tt in TaskType)
    # Step 0's solver batch comes from the seed buffers (identity triplets; no induction task yet).
    solver = [r for r in first.rollouts if r.role == "solve"]
    assert solver and all(r.reward == 1.0 for r in solver)
    assert {r.task_type for r in solver} == {TaskType.DEDUCTION, TaskType.ABDUCTION}
    assert first.scalars["propose/valid_rate"] == 1.0 and first.scalars["solve/accuracy"] == 1.0

    second = t.selfplay.step(t.params, 1, seed=0)
    solver = [r for r in second.rollouts if r.role == "solve"]
    assert {r.task_type for r in solver} == set(TaskType)  # induction tasks proposed at step 0 are solved now
    assert all(r.reward == 1.0 for r in solver)
    assert second.scalars["solve/induction/accuracy"] == 1.0
    for tt in TaskType:
        assert len(t.selfplay.buffers[tt]) == (0 if tt is TaskType.INDUCTION else 1) + 2 * b


def test_wrong_and_malformed_answers_are_penalised(scripted_trainer):
    t = scripted_trainer
    generate = t.selfplay._generate

    def wrong_solver(params, prompts, n, seed, on_finished=None):  # rows are rewritten: none streamed
        out = generate(params, prompts, n, seed)
        # Odd sample indices answer wrongly; make every row of this call an odd sample's answer.
        tok = t.tokenizer
        rows = [SampleRow(r.prompt_index, r.sample_index, tok.encode(
            scripted_completion(tok.decode(prompts[r.prompt_index]), 1, itertools.count(1000 + i))),
            r.logprobs, r.finish_reason) for i, r in enumerate(out.rows)]
        rows[0] = SampleRow(0, 0, tok.encode("no tags at all"), rows[0].logprobs, "length")
        return SampleOutput(rows=rows, n=n, stats=out.stats)

    t.selfplay._generate = wrong_solver
    result = t.selfplay.step(t.params, 0, seed=0)
    proposer = [r for r in result.rollouts if r.role == "propose"]
    solver = [r for r in result.rollouts if r.role == "solve"]
    assert proposer[0].reward == -1.0  # malformed proposal
    # Valid proposals whose rollouts all fail (s = 0) get the edge reward (paper: 0).
    assert all(r.reward == 0.0 for r in proposer[1:])
    assert all(r.reward == -0.5 for r in solver)  # well formed, wrong
