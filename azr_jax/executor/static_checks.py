"""AST checks that run before any model code does: program shape, banned names, restricted answers.

These checks are a filter, not the sandbox: they reject most hostile or nondeterministic programs cheaply
and with a clear reason (`banned`, `syntax`), while the isolation in sandbox.py holds for programs that get
past them. They run inside the job's sandboxed child, before the program executes, so a parser bomb in a
program or answer costs a child, never a worker. (A worker parses text only under the child's caps and never
compiles it: deduction answers, and literal call arguments for cached programs, constant_calls.py.)
"""

from __future__ import annotations

import ast

from azr_jax.executor import scopes
from azr_jax.executor.literals import LiteralError, call_tree

# Calls an answer may make besides the task's own classes: the ones canonical reprs contain.
_LITERAL_CALLS = frozenset({"float", "complex", "set", "frozenset"})
_ANSWER_NODES = (ast.Constant, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.UnaryOp, ast.BinOp, ast.Call,
                 ast.Name, ast.keyword, ast.Load, ast.USub, ast.UAdd, ast.Add, ast.Sub)


class Rejected(Exception):
    """A program or expression refused before running; `status` is 'syntax' or 'banned'."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


_PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError)


def _program_text(code: object, max_chars: int, what: str = "program") -> str:
    if type(code) is not str:
        raise Rejected("syntax", f"{what} is not a string")
    if len(code) > max_chars:
        raise Rejected("syntax", f"{what} longer than {max_chars} characters")
    return code


def parse_program(code: object, max_chars: int) -> ast.Module:
    try:
        return ast.parse(_program_text(code, max_chars), "<program>", "exec")
    except _PARSE_ERRORS as e:
        raise Rejected("syntax", f"{type(e).__name__}: {e}"[:300]) from None


def compile_source(code: object, max_chars: int, mode: str = "exec", what: str = "program"):
    """Source compiled without a Python AST (for code that is run unchecked): cheaper than parse + compile,
    which builds every node as a Python object and converts it back. Never inherits our __future__ flags."""
    try:
        return compile(_program_text(code, max_chars, what), f"<{what}>", mode, dont_inherit=True)
    except _PARSE_ERRORS as e:
        prefix = "" if what == "program" else f"{what}: "
        raise Rejected("syntax", f"{prefix}{type(e).__name__}: {e}"[:300]) from None


def check_banned(tree: ast.AST, modules: frozenset, names: frozenset, attributes: frozenset) -> None:
    """Refuses imports of banned modules, attribute paths to frames/classes/globals, and reads of a banned
    module's or builtin's name wherever they may mean that module or builtin (scopes.py): a function's own
    variable called `time` or `open` is fine, a module-level one is not (it falls back to builtins when unset)."""
    watched_seen = False
    for node in ast.walk(tree):
        t = type(node)
        if t is ast.Import:
            roots = [a.name.split(".")[0] for a in node.names]
        elif t is ast.ImportFrom:
            if node.level:
                raise Rejected("banned", "relative import")
            roots = [(node.module or "").split(".")[0]]
        elif t is ast.Name:
            watched_seen = watched_seen or node.id in names or node.id in modules
            continue
        elif t is ast.Attribute:
            if node.attr in attributes:
                raise Rejected("banned", f"access to banned attribute {node.attr!r}")
            continue
        else:
            continue
        for root in roots:
            if root in modules:
                raise Rejected("banned", f"import of banned module {root!r}")
    if watched_seen:  # the scope analysis only for the few programs that use such a name at all
        _check_banned_reads(tree, modules | names)


def _check_banned_reads(tree: ast.AST, watched: frozenset) -> None:
    try:
        unsafe = scopes.unsafe_reads(tree, watched)
    except RecursionError:
        raise Rejected("syntax", "program nested too deeply to check") from None
    if unsafe:
        raise Rejected("banned", f"use of banned name {unsafe[0].id!r} (a banned module or builtin; a variable "
                       "of that name is allowed only inside a function that assigns it)")


def _returns_value(func: ast.FunctionDef) -> bool:
    stack = list(func.body)
    while stack:
        node = stack.pop()
        if type(node) is ast.Return and node.value is not None:
            return True
        if type(node) not in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
    return False


def entry_function(tree: ast.Module) -> str:
    """Name of the single top-level function (the entry point the executor calls as `f`)."""
    funcs = [n for n in tree.body if type(n) in (ast.FunctionDef, ast.AsyncFunctionDef)]
    if len(funcs) != 1:
        raise Rejected("syntax", f"expected exactly one top-level function, found {len(funcs)}")
    func = funcs[0]
    if type(func) is ast.AsyncFunctionDef:
        raise Rejected("syntax", "the entry function is async")
    a = func.args
    if not (a.posonlyargs or a.args or a.kwonlyargs or a.vararg or a.kwarg):
        raise Rejected("syntax", "the entry function takes no parameter")
    if not _returns_value(func):
        raise Rejected("syntax", "the entry function never returns a value")
    return func.name


def class_names(tree: ast.Module) -> frozenset:
    """Top-level classes of a program: the only callables an answer may use besides literal calls."""
    return frozenset(n.name for n in tree.body if type(n) is ast.ClassDef)


def input_call(args_text: str, max_chars: int, modules: frozenset, names: frozenset,
               attributes: frozenset) -> ast.Expression:
    """`f(<input>)` for a proposer's input: any expression that passes the banned-name filter."""
    try:
        call = call_tree(args_text, max_chars)
    except LiteralError as e:
        raise Rejected("syntax", f"input: {e}") from None
    check_banned(call, modules, names, attributes)
    return ast.fix_missing_locations(ast.Expression(call))


def _check_answer_node(node: ast.AST, callables: frozenset) -> None:
    for sub in ast.walk(node):
        if not isinstance(sub, _ANSWER_NODES):
            raise Rejected("syntax", f"answer may not contain {type(sub).__name__}")
        if type(sub) is ast.Call:
            if type(sub.func) is not ast.Name or sub.func.id not in callables:
                raise Rejected("syntax", "answer may only call the task's own classes")
            if any(type(a) is ast.Starred for a in sub.args) or any(k.arg is None for k in sub.keywords):
                raise Rejected("syntax", "answer may not unpack with * or **")
        elif type(sub) is ast.Name and sub.id not in callables:
            raise Rejected("syntax", f"answer may not refer to {sub.id!r}")
        elif type(sub) is ast.Constant and sub.value is Ellipsis:
            raise Rejected("syntax", "answer may not contain ...")


def answer_call(args_text: str, max_chars: int, classes: frozenset) -> ast.Expression:
    """`f(<answer>)` for a solver's argument list: literals and the task's classes, nothing else.

    A solver knows the gold output, so an answer that could run code could make the check report it;
    restricting answers to data keeps the only code in a check the task's own (validated) program."""
    try:
        call = call_tree(args_text, max_chars)
    except LiteralError as e:
        raise Rejected("syntax", f"answer: {e}") from None
    for part in list(call.args) + [k.value for k in call.keywords]:
        _check_answer_node(part, classes | _LITERAL_CALLS)
    return ast.fix_missing_locations(ast.Expression(call))


def answer_value(text: str, max_chars: int, classes: frozenset) -> ast.Expression:
    """A solver's output answer as an expression of literals and the task's classes (deduction)."""
    if type(text) is not str or len(text) > max_chars:
        raise Rejected("syntax", f"answer not a string of at most {max_chars} characters")
    try:
        tree = ast.parse(text.strip(), "<answer>", "eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise Rejected("syntax", f"answer: {type(e).__name__}") from None
    _check_answer_node(tree.body, classes | _LITERAL_CALLS)
    return tree
