"""The procedural generator: deterministic draws, the held-out split, outputs the executor agrees with."""

import pytest

from azr_jax.azr import grounding
from azr_jax.azr.config import AZRConfig
from azr_jax.azr.tasks import Proposal, TaskType
from azr_jax.data.families import HELDOUT_FAMILY, TRAIN_FAMILIES
from azr_jax.data.generator import HELDOUT_SEED_START, check_split, generate, heldout_draws, training_draws
from azr_jax.executor import ExecutorService

CONFIG = AZRConfig(timeout_s=2.0, memory_mb=256)


@pytest.fixture(scope="module")
def service():
    with ExecutorService(grounding.executor_config(CONFIG, pool_size=2)) as svc:
        yield svc


def test_same_family_and_seed_give_the_same_program():
    a, b = generate("list_map", 17, 5), generate("list_map", 17, 5)
    assert a == b
    assert generate("list_map", 18, 5).source != a.source or generate("list_map", 18, 5).inputs != a.inputs


def test_inputs_are_distinct_and_outputs_match_a_plain_run():
    p = generate("dict_count", 3, 6)
    assert len(set(p.inputs)) == 6
    namespace = {}
    exec(p.source, namespace)
    for x, y in zip(p.inputs, p.outputs):
        assert repr(eval(f"namespace['f']({x})")) == y


def test_training_draws_never_touch_the_heldout_family_or_seeds():
    draws = training_draws(5000, seed=1)
    assert {f for f, _ in draws} == set(TRAIN_FAMILIES)
    assert HELDOUT_FAMILY not in TRAIN_FAMILIES
    assert all(s < HELDOUT_SEED_START for _, s in draws)
    assert all(f == HELDOUT_FAMILY and s >= HELDOUT_SEED_START for f, s in heldout_draws(50))


@pytest.mark.parametrize("family, seed, heldout", [
    (HELDOUT_FAMILY, 5, False),  # the held-out family in training
    ("arith", HELDOUT_SEED_START + 1, False),  # a held-out seed in training
    ("arith", 5, True),  # a training family in evaluation
    (HELDOUT_FAMILY, 5, True),  # a training seed in evaluation
])
def test_a_draw_across_the_split_is_refused(family, seed, heldout):
    with pytest.raises(ValueError, match="held-out"):
        generate(family, seed, 1, heldout=heldout)


def test_unknown_family_is_named():
    with pytest.raises(ValueError, match="unknown program family 'nope'"):
        check_split("nope", 0, False)


def test_every_family_is_valid_to_the_executor_with_the_same_outputs(service):
    """Each family's programs pass the real sandboxed validation, and its outputs are the executor's."""
    programs = [generate(f, s, 3) for f, s in training_draws(4 * len(TRAIN_FAMILIES), seed=2)]
    programs += [generate(f, s, 3, heldout=True) for f, s in heldout_draws(4)]
    proposals = [Proposal(TaskType.DEDUCTION, p.source, input=p.inputs[0]) for p in programs]
    outcomes = grounding.validate_proposals(service, proposals, CONFIG)
    for p, outcome in zip(programs, outcomes):
        assert outcome.valid, (p.family, p.source, outcome.status, outcome.message)
        assert outcome.task.output == p.outputs[0], p.source
