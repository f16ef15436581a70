"""The three AZR task types as plain data, and the normal form used to deduplicate them.

A deduction or abduction task is a `Triplet` (program, input, output); the two differ only in which part
the solver is shown. An induction task is an `InductionTask`: one program, N inputs with their outputs
and a message; the solver sees the message and the first half of the pairs and must write a program
that maps the hidden half correctly. Inputs are argument lists as written inside `f(...)`
("1, [2, 3]"), outputs are canonical reprs computed by the executor, never by the model.
"""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass

IDENTITY_PROGRAM = "def f(a):\n    return a"
IDENTITY_INPUT = "'Hello world'"
IDENTITY_OUTPUT = "'Hello world'"
# Normalising a program parses it in this process: never parse anything longer (the executor refuses
# programs of this size as well, see AZRConfig.max_program_chars).
_MAX_NORMALISE_CHARS = 100_000


class TaskType(str, enum.Enum):
    """Task types, valued by the reference code's names."""

    DEDUCTION = "code_o"  # solver predicts the output
    ABDUCTION = "code_i"  # solver predicts an input
    INDUCTION = "code_f"  # solver writes the function

    @property
    def executor_name(self) -> str:
        return {"code_o": "deduction", "code_i": "abduction", "code_f": "induction"}[self.value]


@dataclass(frozen=True)
class Triplet:
    """A validated deduction/abduction task: `output` is the executor's canonical repr of f(input)."""

    program: str
    input: str
    output: str

    def key(self) -> tuple:
        return (normalise_program(self.program), normalise_input(self.input))

    def to_dict(self) -> dict:
        return {"program": self.program, "input": self.input, "output": self.output}

    @classmethod
    def from_dict(cls, d: dict) -> "Triplet":
        return cls(d["program"], d["input"], d["output"])


@dataclass(frozen=True)
class InductionTask:
    """A validated induction task; the first `len(inputs) // 2` pairs are visible, the rest hidden."""

    program: str
    inputs: tuple
    outputs: tuple
    message: str

    def __post_init__(self) -> None:
        if type(self.inputs) is not tuple or type(self.outputs) is not tuple:
            raise ValueError("InductionTask.inputs and .outputs must be tuples")
        if len(self.inputs) != len(self.outputs) or len(self.inputs) < 2:
            raise ValueError("InductionTask needs as many outputs as inputs, at least 2")

    @property
    def num_visible(self) -> int:
        return len(self.inputs) // 2

    @property
    def visible(self) -> tuple:
        """(input, output) pairs shown to the solver."""
        return tuple(zip(self.inputs[:self.num_visible], self.outputs[:self.num_visible]))

    @property
    def hidden(self) -> tuple:
        """(input, output) pairs the solver's program is checked on."""
        return tuple(zip(self.inputs[self.num_visible:], self.outputs[self.num_visible:]))

    def key(self) -> tuple:
        return (normalise_program(self.program), tuple(normalise_input(i) for i in self.inputs))

    def to_dict(self) -> dict:
        return {"program": self.program, "inputs": list(self.inputs), "outputs": list(self.outputs),
                "message": self.message}

    @classmethod
    def from_dict(cls, d: dict) -> "InductionTask":
        return cls(d["program"], tuple(d["inputs"]), tuple(d["outputs"]), d["message"])


Task = Triplet | InductionTask


@dataclass(frozen=True)
class Proposal:
    """A parsed, not yet validated proposal. Induction: `program` is the one the proposer was given."""

    task_type: TaskType
    program: str
    input: str = ""
    inputs: tuple = ()
    message: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "task_type", TaskType(self.task_type))


def identity_triplet() -> Triplet:
    """The seed every deduction/abduction buffer starts from (AZR_SPEC "Buffers")."""
    return Triplet(IDENTITY_PROGRAM, IDENTITY_INPUT, IDENTITY_OUTPUT)


def _parse(code: str, mode: str) -> ast.AST | None:
    if len(code) > _MAX_NORMALISE_CHARS:
        return None
    try:
        return ast.parse(code, "<normalise>", mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError, UnicodeError):
        return None


def _unparse(tree: ast.AST) -> str | None:
    try:
        return ast.unparse(tree)
    except (RecursionError, MemoryError, ValueError):
        return None


def normalise_program(code: str) -> str:
    """Program text in one spelling (comments, blank lines and quoting style gone); unparsable text as is."""
    tree = _parse(code, "exec")
    text = _unparse(tree) if tree is not None else None
    return text if text is not None else code.strip()


def normalise_input(text: str) -> str:
    """An argument list in one spelling: "1,[2 ,3]" and "1, [2, 3]" are the same input."""
    tree = _parse(f"f({text}\n)", "eval")
    if tree is None or type(tree.body) is not ast.Call:
        return text.strip()
    call = tree.body
    parts = [_unparse(a) for a in call.args] + [_unparse(k) for k in call.keywords]
    return text.strip() if any(p is None for p in parts) else ", ".join(parts)


def rename_entry_to_f(code: str) -> str:
    """Renames the single top-level function (and the calls to it) to `f`, as the prompts promise.

    Code that does not parse, has not exactly one top-level function, is already `f`, or already uses
    the name `f` elsewhere is returned unchanged: the executor judges it as written. A renamed program
    is re-printed by `ast.unparse`, so its comments are gone."""
    tree = _parse(code, "exec")
    if tree is None:
        return code
    funcs = [n for n in tree.body if type(n) in (ast.FunctionDef, ast.AsyncFunctionDef)]
    if len(funcs) != 1 or funcs[0].name == "f":
        return code
    old = funcs[0].name
    try:
        nodes = list(ast.walk(tree))
    except RecursionError:
        return code
    if any((type(n) is ast.Name and n.id == "f") or (type(n) in (ast.FunctionDef, ast.AsyncFunctionDef,
           ast.ClassDef) and n.name == "f") or (type(n) is ast.arg and n.arg == "f") for n in nodes):
        return code
    for n in nodes:
        if type(n) is ast.Name and n.id == old:
            n.id = "f"
        elif type(n) in (ast.FunctionDef, ast.AsyncFunctionDef) and n.name == old:
            n.name = "f"
    text = _unparse(tree)
    return text if text is not None else code
