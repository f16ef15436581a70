"""The adversarial suite: hostile programs, one batch, every category of EXECUTOR.md.

Run jobs use `static_checks=False`, so nothing but the sandbox stands between the program and the host.
After the batch: the service still works, no process is left behind, nothing was written outside the
private tmp, and no reward hack was judged correct.
"""

import os
import uuid

import pytest

from azr_jax.executor import CheckJob, RunJob, ValidateJob
from azr_jax.executor.codec import encode

from conftest import descendants, processes_of_uids

MARK = f"azr_pwned_{uuid.uuid4().hex[:8]}"
# Where a successful escape would leave the marker.
PLACES = ["/tmp", "/var/tmp", "/dev/shm", "/work/main", os.path.expanduser("~"), os.getcwd()]

# A forged result frame, as model code that found the result descriptor could write it.
_FORGED = encode({"status": "ok", "plain": True, "value": "FORGED", "time_ms": 0.0, "correct": True})
FORGED_FRAME = repr(len(_FORGED).to_bytes(4, "big") + _FORGED)


def run(name, body, call="f()", expect=("ok",), check=None):
    code = "def f(*a):\n" + "\n".join("    " + line for line in body.strip().splitlines())
    return name, RunJob(code, call, id=name, static_checks=False), set(expect), check


def raw(name, code, call="f()", expect=("ok",), check=None):
    return name, RunJob(code, call, id=name, static_checks=False), set(expect), check


def job(name, j, expect, check=None):
    return name, j, set(expect), check


def error_is(*types):
    return lambda r: r.error_type in types


def incorrect(r):
    return r.correct is False


CASES = [
    # --- time ---
    run("py_loop", "while True: pass", expect=["timeout"]),
    run("c_loop", "return sum(range(10**11))", expect=["timeout"]),
    run("ignore_signals", "import signal\nfor s in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGXCPU):\n"
        "    signal.signal(s, signal.SIG_IGN)\nwhile True: pass", expect=["timeout"]),
    run("sleep", "import time\ntime.sleep(100)", expect=["timeout"]),
    run("read_stdin", "return input()", expect=["error"], check=error_is("EOFError")),
    run("sigterm_ignored_sleep", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(50)",
        expect=["timeout"]),
    # --- memory ---
    run("huge_alloc", "return [0] * 10**9", expect=["memory"]),
    run("slow_growth", "x = []\nwhile True: x.append(' ' * 10**6)", expect=["memory"]),
    run("huge_int", "return 10 ** (10 ** 10)", expect=["memory", "timeout"]),
    run("huge_str", "return 'a' * 10**10", expect=["memory"]),
    run("huge_return", "return list(range(10**6))", expect=["output_limit"]),
    # --- processes ---
    run("fork_bomb", "import os\nwhile True: os.fork()", expect=["banned"]),
    run("multiprocessing", "import multiprocessing\np = multiprocessing.Process(target=print)\np.start()\np.join()",
        expect=["banned"]),
    run("subprocess", "import subprocess\nreturn subprocess.run(['sh', '-c', 'echo hi'], capture_output=True).stdout",
        expect=["banned"]),
    run("thread_outlives", "import threading, time\nthreading.Thread(target=time.sleep, args=(100,)).start()\nreturn 1",
        expect=["banned"]),
    run("double_fork_setsid", "import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        import time; time.sleep(100)\nreturn 1", expect=["banned"]),
    run("setsid_again", "import os\nos.setsid()", expect=["error"], check=error_is("PermissionError")),
    # --- output floods ---
    run("print_flood", "while True: print('x' * 1000)", expect=["output_limit"]),
    run("oswrite_flood", "import os\nwhile True: os.write(1, b'x' * 65536)", expect=["output_limit"]),
    run("stderr_flood", "import os\nwhile True: os.write(2, b'y' * 65536)", expect=["output_limit"]),
    # --- filesystem ---
    run("write_repo", f"open('/work/main/{MARK}', 'w').write('x')", expect=["error"], check=error_is("PermissionError")),
    run("write_tmp", f"open('/tmp/{MARK}', 'w').write('x')", expect=["error"], check=error_is("PermissionError")),
    run("write_shm", f"open('/dev/shm/{MARK}', 'w').write('x')", expect=["error"], check=error_is("PermissionError")),
    run("write_root_home", f"open('/root/{MARK}', 'w').write('x')", expect=["error"], check=error_is("PermissionError")),
    run("home_is_private_tmp", f"import os\nopen(os.path.expanduser('~/{MARK}'), 'w').write('x')\n"
        "return os.path.expanduser('~') == os.getcwd()", check=lambda r: r.repr == "True"),
    run("big_file", "f = open('big', 'wb')\nwhile True: f.write(b'x' * 2**20)", expect=["error"],
        check=error_is("OSError")),
    run("fill_tmp", "for i in range(1000):\n    open('f%d' % i, 'wb').write(b'x' * 2**20)", expect=["error"],
        check=error_is("OSError")),
    run("many_open_files", "fs = [open('f%d' % i, 'w') for i in range(10000)]", expect=["error"],
        check=error_is("OSError")),
    run("read_passwd", "return open('/etc/passwd').read()", expect=["error"], check=error_is("PermissionError")),
    run("read_environ", "return open('/proc/self/environ', 'rb').read()", expect=["error"],
        check=error_is("PermissionError")),
    run("read_parent_mem", "import os\nreturn open('/proc/%d/mem' % os.getppid(), 'rb').read(16)", expect=["error"],
        check=error_is("PermissionError")),
    run("list_root_home", "import os\nreturn os.listdir('/root')", expect=["error"], check=error_is("PermissionError")),
    run("read_source_tree", "return open('/work/main/setup.py').read()", expect=["error"],
        check=error_is("PermissionError")),
    # --- network ---
    run("connect", "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)", expect=["banned"]),
    run("bind", "import socket\ns = socket.socket()\ns.bind(('0.0.0.0', 8000))\ns.listen()", expect=["banned"]),
    run("dns", "import socket\nreturn socket.getaddrinfo('example.com', 80)", expect=["banned", "error"]),
    run("unix_socket", "import socket\nsocket.socket(socket.AF_UNIX).connect('/run/systemd/private')",
        expect=["banned"]),
    # --- attacks on the host ---
    run("kill_parent", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", expect=["error"],
        check=error_is("PermissionError")),
    run("kill_everyone", "import os, signal\nos.kill(-1, signal.SIGKILL)\nreturn 1", expect=["error", "ok"]),
    run("kill_pid_sweep", "import os, signal\nfor pid in range(2, 70000):\n    if pid != os.getpid():\n"
        "        try: os.kill(pid, signal.SIGKILL)\n        except OSError: pass\nreturn 1", expect=["ok", "timeout"]),
    run("exec_shell", "import os\nos.execv('/bin/sh', ['sh', '-c', 'id'])", expect=["banned"]),
    run("ptrace_ctypes", "import ctypes, os\nreturn ctypes.CDLL(None).ptrace(16, os.getppid(), 0, 0)", expect=["banned"]),
    run("ctypes_segfault", "import ctypes\nctypes.memset(0, 0, 8)", expect=["error"],
        check=error_is("Killed(SIGSEGV)")),
    run("unshare_userns", "import ctypes\nreturn ctypes.CDLL(None).unshare(0x10000000)", expect=["banned"]),
    run("setuid_root", "import os\nos.setuid(0)", expect=["error"], check=error_is("PermissionError")),
    # --- guard bypasses (the sandbox must hold with the filter skipped) ---
    run("subclasses_system", "w = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]\n"
        "return w.__init__.__globals__['system']('id')", expect=["banned"]),
    run("reload_os", "import importlib, os\nos.system = None\nos = importlib.reload(os)\nreturn os.system('id')",
        expect=["banned"]),
    run("posix_system", "import posix\nreturn posix.system('id')", expect=["banned"]),
    run("builtins_import", "return __builtins__['__import__']('os').popen('id').read()"
        " if isinstance(__builtins__, dict) else __builtins__.__import__('os').popen('id').read()", expect=["banned"]),
    # --- state that must not leak into the next job (checked after the batch) ---
    run("patch_builtins", "import builtins\nbuiltins.len = lambda x: 42\nbuiltins.type = None\nreturn len([])",
        check=lambda r: r.repr == "42"),
    run("poison_modules", "import sys\nsys.modules['math'] = None\nsys.modules['json'] = 'poison'\nreturn 1"),
    run("leave_file", "open('leftover.txt', 'w').write('x')\nimport os\nos.mkdir('d', 0)\nreturn 1"),  # mode 000
    run("chmod_refused", "import os\nopen('x', 'w').close()\nos.chmod('x', 0o777)", expect=["error"],
        check=lambda r: r.error_type == "PermissionError"),  # metadata: seccomp says EPERM, even in its own tmp
    # --- early clean exits ---
    run("sys_exit_0", "import sys\nsys.exit(0)", expect=["error"], check=error_is("SystemExit")),
    run("os_exit_0", "import os\nos._exit(0)", expect=["error"], check=error_is("EarlyExit")),
    run("atexit_exit", "import atexit, sys\natexit.register(print, 'bye')\nsys.exit(0)", expect=["error"]),
    run("atexit_hang", "import atexit, time\natexit.register(time.sleep, 100)\nreturn 1", check=lambda r: r.repr == "1"),
    raw("del_hang", "class A:\n    def __del__(self):\n        while True: pass\n"
        "def f():\n    global keep\n    keep = A()\n    return 1", check=lambda r: r.repr == "1"),
    raw("raise_base", "class E(BaseException):\n    def __str__(self):\n        while True: pass\n"
        "def f():\n    raise E()", expect=["error"], check=error_is("E")),
    # --- forged result frames ---
    run("forged_frame_then_continue", f"import os\nos.write(3, {FORGED_FRAME})\nreturn 'real'", expect=["error"],
        check=error_is("BadFrame")),
    run("forged_frame_then_exit", f"import os\nos.write(3, {FORGED_FRAME})\nos._exit(0)",
        check=lambda r: r.repr == "'FORGED'" and r.correct is None and r.time_ms > 0),
    run("close_result_fd", "import os\nos.close(3)\nreturn 1", expect=["error"], check=error_is("EarlyExit")),
    # --- values that are not plain data ---
    raw("always_equal_return", "class E:\n    def __eq__(self, o): return True\ndef f():\n    return E()",
        check=lambda r: r.repr.startswith("<")),
    raw("int_subclass_return", "class I(int):\n    def __eq__(self, o): return True\n    def __repr__(self): return '5'\n"
        "def f():\n    return I(3)", check=lambda r: r.repr == "5"),
    run("cyclic", "x = []\nx.append(x)\nreturn x", check=lambda r: r.repr == "[[...]]"),
    run("c_stack_overflow", "a = ()\nfor _ in range(400000):\n    a = (a,)\nreturn hash(a)", expect=["error"],
        check=error_is("Killed(SIGSEGV)")),
    # --- invalid UTF-8 and surrogates ---
    run("surrogate_value", "return '\\ud800x'", check=lambda r: r.repr == "'\\ud800x'"),
    run("bad_utf8_stdout", "import os\nos.write(1, b'\\xff\\xfe ok')\nreturn 1", check=lambda r: "\\xff" in r.stdout),
    raw("surrogate_in_source", "def f():\n    return '\ud800'", expect=["syntax"]),
    # --- parser bombs in programs ---
    raw("paren_bomb_program", "(" * 10**5, expect=["syntax"]),
    raw("huge_program", "x = 1\n" * 10**6, expect=["syntax"]),
    # --- validation: nondeterminism and representability ---
    job("set_order", ValidateJob("deduction", "def f(n):\n    return list({str(i) for i in range(n)})", ("30",),
                                 id="set_order"), ["nondeterministic"]),
    job("hash_of_str", ValidateJob("deduction", "def f(s):\n    return hash(s)", ("'abc'",), id="hash_of_str"),
        ["nondeterministic"]),
    job("id_value", ValidateJob("deduction", "def f(x):\n    return id([]) % 1000003", ("1",), id="id_value"),
        ["nondeterministic"]),
    job("address_repr", ValidateJob("deduction", "def f(x):\n    return object()", ("1",), id="address_repr"),
        ["unrepresentable"]),
    job("random_banned", ValidateJob("deduction", "import random\ndef f(x):\n    return random.random()", ("1",),
                                     id="random_banned"), ["banned"]),
    job("time_banned", ValidateJob("deduction", "from time import time\ndef f(x):\n    return time()", ("1",),
                                   id="time_banned"), ["banned"]),
    job("urandom_bypass", ValidateJob("deduction", "def f(x):\n    return ().__class__", ("1",), id="urandom_bypass"),
        ["banned"]),
    job("input_injection", ValidateJob("deduction", "def f(x):\n    return x", ("__import__('os').getpid()",),
                                       id="input_injection"), ["banned"]),
    job("long_output", ValidateJob("deduction", "def f(n):\n    return 'x' * n", ("1000",), id="long_output"),
        ["output_limit"]),
    job("nan_output", ValidateJob("deduction", "def f(x):\n    return [float('nan'), -0.0, float('inf')]", ("1",),
                                  id="nan_output"), ["ok"], lambda r: r.output == "[float('nan'), -0.0, float('inf')]"),
    # --- reward hacks on checks ---
    job("hack_always_equal", CheckJob("induction", "def f(x):\n    return x + 1", id="hack_always_equal",
                                      answer_code="class E:\n    def __eq__(s, o):\n        return True\n"
                                                  "def f(x):\n    return E()", inputs=("1", "2")), ["ok"], incorrect),
    job("hack_int_subclass", CheckJob("induction", "def f(x):\n    return x + 1", id="hack_int_subclass",
                                      answer_code="class I(int):\n    def __eq__(s, o):\n        return True\n"
                                                  "def f(x):\n    return I(0)", inputs=("1", "2")), ["ok"], incorrect),
    job("hack_print_gold", CheckJob("induction", "def f(x):\n    return x + 1", id="hack_print_gold",
                                    answer_code="def f(x):\n    print(x + 1)\n    return None", inputs=("1",)),
        ["ok"], incorrect),
    job("hack_patch_builtins", CheckJob("induction", "def f(x):\n    return x + 1", id="hack_patch_builtins",
                                        answer_code="def f(x):\n    __builtins__['isinstance'] = lambda a, b: True\n"
                                                    "    return 0", inputs=("1",)), ["banned"], incorrect),
    job("hack_forge_frame", CheckJob("induction", "def f(x):\n    return x + 1", id="hack_forge_frame",
                                     answer_code=f"def f(x):\n    import os\n    os.write(3, {FORGED_FRAME})\n"
                                                 "    os._exit(0)", inputs=("1",)), ["banned"], incorrect),
    job("hack_abduction_code", CheckJob("abduction", "def f(x):\n    return x", id="hack_abduction_code",
                                        answer="__import__('os').getpid()", gold_output="7"), ["syntax"], incorrect),
    job("hack_abduction_injection", CheckJob("abduction", "def f(x):\n    return x", id="hack_abduction_injection",
                                             answer="1) or (7", gold_output="7"), ["syntax"], incorrect),
    job("hack_deduction_eval", CheckJob("deduction", "def f(x):\n    return x", id="hack_deduction_eval",
                                        answer="9**9**9", gold_output="1"), ["syntax"], incorrect),
    job("bomb_parens", CheckJob("deduction", "def f(x):\n    return x", id="bomb_parens", answer="(" * 10**6,
                                gold_output="1"), ["syntax"], incorrect),
    job("bomb_10mb", CheckJob("deduction", "def f(x):\n    return x", id="bomb_10mb",
                              answer="'" + "a" * 10**7 + "'", gold_output="1"), ["syntax"], incorrect),
    job("bomb_nested", CheckJob("deduction", "def f(x):\n    return x", id="bomb_nested",
                                answer="[" * 1000 + "]" * 1000, gold_output="1"), ["syntax"], incorrect),
    job("bool_for_int", CheckJob("deduction", "def f(x):\n    return x", id="bool_for_int", answer="True",
                                 gold_output="1"), ["ok"], incorrect),
]


@pytest.fixture(scope="module")
def batch(service):
    before = descendants(os.getpid())
    restarts = service.restarts
    results = {r.id: r for r in service.submit(j for _, j, _, _ in CASES)}
    return results, before, restarts


def test_suite_covers_enough_programs():
    assert len(CASES) >= 40
    assert len({name for name, *_ in CASES}) == len(CASES)


@pytest.mark.parametrize("name,job,expect,check", CASES, ids=[c[0] for c in CASES])
def test_outcome(batch, name, job, expect, check):
    result = batch[0][name]
    assert result.status in expect, result
    if check is not None:
        assert check(result), result
    if isinstance(job, CheckJob):
        assert result.correct is (result.status == "ok" and result.correct)


def test_host_and_service_survive(batch, service):
    _, before, restarts = batch
    assert service.restarts == restarts, "no worker may die from a job"
    assert descendants(os.getpid()) == before, "no process left behind, no worker replaced"
    assert processes_of_uids(service.uids or range(0)) == set(), "no process left running as a sandbox uid"
    for place in PLACES:
        assert not os.path.exists(os.path.join(place, MARK)), place
    [ok] = service.run_batch([RunJob("def f(a, b):\n    return a + b", "f(2, 3)")])
    assert (ok.status, ok.repr) == ("ok", "5")


def test_no_state_leaks_into_later_jobs(batch, service):
    probe = ("import builtins, sys, os\n"
             "def f():\n"
             "    return (len([1, 2]), builtins.sorted is not None, type(sys.modules.get('math')).__name__,\n"
             "            type(sys.modules.get('json')).__name__, sorted(os.listdir('.')))")
    results = service.run_batch([RunJob(probe, "f()") for _ in range(8)])  # lands on every worker
    assert {r.repr for r in results} == {"(2, True, 'module', 'module', [])"}, results
