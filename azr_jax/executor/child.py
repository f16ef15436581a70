"""What a job's child does once sandboxed: check, run the model's code, report one result frame.

Every verdict that matters is reached before model code runs (the AST checks, the answer grammar), or
is recomputed by the worker from the frame's plain data (canonical repr, representability, equality).
Model code shares this process and could write a frame of its own to the result descriptor; such a
frame can only claim a value the code could as well have returned, because the child is never told
anything to forge (no gold output, no expected answer ever enters it) and the worker measures time,
exit, signals and output size itself. The worker accepts exactly one well-formed frame and a clean exit.
"""

from __future__ import annotations

import ast
import builtins
import marshal
import os
import struct
import sys

from azr_jax.executor import codec, static_checks
from azr_jax.executor.static_checks import Rejected

RESULT_FD = 3
PROGRAM_TAG = b"P"  # first byte of a program report (a result frame, a codec dict, starts with b"d")
MAX_PROGRAM_REPORT = 256 * 1024
_HEADER = struct.Struct(">I")
# The call of a job whose arguments the worker built (constant_calls.py): evaluated as the compiled call would
# be, one <call> frame under `f` (so recursion limits fall where they would) and `f` looked up in the program.
_CALL_WITH_ARGUMENTS = compile("f(*a, **k)", "<call>", "eval", dont_inherit=True)

# Bound now, in the worker: model code may rebind the names in builtins, not these references.
_type, _len, _repr, _str, _bytes = type, len, repr, str, bytes
_exit, _write = os._exit, os.write
_BaseException, _MemoryError = BaseException, MemoryError
_BUILTINS = dict(vars(builtins))  # restored before the checks of a non-plain result run after model code
_BUILTIN_EXCEPTIONS = frozenset(v for v in vars(builtins).values()
                                if isinstance(v, type) and issubclass(v, BaseException))


def _program(req: dict) -> tuple:
    """Parses and checks the program before any model code runs: (code object, entry name, classes).
    `classes` is None when the program was compiled straight from source; `_classes` parses it if needed."""
    if req["call_kind"] == "expr" and not req["checks"]:  # a person's run job, unfiltered: no AST needed
        return static_checks.compile_source(req["code"], req["max_code_chars"]), "f", None
    tree = static_checks.parse_program(req["code"], req["max_code_chars"])
    if req["checks"]:
        static_checks.check_banned(tree, req["banned_modules"], req["banned_names"], req["banned_attributes"])
        entry = static_checks.entry_function(tree)
    else:
        entry = "f"
    # dont_inherit: model code must not run under this module's `from __future__ import annotations`.
    return compile(tree, "<program>", "exec", dont_inherit=True), entry, static_checks.class_names(tree)


def _call(req: dict, classes: frozenset | None) -> object:
    """The call's code object, checked as its kind requires."""
    kind, text, cap = req["call_kind"], req["call_text"], req["max_answer_chars"]
    if kind == "expr" and not req["checks"]:
        return static_checks.compile_source(text, req["max_code_chars"], "eval", "call")
    if kind == "expr":  # a person's run job, filtered as asked
        try:
            call = ast.parse(text, "<call>", "eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
            raise Rejected("syntax", f"call: {_type(e).__name__}: {e}"[:300]) from None
        static_checks.check_banned(call, req["banned_modules"], req["banned_names"], req["banned_attributes"])
    elif kind == "input":
        call = static_checks.input_call(text, cap, req["banned_modules"], req["banned_names"],
                                        req["banned_attributes"])
    elif kind == "answer":
        call = static_checks.answer_call(text, cap, classes)
    elif kind == "answer_value":
        call = static_checks.answer_value(text, cap, classes)
    else:
        raise Rejected("syntax", f"unknown call kind {kind!r}")
    return compile(call, "<call>", "eval", dont_inherit=True)


def _report_program(program: object, entry: str, classes: frozenset | None) -> None:
    """Sends the worker the compiled, checked program, before any model code runs, so that later jobs of
    this worker with the same code load it instead of parsing and compiling it again (worker.py).

    A program too large to keep is still reported, as the bare tag: the worker takes the first frame of a
    child asked to report for the report, so it must always be ours. Were nothing written, the program
    could write a report of its own first, and later jobs with this code would run that instead."""
    data = PROGRAM_TAG + marshal.dumps((program, entry, classes))
    _write_frame(data if _len(data) <= MAX_PROGRAM_REPORT else PROGRAM_TAG)


def _classes(req: dict) -> frozenset:
    return static_checks.class_names(static_checks.parse_program(req["code"], req["max_code_chars"]))


def _describe(value: object, namespace: dict, classes: frozenset, req: dict) -> dict | bytes:
    """The encoded frame for a plain value, or, for anything else, its repr and whether it rebuilds."""
    try:
        return codec.encode({"status": "ok", "plain": True, "value": value}, req["max_result_bytes"])
    except codec.TooLarge:
        return {"status": "output_limit", "message": "return value larger than the result cap"}
    except codec.NotPlain:
        pass
    _restore_builtins()  # model code may have patched what the checks below use
    text = _repr(value)  # model code (__repr__); the worker's deadline still applies
    if _type(text) is not _str or _len(text) > req["max_repr_chars"]:
        return {"status": "output_limit", "message": "repr longer than the cap"}
    try:
        tree = static_checks.answer_value(text, req["max_repr_chars"], _classes(req) if classes is None else classes)
        again = _repr(eval(compile(tree, "<repr>", "eval", dont_inherit=True), namespace))
        rebuildable = _type(again) is _str and again == text
    except _BaseException:
        rebuildable = False
    return {"status": "ok", "plain": False, "repr": _str(text), "rebuildable": rebuildable}


def _error(exc: BaseException) -> dict:
    kind = _type(exc)
    message = _str(exc)[:500] if kind in _BUILTIN_EXCEPTIONS else ""  # never call a model's __str__
    status = "memory" if kind is _MemoryError else "error"
    return {"status": status, "error_type": _str(kind.__name__)[:100], "message": message}


def run(req: dict) -> None:
    """Runs the job and writes its frame to RESULT_FD; never returns."""
    try:
        if req["program"] is None:
            program, entry, classes = _program(req)
            if req["report_program"]:
                _report_program(program, entry, classes)
        else:  # compiled and checked by an earlier child of this worker, from the same code
            program, entry, classes = marshal.loads(req["program"])
        call = _call(req, classes) if req["call_args"] is None else None
    except Rejected as e:
        _send({"status": e.status, "message": _str(e)[:500]})
    except _BaseException as e:  # e.g. MemoryError while parsing a huge program
        _send(_error(e))
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(program, namespace)
        if entry != "f":
            namespace["f"] = namespace[entry]
        if call is None:
            args, kwargs = req["call_args"]
            value = eval(_CALL_WITH_ARGUMENTS, namespace, {"a": args, "k": kwargs})
        else:
            value = eval(call, namespace)
        frame = _describe(value, namespace, classes, req)
        del value
    except _BaseException as e:  # SystemExit too: a job that exits early has not succeeded
        frame = _error(e)
    _send(frame)


def _restore_builtins() -> None:
    live = vars(builtins)
    live.clear()
    live.update(_BUILTINS)


def _send(frame: dict | bytes) -> None:
    """Writes one frame (a dict, or one `_describe` already encoded) and exits; uses only names bound at
    import, like codec.encode, so builtins patched by model code change nothing here."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except _BaseException:
            pass
    try:
        data = frame if _type(frame) is _bytes else codec.encode(frame, 1 << 20)
    except _BaseException as e:
        data = codec.encode({"status": "error", "error_type": "Unencodable", "message": _str(_type(e).__name__)})
    _write_frame(data)
    _exit(0)


def _write_frame(body: bytes) -> None:
    """One length-prefixed frame on the result pipe, all of it."""
    data = _HEADER.pack(_len(body)) + body
    while data:
        data = data[_write(RESULT_FD, data):]
