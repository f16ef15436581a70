"""Each worker keeps the programs its children compiled and checked, for later jobs with the same code."""

import dataclasses
import marshal
import os
import signal
import subprocess
import sys

import pytest

from azr_jax.executor import CheckJob, ExecutorService, RunJob, ValidateJob, constant_calls, wire
from azr_jax.executor.child import MAX_PROGRAM_REPORT, PROGRAM_TAG

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


def test_a_program_too_large_to_keep_cannot_plant_a_report_either(one_worker):
    """A program whose compiled form is over MAX_PROGRAM_REPORT is not kept; its child still reports first
    (the bare tag), so a report the program writes is never taken for the child's. Before the bare tag, the
    child wrote nothing, the program's report came first, and every later job with this code ran it."""
    planted = PROGRAM_TAG + marshal.dumps((compile("def f(x):\n    return 'planted'", "<p>", "exec"), "f", None))
    frame = wire.HEADER.pack(len(planted)) + planted
    padding = "".join(f"s{i} = '{chr(0x4E00 + i)}' * 4096\n" for i in range(60))  # ~740 kB once compiled
    code = padding + f"import os\ndef f(x):\n    if x == 1:\n        os.write(3, {frame!r})\n    return x"
    assert len(marshal.dumps(compile(code, "<p>", "exec"))) > MAX_PROGRAM_REPORT
    first, later, again = one_worker.run_batch([RunJob(code, "f(1)"), RunJob(code, "f(2)"), RunJob(code, "f(3)")])
    assert (first.status, first.error_type) == ("error", "BadFrame")
    assert [(r.status, r.repr) for r in (later, again)] == [("ok", "2"), ("ok", "3")]


LITERAL_CALLS = ["f(1000, 1000)", "f([1], [1])", "f('ab', 'ab')", "f((1, 2), (1, 2))", "f(1, k={8, 16, 0, 24, 32})",
                 "f(-0.0, 0.0)"]
IDENTITY = ("import sys\n"
            "def f(a, b=None, k=None):\n"
            "    return (a is b, a == b, list(k) if k else None, sorted(sys._getframe(1).f_locals))")


def test_literal_arguments_are_built_by_the_worker_and_behave_as_compiled(one_worker):
    """A cached program's job with literal arguments gets them from its worker and compiles nothing
    (constant_calls.py): the same identities, set order and recursion depth as a compiled call."""
    config = dataclasses.replace(TEST_CONFIG, pool_size=1, determinism_runs=1, compile_cache=0)
    depth = "def f(n):\n    try:\n        return f(n + 1)\n    except RecursionError:\n        return n"
    jobs = ([RunJob(IDENTITY, call) for call in LITERAL_CALLS] * 2 + [RunJob(depth, "f(0)")] * 3
            + [RunJob(IDENTITY, "f(2**10, 1024)")])  # not a literal (folded by the compiler): compiled
    with ExecutorService(config) as uncached:
        compiled = uncached.run_batch(jobs)
    built = one_worker.run_batch(jobs)
    assert [r.status for r in built] == ["ok"] * len(jobs)

    def without_locals(result):
        return result.repr.rsplit(", [", 1)[0] if result.repr.endswith("])") else result.repr
    assert [without_locals(r) for r in built] == [without_locals(r) for r in compiled]
    n = len(LITERAL_CALLS)
    # The <call> frame's locals tell the two ways apart: the compiled call's are the program's globals,
    # `f(*a, **k)`'s are a and k (a difference only code inspecting its caller's frame sees; checks ban that).
    program_globals = "['__builtins__', '__name__', 'f', 'sys'])"
    assert all(r.repr.endswith(program_globals) for r in compiled[:2 * n])
    # Cached by then; where interned strings are immortal (3.12) the worker builds nothing: all compiled.
    built_locals = "['a', 'k'])" if constant_calls.MORTAL_INTERNING else program_globals
    assert all(r.repr.endswith(built_locals) for r in built[n:2 * n])
    assert built[n].repr == "(True, True, None, " + built_locals  # f(1000, 1000): one merged constant
    assert len({r.repr for r in built[2 * n:-1] + compiled[2 * n:-1]}) == 1  # the same recursion depth
    assert built[-1].repr == "(True, True, None, " + program_globals


def test_a_call_that_parses_but_does_not_compile_still_fails_with_a_cached_program(one_worker):
    results = one_worker.run_batch([RunJob(IDENTITY, "f(1)")] + [RunJob(IDENTITY, "f(1, b=2, b=3)")] * 2)
    assert [r.status for r in results] == ["ok", "syntax", "syntax"]  # a repeated keyword


def test_checked_inputs_and_answers_use_built_arguments_too(one_worker):
    code = "def g(xs, k=0):\n    return sorted(xs)[k] * 2"
    results = one_worker.run_batch([ValidateJob("code_o", code, ("[3, 1, 2], k=1",))] * 2
                                   + [CheckJob("abduction", code, answer="[2, 9, 0], k=1", gold_output="4"),
                                      CheckJob("abduction", code, answer="[5], k=0", gold_output="4"),
                                      CheckJob("abduction", code, answer="[x], k=0", gold_output="4")])
    assert [r.output for r in results[:2]] == ["4", "4"]
    assert [(r.status, r.correct) for r in results[2:4]] == [("ok", True), ("ok", False)]
    assert results[4].status == "syntax"  # not a literal: left to the child, which refuses the name


def test_the_cache_can_be_turned_off():
    config = dataclasses.replace(TEST_CONFIG, pool_size=1, determinism_runs=1, compile_cache=0)
    with ExecutorService(config) as svc:
        results, n = hits(svc, [RunJob("def f(x):\n    return -x", f"f({i})") for i in range(5)])
    assert [r.repr for r in results] == ["0", "-1", "-2", "-3", "-4"] and n == 0
    with pytest.raises(ValueError, match="compile_cache"):
        dataclasses.replace(TEST_CONFIG, compile_cache=-1)


def test_no_job_can_read_another_jobs_program(one_worker):
    """A job's child is a copy of its worker: the cache lives in memory no fork inherits (program_cache.py),
    and nothing of the previous job (its request, its reply) stays alive in the worker."""
    secret = "def f(x):\n    return 'SECRET' + '-7f3a' + x"  # the folded constant is the program's secret
    searcher = ("import gc, sys\n"
                "def f(a, b):\n"
                "    marker = a + b\n"
                "    frames, frame = [], sys._getframe()\n"
                "    while frame is not None:\n"
                "        frames.append(frame)\n"
                "        frames.extend(frame.f_locals.values())  # a running frame's referents omit its locals\n"
                "        frame = frame.f_back\n"
                "    todo = gc.get_objects() + list(sys.modules.values()) + frames\n"
                "    seen = {id(todo), id(frames)}\n"
                "    while todo:\n"
                "        o = todo.pop()\n"
                "        if id(o) in seen or o is marker:\n"
                "            continue\n"
                "        seen.add(id(o))\n"
                "        if type(o) in (str, bytes, bytearray):\n"
                "            if marker in (o if type(o) is str else bytes(o).decode('latin-1')):\n"
                "                return 'found'\n"
                "        elif type(o).__name__ != 'mmap':\n"
                "            todo.extend(gc.get_referents(o))\n"
                "    return 'not found'")
    gold, peek = one_worker.run_batch([ValidateJob("code_o", secret, ("'!'",)), RunJob(searcher, "f('SECRET', '-7f3a')", timeout_s=20.0)])
    assert (gold.status, gold.output) == ("ok", "'SECRET-7f3a!'")
    assert (peek.status, peek.repr) == ("ok", "'not found'"), peek


def test_program_cache_evicts_and_keeps_programs_out_of_forks():
    from azr_jax.executor.program_cache import ProgramCache

    cache = ProgramCache(entries=2, arena_bytes=64)
    a, b, c = ("a", True, False), ("b", True, False), ("c", False, True)
    cache.put(a, b"A" * 10)
    cache.put(b, b"B" * 10)
    assert (cache.get(a), cache.get(b)) == (b"A" * 10, b"B" * 10)
    cache.get(a)  # a is now the most recently used
    cache.put(c, b"C" * 10)  # over the entry count: b goes
    assert (cache.get(a), cache.get(b), cache.get(c)) == (b"A" * 10, None, b"C" * 10)
    cache.put(("d", True, False), b"D" * 30)  # does not fit after c: wraps, overwriting a
    assert cache.get(a) is None and cache.get(("d", True, False)) == b"D" * 30
    assert cache.get(("a", False, False)) is None  # same code, other flags: another key
    assert ProgramCache(entries=0, arena_bytes=64).get(a) is None
    # A fork has no copy of the programs: touching them faults. In a fresh interpreter, not a fork of pytest.
    probe = ("import os, sys\nfrom azr_jax.executor.program_cache import ProgramCache\n"
             "cache = ProgramCache(2, 64)\ncache.put(('a', True, False), b'A')\npid = os.fork()\n"
             "if pid == 0:\n    cache.arena[0:1]\n    os._exit(0)\nprint(os.waitpid(pid, 0)[1])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    status = int(done.stdout)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSEGV, done
