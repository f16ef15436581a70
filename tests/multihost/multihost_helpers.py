"""Runs a driver script as several JAX processes on this machine (gloo collectives, coordinator on 127.0.0.1)."""

import json
import os
import socket
import subprocess
import sys
import time

PROCESSES = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_driver(driver, args, out_dir, tag, timeout_s=900):
    """Runs `python driver PROCESS_ID PROCESSES PORT *args OUT_JSON` for each process; returns (records, logs)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    procs, outs = [], []
    for i in range(PROCESSES):
        out = os.path.join(out_dir, f"{tag}_{i}.json")
        log = open(os.path.join(out_dir, f"{tag}_{i}.log"), "w")
        argv = [sys.executable, driver, str(i), str(PROCESSES), str(port), *map(str, args), out]
        procs.append((subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env), log))
        outs.append(out)
    # When one process fails the other would wait for it at the next collective: stop it at once.
    deadline = time.monotonic() + timeout_s
    while any(proc.poll() is None for proc, _ in procs):
        failed = any(proc.poll() not in (None, 0) for proc, _ in procs)
        if failed or time.monotonic() > deadline:
            for proc, _ in procs:
                proc.kill()
            break
        time.sleep(0.5)
    for proc, log in procs:
        proc.wait()
        log.close()
    for proc, log in procs:
        assert proc.returncode == 0, open(log.name).read()[-4000:]
    logs = [open(os.path.join(out_dir, f"{tag}_{i}.log")).read() for i in range(PROCESSES)]
    return [json.load(open(out)) for out in outs], logs
