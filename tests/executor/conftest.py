"""Executor test fixtures: one shared service with short deadlines, and process accounting helpers."""

import os

import pytest

from azr_jax.executor import ExecutorConfig, ExecutorService

TEST_CONFIG = ExecutorConfig(pool_size=2, timeout_s=1.0, memory_mb=256, tmp_mb=16, worker_grace_s=15.0)


def pytest_configure(config):
    config.addinivalue_line("markers", "gate: runs with constant_calls' interning gate as the interpreter sets it")


@pytest.fixture(scope="session")
def service():
    with ExecutorService(TEST_CONFIG) as svc:
        yield svc


def descendants(pid: int) -> set:
    """Every live process below `pid`, from /proc (no psutil needed)."""
    children: dict = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), set()).add(int(entry))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            out.add(child)
            todo.append(child)
    return out


def processes_of_uids(uids: range) -> set:
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid in uids:
                    out.add(int(entry))
            except OSError:
                pass
    return out
