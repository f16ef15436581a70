"""Which reads of a name are certainly a function's own variable, and which may reach a module or a builtin.

The banned-name filter (static_checks.check_banned) refuses `time`, `open`, `eval`, ... only where the name
could mean the banned module or builtin: a program that calls its own variable `time` or `code` is honest.
This is Python's own scoping rule (the compiler's symbol table), applied conservatively:

  - a read in a function, lambda or comprehension of a name that scope binds (a parameter, an assignment,
    a loop, `with ... as`, `except ... as`, an import, a def or class, `del`) is a local variable: the
    compiler reads it with LOAD_FAST, which never falls back to globals or builtins;
  - a read of a name an enclosing function binds (or names `nonlocal`) is that function's cell: a cell never
    falls back either;
  - every other read may reach the builtins: at module level and in a class body a name is looked up in the
    namespace and then in builtins, depending on whether the binding ran yet (`x = open(p); open = 3`), and
    `global` names too (a function may `del` them). Such reads of a banned name stay refused.

Only name reads are judged: binding a banned name reads nothing. `open += 1` reads it too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

_FUNCTION, _COMPREHENSION, _CLASS, _MODULE, _OPAQUE = "function", "comprehension", "class", "module", "opaque"
_FUNCTION_LIKE = (_FUNCTION, _COMPREHENSION)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


@dataclass(eq=False)
class _Scope:
    kind: str
    parent: "_Scope | None"
    bound: set = field(default_factory=set)
    declared_global: set = field(default_factory=set)
    declared_nonlocal: set = field(default_factory=set)
    reads: list = field(default_factory=list)  # Name nodes of watched names read here


def unsafe_reads(tree: ast.AST, watched: frozenset) -> list:
    """The Name nodes reading a name in `watched` that may not be a function's own variable, in source order.
    `tree` is a module, or an expression evaluated in a module's namespace (an input call)."""
    scopes = _Collector(watched, _Scope(_MODULE, None)).run(tree)
    unsafe = [node for scope in scopes for node in scope.reads if not _is_variable(node.id, scope)]
    return sorted(unsafe, key=lambda n: (n.lineno, n.col_offset))


def _is_variable(name: str, scope: _Scope) -> bool:
    """True when a read of `name` in `scope` can only be a function's local or a cell, never a global/builtin."""
    if scope.kind in _FUNCTION_LIKE:
        if name in scope.declared_global:
            return False
        if name in scope.bound and name not in scope.declared_nonlocal:
            return True
        return _enclosing_function_binds(name, scope.parent)
    if scope.kind == _CLASS and name not in scope.bound | scope.declared_global | scope.declared_nonlocal:
        # A free name of a class body is an enclosing function's cell, if one binds it. One the body binds is
        # looked up in its namespace, then globals, then builtins; `nonlocal` there is left refused (rare).
        return _enclosing_function_binds(name, scope.parent)
    return False


def _enclosing_function_binds(name: str, scope: _Scope | None) -> bool:
    """Whether a free `name` resolves to a cell of an enclosing function (class bodies are skipped, as Python
    skips them; an annotation scope of Python 3.12 type parameters is not followed)."""
    while scope is not None and scope.kind != _OPAQUE:
        if scope.kind in _FUNCTION_LIKE:
            if name in scope.declared_global:
                return False
            if name in scope.bound and name not in scope.declared_nonlocal:
                return True
        elif scope.kind == _MODULE:
            return False
        scope = scope.parent
    return False


class _Collector:
    """Builds the scope tree: what each scope binds and declares, and where each watched name is read."""

    def __init__(self, watched: frozenset, module: _Scope) -> None:
        self.watched = watched
        self.scopes = [module]

    def run(self, tree: ast.AST) -> list:
        self.visit(tree, self.scopes[0])
        return self.scopes

    def new_scope(self, kind: str, parent: _Scope) -> _Scope:
        scope = _Scope(kind, parent)
        self.scopes.append(scope)
        return scope

    def visit_all(self, nodes, scope: _Scope) -> None:
        for node in nodes:
            if node is not None:
                self.visit(node, scope)

    def visit(self, node: ast.AST, scope: _Scope) -> None:
        t = type(node)
        if t is ast.Name:
            self.name(node, scope)
        elif t in (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda):
            self.function(node, scope)
        elif t is ast.ClassDef:
            self.class_def(node, scope)
        elif t in _COMPREHENSIONS:
            self.comprehension(node, scope)
        elif t is ast.NamedExpr:
            self.walrus(node, scope)
        elif t is ast.AugAssign and type(node.target) is ast.Name:
            self.read(node.target, scope)  # `x += 1` reads x before it binds it
            self.visit_all((node.target, node.value), scope)
        else:
            self.other(node, scope)

    def name(self, node: ast.Name, scope: _Scope) -> None:
        if type(node.ctx) is ast.Load:
            self.read(node, scope)
        else:  # Store or Del: both make the name local to a function
            scope.bound.add(node.id)

    def read(self, node: ast.Name, scope: _Scope) -> None:
        if node.id in self.watched:
            scope.reads.append(node)

    def other(self, node: ast.AST, scope: _Scope) -> None:
        t = type(node)
        if t is ast.Global:
            scope.declared_global.update(node.names)
        elif t is ast.Nonlocal:
            scope.declared_nonlocal.update(node.names)
        elif t in (ast.Import, ast.ImportFrom):
            scope.bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif t is ast.ExceptHandler and node.name:
            scope.bound.add(node.name)
        elif t in (ast.MatchAs, ast.MatchStar) and node.name:
            scope.bound.add(node.name)
        elif t is ast.MatchMapping and node.rest:
            scope.bound.add(node.rest)
        elif _type_parameters(node):
            scope = self.new_scope(_OPAQUE, scope)
        self.visit_all(ast.iter_child_nodes(node), scope)

    def function(self, node: ast.AST, scope: _Scope) -> None:
        """Decorators, defaults and annotations run where the def is; parameters and body in its own scope."""
        args = node.args
        outer = self.new_scope(_OPAQUE, scope) if _type_parameters(node) else scope
        self.visit_all(getattr(node, "decorator_list", ()), scope)
        self.visit_all(args.defaults + args.kw_defaults, scope)
        every_arg = args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]
        self.visit_all([a.annotation for a in every_arg if a is not None] + [getattr(node, "returns", None)], outer)
        inner = self.new_scope(_FUNCTION, outer)
        inner.bound.update(a.arg for a in every_arg if a is not None)
        if type(node) is ast.Lambda:
            self.visit(node.body, inner)
        else:
            scope.bound.add(node.name)
            self.visit_all(node.body, inner)

    def class_def(self, node: ast.ClassDef, scope: _Scope) -> None:
        outer = self.new_scope(_OPAQUE, scope) if _type_parameters(node) else scope
        scope.bound.add(node.name)
        self.visit_all(node.decorator_list, scope)
        self.visit_all(node.bases + [k.value for k in node.keywords], outer)
        self.visit_all(node.body, self.new_scope(_CLASS, outer))

    def comprehension(self, node: ast.AST, scope: _Scope) -> None:
        """The first iterable is evaluated where the comprehension is; the rest in the comprehension's scope."""
        first, *rest = node.generators
        self.visit(first.iter, scope)
        inner = self.new_scope(_COMPREHENSION, scope)
        self.visit(first.target, inner)
        self.visit_all(first.ifs, inner)
        for generator in rest:
            self.visit_all([generator.iter, generator.target, *generator.ifs], inner)
        parts = (node.key, node.value) if type(node) is ast.DictComp else (node.elt,)
        self.visit_all(parts, inner)

    def walrus(self, node: ast.NamedExpr, scope: _Scope) -> None:
        """`(x := ...)` in a comprehension binds x in the nearest enclosing scope that is not one."""
        self.visit(node.value, scope)
        target = scope
        while target.kind == _COMPREHENSION:
            target = target.parent
        target.bound.add(node.target.id)


def _type_parameters(node: ast.AST) -> bool:
    """Python 3.12 type parameters (`def f[T]`) and `type X = ...` open an annotation scope this module does not
    model: reads that would resolve through it are left refused."""
    return bool(getattr(node, "type_params", None)) or type(node).__name__ == "TypeAlias"
