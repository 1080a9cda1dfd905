"""Template strings in shipdeck.yaml: checked at load time, rendered safely at run time.

A template is plain text with ``{field}`` placeholders (``{{`` and ``}}`` are
literal braces). Only the fields in :data:`KNOWN_FIELDS` exist; format specs,
conversions and attribute or index access are refused, so a template can never
reach into a Python object. Every value is checked against its field's shape
before it is pasted in, and :func:`render_command` shell-quotes each one. An
item's title and body are never fields: commands get them as environment
variables instead.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Callable, Collection, Iterator, Mapping

from shipdeck.lifecycle.errors import ShipdeckError

KNOWN_FIELDS: tuple[str, ...] = (
    "id",
    "slug",
    "kind",
    "sha",
    "short_sha",
    "version",
    "branch",
    "port",
    "env",
    "project",
    "python",
    "data_dir",
)
# What is known when an item's branch is named (Code stage): no sha, version or env yet.
BRANCH_FIELDS: tuple[str, ...] = ("id", "slug", "kind", "project")

_SAFE_RE = re.compile(r"[A-Za-z0-9._/-]+")
# MAJOR.MINOR is a version too: projects tagged v0.23 keep their two numbers.
_SEMVER_RE = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?"
    r"(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
)
_HEX_RE = re.compile(r"[0-9a-fA-F]{4,64}")
_FORMATTER = string.Formatter()


class TemplateError(ShipdeckError, ValueError):
    """A template that is malformed, names an unknown field, or lacks a safe value."""


def _known(allowed: Collection[str]) -> str:
    return ", ".join(f"{{{name}}}" for name in allowed)


def _parts(template: str, allowed: Collection[str]) -> Iterator[tuple[str, str | None]]:
    """(literal text, field name or None) pairs; TemplateError for anything but ``{field}``."""
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise TemplateError(
            f"unbalanced braces in template ({exc}; write {{{{ or }}}} for a literal brace)"
        ) from None
    for literal, name, spec, conversion in parsed:
        if name is None:
            yield literal, None
            continue
        if name == "":
            raise TemplateError(f"empty template field {{}} (known: {_known(allowed)})")
        if conversion is not None or spec:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise TemplateError(
                f"template field {{{shown}}} has a conversion or format spec; "
                f"only plain {{field}} is allowed"
            )
        if "." in name or "[" in name:
            raise TemplateError(
                f"template field {{{name}}} uses attribute or index access; "
                f"only plain {{field}} is allowed"
            )
        if name not in allowed:
            raise TemplateError(f"unknown template field {{{name}}} (known: {_known(allowed)})")
        yield literal, name


def template_fields(template: str, allowed: Collection[str] = KNOWN_FIELDS) -> frozenset[str]:
    """The fields ``template`` uses; TemplateError if it is not a valid template."""
    return frozenset(name for _, name in _parts(template, allowed) if name is not None)


def check_template(template: str, allowed: Collection[str] = KNOWN_FIELDS) -> str:
    """Return ``template`` unchanged if valid (handy as a validator); TemplateError if not."""
    template_fields(template, allowed)
    return template


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TemplateError(f"value for {{{name}}} must be text, got {type(value).__name__}")
    return value


def _safe_name(name: str, value: object) -> str:
    text = _text(name, value)
    if not _SAFE_RE.fullmatch(text) or text.startswith("-"):
        raise TemplateError(
            f"unsafe value for {{{name}}}: {text!r} (allowed: letters, digits, '.', '_', "
            "'/', '-', not starting with '-')"
        )
    return text


def _version(name: str, value: object) -> str:
    text = _text(name, value)
    if not _SEMVER_RE.fullmatch(text):
        raise TemplateError(f"value for {{{name}}} is not a semantic version: {text!r}")
    return text


def _hex(name: str, value: object) -> str:
    text = _text(name, value)
    if not _HEX_RE.fullmatch(text):
        raise TemplateError(f"value for {{{name}}} is not a hex commit sha: {text!r}")
    return text


def _port(name: str, value: object) -> str:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise TemplateError(f"value for {{{name}}} must be a port number 1..65535, got {value!r}")
    return str(value)


def _path(name: str, value: object) -> str:
    text = _text(name, value)
    if not text or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise TemplateError(f"value for {{{name}}} must be a path without control characters")
    return text


_CHECKS: dict[str, Callable[[str, object], str]] = {
    "id": _safe_name,
    "slug": _safe_name,
    "kind": _safe_name,
    "branch": _safe_name,
    "env": _safe_name,
    "project": _safe_name,
    "version": _version,
    "sha": _hex,
    "short_sha": _hex,
    "port": _port,
    "python": _path,
    "data_dir": _path,
}


def check_value(name: str, value: object) -> str:
    """``value`` as text if it is a safe value for field ``name``; TemplateError if not."""
    check = _CHECKS.get(name)
    if check is None:
        raise TemplateError(f"unknown template field {{{name}}} (known: {_known(KNOWN_FIELDS)})")
    return check(name, value)


def _render(
    template: str,
    fields: Mapping[str, object],
    quote: Callable[[str], str],
    keep: Collection[str] = (),
) -> str:
    out: list[str] = []
    for literal, name in _parts(template, KNOWN_FIELDS):
        out.append(literal)
        if name is None:
            continue
        if name in keep:
            out.append("{" + name + "}")
            continue
        value = fields.get(name)
        if value is None:
            raise TemplateError(f"no value for template field {{{name}}} in {template!r}")
        out.append(quote(check_value(name, value)))
    return "".join(out)


def render(template: str, fields: Mapping[str, object]) -> str:
    """Fill a non-shell template (a URL, an image tag, a git tag) with checked values.

    ``{python}`` is the project's interpreter, which the caller supplies (shipdeck's own
    is never a default: project/interpreter.py). TemplateError for a bad
    template, a missing value or a value that fails its field's check.
    """
    return _render(template, fields, lambda text: text)


def render_template(template: str, fields: Mapping[str, object], keep: Collection[str]) -> str:
    """:func:`render` for every field but those in ``keep``, which stay as ``{name}``
    (the release tag template, before the version is known)."""
    return _render(template, fields, lambda text: text, keep)


def render_command(template: str, fields: Mapping[str, object]) -> str:
    """Like :func:`render`, for a shell command: every substituted value is shlex-quoted."""
    return _render(template, fields, shlex.quote)
