"""A bad base (missing, corrupted, another architecture, a tokenizer that does not fit) fails in Trainer()
with a message naming the file, before the executor starts or anything is sampled."""

import shutil

import pytest
from flax import nnx

from azr_jax.checkpoint.model_checkpoint import CheckpointError, save_model
from azr_jax.model.config import get_model_config
from azr_jax.model.functional import create_model
from azr_jax.run_config import load_run_config
from azr_jax.tokenizer import TokenizerLoadError
from azr_jax.tokenizer.sp_training import train_sentencepiece
from azr_jax.trainer import Trainer

TEXTS = ["def f(xs):\n    return [x * 2 for x in xs]\n>>> f([1, 2])\n[2, 4]"] * 20


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    tokenizer_dir = train_sentencepiece(TEXTS, tmp_path_factory.mktemp("tok"), 300, exact_vocab_size=False)
    config = get_model_config("tiny-qwen2", vocab_size=320)
    _, state = create_model(config, seed=0)
    path = tmp_path_factory.mktemp("bases") / "base"
    save_model(str(path), config, nnx.to_pure_dict(state), tokenizer_dir=str(tokenizer_dir))
    return path


def _copy(base, tmp_path):
    target = tmp_path / "base"
    shutil.copytree(base, target)
    return target


def _trainer(tmp_path, checkpoint, **overrides):
    values = {"workdir": str(tmp_path / "run"), "model.checkpoint": str(checkpoint), "model.preset": "tiny-qwen2",
              "heldout_eval_per_type": "0", "executor_pool_size": "1", **overrides}
    return Trainer(load_run_config("tiny", values))


def test_a_good_base_loads(base, tmp_path):
    with _trainer(tmp_path, base) as trainer:
        assert trainer.model_config.vocab_size == 320


def test_a_missing_base_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint path does not exist: .*/nowhere"):
        _trainer(tmp_path, tmp_path / "nowhere")


def test_an_unreadable_model_config_is_named(base, tmp_path):
    copy = _copy(base, tmp_path)
    (copy / "model_config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable model_config.json"):
        _trainer(tmp_path, copy)


def test_corrupted_parameters_are_named(base, tmp_path):
    copy = _copy(base, tmp_path)
    for path in (copy / "params").rglob("*"):
        if path.is_file() and path.name != "_CHECKPOINT_METADATA":
            path.write_bytes(b"\0" * 7)
    with pytest.raises(CheckpointError, match="base: cannot restore parameters"):
        _trainer(tmp_path, copy)


def test_a_corrupted_tokenizer_is_named(base, tmp_path):
    copy = _copy(base, tmp_path)
    (copy / "tokenizer" / "tokenizer.model").write_bytes(b"garbage")
    with pytest.raises(TokenizerLoadError, match="tokenizer/tokenizer.model is not a valid SentencePiece model"):
        _trainer(tmp_path, copy)


def test_a_base_of_another_family_is_refused_before_loading(base, tmp_path):
    with pytest.raises(CheckpointError, match=r"base/model_config.json describes a qwen2 model, but the run "
                                              r"expects a llama model"):
        _trainer(tmp_path, base, **{"model.preset": "tiny-llama"})


def test_a_tokenizer_larger_than_the_model_is_refused(base, tmp_path):
    small = get_model_config("tiny-qwen2", vocab_size=128)
    _, state = create_model(small, seed=0)
    path = tmp_path / "small_base"
    save_model(str(path), small, nnx.to_pure_dict(state), tokenizer_dir=str(base / "tokenizer"))
    with pytest.raises(ValueError, match=r"tokenizer .*small_base/tokenizer.* has \d+ tokens but the model "
                                         r".*small_base only 128"):
        _trainer(tmp_path, path)
