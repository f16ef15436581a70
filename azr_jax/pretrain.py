"""Next-token pretraining of a base model on packed documents: the loss, the jitted step, the loop.

Used by launch/pretrain_base.py to make the tiny zero-data base. The loss is the token mean of
cross-entropy over every position whose next token belongs to the same document; the loop evaluates the
validation loss every `eval_every` steps, keeps the parameters of the best evaluation, and stops once it
has not improved by `min_delta` for `patience` evaluations (or at `max_steps` / `max_minutes`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from azr_jax.data.packing import PackedRows
from azr_jax.model.functional import apply


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    batch_tokens: int = 8192  # per optimizer step: rows of a pool = batch_tokens // its row length
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.1
    max_grad_norm: float = 1.0
    max_steps: int = 4000
    max_minutes: float = 60.0
    eval_every: int = 100
    patience: int = 4  # evaluations without improvement before stopping
    min_delta: float = 0.002  # nats: a smaller drop of the validation loss is not an improvement
    seed: int = 0

    def __post_init__(self):
        for name in ("batch_tokens", "max_steps", "eval_every", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"PretrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.learning_rate > 0 or not self.max_minutes > 0:
            raise ValueError("PretrainConfig.learning_rate and max_minutes must be positive")


@dataclasses.dataclass
class Curve:
    """The validation curve (and the training loss beside it), as plotted and written to JSON."""

    steps: list[int] = dataclasses.field(default_factory=list)
    train_loss: list[float] = dataclasses.field(default_factory=list)
    val_loss: list[float] = dataclasses.field(default_factory=list)
    seconds: list[float] = dataclasses.field(default_factory=list)
    best_step: int = 0
    stopped_because: str = ""


def segment_mask(segments_bt: jnp.ndarray) -> jnp.ndarray:
    """[B, T, T]: query t sees key s when s <= t and both lie in the same (real) document."""
    t = segments_bt.shape[1]
    causal_tt = jnp.tril(jnp.ones((t, t), dtype=bool))
    same_bts = segments_bt[:, :, None] == segments_bt[:, None, :]
    return same_bts & causal_tt[None] & (segments_bt[:, :, None] > 0)


def loss_sum_and_count(graphdef, state, tokens_bt, segments_bt, positions_bt):
    """(sum of next-token cross-entropy, number of predicted tokens) over the documents of the rows."""
    logits_btv, _ = apply(graphdef, state, tokens_bt, positions_bt, segment_mask(segments_bt))
    logprobs_btv = jax.nn.log_softmax(logits_btv[:, :-1].astype(jnp.float32), axis=-1)
    target_bt = tokens_bt[:, 1:]
    nll_bt = -jnp.take_along_axis(logprobs_btv, target_bt[..., None], axis=-1)[..., 0]
    # A position predicts a real next token only when that token is in the same document.
    valid_bt = (segments_bt[:, 1:] == segments_bt[:, :-1]) & (segments_bt[:, 1:] > 0)
    return jnp.sum(nll_bt * valid_bt), jnp.sum(valid_bt)


def make_optimizer(config: PretrainConfig) -> optax.GradientTransformation:
    schedule = optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, config.warmup_steps,
                                                  max(config.max_steps, config.warmup_steps + 1),
                                                  end_value=config.learning_rate / 10)
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm),
                       optax.adamw(schedule, b1=0.9, b2=0.95, weight_decay=config.weight_decay))


def make_steps(graphdef: nnx.GraphDef, optimizer: optax.GradientTransformation):
    """(train_step, eval_step), jitted; train_step donates the parameters and optimizer state."""

    def mean_loss(state, tokens_bt, segments_bt, positions_bt):
        total, count = loss_sum_and_count(graphdef, state, tokens_bt, segments_bt, positions_bt)
        return total / jnp.maximum(count, 1)

    @jax.jit
    def eval_step(state, tokens_bt, segments_bt, positions_bt):
        return loss_sum_and_count(graphdef, state, tokens_bt, segments_bt, positions_bt)

    def train_step(state, opt_state, tokens_bt, segments_bt, positions_bt):
        loss, grads = jax.value_and_grad(mean_loss)(state, tokens_bt, segments_bt, positions_bt)
        updates, opt_state = optimizer.update(grads, opt_state, state)
        return optax.apply_updates(state, updates), opt_state, loss

    return jax.jit(train_step, donate_argnums=(0, 1)), eval_step


def _host_copy(state: nnx.State) -> nnx.State:
    # A copy, not a view: the training step donates (reuses) the device buffers of `state`.
    return jax.tree.map(np.array, state)


def batch_rows(config: PretrainConfig, pool: PackedRows) -> int:
    return max(1, config.batch_tokens // pool.tokens_bt.shape[1])


def _rows(packed: PackedRows, index: np.ndarray):
    return packed.tokens_bt[index], packed.segments_bt[index], packed.positions_bt[index]


def validation_loss(eval_step, state, pools: Sequence[PackedRows], config: PretrainConfig) -> float:
    """Token-mean loss over every row of every pool (a short last batch is padded with empty rows)."""
    total = count = 0.0
    for pool in pools:
        rows = batch_rows(config, pool)
        for start in range(0, pool.num_rows, rows):
            index = np.arange(start, start + rows) % pool.num_rows
            tokens_bt, segments_bt, positions_bt = _rows(pool, index)
            segments_bt = np.where((np.arange(start, start + rows) < pool.num_rows)[:, None], segments_bt, 0)
            s, c = eval_step(state, tokens_bt, segments_bt, positions_bt)
            total, count = total + float(s), count + float(c)
    return total / max(count, 1.0)


class _BatchStream:
    """Batches drawn from the pools in proportion to the tokens each holds; every pool is reshuffled when
    it runs out, so over an epoch each row is seen once."""

    def __init__(self, pools: Sequence[PackedRows], config: PretrainConfig):
        self.pools, self.config = list(pools), config
        self.rng = np.random.default_rng(config.seed)
        tokens = np.array([float((p.segments_bt > 0).sum()) for p in self.pools])
        self.weights = tokens / tokens.sum()
        self.orders = [self.rng.permutation(p.num_rows) for p in self.pools]
        self.cursors = [0] * len(self.pools)

    def next(self):
        k = int(self.rng.choice(len(self.pools), p=self.weights))
        rows = batch_rows(self.config, self.pools[k])
        if self.cursors[k] + rows > len(self.orders[k]):
            self.orders[k], self.cursors[k] = self.rng.permutation(self.pools[k].num_rows), 0
        index = self.orders[k][self.cursors[k]:self.cursors[k] + rows]
        self.cursors[k] += rows
        return _rows(self.pools[k], index)


def pretrain(graphdef: nnx.GraphDef, state: nnx.State, train: Sequence[PackedRows], val: Sequence[PackedRows],
             config: PretrainConfig, log: Callable[[str], None] = print) -> tuple[nnx.State, Curve]:
    """Trains until the validation loss stops improving; returns the best parameters and the curve."""
    if not train or not val:
        raise ValueError("pretrain needs at least one pool of training rows and one of validation rows")
    optimizer = make_optimizer(config)
    opt_state = optimizer.init(state)
    train_step, eval_step = make_steps(graphdef, optimizer)
    stream = _BatchStream(train, config)
    curve, recent = Curve(), []
    best_loss, best_state, since_best = math.inf, _host_copy(state), 0
    start = time.perf_counter()
    for step in range(1, config.max_steps + 1):
        state, opt_state, loss = train_step(state, opt_state, *stream.next())
        recent.append(loss)
        minutes = (time.perf_counter() - start) / 60
        if step % config.eval_every and step != config.max_steps and minutes < config.max_minutes:
            continue
        val_loss = validation_loss(eval_step, state, val, config)
        train_loss = float(np.mean([float(x) for x in recent]))
        recent = []
        curve.steps.append(step)
        curve.train_loss.append(train_loss)
        curve.val_loss.append(val_loss)
        curve.seconds.append(time.perf_counter() - start)
        improved = val_loss < best_loss - config.min_delta
        if val_loss < best_loss:
            best_loss, best_state, curve.best_step = val_loss, _host_copy(state), step
        since_best = 0 if improved else since_best + 1
        log(f"pretrain step {step}: train loss {train_loss:.4f}, val loss {val_loss:.4f} "
            f"(best {best_loss:.4f} at step {curve.best_step}), {minutes:.1f} min")
        if since_best >= config.patience:
            curve.stopped_because = f"no val improvement > {config.min_delta} in {config.patience} evaluations"
            break
        if minutes >= config.max_minutes:
            curve.stopped_because = f"time budget of {config.max_minutes} min"
            break
    else:
        curve.stopped_because = f"max_steps={config.max_steps}"
    return jax.tree.map(jnp.asarray, best_state), curve
