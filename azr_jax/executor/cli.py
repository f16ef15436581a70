"""Command line: JSON in, JSON out.

    python -m azr_jax.executor run --code FILE --call "f(1, 2)"     # one JSON line: status, repr, time_ms
    python -m azr_jax.executor batch < jobs.jsonl                  # one JSON line per job, as jobs finish

Batch lines are objects with "id" and "kind":
    run:      code, call [, checks]
    validate: task, code, input | inputs
    check:    task, code, and: answer, gold_output | input (deduction); answer, gold_output (abduction);
              answer_code, inputs [, gold_outputs] (induction)
`task` is deduction | abduction | induction (or code_o | code_i | code_f). A malformed line becomes an
error result for that line; the batch goes on.
"""

from __future__ import annotations

import argparse
import json
import sys

from azr_jax.executor import jobs as J
from azr_jax.executor.config import ExecutorConfig
from azr_jax.executor.service import ExecutorService


def _strs(obj: dict, name: str) -> tuple:
    value = obj.get(name)
    if not isinstance(value, list) or not all(type(s) is str for s in value):
        raise ValueError(f"{name!r} must be a list of strings")
    return tuple(value)


def job_from_json(obj: object) -> J.Job:
    """Builds a job from one decoded batch line; ValueError/TypeError names what is wrong."""
    if type(obj) is not dict:
        raise ValueError("each line must be a JSON object")
    kind, common = obj.get("kind"), {"id": obj.get("id"), "timeout_s": obj.get("timeout_s")}
    if kind == "run":
        return J.RunJob(obj.get("code"), obj.get("call"), static_checks=bool(obj.get("checks", False)), **common)
    if kind == "validate":
        inputs = _strs(obj, "inputs") if "inputs" in obj else (obj.get("input"),)
        return J.ValidateJob(obj.get("task", ""), obj.get("code"), inputs, **common)
    if kind == "check":
        fields = {k: obj[k] for k in ("answer", "gold_output", "input", "answer_code") if k in obj}
        if "inputs" in obj:
            fields["inputs"] = _strs(obj, "inputs")
        if "gold_outputs" in obj:
            fields["gold_outputs"] = _strs(obj, "gold_outputs")
        return J.CheckJob(obj.get("task", ""), obj.get("code"), **fields, **common)
    raise ValueError(f"unknown kind {kind!r}; expected run, validate or check")


class _BadLine:
    """Stands in for a line that is not a job, so it keeps its place and gets its own error result."""

    def __init__(self, job_id: object, error: Exception) -> None:
        self.id, self.error = job_id, error


def _parse_lines(lines: list) -> list:
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        obj = None
        try:
            obj = json.loads(line)
            out.append(job_from_json(obj))
        except (ValueError, TypeError) as e:
            job_id = obj.get("id") if type(obj) is dict else None
            out.append(_BadLine(job_id, ValueError(f"line {n}: {e}")))
    return out


def _config(args: argparse.Namespace) -> ExecutorConfig:
    values = {"timeout_s": args.timeout, "memory_mb": args.memory_mb, "max_repr_chars": args.max_repr_chars}
    if args.workers:
        values["pool_size"] = args.workers
    return ExecutorConfig(**{k: v for k, v in values.items() if v is not None})


def _emit(result: J.Result) -> None:
    sys.stdout.write(json.dumps(result.to_json()) + "\n")
    sys.stdout.flush()


def _run(args: argparse.Namespace) -> int:
    with open(args.code, encoding="utf-8", errors="surrogateescape") as f:
        code = f.read()
    with ExecutorService(_config(args)) as service:
        [result] = service.run_batch([J.RunJob(code, args.call, static_checks=args.checks)])
    _emit(result)
    return 0 if result.status == J.OK else 1


def _batch(args: argparse.Namespace) -> int:
    items = _parse_lines(sys.stdin.read().splitlines())
    for bad in (i for i in items if type(i) is _BadLine):
        _emit(J.Result(bad.id, J.ERROR, error_type="BadRequest", message=str(bad.error)))
    with ExecutorService(_config(args)) as service:
        for result in service.submit(i for i in items if type(i) is not _BadLine):
            _emit(result)
    return 0


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m azr_jax.executor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, help="pool size (default: the host's cores)")
    parser.add_argument("--timeout", type=float, help="per-job wall-clock limit in seconds")
    parser.add_argument("--memory-mb", type=int, help="per-job address-space limit")
    parser.add_argument("--max-repr-chars", type=int, help="longest repr a result may have")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one program and print one JSON line")
    run.add_argument("--code", required=True, help="file holding the program")
    run.add_argument("--call", required=True, help='expression to evaluate, e.g. "f(1, 2)"')
    run.add_argument("--checks", action="store_true", help="apply the banned-module/name filter first")
    sub.add_parser("batch", help="read JSON job lines on stdin, write JSON result lines")
    args = parser.parse_args(argv)
    return _run(args) if args.command == "run" else _batch(args)
