"""The service end to end: AZR validate/check flows, batching, and recovery from lost workers."""

import os
import signal
import threading
import time

import pytest

from azr_jax.executor import CheckJob, ExecutorConfig, ExecutorService, RunJob, ValidateJob

from conftest import TEST_CONFIG, descendants

SORT = "def f(xs):\n    return sorted(xs)"
POINT = ("class Point:\n"
         "    def __init__(self, x, y):\n        self.x, self.y = x, y\n"
         "    def __repr__(self):\n        return f'Point({self.x}, {self.y})'\n"
         "    def __eq__(self, o):\n        return (self.x, self.y) == (o.x, o.y)\n"
         "def f(p):\n    return Point(p.y, p.x)")


def one(service, job):
    [result] = service.run_batch([job])
    return result


def test_validate_deduction_and_abduction(service):
    r = one(service, ValidateJob("code_o", SORT, ("[3, 1, 2]",)))
    assert (r.status, r.output) == ("ok", "[1, 2, 3]")
    r = one(service, ValidateJob("abduction", "def g(s, n):\n    return s * n", ("'ab', 2",)))
    assert (r.status, r.output) == ("ok", "'abab'")


def test_validate_induction_gives_every_output(service):
    r = one(service, ValidateJob("code_f", "def f(x):\n    return x * 2", tuple(str(i) for i in range(10))))
    assert r.status == "ok"
    assert r.outputs == tuple(str(2 * i) for i in range(10))
    bad = one(service, ValidateJob("induction", "def f(x):\n    return 1 // x", ("1", "0", "2")))
    assert (bad.status, bad.error_type, bad.extra["input_index"]) == ("error", "ZeroDivisionError", 1)


def test_validation_rejects_invalid_programs(service):
    cases = {"import os\ndef f(x):\n    return x": "banned", "def f(x) return": "syntax",
             "def f(x):\n    while True:\n        pass\n    return x": "timeout", "def f(x):\n    return [0] * 10**9": "memory",
             "def f(x):\n    return x\ndef g(x):\n    return x": "syntax"}
    results = service.run_batch([ValidateJob("deduction", code, ("1",)) for code in cases])
    assert [r.status for r in results] == list(cases.values())


def test_determinism_rerun_uses_another_worker(service):
    """A value that depends only on the hash seed is caught: the re-run lands in another interpreter."""
    results = service.run_batch([ValidateJob("deduction", "def f(s):\n    return hash(s) % 2", ("'k%d'" % i,))
                                 for i in range(20)])
    assert {r.status for r in results} <= {"ok", "nondeterministic"}
    assert sum(r.status == "nondeterministic" for r in results) >= 3  # ~10 expected; 3 is far beyond chance


def test_check_deduction(service):
    jobs = [CheckJob("deduction", SORT, answer="[1, 2, 3]", gold_output="[1, 2, 3]"),
            CheckJob("deduction", SORT, answer=" [1,2,3] ", input="[3, 2, 1]"),
            CheckJob("deduction", SORT, answer="[1, 2]", gold_output="[1, 2, 3]"),
            CheckJob("deduction", SORT, answer="(1, 2, 3)", gold_output="[1, 2, 3]"),
            CheckJob("deduction", SORT, answer="[1, 2, 3", gold_output="[1, 2, 3]")]
    assert [(r.status, r.correct) for r in service.run_batch(jobs)] == [
        ("ok", True), ("ok", True), ("ok", False), ("ok", False), ("syntax", False)]


def test_check_deduction_with_task_classes(service):
    gold = one(service, ValidateJob("deduction", POINT, ("Point(1, 2)",)))
    assert (gold.status, gold.output) == ("ok", "Point(2, 1)")
    jobs = [CheckJob("deduction", POINT, answer="Point(2, 1)", gold_output=gold.output),
            CheckJob("deduction", POINT, answer="Point(2,1)", gold_output=gold.output),
            CheckJob("deduction", POINT, answer="Point(1, 2)", gold_output=gold.output),
            CheckJob("deduction", POINT, answer="__import__('os')", gold_output=gold.output)]
    assert [(r.status, r.correct) for r in service.run_batch(jobs)] == [
        ("ok", True), ("ok", True), ("ok", False), ("syntax", False)]


def test_check_abduction(service):
    jobs = [CheckJob("code_i", SORT, answer="[2, 1, 3]", gold_output="[1, 2, 3]"),
            CheckJob("code_i", SORT, answer="[3, 1]", gold_output="[1, 2, 3]"),
            CheckJob("code_i", SORT, answer="(3, 2, 1)", gold_output="[1, 2, 3]"),
            CheckJob("code_i", POINT, answer="Point(2, 1)", gold_output="Point(1, 2)"),
            CheckJob("code_i", "def f(a, b):\n    return a - b", answer="b=1, a=3", gold_output="2"),
            CheckJob("code_i", SORT, answer="None", gold_output="[1, 2, 3]")]
    assert [(r.status, r.correct) for r in service.run_batch(jobs)] == [
        ("ok", True), ("ok", False), ("ok", True), ("ok", True), ("ok", True), ("error", False)]


def test_check_induction(service):
    gold = "def f(x):\n    return x * 2"
    jobs = [CheckJob("code_f", gold, answer_code="def g(y):\n    return y + y", inputs=("1", "'a'", "[1]")),
            CheckJob("code_f", gold, answer_code="def f(y):\n    return 2", inputs=("1", "2")),
            CheckJob("code_f", gold, answer_code="def f(y):\n    return y * 2", inputs=("1", "2"),
                     gold_outputs=("2", "4")),
            CheckJob("code_f", gold, answer_code="def f(y):\n    return y * 2.0", inputs=("1",)),
            CheckJob("code_f", gold, answer_code="import os\ndef f(y):\n    return y * 2", inputs=("1",))]
    assert [(r.status, r.correct) for r in service.run_batch(jobs)] == [
        ("ok", True), ("ok", False), ("ok", True), ("ok", False), ("banned", False)]


def test_submit_streams_and_run_batch_keeps_order(service):
    jobs = [RunJob("def f(x):\n    return x", f"f({i})", id=i) for i in range(30)]
    assert [r.repr for r in service.run_batch(jobs)] == [str(i) for i in range(30)]
    assert sorted(r.id for r in service.submit(jobs)) == list(range(30))


def test_model_code_runs_with_plain_python_semantics(service):
    """The child imports `from __future__ import annotations`; model code must not inherit it (annotations
    would turn into strings), whether it is compiled from source (unchecked) or from its checked AST."""
    code = "def f(x: int):\n    return str(f.__annotations__['x'])"
    results = service.run_batch([RunJob(code, "f(1)"), RunJob(code, "f(1)", static_checks=True),
                                 ValidateJob("code_o", code, ("1",))])
    assert [r.status for r in results] == ["ok"] * 3, results
    assert [results[0].repr, results[1].repr, results[2].output] == ['"<class \'int\'>"'] * 3


def test_unchecked_run_job_syntax_errors(service):
    bad_program, bad_call = service.run_batch([RunJob("def f(:\n    return 1", "f()"),
                                               RunJob("def f():\n    return 1", "f(")])
    assert (bad_program.status, bad_call.status) == ("syntax", "syntax")
    assert bad_program.message.startswith("SyntaxError"), bad_program.message
    assert bad_call.message.startswith("call: SyntaxError"), bad_call.message


def test_per_job_deadline(service):
    slow = "def f(t):\n    import time\n    time.sleep(t)\n    return t"
    fast, late = service.run_batch([RunJob(slow, "f(0.5)", timeout_s=3.0), RunJob(slow, "f(0.5)", timeout_s=0.2)])
    assert (fast.status, late.status) == ("ok", "timeout")


def test_a_malformed_job_fails_alone(service):
    results = service.run_batch(["not a job", RunJob("def f():\n    return 1", "f()")])
    assert [r.status for r in results] == ["error", "ok"]


def test_memory_hog_does_not_starve_neighbours(service):
    # Deadlines far beyond need: this is about memory, and a loaded host must not turn it into timeouts.
    hog = RunJob("def f():\n    x = bytearray(200 * 2**20)\n    import time\n    time.sleep(0.3)\n    return len(x)",
                 "f()", timeout_s=20.0)
    normal = RunJob("def f():\n    return sum(range(1000))", "f()", timeout_s=20.0)
    results = service.run_batch([hog, normal] * 6)
    assert {r.status for r in results[1::2]} == {"ok"}, [(r.status, r.error_type, r.message) for r in results]
    assert {r.status for r in results[0::2]} <= {"ok", "memory"}


def test_stopping_early_leaves_no_stale_replies(service):
    jobs = [RunJob("def f(x):\n    import time\n    time.sleep(0.2)\n    return x", f"f({i})", id=i) for i in range(10)]
    stream = service.submit(jobs)
    next(stream)
    stream.close()
    assert [r.repr for r in service.run_batch(jobs[:4])] == ["0", "1", "2", "3"]


def test_worker_killed_mid_job_is_replaced_and_job_reported():
    with ExecutorService(ExecutorConfig(pool_size=2, timeout_s=5.0)) as svc:
        pids = set(svc.worker_pids())
        sleeper = RunJob("def f():\n    import time\n    time.sleep(3)\n    return 1", "f()", id="victim")

        def kill_busy_worker():
            time.sleep(0.5)
            for pid in pids:  # both workers are busy with a sleeper: kill one of them
                os.kill(pid, signal.SIGKILL)
                return

        killer = threading.Thread(target=kill_busy_worker)
        killer.start()
        results = svc.run_batch([sleeper, RunJob(sleeper.code, "f()", id="other")])
        killer.join()
        statuses = sorted((r.status, r.error_type) for r in results)
        assert statuses == [("error", "WorkerLost"), ("ok", None)]
        assert svc.restarts == 1
        assert len(set(svc.worker_pids()) - pids) == 1
        assert one(svc, RunJob("def f():\n    return 7", "f()")).repr == "7"
        workers = set(svc.worker_pids())
    assert not (descendants(os.getpid()) & workers), "closed service leaves no worker behind"


def test_requests_queued_behind_a_lost_job_run_on_the_new_worker():
    with ExecutorService(ExecutorConfig(pool_size=1, determinism_runs=1, timeout_s=5.0)) as svc:
        [pid] = svc.worker_pids()
        threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()
        sleeper = "def f(x):\n    import time\n    time.sleep(1)\n    return x"
        results = svc.run_batch([RunJob(sleeper, f"f({i})", id=i) for i in range(3)])
        assert [(r.status, r.error_type, r.repr) for r in results] == [
            ("error", "WorkerLost", None), ("ok", None, "1"), ("ok", None, "2")]
        assert svc.restarts == 1


def test_a_lost_jobs_child_dies_with_its_worker():
    """The job would sleep 60 s; with its worker SIGKILLed it must go at once (parent-death signal), not
    run on as an orphan under the sandbox uid that the replacement worker reuses."""
    with ExecutorService(ExecutorConfig(pool_size=2, timeout_s=90.0)) as svc:
        job = RunJob("def f():\n    import time\n    time.sleep(60)\n    return 1", "f()")
        stream = svc.submit([job])
        holder = threading.Thread(target=lambda: holder.results.extend(stream))
        holder.results = []
        holder.start()
        while not (busy := [p for p in svc.worker_pids() if descendants(p)]) and holder.is_alive():
            time.sleep(0.01)
        job_children = descendants(busy[0])
        os.kill(busy[0], signal.SIGKILL)
        holder.join()
        assert [(r.status, r.error_type) for r in holder.results] == [("error", "WorkerLost")]
        deadline = time.monotonic() + 10.0  # a bound far below the job's 60 s, not a speed requirement
        while job_children & alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not job_children & alive(), "the lost job's child outlived its worker"


AFFINITY = "import os\ndef f():\n    return sorted(os.sched_getaffinity(0))"


def _allowed_cpus(pid: int) -> list:
    return sorted(os.sched_getaffinity(pid))


def test_each_worker_and_its_jobs_run_on_one_cpu_of_their_own():
    allowed = _allowed_cpus(0)
    with ExecutorService(ExecutorConfig(pool_size=2, determinism_runs=1)) as svc:
        cpus = [w["cpu"] for w in svc.worker_info()]
        assert all(c in allowed for c in cpus)
        assert len(set(cpus)) == min(2, len(allowed)), "a small pool spreads over the CPUs"
        assert [_allowed_cpus(pid) for pid in svc.worker_pids()] == [[c] for c in cpus]
        seen = {r.repr for r in svc.run_batch([RunJob(AFFINITY, "f()")] * 20)}
        assert seen and seen <= {repr([c]) for c in cpus}, "a job's child inherits its worker's CPU"
        victim = svc.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        while _state(str(victim)) not in ("Z", None):
            time.sleep(0.01)
        results = svc.run_batch([RunJob(AFFINITY, "f()")] * 4)
        assert {r.status for r in results} == {"ok"}, "a worker that died while idle loses no job"
        assert {r.repr for r in results} <= {repr([c]) for c in cpus}
        assert svc.restarts == 1
        assert [w["cpu"] for w in svc.worker_info()] == cpus, "a replacement worker takes its predecessor's CPU"
        assert [_allowed_cpus(pid) for pid in svc.worker_pids()] == [[c] for c in cpus]
    assert _allowed_cpus(0) == allowed, "pinning workers leaves the caller's own affinity alone"


def test_default_pool_has_a_worker_per_cpu_this_process_may_use():
    allowed = _allowed_cpus(0)
    try:
        os.sched_setaffinity(0, allowed[:1])  # as under `taskset -c` or a container's cpuset
        assert ExecutorConfig().pool_size == 1
    finally:
        os.sched_setaffinity(0, allowed)
    assert ExecutorConfig().pool_size == len(allowed)


def test_unpinned_workers_and_jobs_keep_the_callers_cpus():
    allowed = _allowed_cpus(0)
    with ExecutorService(ExecutorConfig(pool_size=2, determinism_runs=1, pin_workers=False)) as svc:
        assert [w["cpu"] for w in svc.worker_info()] == [None, None]
        assert [_allowed_cpus(pid) for pid in svc.worker_pids()] == [allowed, allowed]
        assert {r.repr for r in svc.run_batch([RunJob(AFFINITY, "f()")] * 4)} == {repr(allowed)}


def test_workers_fork_through_libc_unless_a_preimport_registers_an_at_fork_hook():
    """`random` reseeds itself in each child through an at-fork hook, which only os.fork runs: a worker
    that pre-imports it must fork with os.fork, or every job would draw the same numbers."""
    draw = RunJob("import random\ndef f():\n    return random.random()", "f()")
    with ExecutorService(ExecutorConfig(pool_size=1, determinism_runs=1)) as svc:
        assert [w["fork"] for w in svc.worker_info()] == ["libc"]
        assert one(svc, RunJob("def f(x):\n    return x * 2", "f(21)")).repr == "42"
    config = ExecutorConfig(pool_size=1, determinism_runs=1, preimport=("random",))
    with ExecutorService(config) as svc:
        assert [w["fork"] for w in svc.worker_info()] == ["os"]
        draws = [r.repr for r in svc.run_batch([draw] * 3)]
        assert len(set(draws)) == 3, draws


def alive() -> set:
    return {int(p) for p in os.listdir("/proc") if p.isdigit() and _state(p) not in ("Z", None)}


def _state(pid: str):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def test_config_is_validated():
    with pytest.raises(ValueError, match="timeout_s"):
        ExecutorConfig(timeout_s=0)
    with pytest.raises(ValueError, match="unknown ExecutorConfig field"):
        ExecutorConfig.from_dict({"timeout": 1})
    assert ExecutorConfig.from_dict({"equality": {"float_rel_tol": 0.0}}).equality.float_rel_tol == 0.0
    assert TEST_CONFIG.pool_size == 2
    with pytest.raises(ValueError, match="pin_workers"):
        ExecutorConfig(pin_workers=1)
    with pytest.raises(ValueError):
        ValidateJob("deduction", "def f(x):\n    return x", ("1", "2"))
    with pytest.raises(ValueError):
        CheckJob("abduction", "def f(x):\n    return x", answer="1")
