"""Completions -> fields: the <think>/<answer> format and the fenced blocks inside the answer.

Model output is arbitrary text (or bytes): megabytes of garbage, invalid UTF-8, NUL, lone surrogates,
unterminated or nested fences, wrong counts. Everything here is bounded: lengths are capped before any
scan, every scan is `str.find` or an anchored `\\s*` match moving forward, so time is linear in the
(capped) length, and no function raises on any input; a failure is a `ParseResult` with
`format_ok=False` and a reason.

The format (AZR_SPEC): the prompt ends with `Assistant: <think>`, so a completion starts inside the
thinking section; it must then contain `</think>`, optional whitespace, `<answer>`, the answer and
`</answer>` (the reference's `<think>.*?</think>\\s*<answer>.*?</answer>`, matched from the start; a
completion that repeats the opening `<think>` is accepted too). Text after `</answer>` is ignored.

Which block is used: proposers, the *first* block of each kind (the reference's choice); solvers, the
*last* one (a model that drafts and corrects itself is judged on its final answer).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from azr_jax.azr.config import AZRConfig
from azr_jax.azr.tasks import TaskType

PROPOSE, SOLVE = "propose", "solve"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
FENCE = "```"
_PYTHON_LANGS = frozenset({"python", "py", "python3"})
_SPACE = re.compile(r"\s*")  # anchored with .match(s, pos): one forward pass, no backtracking
_LANG = re.compile(r"[ \t]*([A-Za-z0-9_+\-]*)")


@dataclass(frozen=True)
class ParseOptions:
    """Limits and policies of the parser (taken from AZRConfig)."""

    max_completion_chars: int = 1 << 20
    max_answer_chars: int = 64 * 1024
    num_inputs: int = 10  # induction proposals
    induction_count_policy: str = "exact"  # "exact": exactly num_inputs blocks; "last": the last num_inputs
    bare_answer: bool = False  # solver answer without its fenced block: use the whole answer text

    @classmethod
    def from_config(cls, config: AZRConfig) -> "ParseOptions":
        return cls(config.max_completion_chars, config.max_answer_chars, config.induction_num_inputs,
                   config.induction_count_policy, config.solver_bare_answer)


@dataclass(frozen=True)
class ParseResult:
    """What one completion says. Fields not asked of this role and task type stay None / empty."""

    task_type: TaskType
    role: str
    format_ok: bool
    reason: str = ""  # why format_ok is False
    think: str = ""
    answer: str = ""  # the text between <answer> and </answer>
    program: str | None = None  # proposer (deduction, abduction) or induction solver
    input: str | None = None  # proposer (deduction, abduction) or abduction solver
    output: str | None = None  # deduction solver
    inputs: tuple = ()  # induction proposer
    message: str | None = None  # induction proposer

    @property
    def solution(self) -> str | None:
        """A solver's answer in the form the checker takes (output, input or program), or None."""
        if self.role != SOLVE or not self.format_ok:
            return None
        return {TaskType.DEDUCTION: self.output, TaskType.ABDUCTION: self.input,
                TaskType.INDUCTION: self.program}[self.task_type]


def to_text(data: object, max_chars: int) -> tuple[str | None, str]:
    """Valid UTF-8 text (bad bytes and lone surrogates replaced by U+FFFD), or (None, reason)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if len(raw) > 4 * max_chars:  # at most 4 bytes per character: too long whatever it decodes to
            return None, "completion too long"
        text = raw.decode("utf-8", errors="replace")
    elif isinstance(data, str):
        text = str(data)
    else:
        return None, f"completion is {type(data).__name__}, not text"
    if len(text) > max_chars:
        return None, "completion too long"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: encodable only with surrogatepass
        text = text.encode("utf-8", errors="surrogatepass").decode("utf-8", errors="replace")
    return text, ""


def split_think_answer(text: str) -> tuple[str, str] | None:
    """(think, answer) if `text` follows the format, else None. Linear time."""
    start = _SPACE.match(text, 0).end()
    pos = start + len(THINK_OPEN) if text.startswith(THINK_OPEN, start) else 0
    think_start = pos
    while True:
        close = text.find(THINK_CLOSE, pos)
        if close < 0:
            return None
        after = _SPACE.match(text, close + len(THINK_CLOSE)).end()
        if text.startswith(ANSWER_OPEN, after):
            break
        pos = close + 1  # like the regex: a later </think> may be the one followed by <answer>
    answer_start = after + len(ANSWER_OPEN)
    end = text.find(ANSWER_CLOSE, answer_start)
    if end < 0:
        return None
    return text[think_start:close], text[answer_start:end]


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, content) of each ```lang ... ``` block, in order; an unterminated block is dropped.

    A block closes at the next ``` (as in the reference), so a fence inside a block ends it early. The
    content starts on the line after the opening fence, or right after the language tag when text
    follows it on the same line (```input 1, 2```)."""
    blocks, pos = [], 0
    while True:
        open_ = text.find(FENCE, pos)
        if open_ < 0:
            return blocks
        head = open_ + len(FENCE)
        close = text.find(FENCE, head)
        if close < 0:
            return blocks
        lang_match = _LANG.match(text, head, close)
        lang, body = lang_match.group(1).lower(), lang_match.end()
        newline = text.find("\n", body, close)
        line_end = close if newline < 0 else newline
        if not text[body:line_end].strip() and newline >= 0:
            body = newline + 1
        blocks.append((lang, text[body:close]))
        pos = close + len(FENCE)


def _kind(lang: str) -> str:
    return "python" if lang in _PYTHON_LANGS else lang


def _clean_code(code: str) -> str:
    return textwrap.dedent(code.strip("\n")).rstrip()


def _fail(task_type: TaskType, role: str, reason: str, think: str = "", answer: str = "") -> ParseResult:
    return ParseResult(task_type, role, False, reason, think, answer)


def _answer_of(completion: object, task_type: TaskType, role: str, opts: ParseOptions):
    text, why = to_text(completion, opts.max_completion_chars)
    if text is None:
        return None, _fail(task_type, role, why)
    parts = split_think_answer(text)
    if parts is None:
        return None, _fail(task_type, role, "no <think>...</think> <answer>...</answer>")
    think, answer = parts
    if len(answer) > opts.max_answer_chars:
        return None, _fail(task_type, role, "answer too long", think)
    return (think, answer), None


def parse_proposal(completion: object, task_type: TaskType, options: ParseOptions = ParseOptions()) -> ParseResult:
    """A proposer's completion. Deduction/abduction: a ```python program and one ```input.
    Induction: `options.num_inputs` ```input blocks and a ```message. Never raises."""
    try:
        return _parse_proposal(completion, TaskType(task_type), options)
    except Exception as e:  # a bug here must cost one sample, not the step
        return _fail(task_type, PROPOSE, f"parser error: {type(e).__name__}")


def parse_solution(completion: object, task_type: TaskType, options: ParseOptions = ParseOptions()) -> ParseResult:
    """A solver's completion: deduction ```output, abduction ```input, induction ```python. Never raises."""
    try:
        return _parse_solution(completion, TaskType(task_type), options)
    except Exception as e:
        return _fail(task_type, SOLVE, f"parser error: {type(e).__name__}")


def _parse_proposal(completion: object, task_type: TaskType, opts: ParseOptions) -> ParseResult:
    parts, failed = _answer_of(completion, task_type, PROPOSE, opts)
    if failed:
        return failed
    think, answer = parts
    blocks = fenced_blocks(answer)
    if task_type is TaskType.INDUCTION:
        inputs = [c.strip() for lang, c in blocks if lang == "input"]
        messages = [c.strip() for lang, c in blocks if lang == "message"]
        n = opts.num_inputs
        if len(inputs) < n or (len(inputs) > n and opts.induction_count_policy == "exact"):
            return _fail(task_type, PROPOSE, f"expected {n} ```input blocks, found {len(inputs)}", think, answer)
        inputs = inputs[-n:]
        if any(not i for i in inputs):
            return _fail(task_type, PROPOSE, "empty ```input block", think, answer)
        if not messages:
            return _fail(task_type, PROPOSE, "no ```message block", think, answer)
        return ParseResult(task_type, PROPOSE, True, "", think, answer, inputs=tuple(inputs), message=messages[0])
    program = next((_clean_code(c) for lang, c in blocks if _kind(lang) == "python"), None)
    input_ = next((c.strip() for lang, c in blocks if lang == "input"), None)
    if not program:
        return _fail(task_type, PROPOSE, "no ```python block", think, answer)
    if not input_:
        return _fail(task_type, PROPOSE, "no ```input block", think, answer)
    return ParseResult(task_type, PROPOSE, True, "", think, answer, program=program, input=input_)


_SOLUTION_KIND = {TaskType.DEDUCTION: "output", TaskType.ABDUCTION: "input", TaskType.INDUCTION: "python"}


def _parse_solution(completion: object, task_type: TaskType, opts: ParseOptions) -> ParseResult:
    parts, failed = _answer_of(completion, task_type, SOLVE, opts)
    if failed:
        return failed
    think, answer = parts
    kind = _SOLUTION_KIND[task_type]
    found = [c for lang, c in fenced_blocks(answer) if _kind(lang) == kind]
    if found:
        value = found[-1]
    elif opts.bare_answer:
        value = answer
    else:
        return _fail(task_type, SOLVE, f"no ```{kind} block", think, answer)
    value = _clean_code(value) if kind == "python" else value.strip()
    if not value:
        return _fail(task_type, SOLVE, f"empty ```{kind} block", think, answer)
    field = {"output": "output", "input": "input", "python": "program"}[kind]
    return ParseResult(task_type, SOLVE, True, "", think, answer, **{field: value})
