"""Dotted overrides of nested frozen dataclass configs: `rl.learning_rate=1e-6`.

Values are parsed by the type of the field they replace (int, float, bool, str, tuples, None), and an
unknown key fails at once with a message that names it and lists the close matches.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import typing
from typing import Any


class ConfigError(ValueError):
    """A config name, key or value that cannot be applied."""


def _field_names(obj) -> list[str]:
    return [f.name for f in dataclasses.fields(obj)]


def unknown_key_message(what: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {what} {name!r}{hint} (known: {', '.join(sorted(known))})"


def _parse_value(text: str, current: Any, key: str, optional: bool = False) -> Any:
    """Turns the override text into a value of the current value's type (None for "none" where the field
    may be None)."""
    if optional and text.lower() == "none":
        return None
    if isinstance(current, bool):
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ConfigError(f"config key {key}: expected a boolean, got {text!r}")
    if isinstance(current, (int, float)):
        kind = type(current)
        try:
            return kind(text) if kind is float else int(text)
        except ValueError:
            raise ConfigError(f"config key {key}: expected {kind.__name__}, got {text!r}") from None
    if isinstance(current, str):
        return text
    if text.lower() == "none":
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text  # a bare string for an Optional[str] field that is None now
    if isinstance(current, tuple) and isinstance(value, list):
        value = tuple(value)
    return value


def apply_override(config, dotted_key: str, text: str, root_name: str = "config"):
    """A copy of `config` with the field at `dotted_key` replaced by `text` parsed to its type."""
    head, _, rest = dotted_key.partition(".")
    if not dataclasses.is_dataclass(config):
        raise ConfigError(f"config key {root_name}.{dotted_key}: {root_name} is not a config section")
    names = _field_names(config)
    if head not in names:
        raise ConfigError(unknown_key_message(f"config key in {root_name}", head, names))
    current = getattr(config, head)
    if rest:
        new_value = apply_override(current, rest, text, f"{root_name}.{head}")
    else:
        if dataclasses.is_dataclass(current):
            raise ConfigError(f"config key {root_name}.{head} is a section; set one of its fields "
                              f"({', '.join(_field_names(current))})")
        new_value = _parse_value(text, current, f"{root_name}.{head}", _may_be_none(config, head))
    try:
        return dataclasses.replace(config, **{head: new_value})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"config key {root_name}.{dotted_key}={text!r}: {e}") from None


def _may_be_none(config, name: str) -> bool:
    """Whether the field's annotation admits None (`str | None`, `Optional[int]`, ...)."""
    field_type = next(f.type for f in dataclasses.fields(config) if f.name == name)
    return "None" in str(field_type) or "Optional" in str(field_type)


def apply_overrides(config, overrides: typing.Mapping[str, str]):
    for key, value in overrides.items():
        config = apply_override(config, key, value)
    return config
