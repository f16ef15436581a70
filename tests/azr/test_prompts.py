"""Prompt builders: R1 frame, required tags and references, and a round trip through the parser."""

import pytest

from azr_jax.azr.config import AZRConfig
from azr_jax.azr.parsing import ParseOptions, parse_proposal, parse_solution
from azr_jax.azr.prompts import ASSISTANT_START, proposer_prompt, r1_prompt, solver_prompt
from azr_jax.azr.tasks import InductionTask, TaskType, Triplet
from azr_jax.executor.config import DEFAULT_BANNED_ATTRIBUTES, DEFAULT_BANNED_MODULES, DEFAULT_BANNED_NAMES

D, A, I = TaskType.DEDUCTION, TaskType.ABDUCTION, TaskType.INDUCTION
REFS = [Triplet(f"def f(x):\n    return x + {k}", str(k), str(2 * k)) for k in range(6)]
TASK = InductionTask("def f(a):\n    return a * 3", tuple(str(i) for i in range(10)),
                     tuple(str(3 * i) for i in range(10)), "triples it")


def completion_of(full_text: str) -> str:
    """What a model generates after the prompt: the text after the prompt's final `Assistant: <think>`."""
    return full_text.rsplit(ASSISTANT_START, 1)[1]


def check_frame(prompt: str):
    assert prompt.startswith("A conversation between a User and an Assistant.")
    assert prompt.endswith("\nAssistant: <think>") and prompt.count("User: ") == 1
    for tag in ("<think>", "</think>", "<answer>", "</answer>"):
        assert tag in prompt


@pytest.mark.parametrize("task_type", [D, A])
def test_triplet_proposer_prompt(task_type):
    cfg = AZRConfig()
    p = proposer_prompt(task_type, REFS, banned=cfg.banned_modules)
    check_frame(p)
    for i, ref in enumerate(REFS):
        assert f"<reference_{i}>\n```python\n{ref.program}\n```\n```input\n{ref.input}\n```\n" \
               f"```output\n{ref.output}\n```\n</reference_{i}>" in p
    assert "```python" in p and "```input" in p
    assert "os, sys" in p and "random" in p  # the banned-module rule names the configured list
    assert ("output" in p.split("## Task")[1]) and ("input" in p)


def test_prompts_that_take_a_program_state_every_rule_the_checker_applies():
    """Issue 21 item 1: what the executor refuses beyond the paper's list is named to whoever writes a program:
    the deduction/abduction proposers and the induction solver (the induction proposer and the other solvers
    write literals only)."""
    writers = [proposer_prompt(D, REFS, banned=AZRConfig().banned_modules),
               proposer_prompt(A, REFS, banned=AZRConfig().banned_modules), solver_prompt(I, TASK)]
    for p in writers:
        rules = p.split("### Program rules")[1]
        assert all(m in rules for m in DEFAULT_BANNED_MODULES | DEFAULT_BANNED_NAMES | DEFAULT_BANNED_ATTRIBUTES)
        assert "Do not import or use these modules: random, time" in rules
        assert "variable or parameter of a function may still be called like a module or built-in" in rules
    assert "### Program rules" not in solver_prompt(D, REFS[0]) + solver_prompt(A, REFS[0]) + \
        proposer_prompt(I, REFS[:1])
    assert "Do not import or use these modules: os." in solver_prompt(I, TASK, banned=("os",))


def test_deduction_and_abduction_proposer_prompts_differ():
    assert proposer_prompt(D, REFS) != proposer_prompt(A, REFS)
    assert "Do not import" not in proposer_prompt(D, REFS, banned=())


def test_induction_proposer_prompt():
    p = proposer_prompt(I, REFS[:1], num_inputs=10)
    check_frame(p)
    assert "```python\ndef f(x):\n    return x + 0\n```" in p
    assert "10" in p and "```input" in p and "```message" in p and "first 5" in p
    with pytest.raises(ValueError):
        proposer_prompt(I, REFS[:2])


def test_solver_prompts_show_what_the_type_reveals():
    t = Triplet("def f(s):\n    return s[::-1]", "'abc'", "'cba'")
    d = solver_prompt(D, t)
    check_frame(d)
    assert "```python\ndef f(s):\n    return s[::-1]\n```" in d and "```input\n'abc'\n```" in d
    assert "```output\n'cba'\n```" not in d  # the answer is not in the deduction prompt
    a = solver_prompt(A, t)
    assert "```output\n'cba'\n```" in a and "```input\n'abc'\n```" not in a
    i = solver_prompt(I, TASK)
    check_frame(i)
    assert "```message\ntriples it\n```" in i and TASK.program not in i
    for x, y in TASK.visible:
        assert f"```input\n{x}\n```\n```output\n{y}\n```" in i
    for x, y in TASK.hidden:
        assert f"```input\n{x}\n```" not in i
    with pytest.raises(TypeError):
        solver_prompt(I, t)
    with pytest.raises(TypeError):
        solver_prompt(D, TASK)


def test_round_trip_through_the_parser():
    program = "def f(xs):\n    return sorted(xs)[::2]"
    prop = " a plan.\n</think>\n<answer>\n```python\n" + program + "\n```\n```input\n[3, 1, 2]\n```\n</answer>"
    for t in (D, A):
        r = parse_proposal(completion_of(proposer_prompt(t, REFS) + prop), t)
        assert r.format_ok and r.program == program and r.input == "[3, 1, 2]"
    ind = " ok</think><answer>\n" + "\n".join(f"```input\n{k}\n```" for k in range(10)) + \
          "\n```message\nmultiplies\n```\n</answer>"
    r = parse_proposal(completion_of(proposer_prompt(I, REFS[:1]) + ind), I, ParseOptions())
    assert r.format_ok and r.inputs == tuple(str(k) for k in range(10)) and r.message == "multiplies"
    t = Triplet(program, "[3, 1, 2]", "[1, 3]")
    for task_type, task, body, want in [
        (D, t, "```output\n[1, 3]\n```", "[1, 3]"),
        (A, t, "```input\n[3, 2, 1]\n```", "[3, 2, 1]"),
        (I, TASK, "```python\ndef f(a):\n    return 3 * a\n```", "def f(a):\n    return 3 * a"),
    ]:
        full = solver_prompt(task_type, task) + " thinking</think> <answer>" + body + "</answer>"
        assert parse_solution(completion_of(full), task_type).solution == want


def test_r1_prompt_frame():
    assert r1_prompt("do X").endswith("User: do X\nAssistant: <think>")
