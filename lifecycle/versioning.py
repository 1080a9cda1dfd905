"""Release versions and changelog text: pure functions, no git, no clock.

The git backend finds the previous tag and the engine knows which items are
released; everything in between (the next version, the tag name, the
CHANGELOG.md text) is decided here so it can be tested without a repository.

Choices, so they read the same everywhere:

* The first release is ``0.1.0`` whatever the kinds (a project starts in 0.x).
* ``breaking`` always bumps the major, in 0.x too: ``0.4.2`` -> ``1.0.0``.
  The pipeline says ``breaking: true -> major``, and a user who flags a change
  as breaking expects the version to say so.
* Otherwise the biggest kind wins: any feature -> minor, else patch
  (bug, chore, or nothing at all: a release always moves the version).
* CHANGELOG.md is Keep a Changelog style, newest release first under the
  ``# Changelog`` header (the issue says "appends"; readers expect the latest
  release at the top, which is what Keep a Changelog prescribes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Protocol

from lifecycle.items import Kind

FIRST_VERSION = "0.1.0"
VERSION_FIELD = "{version}"
CHANGELOG_HEADER = "# Changelog"
CHANGELOG_INTRO = "All notable changes to this project are documented in this file."

_SEMVER_RE = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_SEMVER_PART = r"(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)"
_UNRELEASED_RE = re.compile(r"^##\s*\[?unreleased\]?\s*$", re.IGNORECASE)

# Changelog groups in the order they are written; kinds not listed go last.
GROUPS: tuple[tuple[Kind, str], ...] = (
    (Kind.FEATURE, "Features"),
    (Kind.BUG, "Fixes"),
    (Kind.CHORE, "Chores"),
)


class ReleasedItem(Protocol):
    """What a changelog line needs from an item (``lifecycle.items.Item`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def kind(self) -> Kind: ...
    @property
    def breaking(self) -> bool: ...


def parse_semver(text: str) -> tuple[int, int, int] | None:
    """``"1.2.3"`` -> ``(1, 2, 3)``; None for anything else (pre-releases included)."""
    m = _SEMVER_RE.match(text.strip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def format_semver(version: tuple[int, int, int]) -> str:
    return "{}.{}.{}".format(*version)


def bump(previous: str | None, kinds: Iterable[Kind | str], breaking: bool) -> str:
    """The version after ``previous`` for a release of ``kinds`` (see the module doc)."""
    if previous is None:
        return FIRST_VERSION
    parsed = parse_semver(previous)
    if parsed is None:
        raise ValueError(f"not a semantic version: {previous!r} (expected MAJOR.MINOR.PATCH)")
    major, minor, patch = parsed
    if breaking:
        return format_semver((major + 1, 0, 0))
    if any(Kind(k) is Kind.FEATURE for k in kinds):
        return format_semver((major, minor + 1, 0))
    return format_semver((major, minor, patch + 1))


def _check_template(template: str) -> None:
    if template.count(VERSION_FIELD) != 1:
        raise ValueError(f"tag template {template!r} must contain {VERSION_FIELD} exactly once")


def tag_name(template: str, version: str) -> str:
    """``tag_name("v{version}", "1.2.0")`` -> ``"v1.2.0"``."""
    _check_template(template)
    if parse_semver(version) is None:
        raise ValueError(f"not a semantic version: {version!r}")
    return template.replace(VERSION_FIELD, version)


def version_from_tag(template: str, tag: str) -> str | None:
    """The version a tag made from ``template`` carries; None if it is not such a tag."""
    _check_template(template)
    prefix, suffix = template.split(VERSION_FIELD)
    pattern = re.escape(prefix) + f"({_SEMVER_PART})" + re.escape(suffix)
    m = re.fullmatch(pattern, tag)
    return m.group(1) if m else None


def latest(versions: Iterable[str]) -> str | None:
    """The highest semver in ``versions``; anything unparsable is ignored."""
    best: tuple[int, int, int] | None = None
    for text in versions:
        parsed = parse_semver(text)
        if parsed is not None and (best is None or parsed > best):
            best = parsed
    return format_semver(best) if best is not None else None


def one_line(text: str) -> str:
    """The title as written, with line breaks (and the blanks around them) as one space."""
    return re.sub(r"[ \t]*[\r\n]+[ \t]*", " ", text).strip()


def changelog_line(item: ReleasedItem) -> str:
    """``- SD-3 Title (feature)``; a breaking change reads ``(feature, breaking)``."""
    kind = Kind(item.kind).value
    tail = f"{kind}, breaking" if item.breaking else kind
    return f"- {item.id} {one_line(item.title)} ({tail})"


def release_heading(version: str) -> str:
    return f"## [{version}]"


def changelog_entry(version: str, day: date | str, items: Iterable[ReleasedItem]) -> str:
    """One release section: a dated heading, then the items grouped by kind."""
    if isinstance(day, datetime):
        day = day.date()
    when = day.isoformat() if isinstance(day, date) else str(day)
    lines = [f"{release_heading(version)} - {when}"]
    released = list(items)
    order = {kind: n for n, (kind, _) in enumerate(GROUPS)}
    titles = dict(GROUPS)
    kinds = sorted({Kind(i.kind) for i in released}, key=lambda k: order.get(k, len(order)))
    for kind in kinds:
        lines += ["", f"### {titles.get(kind, kind.value.capitalize())}"]
        lines += [changelog_line(i) for i in released if Kind(i.kind) is kind]
    return "\n".join(lines) + "\n"


def _heading_version(line: str) -> str | None:
    m = re.match(r"^##\s*\[?([^\]\s]+)\]?", line)
    return m.group(1) if m else None


def prepend_changelog(existing: str, entry: str) -> str:
    """Put ``entry`` above the newest release, below the header and any Unreleased section.

    The header (and any text under it) and every older entry are kept as they
    are. If a section for the same version is already there it is replaced, so
    re-running a release that failed after writing the changelog does not
    repeat it.
    """
    entry_lines = entry.strip("\n").split("\n")
    version = _heading_version(entry_lines[0]) if entry_lines else None
    text = existing.replace("\r\n", "\n")
    lines = text.split("\n") if text.strip() else []
    if not lines or not lines[0].startswith("# "):
        preamble = (
            [CHANGELOG_HEADER, "", CHANGELOG_INTRO] if not text.strip() else [CHANGELOG_HEADER]
        )
        lines = [*preamble, "", *lines]

    # Drop an older copy of this version's section.
    if version is not None:
        start = next(
            (
                n
                for n, ln in enumerate(lines)
                if ln.startswith("## ") and _heading_version(ln) == version
            ),
            None,
        )
        if start is not None:
            end = next(
                (n for n in range(start + 1, len(lines)) if lines[n].startswith("## ")), len(lines)
            )
            del lines[start:end]

    # Insert before the first release heading that is not "Unreleased".
    at = next(
        (
            n
            for n, ln in enumerate(lines)
            if ln.startswith("## ") and not _UNRELEASED_RE.match(ln.strip())
        ),
        None,
    )
    if at is None:
        while lines and not lines[-1].strip():
            lines.pop()
        out = [*lines, "", *entry_lines]
    else:
        head = lines[:at]
        while head and not head[-1].strip():
            head.pop()
        out = [*head, "", *entry_lines, "", *lines[at:]]
    return "\n".join(out).rstrip("\n") + "\n"
