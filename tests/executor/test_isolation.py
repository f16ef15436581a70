"""What the sandbox really enforces on this machine, observed from inside a job and from outside."""

import ast
import os
import platform
import re
import struct
import sys

import pytest

from azr_jax.executor import RunJob
from azr_jax.executor.seccomp import (NEWER_THAN_HEADERS, SYSCALLS, _AUDIT_ARCH, _DENIED, _REFUSED, _RET_ALLOW,
                                      _RET_EPERM, _RET_KILL_PROCESS, _X32_BIT, build_filter)

from conftest import TEST_CONFIG

PROBE = """
import ctypes, os, resource, sys
def f():
    libc = ctypes.CDLL(None)
    return {
        'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups(),
        'own_group': os.getpgid(0) == os.getpid() == os.getsid(0),
        'no_new_privs': libc.prctl(39, 0, 0, 0, 0), 'seccomp_mode': libc.prctl(21, 0, 0, 0, 0),
        'as': resource.getrlimit(resource.RLIMIT_AS)[0], 'nproc': resource.getrlimit(resource.RLIMIT_NPROC)[0],
        'nofile': resource.getrlimit(resource.RLIMIT_NOFILE)[0], 'core': resource.getrlimit(resource.RLIMIT_CORE)[0],
        'fsize': resource.getrlimit(resource.RLIMIT_FSIZE)[0],
        'env': sorted(os.environ), 'cwd_is_home': os.getcwd() == os.environ['HOME'],
        'fds': sorted(int(x) for x in range(64) if _open(x)),
        'jax_loaded': any(m.split('.')[0] in ('jax', 'jaxlib', 'numpy') for m in sys.modules),
    }
def _open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
"""


@pytest.fixture(scope="module")
def inside(service):
    [r] = service.run_batch([RunJob(PROBE, "f()")])
    assert r.status == "ok", r
    return eval(r.repr)  # our own probe's plain-data repr


def test_mechanisms_reported(service):
    m = service.mechanisms
    assert m["rlimits"] and m["process_group_kill"]
    if os.geteuid() == 0:  # this machine: every mechanism is there
        assert m["uid"] == service.uids[0]  # worker 0's uid, from the service's own block
        assert m["network_namespace"] and m["mount_namespace"] and m["private_tmpfs_mb"] == TEST_CONFIG.tmp_mb
        assert m["pid_namespace"]
    assert m["seccomp"] is (platform.machine() in SYSCALLS)


def test_limits_and_identity_inside_a_job(service, inside):
    m = service.mechanisms
    if m["uid"] is not None:
        assert inside["uid"] in service.uids
        assert inside["gid"] == inside["uid"] and inside["groups"] == []
    assert inside["own_group"]
    assert inside["no_new_privs"] == 1
    assert inside["seccomp_mode"] == (2 if m["seccomp"] else 0)
    assert inside["as"] == TEST_CONFIG.memory_mb * 2**20
    assert (inside["nproc"], inside["core"]) == (1, 0)
    assert inside["nofile"] == TEST_CONFIG.max_open_files
    assert inside["fsize"] == TEST_CONFIG.max_file_mb * 2**20
    assert inside["env"] == ["HOME", "LANG", "TMPDIR"] and inside["cwd_is_home"]
    assert inside["fds"] == [0, 1, 2, 3], "only stdin, stdout, stderr and the result pipe"
    assert not inside["jax_loaded"]


def test_workers_are_separate_small_interpreters_without_network(service):
    for pid in service.worker_pids():
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        assert argv[0] == sys.executable.encode() and b"-S" in argv
        if service.mechanisms["network_namespace"]:
            with open(f"/proc/{pid}/net/dev") as f:
                interfaces = re.findall(r"^\s*(\S+):", f.read(), re.M)
            assert interfaces == ["lo"]
            assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
        if service.mechanisms["mount_namespace"]:
            assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")


def test_a_job_is_alone_with_its_worker_in_a_pid_namespace(service):
    """With a pid namespace a job sees only itself and its worker (pid 1); without one (a host that refuses
    it, reported in `mechanisms`) it sees the host's processes and its worker's host pid. Either way the
    worker survives the job's signals."""
    probe = ("import os, signal\n"
             "def f():\n"
             "    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):\n"
             "        try:\n            os.kill(1, s)\n        except OSError:\n            pass\n"
             "    seen = []\n"
             "    for pid in range(1, 4000):\n"
             "        try:\n            os.kill(pid, 0)\n            seen.append(pid)\n"
             "        except PermissionError:\n            seen.append(pid)\n"
             "        except ProcessLookupError:\n            pass\n"
             "    return os.getppid(), seen == [1, os.getpid()]")
    restarts = service.restarts
    results = service.run_batch([RunJob(probe, "f()") for _ in range(4)])
    assert all(r.status == "ok" for r in results), results
    views = [ast.literal_eval(r.repr) for r in results]
    if service.mechanisms["pid_namespace"]:
        assert views == [(1, True)] * 4, views
    else:
        assert all(parent in service.worker_pids() and not alone for parent, alone in views), views
    assert service.restarts == restarts, "the worker survived its job's signals"
    for pid in service.worker_pids():
        own_namespace = os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
        assert own_namespace is service.mechanisms["pid_namespace"]


def test_jobs_of_one_worker_do_not_share_tmp_with_the_host(service):
    [r] = service.run_batch([RunJob("import os\ndef f():\n    return os.getcwd()", "f()")])
    assert r.status == "ok"
    assert not os.path.exists(eval(r.repr)) or not os.listdir(eval(r.repr))


def test_the_executor_package_imports_no_jax():
    import subprocess
    code = "import sys, azr_jax.executor; print(sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'numpy')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("arch,header", [("x86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
                                         ("aarch64", "/usr/include/asm-generic/unistd.h")])
def test_syscall_numbers_match_kernel_headers(arch, header):
    if not os.path.exists(header):
        pytest.skip(f"{header} not installed (linux-libc-dev)")
    with open(header) as f:
        text = f.read()
    for name, number in SYSCALLS[arch].items():
        found = re.search(rf"#define __NR(?:3264)?_{name}\s+(\d+)", text)
        if found is None and name in NEWER_THAN_HEADERS:
            continue  # this host's headers predate the call
        assert found and int(found.group(1)) == number, name
    assert len(build_filter(arch)) % 8 == 0
    assert set(SYSCALLS[arch]) <= set(_DENIED) | set(_REFUSED)
    assert not set(_DENIED) & set(_REFUSED)


def _run_bpf(prog: bytes, arch_id: int, nr: int) -> int:
    """A classic-BPF interpreter for the few instructions our filter uses (load word, jeq, jgt, jge, ret)."""
    data = {0: nr, 4: arch_id}
    insns = [struct.unpack_from("HBBI", prog, i) for i in range(0, len(prog), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:
            acc = data[k]
        elif code in (0x15, 0x25, 0x35):
            taken = acc == k if code == 0x15 else acc > k if code == 0x25 else acc >= k
            pc += jt if taken else jf
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected BPF opcode {code:#x}")
        pc += 1


@pytest.mark.parametrize("arch", sorted(SYSCALLS))
def test_seccomp_filter_kills_exactly_the_denied_calls(arch):
    prog, arch_id = build_filter(arch), _AUDIT_ARCH[arch]
    denied = {n for name, n in SYSCALLS[arch].items() if name in _DENIED}
    refused = {n for name, n in SYSCALLS[arch].items() if name in _REFUSED}
    for nr in range(1024):
        expected = _RET_KILL_PROCESS if nr in denied else _RET_EPERM if nr in refused else _RET_ALLOW
        assert _run_bpf(prog, arch_id, nr) == expected, nr
    assert _run_bpf(prog, arch_id ^ 1, 0) == _RET_KILL_PROCESS, "another architecture's numbers"
    if arch == "x86_64":
        assert _run_bpf(prog, arch_id, _X32_BIT | 1) == _RET_KILL_PROCESS, "x32 ABI"
