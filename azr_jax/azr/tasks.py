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
from typing import Iterator

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


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, *_COMPREHENSIONS)


class _Unrenamable(Exception):
    """The program binds the entry's name in a way the renamer does not follow (see rename_entry_to_f)."""


def _outer_parts(scope: ast.AST) -> list[ast.AST]:
    """The parts of a scope's node that Python evaluates in the enclosing scope."""
    if isinstance(scope, ast.ClassDef):
        return [*scope.decorator_list, *scope.bases, *scope.keywords]
    if isinstance(scope, _COMPREHENSIONS):
        return [scope.generators[0].iter]
    a = scope.args
    defaults = [*a.defaults, *(d for d in a.kw_defaults if d is not None)]
    if isinstance(scope, ast.Lambda):
        return defaults
    annotations = [arg.annotation for arg in _arguments(a) if arg.annotation is not None]
    return [*scope.decorator_list, *defaults, *annotations, *([scope.returns] if scope.returns else [])]


def _inner_parts(scope: ast.AST) -> list[ast.AST]:
    """The parts of a scope's node that run in the scope itself (parameters included)."""
    if isinstance(scope, ast.ClassDef):
        return list(scope.body)
    if isinstance(scope, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
        first = scope.generators[0]
        return [scope.elt, first.target, *first.ifs, *scope.generators[1:]]
    if isinstance(scope, ast.DictComp):
        first = scope.generators[0]
        return [scope.key, scope.value, first.target, *first.ifs, *scope.generators[1:]]
    body = [scope.body] if isinstance(scope, ast.Lambda) else scope.body
    return [*_arguments(scope.args), *body]


def _arguments(a: ast.arguments) -> list[ast.arg]:
    return [*a.posonlyargs, *a.args, *a.kwonlyargs, *(x for x in (a.vararg, a.kwarg) if x is not None)]


def _own_nodes(parts: list[ast.AST]) -> Iterator[ast.AST]:
    """Every node of `parts` that belongs to their scope. A nested scope's node is yielded (its name
    binds here) with its outer parts, never its inner parts; a parameter without its annotation."""
    stack = list(reversed(parts))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _SCOPES):
            children = _outer_parts(node)
        elif isinstance(node, ast.arg):
            children = []
        else:
            children = list(ast.iter_child_nodes(node))
        stack.extend(reversed(children))


def _binds(node: ast.AST, name: str) -> bool:
    """Whether `node` binds `name` in the scope it belongs to."""
    if isinstance(node, ast.Name):
        return node.id == name and not isinstance(node.ctx, ast.Load)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name == name
    if isinstance(node, ast.arg):
        return node.arg == name
    if isinstance(node, ast.alias):
        return (node.asname or node.name.split(".")[0]) == name
    if isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
        return node.name == name
    if isinstance(node, ast.MatchMapping):
        return node.rest == name
    return False


def _scope_is_global(scope: ast.AST, name: str, enclosing: bool) -> bool | None:
    """Whether `name` in the scope's own code is the module global; `enclosing` is the answer of the
    nearest enclosing function (or the module). None: a class body that binds it, where a load is
    the global before the binding and the class attribute after it."""
    nodes = list(_own_nodes(_inner_parts(scope)))
    declared = {type(n) for n in nodes if isinstance(n, (ast.Global, ast.Nonlocal)) and name in n.names}
    if ast.Global in declared:
        return True
    if ast.Nonlocal in declared:
        return False
    if any(_binds(n, name) for n in nodes):
        return None if isinstance(scope, ast.ClassDef) else False
    return enclosing


def _rename_global(parts: list[ast.AST], old: str, new: str, here: bool | None, enclosing: bool) -> None:
    """Renames `old` to `new` where it is the module global. `here`: whether it is in this scope's own
    code (see _scope_is_global); `enclosing`: the same for nested functions, which skip class bodies."""
    for node in _own_nodes(parts):
        if isinstance(node, ast.Name) and node.id == old:
            if here is None and isinstance(node.ctx, ast.Load):
                raise _Unrenamable(f"{old} is loaded in a class body that also binds it")
            if here:
                node.id = new
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == old:
            if here:
                node.name = new
        elif isinstance(node, ast.Global):
            node.names = [new if n == old else n for n in node.names]
        elif here and _binds(node, old):
            raise _Unrenamable(f"{old} is bound by an import, except or match clause")
        if isinstance(node, _SCOPES):
            inner = _scope_is_global(node, old, enclosing)
            _rename_global(_inner_parts(node), old, new, inner,
                           enclosing if isinstance(node, ast.ClassDef) else bool(inner))


def rename_entry_to_f(code: str) -> str:
    """Renames the single top-level function, and the names that refer to it, to `f`, as the prompts promise.

    A name refers to the entry where Python would look it up in the module's globals: at module level,
    in a function body that neither binds it (parameter, assignment, nested def or class, import) nor
    declares it nonlocal, or that declares it global; nested functions follow the same rule from their
    enclosing function, and skip class bodies, as Python does. So a method named like the entry stays
    (a class body binds its own name; `self.process` is an attribute, never renamed), a local variable
    or nested def of that name shadows it within its function, and recursion in the entry is renamed.

    Code that does not parse, has not exactly one top-level function, is already `f`, or already uses
    the name `f` anywhere is returned unchanged: the executor judges it as written. So is code where the
    scoping is not followed here: the name bound by a walrus, or at module level by an import, except
    or match clause, or loaded in a class body that also binds it. A renamed program is re-printed by
    `ast.unparse`, so its comments are gone."""
    tree = _parse(code, "exec")
    if tree is None:
        return code
    funcs = [n for n in tree.body if type(n) in (ast.FunctionDef, ast.AsyncFunctionDef)]
    if len(funcs) != 1 or funcs[0].name == "f":
        return code
    old = funcs[0].name
    try:
        nodes = list(ast.walk(tree))
        if any(_binds(n, "f") or (type(n) is ast.Name and n.id == "f")
               or (type(n) in (ast.Global, ast.Nonlocal) and "f" in n.names) for n in nodes):
            return code
        # A walrus in a comprehension binds in the enclosing function: not followed, rarely written.
        if any(type(n) is ast.NamedExpr and n.target.id == old for n in nodes):
            return code
        _rename_global(tree.body, old, "f", here=True, enclosing=True)
    except (_Unrenamable, RecursionError):
        return code
    text = _unparse(tree)
    return text if text is not None else code
