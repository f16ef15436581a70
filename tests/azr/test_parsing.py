"""Parsing: well-formed completions give their fields; any malformed text or bytes gives format_ok=False
(or a sanitised value), never an exception, in bounded time."""

import random
import time

import pytest

from azr_jax.azr.config import AZRConfig
from azr_jax.azr.parsing import (PROPOSE, SOLVE, ParseOptions, ParseResult, fenced_blocks, parse_proposal,
                                 parse_solution, split_think_answer, to_text)
from azr_jax.azr.tasks import TaskType

D, A, I = TaskType.DEDUCTION, TaskType.ABDUCTION, TaskType.INDUCTION
ALL = [(role, t) for role in (PROPOSE, SOLVE) for t in TaskType]


def answer(body: str, think: str = "plan") -> str:
    return f"{think}</think>\n<answer>\n{body}\n</answer>"


def block(kind: str, body: str) -> str:
    return f"```{kind}\n{body}\n```"


def induction_body(n: int, message: bool = True) -> str:
    parts = [block("input", f"{i}, 'x'") for i in range(n)]
    if message:
        parts.append(block("message", "adds things"))
    return "\n".join(parts)


def parse(role, task_type, text, options=ParseOptions()):
    fn = parse_proposal if role == PROPOSE else parse_solution
    return fn(text, task_type, options)


_ALPHABET = b"<>/`think answer python input output message \n\t{}()[]'\"\\\x00"
_TO_ALPHABET = bytes(_ALPHABET[i % len(_ALPHABET)] for i in range(256))


def _random_garbage(n: int, seed: int) -> str:
    """n characters drawn from the tags' own letters, backticks, quotes and NUL (fast: one translate)."""
    return random.Random(seed).randbytes(n).translate(_TO_ALPHABET).decode("ascii")


# name -> (completion, the (role, task type) pairs for which it must be malformed; None = all six)
MALFORMED = {
    "empty": ("", None),
    "whitespace": (" \n\t ", None),
    "no tags": ("I think the answer is 42.", None),
    "missing </think>": ("plan <answer>\n```output\n1\n```\n</answer>", None),
    "missing <answer>": ("plan</think>\n```output\n1\n```\n</answer>", None),
    "missing </answer>": ("plan</think>\n<answer>\n```output\n1\n```\n", None),
    "answer before think closes": ("<answer>```output\n1\n```</answer></think>", None),
    "text between tags": ("plan</think> so: <answer>\n```output\n1\n```\n</answer>", None),
    "NUL between tags": ("plan</think>\x00<answer>\n```output\n1\n```\n</answer>", None),
    "upper-case tags": ("plan</THINK><ANSWER>\n```output\n1\n```\n</ANSWER>", None),
    "close before open": ("plan</think></answer><answer>", None),
    "empty answer": (answer(""), None),
    "bare answer, strict": (answer("42"), None),
    "unterminated fence": (answer("```python\ndef f(a):\n    return a\n"), None),
    "empty blocks": (answer(block("python", "") + block("input", "") + block("output", "  ")), None),
    "wrong language tags": (answer(block("javascript", "x => x") + block("inputs", "1") + block("out", "1")),
                            None),
    "four backticks": (answer("````python\ndef f(a):\n    return a\n````"), [(PROPOSE, D), (SOLVE, D), (SOLVE, A)]),
    "nested fences": (answer("```python\ndef f(a):\n    return '```'\n```\n```input\n1\n```"),
                      [(PROPOSE, I), (SOLVE, D)]),
    "nine inputs": (answer(induction_body(9)), [(PROPOSE, I), (SOLVE, D), (SOLVE, I)]),
    "eleven inputs (exact policy)": (answer(induction_body(11)), [(PROPOSE, I), (SOLVE, D), (SOLVE, I)]),
    "ten inputs, no message": (answer(induction_body(10, message=False)), [(PROPOSE, I)]),
    "ten inputs, one empty": (answer(induction_body(9) + "\n```input\n\n```"), [(PROPOSE, I)]),
    "think only": ("<think>", None),
    "repeated opening tags": ("<think>" * 10_000, None),
    "many </think> without answer": (("</think>" + " " * 100) * 5_000, None),
    "1 MB random garbage": (_random_garbage(1_000_000, 0), None),
    "1 MB inside think": ("x" * 1_000_000 + "</think><answer>", None),
    "5 MB garbage str": (_random_garbage(5_000_000, 1), None),
    "5 MB garbage bytes": (random.Random(2).randbytes(5_000_000), None),
    "answer over 64 KiB": (answer(block("output", "1" * 70_000)), None),
    "completion over cap, short answer": ("t" * ((1 << 20) + 10) + "</think><answer>```output\n1\n```</answer>",
                                          None),
    "many fences in answer": (answer("```" * 20_000), None),
    "invalid UTF-8 tags": (b"plan</thi\xffnk><answer>```output\n1\n```</answer>", None),
    "not text: None": (None, None),
    "not text: int": (12345, None),
    "not text: list": (["plan</think><answer>```output\n1\n```</answer>"], None),
}


def test_corpus_is_large_enough():
    assert len(MALFORMED) >= 30


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed(name):
    completion, bad_for = MALFORMED[name]
    for role, task_type in ALL:
        start = time.perf_counter()
        result = parse(role, task_type, completion)
        elapsed = time.perf_counter() - start
        assert isinstance(result, ParseResult)
        assert (result.role, result.task_type) == (role, task_type)
        assert elapsed < 2.0, f"{name}: {role} {task_type} took {elapsed:.2f} s"
        if bad_for is None or (role, task_type) in bad_for:
            assert not result.format_ok, f"{name}: {role} {task_type} accepted"
            assert result.reason
            assert result.solution is None


def test_five_megabytes_of_garbage_is_cheap():
    for completion in (MALFORMED["5 MB garbage str"][0], MALFORMED["5 MB garbage bytes"][0]):
        start = time.perf_counter()
        result = parse_solution(completion, D)
        assert time.perf_counter() - start < 1.0
        assert not result.format_ok and result.reason == "completion too long"


def test_invalid_utf8_and_surrogates_are_replaced():
    raw = b"plan \xff\xfe</think> <answer>```output\n'\xc3\x28'\n```</answer>"
    r = parse_solution(raw, D)
    assert r.format_ok and r.output == "'\ufffd('"
    r = parse_solution("pl\ud800an</think><answer>```output\n'\udfff'\n```</answer>", D)
    assert r.format_ok and "\ud800" not in r.think and "\udfff" not in r.output
    r.output.encode("utf-8")  # valid UTF-8 from here on
    r = parse_solution(bytearray(b"x</think><answer>```output\n1\n```</answer>"), D)
    assert r.format_ok and r.output == "1"
    r = parse_solution(memoryview(b"x</think><answer>```output\n2\n```</answer>"), D)
    assert r.format_ok and r.output == "2"


def test_nul_inside_a_block_is_kept_for_the_executor_to_refuse():
    r = parse_proposal(answer(block("python", "def f(a):\x00\n    return a") + block("input", "1")), D)
    assert r.format_ok and "\x00" in r.program


# --- well-formed completions -------------------------------------------------------------------------

def test_deduction_and_abduction_proposals():
    text = answer(block("python", "def f(a, b):\n    return a + b") + "\n" + block("input", "1, 2"))
    for t in (D, A):
        r = parse_proposal(text, t)
        assert r.format_ok and r.program == "def f(a, b):\n    return a + b" and r.input == "1, 2"
        assert r.think == "plan" and r.output is None


def test_proposer_takes_the_first_blocks_and_dedents():
    text = answer("  ```python\n    def f(a):\n        return a\n  ```\n```input\n1\n```\n"
                  "```python\ndef g(b):\n    return b\n```\n```input\n2\n```")
    r = parse_proposal(text, D)
    assert r.program == "def f(a):\n    return a" and r.input == "1"


def test_induction_proposal():
    r = parse_proposal(answer(induction_body(10)), I)
    assert r.format_ok and len(r.inputs) == 10 and r.inputs[3] == "3, 'x'" and r.message == "adds things"


def test_induction_count_policy_last():
    opts = ParseOptions.from_config(AZRConfig.reference_compat())
    r = parse_proposal(answer(induction_body(12)), I, opts)
    assert r.format_ok and r.inputs[0] == "2, 'x'" and len(r.inputs) == 10
    assert not parse_proposal(answer(induction_body(9)), I, opts).format_ok


def test_solutions_take_the_last_block():
    text = answer(block("output", "1") + "\nwait, no\n" + block("output", "[1, 2]"))
    assert parse_solution(text, D).solution == "[1, 2]"
    text = answer(block("input", "'a'") + block("input", "'b', 3"))
    assert parse_solution(text, A).solution == "'b', 3"
    text = answer(block("python", "def f(a):\n    return 1") + block("py", "def f(a):\n    return a * 2"))
    r = parse_solution(text, I)
    assert r.solution == "def f(a):\n    return a * 2" and r.program == r.solution


def test_bare_answer_option():
    strict, lenient = ParseOptions(), ParseOptions(bare_answer=True)
    assert not parse_solution(answer("  (1, 2) "), D, strict).format_ok
    assert parse_solution(answer("  (1, 2) "), D, lenient).solution == "(1, 2)"
    assert parse_solution(answer(block("output", "3")), D, lenient).solution == "3"


def test_opening_think_may_be_repeated_and_whitespace_varies():
    r = parse_solution("  <think>\nhmm</think>\u3000\r\n<answer>```output\r\n5\r\n```</answer> trailing", D)
    assert r.format_ok and r.think == "\nhmm" and r.output == "5"


def test_later_think_close_followed_by_answer_is_used():
    r = parse_solution("a</think> b </think>\n<answer>```output\n1\n```</answer>", D)
    assert r.format_ok and r.think == "a</think> b "


def test_one_line_blocks():
    r = parse_proposal(answer("```python def f(a): return a```\n```input 7```"), D)
    assert r.format_ok and r.program == "def f(a): return a" and r.input == "7"


def test_helpers_directly():
    assert split_think_answer("x</think><answer>y</answer>") == ("x", "y")
    assert split_think_answer("x</think>y<answer>z</answer>") is None
    assert fenced_blocks("```a\n1\n``` text ```b\n2\n``` ```c\n3") == [("a", "1\n"), ("b", "2\n")]
    assert to_text(b"ab\xff", 10) == ("ab\ufffd", "")
    assert to_text("x" * 11, 10)[0] is None
    assert to_text(b"x" * 41, 10)[0] is None


def test_random_mutations_never_raise():
    """Fuzz: well-formed completions of every kind with random edits (tags cut, NUL, surrogates, fences)."""
    seeds = [answer(block("python", "def f(a):\n    return a") + block("input", "1")),
             answer(induction_body(10)), answer(block("output", "[1, 2]")), answer(block("input", "'x', 2"))]
    pieces = ["```", "</think>", "<answer>", "</answer>", "\x00", "\ud800", "\udfff", "\n", " ", "`", "<", "\ufffd",
              "```input\n", "```python\n", "```message\n"]
    rng = random.Random(1234)
    for _ in range(400):
        text = rng.choice(seeds)
        for _ in range(rng.randint(1, 6)):
            i, j = sorted(rng.randrange(len(text) + 1) for _ in range(2))
            text = text[:i] + rng.choice(pieces + [""]) + text[j if rng.random() < 0.3 else i:]
        data = text.encode("utf-8", "surrogatepass") if rng.random() < 0.3 else text
        for role, task_type in ALL:
            r = parse(role, task_type, data)
            assert isinstance(r, ParseResult) and (r.format_ok or r.reason)
            for value in (r.think, r.answer, r.program, r.input, r.output, r.message, *r.inputs):
                if value is not None:
                    value.encode("utf-8")  # always valid text
