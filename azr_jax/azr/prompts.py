"""Prompt texts for the proposer and the solver of each task type, in the R1 format.

Every prompt is `<instruction> User: <task>\\nAssistant: <think>`, so the completion continues the
thinking section and must end it with `</think>`, then give `<answer> ... </answer>` with fenced blocks
(```python, ```input, ```output, ```message) that parsing.py reads. The texts are this project's own
words; their structure follows the AZR paper: a proposer sees K reference triplets of its task type
(induction: one program), a solver sees what its task type reveals.
"""

from __future__ import annotations

from typing import Sequence

from azr_jax.azr.config import PAPER_BANNED_MODULES
from azr_jax.azr.tasks import InductionTask, TaskType, Triplet
from azr_jax.executor.config import DEFAULT_BANNED_ATTRIBUTES, DEFAULT_BANNED_MODULES, DEFAULT_BANNED_NAMES

ASSISTANT_START = "\nAssistant: <think>"  # the prompt's last characters; a completion continues from here

_FRAME = (
    "A conversation between a User and an Assistant. The User gives a task and the Assistant completes it. "
    "The Assistant first reasons about the task step by step, then gives its final answer. The reasoning goes "
    "between <think> and </think>, the final answer between <answer> and </answer>, like this: "
    "<think> reasoning here </think> <answer> answer here </answer>. User: {task}" + ASSISTANT_START
)


def r1_prompt(task: str) -> str:
    """Wraps a task text in the R1 conversation frame."""
    return _FRAME.format(task=task)


def fence(kind: str, body: str) -> str:
    """A fenced block (```kind ... ```), the form every field of a prompt or an answer takes."""
    return f"```{kind}\n{body}\n```"


def _program_rules(banned: Sequence[str]) -> str:
    rules = [
        "- The entry point is a function named `f` with at least one parameter; helper functions may be "
        "nested inside it, and classes or imports go at the very top, before `f`.",
        "- `f` must return a value, and the program must end with the return statement of `f`.",
        "- `f` must be deterministic: the same input always gives the same output, in every run.",
        "- No randomness, no clocks or dates, no files, network or other input/output, no printing, no "
        "state outside the function.",
        "- It must finish well within a few seconds on an ordinary CPU.",
    ]
    if banned:
        rules.append("- Do not import or use these modules: " + ", ".join(banned) + ".")
    rules.append(_executor_rules(banned))
    return "\n".join(rules)


def _executor_rules(banned: Sequence[str]) -> str:
    """What the executor's own filter refuses beyond `banned` (executor/config.py, static_checks.py): a program
    that breaks a rule it was never told is punished for nothing."""
    modules = sorted(DEFAULT_BANNED_MODULES - set(banned))
    return ("- The checker also refuses: importing " + ("or using " if modules else "") + ", ".join(modules)
            + "; the built-in names " + ", ".join(sorted(DEFAULT_BANNED_NAMES))
            + "; any attribute named " + ", ".join(sorted(DEFAULT_BANNED_ATTRIBUTES)) + ". A variable or "
            "parameter of a function may still be called like a module or built-in (`time = 0`, `code`), but not "
            "one at module level or in a class body.")


def _reference_blocks(references: Sequence[Triplet]) -> str:
    parts = []
    for i, t in enumerate(references):
        parts.append(f"<reference_{i}>\n{fence('python', t.program)}\n{fence('input', t.input)}\n"
                     f"{fence('output', t.output)}\n</reference_{i}>")
    return "\n".join(parts)


_GOAL = {
    TaskType.DEDUCTION: (
        "The program and your input will be shown to a solver, who has to work out the output the program "
        "returns for that input. Aim for a task that takes careful, multi-step reasoning to predict but is "
        "possible to get right."),
    TaskType.ABDUCTION: (
        "The program and the output it returns for your input will be shown to a solver, who has to find an "
        "input that makes the program return that output (any such input counts). Aim for a task where "
        "working backwards from the output takes careful, multi-step reasoning but is possible."),
}


def _triplet_proposer_task(task_type: TaskType, references: Sequence[Triplet], banned: Sequence[str]) -> str:
    example = fence("python", "def f(words: list, k: int):\n    # your logic here\n    return result") + "\n" + \
        fence("input", "['apple', 'kiwi'], 2")
    return "\n\n".join([
        "## Task: write a new Python program with one input for it",
        "Invent a new program, different from the reference programs below, and one input to run it on. "
        + _GOAL[task_type] + " Data structures (stacks, heaps, trees, graphs), dynamic programming, "
        "recursion and tricky control flow are all welcome.",
        "### Program rules\n" + _program_rules(banned),
        "### Input rules\n- Give exactly one input: the arguments of a call to `f`, separated by commas.\n"
        "- Write each argument as a Python literal (quote strings).\n"
        "- Do not put the input inside the program.",
        "### Answer format\nInside <answer>, give the program in a ```python block and the input in an "
        "```input block, for example:\n" + example,
        "### Reference programs (with an input and the output it gives)\n" + _reference_blocks(references),
    ])


def _induction_proposer_task(program: str, num_inputs: int) -> str:
    example = "\n".join(fence("input", x) for x in ("'abc', 3", "'', 0")) + "\n" + \
        fence("message", "f counts something about the string; look at how the number changes it.")
    return "\n\n".join([
        f"## Task: choose {num_inputs} inputs for a program and write a message about it",
        f"Below is a program. Write {num_inputs} different inputs for it. The program will be run on them; a "
        f"solver will then see your message and the first {num_inputs // 2} inputs with their outputs, and has "
        "to write a program that also gives the right outputs for the remaining inputs. Choose inputs that "
        "together reveal what the program does (cover its different behaviours) and a message that helps "
        "without giving the code away.",
        "### Input rules\n"
        f"- Exactly {num_inputs} inputs, each in its own ```input block.\n"
        "- An input is the arguments of a call to `f`, separated by commas, each a Python literal (quote "
        "strings).",
        "### Message rules\n- One ```message block: a hint, a description or a puzzle statement about what "
        "the program does.\n- Do not copy the program or any part of its code into the message.",
        "### Answer format\nInside <answer>, for example:\n" + example,
        "### The program\n" + fence("python", program),
    ])


def proposer_prompt(task_type: TaskType, references: Sequence[Triplet], *, banned: Sequence[str] = (),
                    num_inputs: int = 10) -> str:
    """The proposer prompt. Deduction/abduction: `references` are the K triplets to show (drawn by the
    caller); induction: `references` holds exactly one triplet, whose program the proposer gets inputs for."""
    task_type = TaskType(task_type)
    if task_type is TaskType.INDUCTION:
        if len(references) != 1:
            raise ValueError(f"induction proposer takes exactly one reference program, got {len(references)}")
        return r1_prompt(_induction_proposer_task(references[0].program, num_inputs))
    return r1_prompt(_triplet_proposer_task(task_type, references, banned))


def _deduction_solver_task(t: Triplet) -> str:
    return "\n\n".join([
        "## Task: predict the output of a Python program",
        "Work out, step by step, what the program returns when `f` is called with the input below. Give "
        "the returned value as a Python literal in an ```output block: quote strings, use a tuple for a "
        "tuple, and so on; write a Counter, OrderedDict, defaultdict, namedtuple or range as Python prints it "
        "(`Counter({'a': 2})`, `defaultdict(int, {'a': 1})` with the factory by name, `P(x=1, y=2)`, `range(0, 5)`).",
        "### Program\n" + fence("python", t.program),
        "### Input\n" + fence("input", t.input),
        "### Answer format\nInside <answer>, for example:\n" + fence("output", "{'total': 7, 'items': ['a']}"),
    ])


def _abduction_solver_task(t: Triplet) -> str:
    return "\n\n".join([
        "## Task: find an input that makes a Python program return a given output",
        "Work out, step by step, an input for which `f` returns exactly the output below; any such input is "
        "correct. Give it in an ```input block as the arguments of a call to `f`, separated by commas, each "
        "a Python literal (quote strings).",
        "### Program\n" + fence("python", t.program),
        "### Output\n" + fence("output", t.output),
        "### Answer format\nInside <answer>, for example:\n" + fence("input", "[3, 1, 2], 'abc'"),
    ])


def _induction_solver_task(t: InductionTask, banned: Sequence[str]) -> str:
    pairs = "\n".join(f"<example_{i}>\n{fence('input', x)}\n{fence('output', y)}\n</example_{i}>"
                      for i, (x, y) in enumerate(t.visible))
    return "\n\n".join([
        "## Task: write the Python function behind some examples",
        "Below are inputs of a hidden function with the outputs it returns, and a message about it. Work "
        "out, step by step, what the function does and write a program that behaves the same way: it will "
        "be tested on other inputs that you do not see. Check your function against each example.",
        "### Program rules\n" + _program_rules(banned),
        "### Examples\n" + pairs,
        "### Message\n" + fence("message", t.message),
        "### Answer format\nInside <answer>, one ```python block, for example:\n"
        + fence("python", "def f(a):\n    return a"),
    ])


def solver_prompt(task_type: TaskType, task: Triplet | InductionTask, *,
                  banned: Sequence[str] = PAPER_BANNED_MODULES) -> str:
    """The solver prompt: deduction shows program + input, abduction program + output, induction the
    message and the visible (input, output) pairs. `banned` is named to an induction solver, who writes a
    program that the same checks as a proposal's judge (deduction and abduction answers are data only)."""
    task_type = TaskType(task_type)
    if task_type is TaskType.INDUCTION:
        if not isinstance(task, InductionTask):
            raise TypeError("an induction solver prompt needs an InductionTask")
        return r1_prompt(_induction_solver_task(task, banned))
    if not isinstance(task, Triplet):
        raise TypeError(f"a {task_type.executor_name} solver prompt needs a Triplet")
    build = _deduction_solver_task if task_type is TaskType.DEDUCTION else _abduction_solver_task
    return r1_prompt(build(task))
