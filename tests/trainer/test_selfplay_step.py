"""A full self-play step of the tiny config: the real tiny model, the real sandboxed executor."""

import copy
import dataclasses

import jax
import numpy as np
import pytest

from azr_jax.azr import grounding
from azr_jax.azr.tasks import Proposal, TaskType
from azr_jax.checkpoint.train_checkpoints import abstract_like
from azr_jax.rl.advantages import NUM_TRR_GROUPS
from azr_jax.selfplay import SelfPlay
from azr_jax.trainer import Trainer, make_update_step
from tests_trainer_helpers import small_config

GROUND_TRUTH_PROPOSALS = [
    Proposal(TaskType.DEDUCTION, "def f(x):\n    return x * 2", input="3"),
    Proposal(TaskType.DEDUCTION, "def f(s):\n    return s[::-1]", input="'abc'"),
    Proposal(TaskType.ABDUCTION, "def f(a, b):\n    return a + b", input="1, 2"),
    Proposal(TaskType.ABDUCTION, "def f(xs):\n    return sorted(xs)", input="[3, 1, 2]"),
    Proposal(TaskType.INDUCTION, "def f(x):\n    return x + 1", inputs=tuple(str(i) for i in range(10)),
             message="add one"),
]


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    with Trainer(small_config(tmp_path_factory.mktemp("run"))) as t:
        outcomes = grounding.validate_proposals(t.executor, GROUND_TRUTH_PROPOSALS, t.config.azr)
        assert all(o.valid for o in outcomes), outcomes
        for proposal, outcome in zip(GROUND_TRUTH_PROPOSALS, outcomes):
            t.selfplay.buffers[proposal.task_type].add(outcome.task)
        yield t


def test_full_step_covers_every_group_and_only_valid_tasks_enter_buffers(trainer):
    sizes_before = {t: len(trainer.selfplay.buffers[t]) for t in TaskType}
    result = trainer.selfplay.step(trainer.params, 0, seed=0)

    groups = {r.group for r in result.rollouts}
    assert groups == set(range(NUM_TRR_GROUPS))
    b = trainer.config.azr.batch_size
    assert sum(r.role == "propose" for r in result.rollouts) == 3 * b
    assert sum(r.role == "solve" for r in result.rollouts) == 3 * b
    for r in result.rollouts:
        assert len(r.response_ids) == len(r.logprobs) > 0
        assert np.all(np.isfinite(r.logprobs)) and np.all(r.logprobs <= 0)
        assert r.reward in (-1.0, -0.5, 1.0) or (r.role == "propose" and -1.0 <= r.reward <= 1.0)

    # Buffers grew by exactly the tasks reported new, and every task in them passes validation again.
    for t in TaskType:
        assert len(trainer.selfplay.buffers[t]) == sizes_before[t] + len(result.new_tasks[t])
    tasks = [(t, task) for t in TaskType for task in trainer.selfplay.buffers[t].tasks]
    revalidated = grounding.validate_proposals(trainer.executor, [
        Proposal(t, task.program, inputs=task.inputs, message=task.message) if t is TaskType.INDUCTION
        else Proposal(t, task.program, input=task.input) for t, task in tasks], trainer.config.azr)
    assert all(o.valid for o in revalidated)

    scalars = trainer.learn(result, start=0.0)
    for role in ("propose", "solve"):
        for name in ("deduction", "abduction", "induction"):
            assert f"{role}/{name}/reward" in scalars
            assert np.isfinite(scalars[f"{role}/{name}/reward"])
    assert scalars["pg/update_applied"] == 1.0
    assert scalars["pg/num_tokens"] == sum(len(r.response_ids) for r in result.rollouts)
    assert np.isfinite(scalars["pg/loss"])
    # The trainer's recomputed log-probs agree with the sampler's (ratio = 1 on-policy).
    assert scalars["pg/logprob_max_abs_diff"] < 1e-3
    assert all(f"time/{k}_s" in scalars for k in ("sampling", "executor_wait", "host", "update", "idle"))


def _host_copy(tree):
    return [np.array(x) for x in jax.tree.leaves(tree)]


def test_non_finite_loss_skips_the_update_and_is_never_saved(trainer, capsys):
    """NaN log-probs from the sampler make the loss NaN: the update is skipped and logged, parameters
    and optimizer state stay as they were, and the checkpoint written next holds only finite values."""
    result = trainer.selfplay.step(trainer.params, 1, seed=0)
    result.rollouts[0].logprobs = np.full_like(result.rollouts[0].logprobs, np.nan)
    before = _host_copy(trainer._arrays())  # params and optimizer state
    skipped_before = trainer.skipped_updates

    scalars = trainer.learn(result, start=0.0)
    assert scalars["pg/update_applied"] == 0.0 and trainer.skipped_updates == skipped_before + 1
    assert scalars["pg/skipped_updates"] == skipped_before + 1
    for a, b in zip(before, _host_copy(trainer._arrays()), strict=True):
        np.testing.assert_array_equal(a, b)
    assert f"step {trainer.step}: update skipped (non-finite loss" in capsys.readouterr().out

    trainer.step = 7
    trainer.save()
    trainer.checkpoints.wait()
    arrays, host = trainer.checkpoints.restore(7, abstract_like(trainer._arrays()))
    assert host["skipped_updates"] == trainer.skipped_updates
    for saved, live in zip(_host_copy(arrays), before, strict=True):
        np.testing.assert_array_equal(saved, live)


def test_split_generate_calls_keep_each_response_with_its_prompt(trainer, monkeypatch):
    """generation.max_rows_per_call splits a step's generate calls; every response still pairs with its own
    prompt, which the trainer's recomputed log-probs check (a shifted pairing would not match)."""
    g, azr = trainer.config.generation, trainer.config.azr
    config = dataclasses.replace(trainer.config, generation=dataclasses.replace(g, max_rows_per_call=8),
                                 azr=dataclasses.replace(azr, learnability_rollouts=1))
    selfplay = SelfPlay(config, trainer.tokenizer, trainer.sampler, trainer.executor,
                        copy.deepcopy(trainer.selfplay.buffers), trainer.selfplay._stops)
    calls, generate_call = [], trainer.sampler._generate_call

    def counting(params, prompts, *args):
        calls.append(len(prompts))
        return generate_call(params, prompts, *args)

    monkeypatch.setattr(trainer.sampler, "_generate_call", counting)
    try:
        result = selfplay.step(trainer.params, 2, seed=3)
    finally:
        selfplay.close()
    # 12 proposer and solver prompts on 8 devices: one call of 8 rows, then one of 4 prompts (padded to 8).
    assert calls[:2] == [8, 4]
    scalars = trainer.learn(result, start=0.0)
    assert scalars["pg/update_applied"] == 1.0
    assert scalars["pg/logprob_max_abs_diff"] < 1e-3


def test_mini_batched_update_takes_one_optimizer_step_per_mini_batch(trainer):
    """rl.mini_batch_size=4: the step's 16 rows (12 sequences padded to the 8 devices) take 4 AdamW steps."""
    config = dataclasses.replace(trainer.config, rl=trainer.config.rl.replace(mini_batch_size=4))
    single_step = trainer.update
    trainer.update = make_update_step(config, trainer.graphdef, trainer.optimizer, trainer.params, trainer.mesh)
    try:
        result = trainer.selfplay.step(trainer.params, 4, seed=0)
        scalars = trainer.learn(result, start=0.0)
    finally:
        trainer.update = single_step
    assert (scalars["pg/optimizer_steps"], scalars["pg/skipped_steps"]) == (4.0, 0.0)
    assert scalars["pg/update_applied"] == 1.0
    assert scalars["pg/logprob_max_abs_diff"] < 1e-3  # the first mini-batch is on-policy
    assert scalars["pg/num_tokens"] == sum(len(r.response_ids) for r in result.rollouts)


def test_mini_batch_that_does_not_divide_the_padded_rows_fails_before_anything_loads(tmp_path):
    # 12 sequences divide by 12 (the config loads), but on 8 devices a step trains 16 rows.
    with pytest.raises(ValueError, match=r"rl.mini_batch_size=12 does not divide the 16 rows of a step's update"):
        Trainer(small_config(tmp_path, **{"rl.mini_batch_size": 12}))


def test_rows_per_call_too_small_for_a_step_fails_before_anything_loads(tmp_path):
    # 8 devices: calls hold at least 8 prompts; 2 learnability rollouts each need 16 rows.
    with pytest.raises(ValueError, match=r"generation.max_rows_per_call: max_rows_per_call 8 is too small.*"
                                         r"learnability_rollouts=2"):
        Trainer(small_config(tmp_path, **{"generation.max_rows_per_call": 8}))
