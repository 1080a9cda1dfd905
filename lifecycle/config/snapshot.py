"""A validated config, kept as data and rebuilt without pydantic.

Validating shipdeck.yaml means importing pydantic and building its models: about
0.17 s, in every command that reads the config (twice in a CLI Plan -> Deploy).
Validation is a pure function of the file's bytes and of the code that validates,
so once some bytes validated, :func:`dump` keeps the result as JSON (beside the
note ``project.config_stamp`` keeps of those bytes) and :func:`load` rebuilds it
as plain frozen objects with the same fields and the same methods
(``lifecycle.config.behaviour``): attribute for attribute what the models held.

The JSON tags every value it cannot leave bare, so no user's string, key or list can
be read back as something else: ``{"m": name, "f": fields}`` is a model,
``{"d": {...}}`` a mapping, ``{"l": [...]}`` a list; numbers, strings, booleans and
null are themselves.
"""

from __future__ import annotations

from typing import Any

from shipdeck.lifecycle.config.behaviour import METHODS
from shipdeck.lifecycle.errors import ShipdeckError

FORMAT = 1  # the snapshot's layout; another is ignored (validated again)


class SnapshotError(ShipdeckError, ValueError):
    """Data that is not a snapshot this code wrote: validate the file instead."""


class Frozen:
    """One part of a config rebuilt from a snapshot: its fields as attributes, frozen
    as the pydantic models are, equal to a model of the same name and fields."""

    __model__ = "Frozen"

    def __init__(self, fields: dict[str, Any]) -> None:
        object.__setattr__(self, "__dict__", fields)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{self.__model__} is frozen: {name} cannot be set")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{self.__model__} is frozen: {name} cannot be deleted")

    def __eq__(self, other: object) -> bool:
        if type(other).__name__ != self.__model__:
            return NotImplemented
        return self.__dict__ == vars(other)

    def __hash__(self) -> int:
        return hash((self.__model__, *self.__dict__.values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{self.__model__}({fields})"


_CLASSES: dict[str, type[Frozen]] = {}


def _class(name: str) -> type[Frozen]:
    """The plain class standing for model ``name`` (made once per process)."""
    found = _CLASSES.get(name)
    if found is None:
        if not name.isidentifier():
            raise SnapshotError(f"not a model name: {name!r}")
        found = type(name, (Frozen,), {"__model__": name, **METHODS.get(name, {})})
        _CLASSES[name] = found
    return found


def dump(config: Any) -> dict[str, Any]:
    """``config`` (a validated pydantic model) as JSON-able data; SnapshotError for a
    value this format cannot hold (the config is then validated each time)."""
    return {"format": FORMAT, "config": _dump(config)}


def _dump(value: Any) -> Any:
    fields = getattr(type(value), "model_fields", None)
    if isinstance(fields, dict):
        return {"m": type(value).__name__, "f": {k: _dump(getattr(value, k)) for k in fields}}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise SnapshotError("a mapping with keys that are not strings")
        return {"d": {k: _dump(v) for k, v in value.items()}}
    if isinstance(value, list):
        return {"l": [_dump(v) for v in value]}
    raise SnapshotError(f"cannot keep a {type(value).__name__}")


def load(data: Any) -> Any:
    """The config ``data`` (from :func:`dump`) held, as plain frozen objects."""
    if not isinstance(data, dict) or data.get("format") != FORMAT or "config" not in data:
        raise SnapshotError("not a config snapshot of this shipdeck")
    return _load(data["config"])


def _load(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        if "d" in value and isinstance(value["d"], dict):
            return {k: _load(v) for k, v in value["d"].items()}
        if "l" in value and isinstance(value["l"], list):
            return [_load(v) for v in value["l"]]
    if isinstance(value, dict) and value.keys() == {"m", "f"} and isinstance(value["f"], dict):
        return _class(str(value["m"]))({k: _load(v) for k, v in value["f"].items()})
    raise SnapshotError(f"not a snapshot value: {str(value)[:60]}")
