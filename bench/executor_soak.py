"""Executor soak: many jobs through one service, watching memory, descriptors and processes for growth.

    python bench/executor_soak.py --jobs 100000          # samples every 5,000 jobs; kills one worker mid-job

Jobs are the benchmark's AZR-style programs run as RunJobs, with validations (two runs each, in two
interpreters), deduction checks, and a few errors, memory blow-ups and timeouts mixed in, so that every
path through the service and the workers is exercised. Samples are taken between chunks, when no job is
in flight, so the process count is exact: the service's own workers and nothing else.
Reported: RSS of the service process plus all its workers, open descriptors (service + workers), processes
below the service, live Python allocations in the service process, each as first / last / max and a least-squares slope per 10,000 jobs over the samples
after the first (warm-up: first-touch of caches, the pymalloc arenas of the first chunk).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from executor import programs  # noqa: E402  (bench/executor.py)

from azr_jax.executor import CheckJob, ExecutorConfig, ExecutorService, RunJob, ValidateJob  # noqa: E402
from azr_jax.executor.config import usable_cpus  # noqa: E402

_ODD = {  # every Nth job is one of these instead of a normal program
    997: RunJob("def f(x):\n    return 1 // x", "f(0)"),
    1999: RunJob("def f():\n    return bytearray(2**40)", "f()"),
    4999: RunJob("def f():\n    while True:\n        pass", "f()", timeout_s=0.2),
}


def job(i: int, program: tuple) -> object:
    for every, odd in _ODD.items():
        if i % every == every - 1:
            return odd
    code, call = program
    if i % 10 == 3:
        return ValidateJob("deduction", code, (call[2:-1],), id=i)  # f(<args>) -> <args>
    if i % 10 == 7:
        return CheckJob("deduction", code, answer="None", input=call[2:-1], id=i)
    return RunJob(code, call, id=i)


def _status(pid: int) -> tuple[int, int]:
    """(RSS in KiB, open fds) of a process."""
    with open(f"/proc/{pid}/status") as f:
        rss = int(next(line for line in f if line.startswith("VmRSS:")).split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def _descendants(root: int) -> int:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            parents[int(entry)] = int(stat[stat.rindex(")") + 2:].split()[1])
    count, frontier = 0, {root}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier}
        count += len(frontier)
    return count


def sample(service: ExecutorService) -> dict:
    me = _status(os.getpid())
    workers = [_status(p) for p in service.worker_pids()]
    return {"service_rss_mib": me[0] / 1024, "total_rss_mib": (me[0] + sum(w[0] for w in workers)) / 1024,
            "fds": me[1] + sum(w[1] for w in workers), "procs": _descendants(os.getpid()),
            "py_blocks": sys.getallocatedblocks()}  # live Python objects here: a leak, unlike fragmentation


def slope(xs: list, ys: list) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0


def summary(points: list) -> None:
    """points: (jobs done, sample) pairs."""
    steady = points[1:] if len(points) > 2 else points
    for key, unit in (("service_rss_mib", "MiB"), ("total_rss_mib", "MiB"), ("fds", ""), ("procs", ""),
                      ("py_blocks", "")):
        values = [s[key] for _, s in points]
        per_10k = slope([n for n, _ in steady], [s[key] for _, s in steady]) * 10_000
        print(f"{key}: first {values[0]:.1f}{unit}, last {values[-1]:.1f}{unit}, max {max(values):.1f}{unit}, "
              f"min {min(values):.1f}{unit}; slope after warm-up {per_10k:+.3f}{unit} per 10k jobs")


def kill_a_busy_worker(service: ExecutorService, after_s: float, done: threading.Event) -> None:
    """The OS killing a worker mid-job, as the OOM killer would."""
    time.sleep(after_s)
    os.kill(service.worker_pids()[0], signal.SIGKILL)
    done.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=5_000, help="sample after this many jobs")
    parser.add_argument("--workers", type=int, default=usable_cpus())
    parser.add_argument("--no-kill", action="store_true", help="do not kill a worker mid-run")
    args = parser.parse_args()
    progs = programs(10_000, seed=1)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"soak: {args.jobs} jobs, {args.workers} workers, sample every {args.every}; load average {load}",
          flush=True)
    with ExecutorService(ExecutorConfig(pool_size=args.workers)) as service:
        service.run_batch([RunJob(*progs[i]) for i in range(200)])  # warm-up
        points = [(0, sample(service))]
        print(f"     0 jobs: {points[0][1]}", flush=True)
        statuses: dict = {}
        killed = threading.Event()
        done, start = 0, time.perf_counter()
        while done < args.jobs:
            size = min(args.every, args.jobs - done)
            if done and not args.no_kill and not killed.is_set():
                threading.Thread(target=kill_a_busy_worker, args=(service, 1.0, killed), daemon=True).start()
            for r in service.submit(job(done + i, progs[(done + i) % len(progs)]) for i in range(size)):
                key = r.status if r.error_type is None else f"{r.status}:{r.error_type}"
                statuses[key] = statuses.get(key, 0) + 1
            done += size
            points.append((done, sample(service)))
            rate = done / (time.perf_counter() - start)
            s = points[-1][1]
            print(f"{done:6d} jobs: {rate:.0f} jobs/s; service RSS {s['service_rss_mib']:.1f} MiB, "
                  f"service+workers RSS {s['total_rss_mib']:.1f} MiB, fds {s['fds']}, processes {s['procs']}, "
                  f"Python blocks {s['py_blocks']}",
                  flush=True)
        elapsed = time.perf_counter() - start
        print(f"soak done: {done} jobs in {elapsed:.0f} s ({done / elapsed:.0f} jobs/s); results "
              f"{dict(sorted(statuses.items()))} (total {sum(statuses.values())}); worker restarts "
              f"{service.restarts}; a worker was killed mid-job: {killed.is_set()}")
        summary(points)


if __name__ == "__main__":
    main()
