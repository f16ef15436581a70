"""The pretraining corpus of the tiny base model: generated programs as documents, in two styles.

Most documents are in a neutral documentation style, in one of three orders, so that the model learns
to read a program forwards (call -> result), backwards (result <- call) and from examples to code:

    def f(xs):                          # f(1) returns 3            # Examples:
        return [x * 2 for x in xs]      def f(n): ...               # f([1]) == [2]
    >>> f([1, 2])                       # 3 is returned by f(1)     def f(xs): ...
    [2, 4]

A small share (`format_share`) is text in the exact AZR proposer and solver formats (azr_jax.azr.prompts)
followed by a well-formed completion, so that the model knows the formats self-play will ask for. The
completions' thinking sections are one short neutral sentence: the base is taught the format, not a
reasoning method.
"""

from __future__ import annotations

import random
from typing import Iterator

from azr_jax.azr.prompts import fence, proposer_prompt, solver_prompt
from azr_jax.azr.tasks import InductionTask, TaskType, Triplet
from azr_jax.data.generator import GeneratedProgram, generate, training_draws
from azr_jax.data.messages import induction_message

DOC_SEPARATOR = "\n\n"
INDUCTION_INPUTS = 10


def completion(think: str, blocks: list[tuple[str, str]]) -> str:
    """A well-formed completion of a prompt that ends with `<think>` (the R1 format)."""
    answer = "\n".join(fence(kind, body) for kind, body in blocks)
    return f" {think} </think>\n<answer>\n{answer}\n</answer>"


def forward_doc(p: GeneratedProgram) -> str:
    calls = "\n".join(f">>> f({x})\n{y}" for x, y in zip(p.inputs, p.outputs))
    return f"{p.source}\n{calls}"


def backward_doc(p: GeneratedProgram) -> str:
    notes = "\n".join(f"# {y} is returned by f({x})" for x, y in zip(p.inputs, p.outputs))
    return f"{p.source}\n{notes}"


def examples_first_doc(p: GeneratedProgram) -> str:
    examples = "\n".join(f"# f({x}) == {y}" for x, y in zip(p.inputs, p.outputs))
    return f"# Examples:\n{examples}\n{p.source}"


DOC_STYLES = (forward_doc, backward_doc, examples_first_doc)


def solver_doc(p: GeneratedProgram, task_type: TaskType) -> str:
    """A solver prompt for a task made from `p`, with the correct answer."""
    if task_type is TaskType.INDUCTION:
        task = InductionTask(p.source, p.inputs, p.outputs, induction_message(p.family, p.seed))
        return solver_prompt(task_type, task) + completion(
            "I look at how each output follows from its input.", [("python", p.source)])
    triplet = Triplet(p.source, p.inputs[0], p.outputs[0])
    if task_type is TaskType.DEDUCTION:
        return solver_prompt(task_type, triplet) + completion(
            "I follow f on the input step by step.", [("output", triplet.output)])
    return solver_prompt(task_type, triplet) + completion(
        "I look for an input that gives this output.", [("input", triplet.input)])


def proposer_doc(p: GeneratedProgram, reference: GeneratedProgram, task_type: TaskType,
                 banned: tuple[str, ...]) -> str:
    """A proposer prompt with one reference, answered with `p` (a program of another draw)."""
    ref = Triplet(reference.source, reference.inputs[0], reference.outputs[0])
    if task_type is TaskType.INDUCTION:
        prompt = proposer_prompt(task_type, [Triplet(p.source, p.inputs[0], p.outputs[0])],
                                 num_inputs=len(p.inputs))
        blocks = [("input", x) for x in p.inputs] + [("message", induction_message(p.family, p.seed))]
        return prompt + completion("I choose inputs that show what f does.", blocks)
    prompt = proposer_prompt(task_type, [ref], banned=banned)
    return prompt + completion("I write a new small program and an input for it.",
                               [("python", p.source), ("input", p.inputs[0])])


def documents(count: int, seed: int, format_share: float, banned: tuple[str, ...], max_examples: int = 8,
              proposer_share: float = 0.25) -> Iterator[str]:
    """`count` documents from training draws only; `format_share` of them in the AZR formats, of which
    `proposer_share` are proposer documents and the rest solver documents.

    A documentation-style document shows 1 to `max_examples` calls: the results are the only tokens that
    take computing to predict, so more calls per program put more of the training on what the solver
    needs. Proposer documents are long (the rules) and teach only the format, which is learnt early."""
    rng = random.Random(seed)
    draws = training_draws(count + 1, seed)
    for i in range(count):
        family, program_seed = draws[i]
        if rng.random() < format_share:
            p = generate(family, program_seed, INDUCTION_INPUTS)
            task_type = rng.choice(list(TaskType))
            if rng.random() >= proposer_share:
                yield solver_doc(p, task_type)
            else:
                ref_family, ref_seed = draws[i + 1]
                yield proposer_doc(p, generate(ref_family, ref_seed, 1), task_type, banned)
        else:
            p = generate(family, program_seed, rng.randint(1, max_examples))
            yield rng.choice(DOC_STYLES)(p)
