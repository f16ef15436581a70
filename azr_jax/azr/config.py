"""Every choice of the AZR algorithm as a typed, frozen, validated field.

Defaults follow the paper (AZR_SPEC.md). Where the authors' reference code does something else, the field
says so and `AZRConfig.reference_compat()` builds a config that follows the code instead, so a run can
reproduce either. A bad value fails when the config is built, with the field's name in the message.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

# AZR_SPEC "Task validation" 2: the modules the paper bans. The executor's own filter (executor/config.py)
# blocks these and every module that reaches the same powers by another door; this list is what the
# proposer prompt names, and it is added to the executor's list (grounding.executor_config).
PAPER_BANNED_MODULES = (
    "random", "time", "datetime", "os", "sys", "shutil", "subprocess", "threading", "multiprocessing",
    "socket", "logging", "hashlib", "calendar",
)
# The reference code's `banned_words` (azr_ppo_trainer.yaml). It only rejects *imports* whose dotted path
# has one of these as a component, so `import os` passes and dotted entries never match anything.
REFERENCE_BANNED_WORDS = (
    "logging", "random", "multiprocessing", "pebble", "subprocess", "threading", "datetime", "time",
    "hashlib", "hmac", "bcrypt", "os.sys", "os.path", "sys.exit", "os.environ", "calendar",
)

CAP_POLICIES = ("newest", "oldest")  # which tasks a full buffer keeps
SHORT_BATCH_POLICIES = ("replace", "fewer")  # solver batch when the buffer holds fewer tasks than asked
BANNED_CHECKS = ("ast", "imports")  # executor's full AST filter, or the reference's import-names-only check
INDUCTION_COUNT_POLICIES = ("exact", "last")  # induction proposals with more inputs than asked


def _fail(cls: str, name: str, why: str, value: object) -> None:
    raise ValueError(f"{cls}.{name} {why}, got {value!r}")


def _check_number(cls: str, obj: object, name: str, *, lo: float | None = None, positive: bool = False,
                  integer: bool = False) -> None:
    v = getattr(obj, name)
    if integer:
        if type(v) is not int:
            _fail(cls, name, "must be an int", v)
    elif type(v) not in (int, float) or not math.isfinite(v):
        _fail(cls, name, "must be a finite number", v)
    if positive and v <= 0:
        _fail(cls, name, "must be > 0", v)
    if lo is not None and v < lo:
        _fail(cls, name, f"must be >= {lo}", v)


def _check_choice(cls: str, obj: object, name: str, choices: tuple) -> None:
    v = getattr(obj, name)
    if v not in choices:
        _fail(cls, name, f"must be one of {choices}", v)


@dataclass(frozen=True)
class RewardConfig:
    """Scalar rewards placed on the last response token (AZR_SPEC "Rewards")."""

    # proposer, learnability from n solver rollouts with solve rate s: 1 - s when 0 < s < 1, else this.
    proposer_edge_reward: float = 0.0  # paper 0; reference code -0.5
    proposer_invalid_reward: float = -1.0  # well-formed proposal the executor rejects
    proposer_bad_format_reward: float = -1.0  # completion that does not parse
    solver_correct_reward: float = 1.0
    solver_wrong_reward: float = -0.5  # well-formed answer that is wrong (paper: 0 + format term)
    solver_bad_format_reward: float = -1.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_number("RewardConfig", self, f.name)
        if self.solver_correct_reward <= self.solver_wrong_reward:
            _fail("RewardConfig", "solver_correct_reward", "must exceed solver_wrong_reward",
                  self.solver_correct_reward)


@dataclass(frozen=True)
class AZRConfig:
    """The text-side AZR settings: task shapes, buffers, validation limits, parsing limits, rewards."""

    # --- tasks and prompts
    num_references: int = 6  # K reference triplets in a deduction/abduction proposer prompt
    induction_num_inputs: int = 10  # inputs an induction proposer writes; the first half is shown
    induction_count_policy: str = "exact"  # reference: "last" (takes the last N of more than N inputs)
    learnability_rollouts: int = 8  # n solver rollouts that estimate a new task's solve rate
    banned_modules: tuple = PAPER_BANNED_MODULES  # named in the proposer prompt and banned by the executor
    banned_check: str = "ast"  # reference: "imports" (only import statements are checked)
    # False: the solver-only ablation: no proposer rollouts (nothing is proposed or trained as a proposer),
    # the solver trains on the buffers as seeded
    propose: bool = True
    # --- buffers
    seed_size: int = 256  # each buffer is filled to this many tasks before training starts
    buffer_cap: int = 16_384  # tasks per buffer
    buffer_cap_policy: str = "newest"  # reference: "oldest" (a full buffer stops growing)
    batch_size: int = 64  # sequences per task type x role per step
    short_batch_policy: str = "replace"  # too few tasks: sample with replacement, or return "fewer"
    # --- validation (executor)
    timeout_s: float = 5.0  # per run; paper and reference: 10 s
    memory_mb: int = 512
    determinism_runs: int = 2  # j in the paper: runs under different hash seeds that must agree
    max_output_chars: int = 400  # a longer output repr makes a task invalid (reference truncates it)
    max_program_chars: int = 20_000
    max_input_chars: int = 4_096  # one proposed input or one solver answer
    # --- parsing
    max_completion_chars: int = 1 << 20  # longer completions are bad format without being scanned
    max_answer_chars: int = 64 * 1024  # text inside <answer>...</answer>
    solver_bare_answer: bool = False  # reference: True (an answer without its fenced block is accepted)
    rewards: RewardConfig = field(default_factory=RewardConfig)

    def __post_init__(self) -> None:
        name = "AZRConfig"
        for n in ("num_references", "induction_num_inputs", "learnability_rollouts", "seed_size", "buffer_cap",
                  "batch_size", "memory_mb", "determinism_runs", "max_output_chars", "max_program_chars",
                  "max_input_chars", "max_completion_chars", "max_answer_chars"):
            _check_number(name, self, n, integer=True, positive=True)
        _check_number(name, self, "timeout_s", positive=True)
        if self.induction_num_inputs < 2:
            _fail(name, "induction_num_inputs", "must be >= 2 (half the inputs are shown, half hidden)",
                  self.induction_num_inputs)
        if self.seed_size > self.buffer_cap:
            _fail(name, "seed_size", f"must not exceed buffer_cap ({self.buffer_cap})", self.seed_size)
        if self.max_answer_chars > self.max_completion_chars:
            _fail(name, "max_answer_chars", "must not exceed max_completion_chars", self.max_answer_chars)
        _check_choice(name, self, "induction_count_policy", INDUCTION_COUNT_POLICIES)
        _check_choice(name, self, "banned_check", BANNED_CHECKS)
        _check_choice(name, self, "buffer_cap_policy", CAP_POLICIES)
        _check_choice(name, self, "short_batch_policy", SHORT_BATCH_POLICIES)
        if type(self.banned_modules) is not tuple or not all(type(m) is str and m for m in self.banned_modules):
            _fail(name, "banned_modules", "must be a tuple of non-empty str", self.banned_modules)
        for flag in ("solver_bare_answer", "propose"):
            if type(getattr(self, flag)) is not bool:
                _fail(name, flag, "must be a bool", getattr(self, flag))
        if not isinstance(self.rewards, RewardConfig):
            _fail(name, "rewards", "must be a RewardConfig", self.rewards)

    @classmethod
    def reference_compat(cls, **overrides) -> "AZRConfig":
        """The choices the reference implementation's code makes where it differs from the paper."""
        values = dict(
            induction_count_policy="last",
            banned_modules=REFERENCE_BANNED_WORDS,
            banned_check="imports",
            buffer_cap_policy="oldest",
            timeout_s=10.0,
            solver_bare_answer=True,
            rewards=RewardConfig(proposer_edge_reward=-0.5),
        )
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_dict(cls, values: dict) -> "AZRConfig":
        """Builds a config from plain data (e.g. a config file); unknown keys fail with their names."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown AZRConfig field(s): {', '.join(unknown)}")
        values = dict(values)
        if isinstance(values.get("rewards"), dict):
            reward_known = {f.name for f in dataclasses.fields(RewardConfig)}
            bad = sorted(set(values["rewards"]) - reward_known)
            if bad:
                raise ValueError(f"unknown RewardConfig field(s): {', '.join(bad)}")
            values["rewards"] = RewardConfig(**values["rewards"])
        if isinstance(values.get("banned_modules"), list):
            values["banned_modules"] = tuple(values["banned_modules"])
        return cls(**values)

    def to_dict(self) -> dict:
        """Plain data; `from_dict(to_dict())` rebuilds an equal config."""
        out = dataclasses.asdict(self)
        out["banned_modules"] = list(self.banned_modules)
        return out

    @property
    def induction_visible(self) -> int:
        """How many (input, output) pairs of an induction task the solver sees; the rest are hidden."""
        return self.induction_num_inputs // 2
