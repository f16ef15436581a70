"""The service started by an unprivileged user: it warns once about what it cannot do, reports it, and still
enforces the rest (deadline with process-group kill, memory limit, output caps, Landlock, seccomp, no
capabilities inside its user namespace).

As root the probe runs as nobody (setpriv), with a copy of the package that user can read and an interpreter
it can run (the venv's may live under /root: then the system's /usr/bin/python3)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

NOBODY = 65534
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROBE = r'''
import json, os, sys, warnings
from azr_jax.executor import ExecutorConfig, ExecutorService, RunJob

outside = sys.argv[1]  # a directory this user may write, outside the jobs' tmp
mine = os.path.join(outside, "mine")  # a file of this user's (so of the jobs' uid), outside their tmp
with open(mine, "w") as f:
    f.write("secret")
os.chmod(mine, 0o600)
before = os.stat(mine)
JOBS = {
    "uid": "import os\ndef f():\n    return os.getuid()",
    "loop": "def f():\n    while True:\n        pass",
    "sleep": "import signal, time\ndef f():\n    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n    time.sleep(100)",
    "memory": "def f():\n    return len(bytearray(2**30))",
    "output": "def f():\n    print('x' * 10**6)",
    "own_tmp": "def f():\n    open('x', 'w').write('ok')\n    return open('x').read()",
    "outside": f"def f():\n    open({outside + '/pwned'!r}, 'w').write('x')",
    "mode_bits": "import os\ndef f():\n    open('s', 'w').write('x')\n    os.chmod('s', 0)\n    return open('s').read()",
    "fork": "import os\ndef f():\n    return os.fork()",
    "socket": "import socket\ndef f():\n    return socket.socket()",
    # Same uid as its worker: only the pid namespace stops these (pid 1 is the worker).
    "signal_worker": "import os, signal\ndef f():\n    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):\n"
                     "        os.kill(1, s)\n    return [p for p in range(2, 4000) if p != os.getpid() and _alive(p)]\n"
                     "def _alive(p):\n    try:\n        os.kill(p, 0)\n        return True\n"
                     "    except ProcessLookupError:\n        return False",
    "after": "import os\ndef f():\n    return os.getppid()",
    # Landlock does not cover metadata: seccomp refuses it (EPERM), else these would work on the user's files.
    "chmod": f"import os\ndef f():\n    os.chmod({mine!r}, 0o777)",
    "utime": f"import os\ndef f():\n    os.utime({mine!r}, (0, 0))",
    "chown": f"import os\ndef f():\n    os.chown({mine!r}, os.getuid(), os.getgid())",
    "xattr": f"import os\ndef f():\n    os.setxattr({mine!r}, 'user.pwned', b'1')",
}
out = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for round in range(2):  # a second service in the same process must not warn again
        with ExecutorService(ExecutorConfig(pool_size=2, timeout_s=1.0, memory_mb=256)) as service:
            results = service.run_batch([RunJob(code, "f()", id=name, static_checks=False)
                                         for name, code in JOBS.items()])
            out[f"restarts{round}"] = service.restarts
            out["mechanisms"] = service.mechanisms
            out["uids"] = service.uids
        out[f"results{round}"] = {r.id: [r.status, r.error_type, r.repr, r.time_ms] for r in results}
out["warnings"] = [str(w.message) for w in caught]
out["children_left"] = [p for p in os.listdir("/proc") if p.isdigit() and
                        open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[2] == str(os.getpid())]
out["me"] = os.getuid()
after = os.stat(mine)
out["mine_unchanged"] = (after.st_mode, after.st_mtime_ns, after.st_ctime_ns) == (before.st_mode, before.st_mtime_ns,
                                                                                  before.st_ctime_ns)
print(json.dumps(out))
'''


def _as_user(argv: list) -> list:
    if os.geteuid() != 0:
        return argv
    return [shutil.which("setpriv"), f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"] + argv


def _interpreter(package_root: str) -> str:
    """The first Python that the probe's user can run, that finds the executor and can start its workers."""
    tried = []
    for python in (sys.executable, "/usr/bin/python3"):
        check = "import subprocess, sys, azr_jax.executor\nsubprocess.run([sys.executable, '-c', ''], check=True)"
        ok = subprocess.run(_as_user([python, "-c", check]), capture_output=True, text=True,
                            env={"PYTHONPATH": package_root}, cwd="/")
        if ok.returncode == 0:
            return python
        tried.append(f"{python}: {ok.stderr.strip()[-300:]}")
    pytest.fail(f"no Python >= 3.10 that uid {NOBODY} can run (.ci/run installs /usr/bin/python3): " + "; ".join(tried))


def _readable_copy_of_the_package() -> str:
    """azr_jax copied where the unprivileged user can read it (a checkout under /root is not), outside /tmp,
    which the workers cover with their private tmpfs."""
    root = tempfile.mkdtemp(prefix="azr-nonroot-pkg-", dir="/var/tmp")
    os.chmod(root, 0o755)
    shutil.copytree(os.path.join(REPO, "azr_jax"), os.path.join(root, "azr_jax"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    for directory, _, _ in os.walk(root):
        os.chmod(directory, 0o755)
    return root


@pytest.fixture(scope="module")
def probe():
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to drop root; .ci/run installs it")
    package_root = _readable_copy_of_the_package()
    home = tempfile.mkdtemp(prefix="azr-nonroot-")
    outside = tempfile.mkdtemp(prefix="azr-nonroot-", dir="/var/tmp")  # not under /tmp, which the workers hide
    try:
        python = _interpreter(package_root)
        for d in (home, outside):
            os.chmod(d, 0o700)
            if os.geteuid() == 0:
                os.chown(d, NOBODY, NOBODY)
        done = subprocess.run(_as_user([python, "-c", PROBE, outside]), capture_output=True, text=True,
                              timeout=300, cwd=home, env={"PYTHONPATH": package_root, "HOME": home})
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.splitlines()[-1])
        result["stderr"] = done.stderr
        result["outside_files"] = os.listdir(outside)
        return result
    finally:
        for d in (package_root, home, outside):
            shutil.rmtree(d, ignore_errors=True)


def test_runs_unprivileged_and_warns_once(probe):
    assert probe["me"] != 0
    assert probe["uids"] is None
    not_root = [w for w in probe["warnings"] if "not root" in w]
    assert len(not_root) == 1, probe["warnings"]
    assert probe["stderr"].count("not root: jobs run under the service's own uid") == 1, "logged once too"
    m = probe["mechanisms"]
    assert m["uid"] is None and m["rlimits"] and m["process_group_kill"]
    assert m["seccomp"] and m["landlock_abi"] >= 1, m  # both work without root (no_new_privs)


@pytest.mark.parametrize("round", [0, 1])
def test_what_is_still_enforced(probe, round):
    r = {name: tuple(v) for name, v in probe[f"results{round}"].items()}
    assert r["loop"][0] == "timeout"
    assert r["sleep"][0] == "timeout" and r["sleep"][3] < 10_000, "killed at the deadline despite SIGTERM ignored"
    assert r["memory"][0] == "memory"
    assert r["output"][0] == "output_limit"
    assert r["own_tmp"][:3] == ("ok", None, "'ok'")
    assert r["outside"][:2] == ("error", "PermissionError"), "Landlock: no writes outside the job's tmp"
    assert r["mode_bits"][:2] == ("error", "PermissionError"), "no capabilities (CAP_DAC_OVERRIDE) in the job"
    assert r["fork"][0] == "banned" and r["socket"][0] == "banned"
    assert probe["mechanisms"]["pid_namespace"]
    assert r["signal_worker"][:3] == ("ok", None, "[]"), "no other process visible, pid 1 unharmed"
    assert r["after"][:3] == ("ok", None, "1") and probe[f"restarts{round}"] == 0
    assert probe["outside_files"] == ["mine"]
    for name in ("chmod", "utime", "chown", "xattr"):
        assert r[name][:2] == ("error", "PermissionError"), (name, r[name])
    assert probe["mine_unchanged"], "no job changed the mode, times or owner of a file outside its tmp"


def test_leaves_no_process_behind(probe):
    assert probe["children_left"] == []
