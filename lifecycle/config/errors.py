"""Config errors: the ``file:line:col: message`` values and the words in them.

Kept apart from the schema (``lifecycle.config.schema``) and from the YAML walking
(``lifecycle.config.yamlpos``) so both can raise and describe problems without
importing each other. ``lifecycle.config.schema`` re-exports the exception types.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from shipdeck.lifecycle.config.behaviour import UnknownEnvironment as UnknownEnvironment
from shipdeck.lifecycle.errors import ShipdeckError

if TYPE_CHECKING:  # pydantic is imported where a config is validated, not here: the
    # board and the CLI catch ConfigError without validating (config/snapshot.py)
    from pydantic import BaseModel
    from pydantic_core import ErrorDetails

# --- errors ------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file; ``line``/``col`` are 1-based, None when unknown."""

    path: str
    line: int | None
    col: int | None
    message: str

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}" + (f":{self.col}" if self.col is not None else "")
        return f"{where}: {self.message}"


class ConfigError(ShipdeckError):
    """A config that cannot be used. ``str()`` is the first problem; ``errors`` has them all."""

    def __init__(
        self,
        path: str,
        line: int | None,
        col: int | None,
        message: str,
        errors: Sequence[ConfigIssue] | None = None,
    ) -> None:
        first = ConfigIssue(path, line, col, message)
        super().__init__(str(first))
        self.path, self.line, self.col, self.message = path, line, col, message
        self.errors: list[ConfigIssue] = list(errors) if errors else [first]

    @classmethod
    def of(cls, issues: Sequence[ConfigIssue]) -> ConfigError:
        first = issues[0]
        return cls(first.path, first.line, first.col, first.message, issues)


# --- error messages -------------------------------------------------------------------

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def _dotted(parts: Sequence[object]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def _describe_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {value!r}" if len(value) < 60 else "a long string"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "a mapping"
    return f"{type(value).__name__} {value}"


def _model_at(model: type[BaseModel], parts: Sequence[object]) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``parts``, if it is one."""
    from pydantic import BaseModel  # loaded already: a model just failed to validate

    tp: Any = model
    for part in [*parts, None]:
        while True:  # peel Annotated[...] and X | None
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            origin = typing.get_origin(tp)
            if origin is Annotated or (
                origin in (typing.Union, types.UnionType) and len(args) == 1
            ):
                tp = args[0]
            else:
                break
        if part is None:
            break
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            field = tp.model_fields.get(part)
            tp = field.annotation if field else None
        elif typing.get_origin(tp) in (list, dict):
            tp = typing.get_args(tp)[-1]
        else:
            return None
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def describe_error(err: ErrorDetails, parts: list[object], model: type[BaseModel]) -> str:
    """One pydantic error as a sentence; ``parts`` is where it sits, ``model`` the root."""
    kind, loc, value = err["type"], err["loc"], err["input"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    if kind in ("extra_forbidden", "invalid_key", "missing"):
        parent = parts if kind == "missing" else parts[:-1]
        owner = _model_at(model, parent)
        keys = list(owner.model_fields) if owner else []
        where = f"in {_dotted(parent)}" if parent else "at the top level"
        if kind == "missing":
            return f"missing required key {loc[-1]!r} {where}"
        close = difflib.get_close_matches(str(loc[-1]), keys, n=1)
        hint = f", did you mean {close[0]!r}?" if close else ""
        return f"unknown key {loc[-1]!r} {where}{hint} (expected one of: {', '.join(keys)})"
    name = _dotted(parts)
    prefix = f"{name}: " if name else ""
    if "[key]" in loc:
        owner_name = _dotted(parts[:-1])
        prefix = f"key {value!r} in {owner_name}: " if owner_name else f"key {value!r}: "
    if kind in ("value_error", "assertion_error"):
        return prefix + str(ctx.get("error", err["msg"]))
    expected = _EXPECTED.get(kind)
    if kind == "model_type" and (owner := _model_at(model, parts)):
        expected = f"a mapping (keys: {', '.join(owner.model_fields)})"
    elif kind == "literal_error":
        expected = f"one of {ctx['expected']}"
    elif kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        bound = ctx[key]
        expected = f"a number {words} {int(bound) if bound == int(bound) else bound}"
    if expected is None:
        return prefix + err["msg"][:1].lower() + err["msg"][1:]
    message = f"{prefix}expected {expected}, got {_describe_value(value)}"
    if kind == "string_type" and isinstance(value, bool):
        message += " (quote it: YAML reads yes/no/on/off/true/false as booleans)"
    return message
