"""Each worker keeps the programs its children compiled and checked, for later jobs with the same code."""

import dataclasses
import marshal

import pytest

from azr_jax.executor import CheckJob, ExecutorService, RunJob, ValidateJob, wire
from azr_jax.executor.child import PROGRAM_TAG

from conftest import TEST_CONFIG


@pytest.fixture(scope="module")
def one_worker():
    with ExecutorService(dataclasses.replace(TEST_CONFIG, pool_size=1, determinism_runs=1)) as svc:
        yield svc


def hits(service, jobs):
    before = service.compile_cache_hits
    results = service.run_batch(jobs)
    return results, service.compile_cache_hits - before


def test_later_jobs_load_the_program_and_get_the_same_results(one_worker):
    code = "import collections\ndef f(xs):\n    return sorted(collections.Counter(xs).items())"
    jobs = [RunJob(code, f"f({list(range(i % 3))!r} * 2)") for i in range(10)]
    results, n = hits(one_worker, jobs)
    assert [r.repr for r in results] == [repr(sorted((j, 2) for j in range(i % 3))) for i in range(10)]
    assert n == 9


def test_checked_programs_keep_their_entry_and_classes(one_worker):
    code = ("class P:\n    def __init__(self, v):\n        self.v = v\n    def __repr__(self):\n"
            "        return f'P({self.v!r})'\n    def __eq__(self, o):\n        return type(o) is P and o.v == self.v\n"
            "def g(v):\n    return P(v + 1)")
    results, n = hits(one_worker, [ValidateJob("code_o", code, (str(i),)) for i in range(4)]
                      + [CheckJob("deduction", code, input="1", gold_output="P(2)", answer="P(2)"),
                         CheckJob("deduction", code, input="1", gold_output="P(2)", answer="P(3)")])
    assert [r.output for r in results[:4]] == ["P(1)", "P(2)", "P(3)", "P(4)"]
    assert [r.correct for r in results[4:]] == [True, False]
    assert n >= 4


def test_what_fails_to_compile_or_check_is_never_kept(one_worker):
    results, n = hits(one_worker, [RunJob("def f(:\n    pass", "f()")] * 3
                      + [ValidateJob("code_o", "import os\ndef f(x):\n    return x", ("1",))] * 3)
    assert [r.status for r in results] == ["syntax"] * 3 + ["banned"] * 3
    assert n == 0


def test_checked_and_unchecked_runs_do_not_share_an_entry(one_worker):
    code = "import os\ndef f(x):\n    return x"
    unchecked, checked = one_worker.run_batch([RunJob(code, "f(1)"), ValidateJob("code_o", code, ("1",))])
    assert (unchecked.status, checked.status) == ("ok", "banned")


def test_a_program_cannot_plant_a_report(one_worker):
    """The first frame on the result pipe is the child's own report, written before the program runs; one the
    program writes afterwards makes its own job fail and is never used for another."""
    planted = PROGRAM_TAG + marshal.dumps((compile("def f(x):\n    return 'planted'", "<p>", "exec"), "f", None))
    frame = wire.HEADER.pack(len(planted)) + planted
    code = f"import os\ndef f(x):\n    if x == 1:\n        os.write(3, {frame!r})\n    return x"
    first, later = one_worker.run_batch([RunJob(code, "f(1)"), RunJob(code, "f(2)")])
    assert (first.status, first.error_type) == ("error", "BadFrame")
    assert (later.status, later.repr) == ("ok", "2")


def test_the_cache_can_be_turned_off():
    config = dataclasses.replace(TEST_CONFIG, pool_size=1, determinism_runs=1, compile_cache=0)
    with ExecutorService(config) as svc:
        results, n = hits(svc, [RunJob("def f(x):\n    return -x", f"f({i})") for i in range(5)])
    assert [r.repr for r in results] == ["0", "-1", "-2", "-3", "-4"] and n == 0
    with pytest.raises(ValueError, match="compile_cache"):
        dataclasses.replace(TEST_CONFIG, compile_cache=-1)
