"""Each service's jobs run under uids of its own: claims, stale claims, and one service's job reaching for
another's. Root only (without root there are no uids to hand out, and the service says so)."""

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from azr_jax.executor import ExecutorConfig, ExecutorService, RunJob, uid_blocks

from conftest import processes_of_uids

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="uid blocks are claimed only as root")

UID = "import os\ndef f():\n    return os.getuid()"
# Needs a file descriptor after its nap: an attacker that could lower its RLIMIT_NOFILE would break it.
VICTIM = "import time\ndef f():\n    time.sleep(3)\n    open('x', 'w').close()\n    return 'survived'"
# Landlock (ABI >= 6) already keeps a job's signals in its own domain; prlimit and setpriority on another
# process are refused by nothing but the uid check, which is what the blocks are for.
ATTACK = """import os, resource, signal
def f(pid):
    out = []
    for act in (lambda: resource.prlimit(pid, resource.RLIMIT_NOFILE, (0, 0)),
                lambda: os.setpriority(os.PRIO_PROCESS, pid, 19), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            act()
            out.append('done')
        except OSError as e:
            out.append(type(e).__name__)
    return out
"""


def config(**kw) -> ExecutorConfig:
    return ExecutorConfig(**{**dict(pool_size=2, determinism_runs=1, timeout_s=10.0), **kw})


def private(tmp_path) -> ExecutorConfig:
    """A lock directory and a uid range of the test's own, for tests that count block indices: services
    elsewhere on the host (other test runs, a soak) use the default directory and range."""
    return config(uid_lock_dir=str(tmp_path), sandbox_uid_base=0x78000000)


def test_two_services_at_once_get_disjoint_uids():
    with ExecutorService(config()) as a, ExecutorService(config()) as b:
        seen = {}
        for name, service in (("a", a), ("b", b)):
            results = service.run_batch([RunJob(UID, "f()")] * 8)
            seen[name] = {int(r.repr) for r in results}
            assert seen[name] <= set(service.uids)
        assert len(seen["a"]) == len(seen["b"]) == 2
        assert not seen["a"] & seen["b"]
        assert not set(a.uids) & set(b.uids)
    index = (a.uids[0] - a.config.sandbox_uid_base) // a.config.uid_block_size
    lock = os.open(os.path.join(a.config.uid_lock_dir, f"block-{index}.lock"), os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the closed service still held its claim
    finally:
        os.close(lock)


def test_a_job_cannot_touch_another_services_job():
    with ExecutorService(config(pool_size=1)) as victim, ExecutorService(config(pool_size=1)) as attacker:
        out = {}
        napper = threading.Thread(target=lambda: out.update(r=victim.run_batch([RunJob(VICTIM, "f()")])[0]))
        napper.start()
        while not (running := processes_of_uids(victim.uids)) and napper.is_alive():  # the victim's job child
            time.sleep(0.01)
        [attack] = attacker.run_batch([RunJob(ATTACK, f"f({min(running)})")])
        napper.join()
        # In a pid namespace of its own a job cannot even name the victim; without one the uids keep it out.
        error = "ProcessLookupError" if attacker.mechanisms["pid_namespace"] else "PermissionError"
        assert attack.repr == str([error] * 3)
        assert (out["r"].status, out["r"].repr) == ("ok", "'survived'")


def test_a_dead_owners_claim_is_reclaimed(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom azr_jax.executor import ExecutorConfig, uid_blocks\n"
         f"b = uid_blocks.claim(ExecutorConfig(uid_lock_dir={str(tmp_path)!r}, sandbox_uid_base=0x78000000))\n"
         "print(b.index, flush=True)\n"
         "time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=os.getcwd()))
    try:
        assert holder.stdout.readline().strip() == "0"
        mine = uid_blocks.claim(private(tmp_path))
        assert mine.index == 1, "block 0 is held by a live process"
        mine.release()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    with open(tmp_path / "block-0.lock") as f:
        assert int(f.read()) == holder.pid, "the dead owner's claim is still on file"
    again = uid_blocks.claim(private(tmp_path))
    assert again.index == 0
    again.release()


def test_a_block_whose_uid_runs_a_process_is_skipped(tmp_path):
    first = private(tmp_path).sandbox_uid_base
    # A process under block 0's first uid, from something that took no lock. A fresh interpreter rather than
    # a fork of this one: pytest's process has JAX loaded, whose threads make forking it unsafe.
    squatter = subprocess.Popen(
        [sys.executable, "-c", "import os, sys, time\nu = int(sys.argv[1])\nos.setresgid(u, u, u)\n"
         "os.setresuid(u, u, u)\nprint(os.getuid(), flush=True)\ntime.sleep(60)", str(first)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert squatter.stdout.readline().strip() == str(first)
        block = uid_blocks.claim(private(tmp_path))
        assert block.index == 1
        block.release()
    finally:
        squatter.kill()
        squatter.wait()
        squatter.stdout.close()


def test_a_lock_dir_others_can_write_is_refused(tmp_path):
    loose = tmp_path / "loose"
    loose.mkdir()
    os.chmod(loose, 0o777)
    with pytest.raises(PermissionError, match="writable only by it"):
        uid_blocks.claim(private(loose))
