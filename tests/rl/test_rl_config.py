"""RLConfig: paper defaults, named constructors, and errors that name the bad field."""

import pytest

from azr_jax.rl import RLConfig, jit_update_step, make_optimizer


def test_paper_defaults():
    config = RLConfig.paper()
    assert (config.learning_rate, config.clip_eps_low, config.clip_eps_high) == (1e-6, 0.2, 0.2)
    assert (config.entropy_coef, config.max_grad_norm, config.weight_decay) == (0.001, 1.0, 0.01)
    assert config.dual_clip is None and config.advantage_estimator == "trr++"
    assert RLConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("field,value,message", [
    ("learning_rate", 0.0, "RLConfig.learning_rate must be positive"),
    ("clip_eps_low", 1.0, "RLConfig.clip_eps_low must be in \\[0, 1\\)"),
    ("clip_eps_high", -0.1, "RLConfig.clip_eps_high must be >= 0"),
    ("dual_clip", 1.0, "RLConfig.dual_clip must be > 1"),
    ("entropy_coef", float("nan"), "RLConfig.entropy_coef must be a finite number"),
    ("max_grad_norm", 0.0, "RLConfig.max_grad_norm must be positive or None"),
    ("micro_batch_size", 0, "RLConfig.micro_batch_size must be a positive int or None"),
    ("micro_batch_size", 2.0, "RLConfig.micro_batch_size must be a positive int or None"),
    ("b2", 1.0, "RLConfig.b2 must be in \\[0, 1\\)"),
    ("advantage_estimator", "gae", "RLConfig.advantage_estimator must be one of"),
    ("logprob_chunk_size", 0, "RLConfig.logprob_chunk_size must be a positive int"),
])
def test_invalid_field_is_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        RLConfig(**{field: value})


def test_unknown_field_suggests_close_names():
    with pytest.raises(ValueError, match="unknown RLConfig field 'clip_eps_hi'.*did you mean clip_eps_high"):
        RLConfig().replace(clip_eps_hi=0.28)
    with pytest.raises(ValueError, match="unknown RLConfig field 'kl_coef'"):
        RLConfig.from_dict({"kl_coef": 0.1})


def test_frozen_and_clip_higher():
    config = RLConfig.clip_higher(dual_clip=3.0)
    assert (config.clip_eps_high, config.dual_clip) == (0.28, 3.0)
    with pytest.raises(AttributeError):
        config.learning_rate = 1.0  # type: ignore[misc]


def test_removed_sampling_temperature_names_its_replacement(tiny_model):
    """The log-prob temperature has one source, the sampler's: the RL copy is gone, and saying so beats a
    list of close spellings. The update takes it explicitly and refuses greedy's 0 (its log-probs are at 1)."""
    with pytest.raises(ValueError, match="RLConfig.sampling_temperature was removed: .*generation.temperature"):
        RLConfig.from_dict({"sampling_temperature": 0.7})
    _, graphdef, params = tiny_model
    config = RLConfig()
    with pytest.raises(ValueError, match="temperature of the sampler's log-probs must be a positive number"):
        jit_update_step(graphdef, make_optimizer(config), config, params, temperature=0.0)
