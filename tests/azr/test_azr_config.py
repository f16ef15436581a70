"""AZRConfig: paper defaults, reference_compat, validation naming the bad field, plain-data round trip."""

import json
import subprocess
import sys

import pytest

from azr_jax.azr.config import PAPER_BANNED_MODULES, AZRConfig, RewardConfig


def test_defaults_follow_the_paper():
    c = AZRConfig()
    assert c.rewards.proposer_edge_reward == 0.0
    assert c.buffer_cap_policy == "newest"
    assert c.banned_check == "ast" and {"os", "sys"} <= set(c.banned_modules)
    assert (c.num_references, c.learnability_rollouts, c.seed_size, c.induction_num_inputs) == (6, 8, 256, 10)
    assert c.induction_visible == 5 and c.max_output_chars == 400 and c.determinism_runs == 2


def test_reference_compat_differs_where_the_code_does():
    r = AZRConfig.reference_compat()
    assert r.rewards.proposer_edge_reward == -0.5
    assert r.buffer_cap_policy == "oldest"
    assert r.banned_check == "imports" and "os" not in r.banned_modules
    assert r.timeout_s == 10.0 and r.solver_bare_answer and r.induction_count_policy == "last"
    assert AZRConfig.reference_compat(seed_size=16).seed_size == 16


@pytest.mark.parametrize("field, value", [
    ("num_references", 0), ("seed_size", -1), ("batch_size", 2.5), ("timeout_s", 0), ("timeout_s", float("inf")),
    ("induction_num_inputs", 1), ("buffer_cap_policy", "middle"), ("banned_check", "regex"),
    ("short_batch_policy", "crash"), ("induction_count_policy", "first"), ("banned_modules", ["os"]),
    ("banned_modules", ("os", "")), ("solver_bare_answer", 1), ("rewards", {"proposer_edge_reward": 0}),
    ("max_answer_chars", 2 << 20),
])
def test_bad_field_is_named(field, value):
    with pytest.raises(ValueError, match=field):
        AZRConfig(**{field: value})


def test_seed_size_must_fit_the_cap():
    with pytest.raises(ValueError, match="seed_size"):
        AZRConfig(seed_size=100, buffer_cap=10)


def test_reward_config_validation():
    with pytest.raises(ValueError, match="proposer_edge_reward"):
        RewardConfig(proposer_edge_reward=float("nan"))
    with pytest.raises(ValueError, match="solver_correct_reward"):
        RewardConfig(solver_correct_reward=-1.0, solver_wrong_reward=-0.5)


def test_plain_data_round_trip():
    for c in (AZRConfig(), AZRConfig.reference_compat(batch_size=8)):
        data = json.loads(json.dumps(c.to_dict()))
        assert AZRConfig.from_dict(data) == c
    with pytest.raises(ValueError, match="bogus"):
        AZRConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="edge"):
        AZRConfig.from_dict({"rewards": {"edge": 1}})
    assert AZRConfig.from_dict({"banned_modules": list(PAPER_BANNED_MODULES)}) == AZRConfig()


def test_azr_package_imports_no_jax():
    """House rule: azr/ speaks text and token ids; importing it must not pull in JAX or the model."""
    code = ("import sys, azr_jax.azr\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('jax', 'flax', 'optax', 'orbax')"
            " or m.startswith(('azr_jax.model', 'azr_jax.sampling', 'azr_jax.rl', 'azr_jax.parallel'))]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
