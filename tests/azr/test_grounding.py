"""Grounding against the real sandboxed executor: proposal validation and answer checking, all task types."""

import numpy as np
import pytest

from azr_jax.azr.buffers import TaskBuffers
from azr_jax.azr.config import AZRConfig
from azr_jax.azr.grounding import (BAD_SHAPE, NO_ANSWER, TOO_LONG, check_answers, check_answers_detailed,
                                   executor_config, iter_validate, proposal_from_parse, validate_proposals)
from azr_jax.azr.parsing import parse_proposal, parse_solution
from azr_jax.azr.prompts import ASSISTANT_START, proposer_prompt, solver_prompt
from azr_jax.azr.rewards import proposer_reward, solver_reward
from azr_jax.azr.tasks import InductionTask, Proposal, TaskType, Triplet
from azr_jax.executor import ExecutorService

D, A, I = TaskType.DEDUCTION, TaskType.ABDUCTION, TaskType.INDUCTION
CONFIG = AZRConfig(timeout_s=1.0, memory_mb=256)
SERVICE_EXTRAS = dict(pool_size=2, tmp_mb=16, worker_grace_s=3.0)

DOUBLE = "def f(a):\n    return a * 2"
TEN = tuple(str(k) for k in range(10))


@pytest.fixture(scope="module")
def service():
    with ExecutorService(executor_config(CONFIG, **SERVICE_EXTRAS)) as svc:
        yield svc


def test_executor_config_mapping():
    ours = executor_config(CONFIG)
    assert ours.timeout_s == 1.0 and ours.max_repr_chars == 400 and ours.determinism_runs == 2
    assert {"os", "sys", "random", "importlib", "ctypes"} <= ours.banned_modules and "eval" in ours.banned_names
    ref = executor_config(AZRConfig.reference_compat())
    assert "os" not in ref.banned_modules and "random" in ref.banned_modules and "os.path" not in ref.banned_modules
    assert not ref.banned_names and ref.timeout_s == 10.0
    assert executor_config(CONFIG, timeout_s=2.0).timeout_s == 2.0


def test_proposal_from_parse():
    good = parse_proposal("x</think><answer>```python\ndef f(a):\n    return a\n```\n```input\n1\n```</answer>", D)
    assert proposal_from_parse(good) == Proposal(D, "def f(a):\n    return a", input="1")
    assert proposal_from_parse(parse_proposal("garbage", D)) is None
    assert proposal_from_parse(parse_solution("x</think><answer>```output\n1\n```</answer>", D)) is None
    ind = parse_proposal("x</think><answer>" + "".join(f"```input\n{k}\n```" for k in range(10))
                         + "```message\nhi\n```</answer>", I)
    assert proposal_from_parse(ind, DOUBLE) == Proposal(I, DOUBLE, inputs=TEN, message="hi")
    with pytest.raises(ValueError):
        proposal_from_parse(ind)
    assert Proposal("code_i", "p", input="1").task_type is A


def test_valid_proposals(service):
    proposals = [
        Proposal(D, "def f(xs, k):\n    return sorted(xs)[:k]", input="[3, 1, 2], 2"),
        Proposal(A, "def count(s):\n    return {c: s.count(c) for c in sorted(set(s))}", input="'abca'"),
        Proposal(D, "class Box:\n    def __init__(self, v):\n        self.v = v\n\ndef f(n):\n    return Box(n).v + 1",
                 input="41"),
        Proposal(I, DOUBLE, inputs=TEN, message="doubles"),
    ]
    out = validate_proposals(service, proposals, CONFIG)
    assert [o.valid for o in out] == [True] * 4, out
    assert out[0].task == Triplet(proposals[0].program, "[3, 1, 2], 2", "[1, 2]")
    assert out[1].task.program.startswith("def f(s)") and out[1].task.output == "{'a': 2, 'b': 1, 'c': 1}"
    assert out[2].task.output == "42"
    assert out[3].task == InductionTask(DOUBLE, TEN, tuple(str(2 * k) for k in range(10)), "doubles")


INVALID = [
    ("banned import", Proposal(D, "import os\ndef f(a):\n    return os.getcwd()", input="1"), "banned"),
    ("banned sys", Proposal(D, "def f(a):\n    return __import__('sys').argv", input="1"), "banned"),
    ("random", Proposal(D, "import random\ndef f(a):\n    return random.random()", input="1"), "banned"),
    ("hash order", Proposal(D, "def f(n):\n    return list({str(i) for i in range(n)})", input="50"),
     "nondeterministic"),
    ("object ids", Proposal(A, "def f(a):\n    return id(a) % 1000", input="[1]"), "nondeterministic"),
    ("syntax", Proposal(D, "def f(a):\n    return a +", input="1"), "syntax"),
    ("no function", Proposal(D, "x = 1", input="1"), "syntax"),
    ("no parameter", Proposal(D, "def f():\n    return 1", input="1"), "syntax"),
    ("no return", Proposal(D, "def f(a):\n    a += 1", input="1"), "syntax"),
    ("two functions", Proposal(D, "def f(a):\n    return a\ndef g(b):\n    return b", input="1"), "syntax"),
    ("timeout", Proposal(D, "def f(a):\n    while True:\n        a += 1\n    return a", input="1"), "timeout"),
    ("raises", Proposal(A, "def f(a):\n    return a[10]", input="[1]"), "error"),
    ("bad input", Proposal(D, DOUBLE, input="1) + (2"), "syntax"),
    ("output over 400 chars", Proposal(D, "def f(n):\n    return 'x' * n", input="500"), None),
    ("program too long", Proposal(D, "def f(a):\n    return a\n" + "#" * 30_000, input="1"), TOO_LONG),
    ("input too long", Proposal(D, DOUBLE, input="1" * 5_000), TOO_LONG),
    ("empty input", Proposal(D, DOUBLE, input="  "), BAD_SHAPE),
    ("induction count", Proposal(I, DOUBLE, inputs=TEN[:9], message="m"), BAD_SHAPE),
    ("induction input raises", Proposal(I, "def f(a):\n    return 10 // a", inputs=TEN, message="m"), "error"),
    ("induction nondeterministic",
     Proposal(I, "def f(n):\n    return ''.join({str(i) for i in range(n + 30)})", inputs=TEN, message="m"),
     "nondeterministic"),
]


def test_invalid_proposals(service):
    out = validate_proposals(service, [p for _, p, _ in INVALID], CONFIG)
    for (name, _, status), outcome in zip(INVALID, out):
        assert not outcome.valid and outcome.task is None, name
        if status is not None:
            assert outcome.status == status, (name, outcome)
        else:
            assert outcome.status in ("output_limit", "unrepresentable"), (name, outcome)


def test_results_stream_as_jobs_finish(service):
    proposals = [Proposal(D, DOUBLE, input=str(k)) for k in range(6)] + [Proposal(D, DOUBLE, input="")]
    seen = dict(iter_validate(service, proposals, CONFIG))
    assert sorted(seen) == list(range(7)) and seen[6].status == BAD_SHAPE
    assert [seen[k].task.output for k in range(6)] == [str(2 * k) for k in range(6)]


HACK_CLASS = "class Yes:\n    def __eq__(self, other):\n        return True\n"
SORT = Triplet("def f(xs):\n    return tuple(sorted(xs))", "[3, 1, 2]", "(1, 2, 3)")
PAIR = Triplet("def f(a, b):\n    return a * b", "3, 4", "12")
IND = InductionTask("def f(a):\n    return a * a + 1", TEN, tuple(str(k * k + 1) for k in range(10)), "square-ish")

CHECKS = [  # (task type, task, answer, correct?)
    (D, SORT, "(1, 2, 3)", True),
    (D, SORT, "(1,2,3)", True),
    (D, SORT, "[1, 2, 3]", False),  # a list is not the tuple the program returns
    (D, SORT, "(3, 2, 1)", False),
    (D, SORT, "9**9**9", False),  # never evaluated: not a literal
    (D, SORT, "__import__('os').system('true')", False),
    (D, Triplet(HACK_CLASS + "def f(a):\n    return a + 1", "1", "2"), "Yes()", False),  # __eq__ always True
    (A, SORT, "[2, 3, 1]", True),  # any input with f(input) == gold
    (A, SORT, "(1, 2, 3)", True),
    (A, SORT, "[1, 2]", False),
    (A, PAIR, "2, 6", True),
    (A, PAIR, "a=6, b=2", True),
    (A, PAIR, "1, 11", False),
    (A, PAIR, "Yes()", False),  # answers are data: no calls to unknown classes
    (I, IND, "def g(x):\n    return x ** 2 + 1", True),
    (I, IND, "def f(a):\n    return [1, 2, 5, 10, 17][a] if a < 5 else a", False),  # fits only the visible half
    (I, IND, HACK_CLASS + "def f(a):\n    return Yes()", False),  # __eq__ always True
    (I, IND, "class N(int):\n    def __eq__(self, o):\n        return True\n    __hash__ = int.__hash__\n"
             "def f(a):\n    return N(0)", False),
    (I, IND, "def f(a):\n    print(a * a + 1)\n    return None", False),  # printing the output is not returning it
    (I, IND, "import os\ndef f(a):\n    return a * a + 1", False),  # banned even when right
    (I, IND, "def f(a):\n    while True:\n        pass\n    return a", False),
]


def test_check_answers_all_types(service):
    types, tasks, answers, want = zip(*CHECKS)
    got = check_answers(service, list(tasks), list(answers), list(types))
    for row, g in zip(CHECKS, got):
        assert g is row[3], row


def test_check_answers_without_an_answer(service):
    out = check_answers_detailed(service, [SORT, SORT], [None, "  "], D)
    assert [(o.correct, o.status) for o in out] == [(False, NO_ANSWER)] * 2
    with pytest.raises(ValueError):
        check_answers(service, [SORT], [], D)
    with pytest.raises(TypeError):
        check_answers(service, [SORT], ["1"], I)


def test_reference_compat_lets_os_imports_through_the_filter_not_the_sandbox():
    cfg = AZRConfig.reference_compat(timeout_s=1.0, memory_mb=256)
    program = "import os\ndef f(a):\n    return os.path.join(a, 'b')"
    with ExecutorService(executor_config(cfg, **SERVICE_EXTRAS)) as svc:
        [ok, banned] = validate_proposals(svc, [Proposal(D, program, input="'a'"),
                                                Proposal(D, "import random\ndef f(a):\n    return a", input="1")], cfg)
    assert ok.valid and ok.task.output == "'a/b'"
    assert not banned.valid and banned.status == "banned"


def test_one_round_end_to_end(service):
    """Prompt -> completion -> parse -> validate -> buffer -> solver prompt -> parse -> check -> rewards."""
    bufs = TaskBuffers.initial(CONFIG)
    rng = np.random.default_rng(0)
    refs = bufs.references(D, CONFIG.num_references, rng)
    prompt = proposer_prompt(D, refs, banned=CONFIG.banned_modules)
    completion = (" idea</think>\n<answer>\n```python\ndef f(s):\n    return s[::-1].upper()\n```\n"
                  "```input\n'abc'\n```\n</answer>")
    parsed = parse_proposal((prompt + completion).rsplit(ASSISTANT_START, 1)[1], D)
    [outcome] = validate_proposals(service, [proposal_from_parse(parsed)], CONFIG)
    assert outcome.valid and outcome.task.output == "'CBA'"
    new = bufs[D].extend([outcome.task])
    batch = bufs[D].solver_batch(new, 4, rng)
    assert outcome.task in batch and len(batch) == 4
    rollouts = [" x</think><answer>```output\n'CBA'\n```</answer>", " x</think><answer>```output\n'cba'\n```</answer>",
                " no format", " x</think><answer>```output\n\"CBA\"\n```</answer>"]
    assert "'abc'" in solver_prompt(D, outcome.task)
    sols = [parse_solution(r, D) for r in rollouts]
    correct = check_answers(service, [outcome.task] * 4, [s.solution for s in sols], D)
    assert correct == [True, False, False, True]
    assert [solver_reward(s.format_ok, c) for s, c in zip(sols, correct)] == [1.0, -0.5, -1.0, 1.0]
    assert proposer_reward(parsed.format_ok, outcome.valid, correct, CONFIG.rewards) == 0.5
    # an induction proposal on a buffer program, checked the same way
    [prog] = bufs.references(I, 1, rng)
    ind = parse_proposal(" ok</think><answer>" + "".join(f"```input\n'{c * 3}'\n```" for c in "abcdefghij")
                         + "```message\nstrings\n```</answer>", I)
    [ind_outcome] = validate_proposals(service, [proposal_from_parse(ind, prog.program)], CONFIG)
    assert ind_outcome.valid and len(ind_outcome.task.hidden) == 5
    assert check_answers(service, [ind_outcome.task], [prog.program], I) == [True]
