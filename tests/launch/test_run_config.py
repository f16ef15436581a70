"""Named run configs, dotted overrides and their error messages; tpu_run's command line."""

import os
import subprocess
import sys

import pytest

from azr_jax.config_overrides import ConfigError
from azr_jax.model.config import get_model_config
from azr_jax.run_config import available_configs, load_run_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_named_config_loads_and_follows_the_reference_run():
    assert set(available_configs()) >= {"tiny", "azr_3b", "azr_7b", "azr_coder_7b", "azr_14b", "llama31_8b"}
    for name in available_configs():
        config = load_run_config(name)
        get_model_config(config.model.preset)  # the preset exists
        if name != "tiny":
            assert config.azr.batch_size == 64 and config.azr.learnability_rollouts == 8
            assert config.rl.learning_rate == 1e-6 and config.steps == 500 and config.checkpoint_every == 10
            # The reference's 3 optimizer steps a step: 384 sequences in mini-batches of 128.
            assert config.rl.mini_batch_size == 128
            assert config.generation.max_prompt_tokens == 6144 and config.generation.max_response_tokens == 8096
            # float32 master weights, bfloat16 compute, blockwise attention (docs/tpu_figures.md).
            assert (config.model.param_dtype, config.model.compute_dtype) == ("float32", "bfloat16")
            assert config.model.attention_impl == "blockwise"


def test_overrides_parse_by_field_type():
    config = load_run_config("tiny", {"rl.learning_rate": "3e-6", "steps": "7", "model.scan_layers": "false",
                                      "azr.rewards.proposer_edge_reward": "-0.5", "rl.dual_clip": "3.0"})
    assert config.rl.learning_rate == 3e-6 and config.steps == 7 and config.model.scan_layers is False
    assert config.azr.rewards.proposer_edge_reward == -0.5 and config.rl.dual_clip == 3.0


@pytest.mark.parametrize("name,overrides,message", [
    ("azr_7bb", {}, "unknown config name 'azr_7bb'; did you mean 'azr_7b'"),
    ("tiny", {"rl.learning_rat": "1"}, "unknown config key in config.rl 'learning_rat'; did you mean 'learning_rate'"),
    ("tiny", {"stepz": "1"}, "did you mean 'steps'"),
    ("tiny", {"rl": "1"}, "config.rl is a section"),
    ("tiny", {"steps": "many"}, "config.steps: expected int"),
    ("tiny", {"steps": "0"}, "RunConfig.steps must be >= 1"),
    ("tiny", {"rl.clip_eps_low": "1.5"}, "clip_eps_low"),
    # One source for the log-prob temperature: the sampler's. The removed RL copy says where it went.
    ("tiny", {"rl.sampling_temperature": "0.7"},
     "config key rl.sampling_temperature was removed: the update's log-probs are at the sampler's temperature, "
     "generation.temperature"),
    ("tiny", {"rl.mini_batch_size": "5", "azr.batch_size": "4"},
     "config key rl.mini_batch_size=5 must divide the 24 sequences of a step (6 task x role groups x "
     "azr.batch_size=4)"),
    ("configs/nowhere.py", {}, "config file not found"),
])
def test_bad_names_and_keys_fail_with_their_names(name, overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_run_config(name, overrides)


def test_mini_batch_is_checked_after_every_override():
    # 6 x 32 = 192 sequences: mini-batches of 128 would not divide them, the 64 set next do.
    config = load_run_config("azr_7b", {"azr.batch_size": "32", "rl.mini_batch_size": "64"})
    assert (config.azr.batch_size, config.rl.mini_batch_size, config.rl.micro_batch_size) == (32, 64, 32)


def test_tpu_run_reports_unknown_key_before_doing_any_work(tmp_path):
    out = subprocess.run([sys.executable, os.path.join(REPO, "launch/tpu_run.py"), "--config=tiny",
                          f"--workdir={tmp_path}", "--config.rl.learning_rat=1e-6"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "did you mean 'learning_rate'" in out.stderr
    assert not (tmp_path / "checkpoints").exists()


def test_none_clears_an_optional_field_that_holds_a_value():
    config = load_run_config("tiny", {"model.checkpoint": "none", "model.tokenizer": "none"})
    assert config.model.checkpoint is None and config.model.tokenizer is None
    with pytest.raises(ConfigError, match="expected int"):
        load_run_config("tiny", {"steps": "none"})
