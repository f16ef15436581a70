"""Executor settings: one frozen, validated dataclass for the service and one for answer equality."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field

# AZR_SPEC: random, time, datetime, os, sys, shutil, subprocess, threading, multiprocessing, socket,
# logging, hashlib, calendar; the rest reach the same powers by another door (importlib reloads os,
# ctypes writes memory, gc finds any object, pickle/marshal build code, inspect/signal reach frames).
DEFAULT_BANNED_MODULES = frozenset({
    "random", "time", "datetime", "os", "sys", "shutil", "subprocess", "threading", "multiprocessing",
    "socket", "logging", "hashlib", "calendar",
    "builtins", "importlib", "ctypes", "gc", "inspect", "signal", "pickle", "marshal", "io", "pathlib",
    "tempfile", "glob", "fcntl", "mmap", "resource", "pty", "code", "codeop", "runpy", "_thread",
    "_posixsubprocess", "posix", "pwd", "grp", "select", "selectors", "asyncio", "concurrent", "urllib",
    "http", "ftplib", "smtplib", "ssl", "uuid", "secrets", "webbrowser", "zoneinfo", "faulthandler",
    "tracemalloc", "sysconfig", "platform", "atexit", "weakref", "types", "_ctypes", "zipimport",
    "site", "shelve", "dbm", "sqlite3", "fileinput", "linecache", "traceback", "pdb",
})
# I/O builtins and the builtins that turn a string into code or reach objects by name.
DEFAULT_BANNED_NAMES = frozenset({
    "open", "input", "exec", "eval", "compile", "__import__", "breakpoint", "globals",
    "locals", "vars", "getattr", "setattr", "delattr", "exit", "quit", "help", "memoryview",
    "__builtins__", "__loader__", "__spec__", "copyright", "credits", "license",
})
# Attributes that lead from any object to classes, frames, globals or code.
DEFAULT_BANNED_ATTRIBUTES = frozenset({
    "__class__", "__bases__", "__base__", "__mro__", "mro", "__subclasses__", "__globals__",
    "__builtins__", "__code__", "__closure__", "__dict__", "__getattribute__", "__import__", "__loader__",
    "__spec__", "__reduce__", "__reduce_ex__", "__func__", "__self__", "__module__", "__traceback__",
    "__subclasshook__", "__init_subclass__", "__set_name__", "__getattr__", "__setattr__", "__delattr__",
    "__class_getitem__", "__del__", "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code",
    "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "tb_frame", "tb_next", "co_code",
    "__objclass__", "__wrapped__",
})
# Imported once in every worker, so jobs find them in sys.modules instead of reading the disk.
# Left out on purpose: modules that register at-fork hooks, directly or through their imports (threading,
# logging, random, and queue, statistics, subprocess, multiprocessing which import them). Python runs
# those hooks in every forked child, and their writes to the worker's pages cost COW faults: on a 2-vCPU
# VM they tripled the CPU of a fork (0.7 -> 2.0 ms per job). A job that imports one pays for the import.
# Left out too: modules banned by default (time, datetime, calendar, hashlib, socket, shutil), which checked
# jobs cannot import; every module a worker holds makes each fork copy more (hashlib maps libcrypto).
DEFAULT_PREIMPORT = (
    "abc", "array", "ast", "bisect", "collections", "collections.abc", "copy", "dataclasses", "decimal",
    "enum", "fractions", "functools", "heapq", "itertools", "json", "math", "numbers", "operator", "re",
    "string", "textwrap", "typing", "unicodedata", "cmath", "struct", "difflib", "pprint",
    "graphlib", "contextlib", "base64", "binascii", "zlib",
)


def usable_cpus() -> int:
    """The host's cores this process may run on: a container or `taskset` limits them (os.cpu_count does not
    see that; workers are pinned to these CPUs, config.pin_workers)."""
    return len(os.sched_getaffinity(0)) or 1


@dataclass(frozen=True)
class EqualityRules:
    """How two plain values compare when an answer is checked (see equality.py)."""

    float_rel_tol: float = 1e-9  # 0.1 + 0.2 vs 0.3: a model cannot be asked to know the last ulp
    float_abs_tol: float = 0.0
    nan_equals_nan: bool = True  # a NaN gold answered with NaN is right, whatever IEEE says
    signed_zero_equal: bool = True  # -0.0 == 0.0 as in Python
    bool_int_equal: bool = False  # True is not an acceptable answer for 1
    int_float_equal: bool = False  # 1 is not an acceptable answer for 1.0: the output's type is part of it
    tuple_list_equal: bool = False  # (1, 2) vs [1, 2] differ, as in Python
    set_frozenset_equal: bool = True  # as in Python

    def __post_init__(self) -> None:
        for name in ("float_rel_tol", "float_abs_tol"):
            v = getattr(self, name)
            if type(v) not in (int, float) or not math.isfinite(v) or v < 0:
                raise ValueError(f"EqualityRules.{name} must be a finite number >= 0, got {v!r}")


@dataclass(frozen=True)
class ExecutorConfig:
    """Everything the executor service and its workers need; validated when built."""

    pool_size: int = field(default_factory=usable_cpus)
    timeout_s: float = 5.0  # paper: 10 s; AZR programs finish in milliseconds
    memory_mb: int = 512  # address space per job; pool_size * memory_mb must fit the host
    max_output_bytes: int = 64 * 1024  # stdout and stderr, each
    max_repr_chars: int = 400  # reference implementation's output cap
    max_code_chars: int = 20_000
    max_answer_chars: int = 4_096  # checked before any parsing
    max_result_bytes: int = 1024 * 1024  # encoded return value of a job
    max_file_mb: int = 16  # RLIMIT_FSIZE
    tmp_mb: int = 64  # size of a worker's private tmpfs (when the host lets us mount one)
    max_open_files: int = 64
    determinism_runs: int = 2
    # Programs each worker keeps compiled for later jobs with the same code (AZR runs a task's program on
    # many inputs and answers). Compiled and checked in a sandboxed child like any other, before any of the
    # program ran; later children load it instead of parsing it again. 0 turns the cache off.
    compile_cache: int = 256
    banned_modules: frozenset = DEFAULT_BANNED_MODULES
    banned_names: frozenset = DEFAULT_BANNED_NAMES
    banned_attributes: frozenset = DEFAULT_BANNED_ATTRIBUTES
    preimport: tuple = DEFAULT_PREIMPORT
    equality: EqualityRules = EqualityRules()
    # Root hosts only: each service claims a block of uids (uid_blocks.py) and worker i runs its jobs as
    # uid/gid first + i. 0x70000000 starts a range systemd documents as unused (below it: DynamicUser
    # 61184-65519, subuid ranges from 100000, nspawn containers from 524288).
    sandbox_uid_base: int = 0x70000000
    uid_block_size: int = 256  # uids per service: the most workers one service can have
    uid_blocks: int = 1024  # services that can run at once on a host
    uid_lock_dir: str = "/run/azr_jax_executor"  # root-owned, 0700: who can delete a lock file can share uids
    worker_grace_s: float = 5.0  # a worker silent this long past a job's deadline is killed
    # Each worker, and so each of its jobs' children, runs on one CPU of the service's own set (round robin).
    # Unpinned, the kernel places a forked child on another CPU than its waiting worker, and the two halves of
    # a job keep migrating: on 2 cores, 2 workers ran 1,020-1,120 jobs/s unpinned, 1,280-1,310 pinned (also
    # better with one or two CPU hogs beside them; docs/executor_figures.md, fifth pass).
    pin_workers: bool = True

    def __post_init__(self) -> None:
        positive = ("pool_size", "timeout_s", "memory_mb", "max_output_bytes", "max_repr_chars",
                    "max_code_chars", "max_answer_chars", "max_result_bytes", "max_file_mb", "tmp_mb",
                    "max_open_files", "determinism_runs", "worker_grace_s")
        for name in positive:
            v = getattr(self, name)
            if type(v) not in (int, float) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"ExecutorConfig.{name} must be a positive number, got {v!r}")
        if self.memory_mb < 64:
            raise ValueError("ExecutorConfig.memory_mb must be >= 64: the forked interpreter alone needs ~40 MB")
        if self.max_open_files < 8:
            raise ValueError("ExecutorConfig.max_open_files must be >= 8")
        if type(self.compile_cache) is not int or self.compile_cache < 0:
            raise ValueError(f"ExecutorConfig.compile_cache must be an int >= 0, got {self.compile_cache!r}")
        for name in ("banned_modules", "banned_names", "banned_attributes"):
            v = getattr(self, name)
            if not isinstance(v, frozenset) or not all(type(s) is str for s in v):
                raise ValueError(f"ExecutorConfig.{name} must be a frozenset of str")
        if type(self.pin_workers) is not bool:
            raise ValueError(f"ExecutorConfig.pin_workers must be a bool, got {self.pin_workers!r}")
        if not isinstance(self.equality, EqualityRules):
            raise ValueError("ExecutorConfig.equality must be an EqualityRules")
        for name in ("sandbox_uid_base", "uid_block_size", "uid_blocks"):
            if type(getattr(self, name)) is not int or getattr(self, name) <= 0:
                raise ValueError(f"ExecutorConfig.{name} must be a positive int")
        if self.sandbox_uid_base + self.uid_blocks * self.uid_block_size > 2**31 - 1:
            raise ValueError("ExecutorConfig: sandbox uids must stay below 2**31 (larger ones are signed -1 somewhere)")
        if max(self.pool_size, 2) > self.uid_block_size:  # a service has at least 2 workers when checking determinism
            raise ValueError(f"ExecutorConfig.uid_block_size ({self.uid_block_size}) is below the pool size: each "
                             "worker needs a uid of its own")
        if not isinstance(self.uid_lock_dir, str) or not os.path.isabs(self.uid_lock_dir):
            raise ValueError("ExecutorConfig.uid_lock_dir must be an absolute path")

    @classmethod
    def from_dict(cls, values: dict) -> "ExecutorConfig":
        """Builds a config from plain data (e.g. YAML); unknown keys fail with their names."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown ExecutorConfig field(s): {', '.join(unknown)}")
        values = dict(values)
        if "equality" in values and isinstance(values["equality"], dict):
            values["equality"] = EqualityRules(**values["equality"])
        for name in ("banned_modules", "banned_names", "banned_attributes"):
            if name in values:
                values[name] = frozenset(values[name])
        if "preimport" in values:
            values["preimport"] = tuple(values["preimport"])
        return cls(**values)
