"""Sandboxed code executor for Absolute Zero: fast, isolated, and impossible to fool.

Pure Python, no JAX. The trainer talks to an `ExecutorService`, which owns a pool of worker
interpreters (started with subprocess, never forked from the trainer); each worker forks one sandboxed
child per job (sandbox.py lists the mechanisms) and sends back plain data only (codec.py).

    from azr_jax.executor import ExecutorConfig, ExecutorService, RunJob, ValidateJob, CheckJob

    with ExecutorService(ExecutorConfig(pool_size=4, timeout_s=5.0)) as ex:
        for result in ex.submit(jobs):          # Results as jobs finish (any order; match on .id)
            ...
        results = ex.run_batch(jobs)            # Results in the order of jobs

Jobs (jobs.py):
    RunJob(code, call, id=None, static_checks=False, timeout_s=None)          -> Result.repr
    ValidateJob(task, code, inputs, id=None, timeout_s=None)                  -> Result.output / .outputs
    CheckJob(task, code, answer="", gold_output="", input="", answer_code="",
             inputs=(), gold_outputs=None, id=None, timeout_s=None)           -> Result.correct
`task` is "deduction" | "abduction" | "induction" (or code_o | code_i | code_f). Result.status is one
of jobs.STATUSES: ok, error (with error_type), timeout, memory, output_limit, banned, syntax,
nondeterministic, unrepresentable. A check's `correct` is True only with status ok.

Equality of answers follows `ExecutorConfig.equality` (EqualityRules: float tolerance, NaN, -0.0,
bool vs int, int vs float, tuple vs list, set vs frozenset). Command line: `python -m azr_jax.executor`.
"""

from azr_jax.executor.config import EqualityRules, ExecutorConfig
from azr_jax.executor.jobs import STATUSES, CheckJob, Result, RunJob, ValidateJob
from azr_jax.executor.service import ExecutorService

__all__ = ["CheckJob", "EqualityRules", "ExecutorConfig", "ExecutorService", "Result", "RunJob", "STATUSES",
           "ValidateJob"]
