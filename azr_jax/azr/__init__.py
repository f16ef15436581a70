"""Absolute Zero's text side: task types, prompts, parsing, buffers, rewards, and grounding in the executor.

Speaks text and token ids only; no JAX, no mesh. Modules:
    config     AZRConfig / RewardConfig: every paper-vs-reference choice as a field
    tasks      TaskType, Triplet, InductionTask, Proposal; normal form for deduplication
    prompts    proposer_prompt / solver_prompt in the R1 `<think>`/`<answer>` format
    parsing    parse_proposal / parse_solution: bounded, never raising, on any text or bytes
    buffers    TaskBuffer / TaskBuffers: dedup, cap (keep newest), seeded sampling, JSON round trip
    rewards    learnability (proposer) and correctness/format (solver) rewards
    grounding  the executor adapter: validate_proposals, check_answers
"""

from azr_jax.azr.buffers import TaskBuffer, TaskBuffers
from azr_jax.azr.config import AZRConfig, RewardConfig
from azr_jax.azr.grounding import (CheckOutcome, ValidationOutcome, check_answers, check_answers_detailed,
                                   executor_config, proposal_from_parse, validate_proposals)
from azr_jax.azr.parsing import ParseOptions, ParseResult, parse_proposal, parse_solution
from azr_jax.azr.prompts import proposer_prompt, solver_prompt
from azr_jax.azr.rewards import learnability, proposer_reward, solve_rate, solver_reward
from azr_jax.azr.tasks import InductionTask, Proposal, TaskType, Triplet, identity_triplet

__all__ = [
    "AZRConfig", "CheckOutcome", "InductionTask", "ParseOptions", "ParseResult", "Proposal", "RewardConfig",
    "TaskBuffer", "TaskBuffers", "TaskType", "Triplet", "ValidationOutcome", "check_answers",
    "check_answers_detailed", "executor_config", "identity_triplet", "learnability", "parse_proposal",
    "parse_solution", "proposal_from_parse", "proposer_prompt", "proposer_reward", "solve_rate", "solver_prompt",
    "solver_reward", "validate_proposals",
]
