"""`python -m azr_jax.executor`: JSON in, JSON out; one bad line never stops a batch."""

import json
import subprocess
import sys

ROOT = __file__.rsplit("/tests/", 1)[0]


def cli(*args, stdin=""):
    out = subprocess.run([sys.executable, "-m", "azr_jax.executor", "--workers", "2", "--timeout", "2", *args],
                         input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=120)
    return out.returncode, [json.loads(line) for line in out.stdout.splitlines()]


def test_run(tmp_path):
    program = tmp_path / "p.py"
    program.write_text("def f(a, b):\n    return [a + b, {'k': (1.5, None)}]\n")
    code, [line] = cli("run", "--code", str(program), "--call", "f(1, 2)")
    assert code == 0
    assert line["status"] == "ok" and line["repr"] == "[3, {'k': (1.5, None)}]" and line["time_ms"] > 0
    program.write_text("def f():\n    while True:\n        pass\n")
    code, [line] = cli("run", "--code", str(program), "--call", "f()")
    assert (code, line["status"]) == (1, "timeout")


def test_batch():
    lines = [
        {"id": 1, "kind": "run", "code": "def f(x):\n    return x * 2", "call": "f(21)"},
        "this is not json",
        {"id": 2, "kind": "validate", "task": "code_o", "code": "def f(s):\n    return s[::-1]", "input": "'abc'"},
        {"id": 3, "kind": "validate", "task": "induction", "code": "def f(x):\n    return x + 1", "inputs": ["1", "2"]},
        {"id": 4, "kind": "check", "task": "deduction", "code": "def f(s):\n    return s[::-1]", "input": "'abc'",
         "gold_output": "'cba'", "answer": "'cba'"},
        {"id": 5, "kind": "check", "task": "abduction", "code": "def f(s):\n    return s[::-1]",
         "gold_output": "'cba'", "answer": "'abc'"},
        {"id": 6, "kind": "check", "task": "code_f", "code": "def f(x):\n    return x + 1",
         "answer_code": "def f(x):\n    return x - 1", "inputs": ["1", "2"]},
        {"id": 7, "kind": "check", "task": "bogus"},
        {"id": 8, "kind": "run", "code": "def f():\n    import os\n    os.fork()", "call": "f()"},
        {"id": 9, "kind": "validate", "task": "deduction", "code": "import os\ndef f(x):\n    return x", "input": "1"},
    ]
    stdin = "\n".join(x if type(x) is str else json.dumps(x) for x in lines) + "\n"
    code, out = cli("batch", stdin=stdin)
    assert code == 0
    by_id = {o["id"]: o for o in out if o["id"] is not None}
    assert len(out) == len(lines)
    assert [o for o in out if o["id"] is None][0]["error_type"] == "BadRequest"
    assert (by_id[1]["status"], by_id[1]["repr"]) == ("ok", "42")
    assert (by_id[2]["status"], by_id[2]["output"]) == ("ok", "'cba'")
    assert (by_id[3]["status"], by_id[3]["outputs"]) == ("ok", ["2", "3"])
    assert (by_id[4]["correct"], by_id[5]["correct"], by_id[6]["correct"]) == (True, True, False)
    assert by_id[7]["status"] == "error" and "bogus" in by_id[7]["message"]
    assert by_id[8]["status"] == "banned" and by_id[9]["status"] == "banned"
