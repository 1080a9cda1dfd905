"""Release versions and changelog text: pure functions, no git, no clock.

The git backend finds the previous tag and the engine knows which items are
released; everything in between (the next version, the tag name, the
changelog text) is decided here so it can be tested without a repository.

Choices, so they read the same everywhere:

* The first release is ``0.1.0`` whatever the kinds (a project starts in 0.x).
* ``breaking`` always bumps the major, in 0.x too: ``0.4.2`` -> ``1.0.0``.
  The pipeline says ``breaking: true -> major``, and a user who flags a change
  as breaking expects the version to say so.
* Otherwise the biggest kind wins: any feature -> minor, else patch
  (bug, chore, or nothing at all: a release always moves the version).
* A new CHANGELOG.md is Keep a Changelog style, newest release first under the
  ``# Changelog`` header (the issue says "appends"; readers expect the latest
  release at the top, which is what Keep a Changelog prescribes).

Learning a project's own scheme (:func:`plan_release`):

* Release tags are ``MAJOR.MINOR`` or ``MAJOR.MINOR.PATCH``, with or without
  a leading ``v`` (or made from an explicit template such as
  ``release-{version}``). Anything else (``latest``, ``nightly-2020``,
  pre-releases like ``v1.3.0-rc1``, leading zeros) is not a release and is
  ignored. Versions compare as numbers with a missing patch read as 0
  (``v0.9`` < ``v0.23`` == ``0.23.0``).
* The next version is one bump above the highest release tag of *any*
  accepted spelling, so it always sorts above every release the project has.
  The tag spelling (``v`` or not) is the one of that highest tag; when the
  same version is tagged both ways, the spelling most tags use wins (then ``v``).
* Precision is learned from the newest minor release (a two-component tag,
  or a three-component one ending in ``.0``): a project that tags ``v0.23``
  gets ``v0.24`` for a feature and ``v1.0`` for a breaking change. A bug or
  chore release needs a third component there: ``v0.23`` -> ``v0.23.1``
  (never ``v0.24``: a fix must not look like a feature release), and the
  next feature after ``v0.23.1`` is ``v0.24`` again.

Changelog files (:func:`prepend_changelog`):

* Markdown (``.md``) and reStructuredText (``.rst``) are written; the format
  comes from the file name (:func:`changelog_format`).
* The new entry copies the heading style of the newest release section in the
  file: its level (Markdown ``##``/``#``...) or adornment (rst ``-----``,
  ``~~~~``, with or without an overline), and the title's shape with the
  version and date swapped in (``3.1.3 (2024-01-02)``, ``v0.23``,
  ``Version 2.1``). It goes right above that section, so any title block,
  intro or empty "Unreleased" section stays on top.
* Notes under an "Unreleased" section above the newest release (Keep a
  Changelog's ``## [Unreleased]``) are this release's: the release's heading
  goes right below ``Unreleased`` (left on top, empty), so the notes become its
  body, and the items join the notes' group of the same name or follow as a
  group of their own. Lines are only added there, none changed.
* A file whose groups use Keep a Changelog's words gets them (``Added``,
  ``Fixed``, ``Changed`` for features, fixes and chores; a new group in that
  convention's order), spaced as the file's groups are; its compare links move
  on (``[Unreleased]`` compares from the new tag, and ``[1.2.0]`` is added).
* Existing text is never changed: the new file is the old one with one block
  inserted (at a line boundary, in the file's own line endings), or with lines
  added where Unreleased notes are released. Three exceptions: the
  ``[Unreleased]`` compare link above, and these two. Re-running a release: a
  section for the same version that holds nothing but lines shipdeck writes is
  replaced; in a Keep a Changelog file one with notes in it (those it took
  from Unreleased) gets the missing items joined to its groups; any other
  hand-written one that already lists the items is left as it is. And a newest
  section written ahead for this very version and marked ``Unreleased`` (the
  pallets projects' ``Version 2.3.0`` / ``Unreleased``) is released in place:
  that line becomes ``Released DATE``, worded as the file's released sections
  are, and the items are added at the section's end with its own bullets. Any
  other hand-written section for that version is kept and the entry goes above
  it. A newest section announced that way for *another* version stays on top:
  the entry goes below it.
* A file whose newest release lists its changes flat (bullets, no group
  headings) gets the entry flat too, in the section's bullets (``-   x``), under a
  ``Released DATE`` line where the file dates its sections so; notes listed flat
  under Unreleased get the items appended to their list. The entry is followed by
  as many blank lines as the file leaves between its releases.
* Item ids and titles have control characters escaped (``\\x1b``), so no
  terminal escape sequence reaches the file.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import PurePath
from typing import Literal, Protocol

from shipdeck.lifecycle.items import Kind
from shipdeck.lifecycle.text import escape_controls

FIRST_VERSION = "0.1.0"
VERSION_FIELD = "{version}"
DEFAULT_TAG_TEMPLATE = "v{version}"
CHANGELOG_HEADER = "# Changelog"
CHANGELOG_TITLE = "Changelog"
CHANGELOG_INTRO = "All notable changes to this project are documented in this file."

ChangelogFormat = Literal["md", "rst"]
# Changelog file suffixes shipdeck can write, by format.
CHANGELOG_SUFFIXES: dict[str, ChangelogFormat] = {
    ".md": "md",
    ".markdown": "md",
    ".rst": "rst",
    ".rest": "rst",
}

_SEMVER_RE = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_SEMVER_PART = r"(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)"
# A release version as tags spell it: MAJOR.MINOR or MAJOR.MINOR.PATCH.
_RELEASE_PART = r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*)){1,2}"
_LEARNED_TAG_RE = re.compile(rf"(v?)({_RELEASE_PART})")

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


def _next_numbers(
    numbers: tuple[int, int, int], kinds: Iterable[Kind | str], breaking: bool
) -> tuple[int, int, int]:
    major, minor, patch = numbers
    if breaking:
        return major + 1, 0, 0
    if any(Kind(k) is Kind.FEATURE for k in kinds):
        return major, minor + 1, 0
    return major, minor, patch + 1


def bump(previous: str | None, kinds: Iterable[Kind | str], breaking: bool) -> str:
    """The version after ``previous`` for a release of ``kinds`` (see the module doc)."""
    if previous is None:
        return FIRST_VERSION
    parsed = parse_semver(previous)
    if parsed is None:
        raise ValueError(f"not a semantic version: {previous!r} (expected MAJOR.MINOR.PATCH)")
    return format_semver(_next_numbers(parsed, kinds, breaking))


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


# --- Learning the version scheme from tags ------------------------------------------


@dataclass(frozen=True)
class ReleasePlan:
    """The next release: its version and tag, the release before it, and the tag scheme.

    ``version`` is as the tag spells it (``0.24`` for a project tagging
    ``v0.23``); ``template`` is the tag template used (``v{version}``,
    ``{version}`` or the explicit one).
    """

    version: str
    tag: str
    previous: str | None
    previous_tag: str | None
    template: str


@dataclass(frozen=True)
class _Release:
    tag: str
    template: str
    version: str
    numbers: tuple[int, int, int]  # a missing patch reads as 0

    @property
    def parts(self) -> int:
        return self.version.count(".") + 1

    @property
    def minor_release(self) -> bool:
        """A release that opened a minor (``0.23``, ``0.23.0``), not a patch on one."""
        return self.parts == 2 or self.numbers[2] == 0


def _release(tag: str, template: str, version: str) -> _Release:
    nums = [int(n) for n in version.split(".")] + [0]
    return _Release(tag, template, version, (nums[0], nums[1], nums[2]))


def _release_tags(tags: Iterable[str], template: str | None) -> list[_Release]:
    """Every tag that names a release: ``[v]X.Y[.Z]``, or made from ``template``."""
    explicit: re.Pattern[str] | None = None
    if template is not None:
        prefix, suffix = template.split(VERSION_FIELD)
        explicit = re.compile(re.escape(prefix) + f"({_RELEASE_PART})" + re.escape(suffix))
    found: list[_Release] = []
    for tag in dict.fromkeys(tags):
        if explicit is not None and template is not None and (m := explicit.fullmatch(tag)):
            found.append(_release(tag, template, m.group(1)))
        elif m := _LEARNED_TAG_RE.fullmatch(tag):
            found.append(_release(tag, m.group(1) + VERSION_FIELD, m.group(2)))
    return found


def _highest(releases: Sequence[_Release], template: str | None) -> _Release:
    """The highest release; for a version tagged several ways, the preferred spelling."""
    top = max(r.numbers for r in releases)
    tied = [r for r in releases if r.numbers == top]
    usage = Counter(r.template for r in releases)

    def preference(r: _Release) -> tuple[bool, int, bool, int, str]:
        return (
            r.template == template,
            usage[r.template],
            r.template == DEFAULT_TAG_TEMPLATE,
            r.parts,
            r.tag,
        )

    return max(tied, key=preference)


def learn_tag_template(tags: Iterable[str]) -> str | None:
    """The tag template a project's release tags use (``v{version}`` or ``{version}``).

    None when no tag looks like a release version.
    """
    releases = _release_tags(tags, None)
    return _highest(releases, None).template if releases else None


def plan_release(
    tags: Iterable[str],
    tag_template: str | None,
    kinds: Iterable[Kind | str],
    breaking: bool,
) -> ReleasePlan:
    """The next release after the project's existing ``tags`` (see the module doc).

    ``tag_template`` None learns the scheme from the tags; a template (one
    ``{version}`` and no other field) names the tags to make, and tags made
    from it count as releases besides ``[v]X.Y[.Z]`` ones. ValueError for a
    template without exactly one ``{version}``, or an unknown kind.
    """
    if tag_template is not None:
        _check_template(tag_template)
    kinds = list(kinds)
    for k in kinds:
        Kind(k)
    releases = _release_tags(tags, tag_template)
    if not releases:
        template = tag_template or DEFAULT_TAG_TEMPLATE
        return ReleasePlan(
            version=FIRST_VERSION,
            tag=template.replace(VERSION_FIELD, FIRST_VERSION),
            previous=None,
            previous_tag=None,
            template=template,
        )
    previous = _highest(releases, tag_template)
    template = tag_template or previous.template
    same_scheme = [r for r in releases if r.template == previous.template] or releases
    minors = [r for r in same_scheme if r.minor_release]
    parts = _highest(minors, tag_template).parts if minors else previous.parts
    major, minor, patch = _next_numbers(previous.numbers, kinds, breaking)
    version = f"{major}.{minor}" if parts == 2 and patch == 0 else f"{major}.{minor}.{patch}"
    return ReleasePlan(
        version=version,
        tag=template.replace(VERSION_FIELD, version),
        previous=previous.version,
        previous_tag=previous.tag,
        template=template,
    )


# --- Changelog text ------------------------------------------------------------------


def changelog_format(path: str) -> ChangelogFormat:
    """``"rst"`` for a reStructuredText file name (``CHANGES.rst``), else ``"md"``.

    Any other name (``CHANGELOG.txt``, ``NEWS``) gets Markdown, which is what
    shipdeck has always written; :func:`known_changelog_format` tells them apart.
    """
    return known_changelog_format(path) or "md"


def known_changelog_format(path: str) -> ChangelogFormat | None:
    """The format of a changelog file name, or None if it is neither Markdown nor rst."""
    return CHANGELOG_SUFFIXES.get(PurePath(path).suffix.lower())


def _check_format(fmt: str) -> None:
    if fmt not in ("md", "rst"):
        raise ValueError(f"unknown changelog format {fmt!r} (expected 'md' or 'rst')")


def one_line(text: str) -> str:
    """The title as written, with line breaks (and the blanks around them) as one space."""
    return re.sub(r"[ \t]*[\r\n]+[ \t]*", " ", text).strip()


def changelog_line(item: ReleasedItem) -> str:
    """``- SD-3 Title (feature)``; a breaking change reads ``(feature, breaking)``.

    Control characters in the id and title are escaped (``\\x1b``), never written.
    """
    kind = Kind(item.kind).value
    tail = f"{kind}, breaking" if item.breaking else kind
    return f"- {escape_controls(item.id)} {escape_controls(one_line(item.title))} ({tail})"


def release_heading(version: str) -> str:
    return f"## [{version}]"


def _groups(items: Iterable[ReleasedItem]) -> list[tuple[str, list[str]]]:
    released = list(items)
    order = {kind: n for n, (kind, _) in enumerate(GROUPS)}
    titles = dict(GROUPS)
    kinds = sorted({Kind(i.kind) for i in released}, key=lambda k: order.get(k, len(order)))
    return [
        (
            titles.get(kind, kind.value.capitalize()),
            [changelog_line(i) for i in released if Kind(i.kind) is kind],
        )
        for kind in kinds
    ]


def changelog_entry(
    version: str,
    day: date | str,
    items: Iterable[ReleasedItem],
    *,
    fmt: ChangelogFormat = "md",
) -> str:
    """One release section: a dated heading, then the items grouped by kind.

    ``fmt="md"``: ``## [1.2.0] - 2024-05-01`` and ``### Features``;
    ``fmt="rst"``: ``1.2.0 (2024-05-01)`` underlined with ``-`` and groups
    underlined with ``~``. :func:`prepend_changelog` restyles the headings
    to match the file the entry goes into.
    """
    _check_format(fmt)
    if isinstance(day, datetime):
        day = day.date()
    when = day.isoformat() if isinstance(day, date) else str(day)
    if fmt == "md":
        lines = [f"{release_heading(version)} - {when}"]
        for label, group in _groups(items):
            lines += ["", f"### {label}", *group]
    else:
        title = f"{version} ({when})"
        lines = [title, "-" * len(title)]
        for label, group in _groups(items):
            lines += ["", label, "~" * len(label), "", *group]
    return "\n".join(lines) + "\n"


# Headings: where they are and how they look. ``style`` is "##" (Markdown level 2),
# "-" (rst underline) or "==" (rst overline and underline).


@dataclass(frozen=True)
class _Heading:
    start: int  # first line (the overline, or the title)
    end: int  # the line after the heading
    title: str
    style: str


_ATX_RE = re.compile(r"(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*")
_FENCE_RE = re.compile(r" {0,3}(`{3,}|~{3,})")
_ADORNMENT_RE = re.compile(r"([!-/:-@\[-`{-~])\1{2,}[ \t]*")
_VERSION_TOKEN_RE = re.compile(
    r"(?<![\w.])[vV]?"
    r"([0-9]+(?:\.[0-9]+)+(?:[-.]?(?:a|b|c|rc|alpha|beta|pre|dev|post)[.-]?[0-9]*)?)"
    r"(?![\w]|\.[0-9])"
)
_DATE_RE = re.compile(r"(?<![0-9])[0-9]{4}-[0-9]{2}-[0-9]{2}(?![0-9])")
_LINKISH_RE = re.compile(r"\]\(|`_|<https?:|https?://")
_RST_CHARS = "-~^\"'+*:.`#_="
_KIND_TAILS = "|".join(re.escape(k.value) for k in Kind)
_SHIPDECK_ITEM_RE = re.compile(rf"- \S+ .*\((?:{_KIND_TAILS})(?:, breaking)?\)")


def _md_headings(lines: Sequence[str]) -> list[_Heading]:
    out: list[_Heading] = []
    fence: str | None = None
    for n, line in enumerate(lines):
        f = _FENCE_RE.match(line)
        if fence is not None:
            if f and f.group(1)[0] == fence[0] and len(f.group(1)) >= len(fence):
                fence = None
            continue
        if f:
            fence = f.group(1)
            continue
        m = _ATX_RE.fullmatch(line)
        if m:
            out.append(_Heading(n, n + 1, m.group(2), m.group(1)))
    return out


def _is_adornment(line: str) -> bool:
    return _ADORNMENT_RE.fullmatch(line) is not None


def _rst_headings(lines: Sequence[str]) -> list[_Heading]:
    out: list[_Heading] = []
    n, count = 0, len(lines)
    while n < count:
        line = lines[n]
        after_blank = n == 0 or not lines[n - 1].strip()
        if (
            after_blank
            and _is_adornment(line)
            and n + 2 < count
            and lines[n + 1].strip()
            and not _is_adornment(lines[n + 1])
            and _is_adornment(lines[n + 2])
            and lines[n + 2][0] == line[0]
        ):
            out.append(_Heading(n, n + 3, lines[n + 1].strip(), line[0] * 2))
            n += 3
            continue
        if (
            after_blank
            and line.strip()
            and not line[0].isspace()
            and not _is_adornment(line)
            and n + 1 < count
            and _is_adornment(lines[n + 1])
        ):
            out.append(_Heading(n, n + 2, line.rstrip(), lines[n + 1][0]))
            n += 2
            continue
        n += 1
    return out


def _title_version(title: str) -> str | None:
    """The version a heading names; None for no version or an "unreleased" section."""
    if "unreleased" in title.lower():
        return None
    m = _VERSION_TOKEN_RE.search(_DATE_RE.sub(" " * 10, title))
    return m.group(1) if m else None


@dataclass(frozen=True)
class _TitleShape:
    """The shape of a release title such as ``3.1.3 (2024-01-02)`` or ``v0.23``."""

    pieces: tuple[tuple[str, str], ...]  # (text before, "version" or "date")
    tail: str

    @property
    def has_date(self) -> bool:
        return any(name == "date" for _, name in self.pieces)

    def render(self, version: str, day: str | None) -> str | None:
        if self.has_date and day is None:
            return None
        values = {"version": version, "date": day or ""}
        return "".join(text + values[name] for text, name in self.pieces) + self.tail


def _learn_title(title: str) -> _TitleShape | None:
    """The shape of ``title``; None when it is not safe to copy (links, several versions)."""
    if _LINKISH_RE.search(title):
        return None
    dates = list(_DATE_RE.finditer(title))
    versions = list(_VERSION_TOKEN_RE.finditer(title))
    if len(versions) != 1 or len(dates) > 1:
        return None
    spans = [(versions[0].start(1), versions[0].end(1), "version")]
    spans += [(d.start(), d.end(), "date") for d in dates]
    spans.sort()
    pieces: list[tuple[str, str]] = []
    at = 0
    for start, end, name in spans:
        pieces.append((title[at:start], name))
        at = end
    return _TitleShape(tuple(pieces), title[at:])


def _entry_version(title: str) -> tuple[str, str | None] | None:
    """(version, date) from the heading of an entry :func:`changelog_entry` made."""
    m = re.fullmatch(r"\[?([^\]\s(]+)\]?(?: - | \()?([0-9]{4}-[0-9]{2}-[0-9]{2})?\)?", title)
    return (m.group(1), m.group(2)) if m else None


def _fallback_title(old_title: str, version: str, day: str | None, fmt: str) -> str:
    """``v1.2.0 - 2024-05-01`` (md) or ``v1.2.0 (2024-05-01)`` (rst), ``v`` as the file has it."""
    m = _VERSION_TOKEN_RE.search(old_title)
    v = "v" if m and m.group(0)[:1] in ("v", "V") else ""
    head = f"[{version}]" if fmt == "md" and old_title.startswith("[") else f"{v}{version}"
    if day is None:
        return head
    return f"{head} - {day}" if fmt == "md" else f"{head} ({day})"


def _new_title(old_title: str, entry_title: str, fmt: str) -> str:
    """The entry's title in the shape of ``old_title``, the file's newest release title."""
    parsed = _entry_version(entry_title)
    if parsed is None:
        return entry_title
    version, day = parsed
    shape = _learn_title(old_title)
    made = shape.render(version, day) if shape is not None else None
    return made if made is not None else _fallback_title(old_title, version, day, fmt)


def _section_end(
    headings: Sequence[_Heading], index: int, ends_section: Callable[[str], bool]
) -> int | None:
    """The line where the section of ``headings[index]`` ends (None: at the end of the file)."""
    for h in headings[index + 1 :]:
        if ends_section(h.style):
            return h.start
    return None


def _section_stop(
    lines: Sequence[str], headings: Sequence[_Heading], index: int, fmt: ChangelogFormat
) -> int:
    """The line after the section of ``headings[index]``: the next heading at its level or
    above (Markdown: as many ``#`` or fewer; rst: a style first used no later)."""
    if fmt == "md":
        level = len(headings[index].style)
        end = _section_end(headings, index, lambda s: len(s) <= level)
    else:
        order = list(dict.fromkeys(h.style for h in headings))
        rank = order.index(headings[index].style)
        end = _section_end(headings, index, lambda s: order.index(s) <= rank)
    return end if end is not None else len(lines)


def _shipdeck_wrote(lines: Sequence[str], labels: frozenset[str]) -> bool:
    """True if every line is one shipdeck writes in a release section."""
    for line in lines:
        text = line.strip()
        if not text or _is_adornment(text) or text.lstrip("#").strip() in labels:
            continue
        if not _SHIPDECK_ITEM_RE.fullmatch(text):
            return False
    return True


@dataclass(frozen=True)
class _Layout:
    """Where an entry goes in a file and how its headings are written."""

    at: int | None  # line to insert before; None: at the end
    replace: tuple[int, int | None] | None  # a same-version section to drop (lines)
    entry: list[str]
    header: list[str]  # lines to put above the entry when it opens the file
    into: int | None = None  # a same-version section with notes: the items join it (heading)


def _split_lines(text: str) -> list[str]:
    """Lines without their line ending ("\\n" or "\\r\\n"); the last may be partial."""
    return [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]


def _restyle_md(entry: list[str], level: int, title: str) -> list[str]:
    out: list[str] = []
    heads = _md_headings(entry)
    base = len(heads[0].style) if heads else 2
    by_line = {h.start: h for h in heads}
    for n, line in enumerate(entry):
        h = by_line.get(n)
        if h is None:
            out.append(line)
        elif n == heads[0].start:
            out.append(f"{'#' * level} {title}")
        else:
            out.append(f"{'#' * min(6, len(h.style) - base + level)} {h.title}")
    return out


def _rst_adorned(title: str, style: str) -> list[str]:
    rule = style[0] * max(len(title), 3)
    return [rule, title, rule] if len(style) == 2 else [title, rule]


def _restyle_rst(entry: list[str], vstyle: str, gstyle: str, title: str | None) -> list[str]:
    heads = _rst_headings(entry)
    if not heads:
        return entry
    out = entry[: heads[0].start]
    for n, h in enumerate(heads):
        if n == 0:
            out += _rst_adorned(title if title is not None else h.title, vstyle)
        else:
            out += _rst_adorned(h.title, gstyle)
        stop = heads[n + 1].start if n + 1 < len(heads) else len(entry)
        out += entry[h.end : stop]
    return out


def _unused_style(used: Iterable[str]) -> str:
    taken = {s[0] for s in used}
    return next((c for c in _RST_CHARS if c not in taken), "~")


# Keep a Changelog's group names: a file that uses them gets them (Features -> Added).
_KAC_GROUPS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
_KAC_WORDS = {"Features": "Added", "Fixes": "Fixed", "Chores": "Changed"}
_GROUP_LABELS = frozenset(
    {label for _, label in GROUPS} | {k.value.capitalize() for k in Kind} | set(_KAC_GROUPS)
)


def _groups_spaced(lines: Sequence[str], subs: Sequence[_Heading], section: range) -> bool:
    """True if the section's first group heading has a blank line under it."""
    return bool(subs) and subs[0].end < section.stop and not lines[subs[0].end].strip()


def _spaced_groups(entry: list[str]) -> list[str]:
    """The entry with a blank line under each group heading, as the file writes them."""
    under = {h.end for h in _md_headings(entry)[1:]}
    return [
        ln
        for k, line in enumerate(entry)
        for ln in (["", line] if k in under and line.strip() else [line])
    ]


def _announced(
    lines: Sequence[str], heads: Sequence[_Heading], n: int, fmt: ChangelogFormat
) -> bool:
    """True if ``heads[n]``'s section is written ahead and marked ``Unreleased`` (the
    pallets projects' "Version 2.3.0" / "Unreleased")."""
    body, _subs = _section_of(lines, heads, n, fmt)
    return any(_UNRELEASED_RE.fullmatch(lines[k]) for k in body)


def _below_announced(
    lines: Sequence[str],
    heads: Sequence[_Heading],
    found: Sequence[tuple[int, _Heading]],
    fmt: ChangelogFormat,
) -> int | None:
    """Where the entry goes: above the newest release section, below one announced for
    another version (None: at the end). A release of 2.2.1 had gone above "Version
    2.3.0 / Unreleased", a section the project keeps on top for what comes next."""
    if not _announced(lines, heads, found[0][0], fmt):
        return found[0][1].start
    return found[1][1].start if len(found) > 1 else None


def _flat_as_file(
    lines: list[str], layout: _Layout, day: str | None, fmt: ChangelogFormat
) -> _Layout:
    """The entry as the file's sections are written when they list changes flat (no
    group headings): the items without groups, in the section's bullets (``-   x``),
    under a ``Released DATE`` line worded as the file's. Unchanged for a file with
    groups, or with no list in its newest section to learn from."""
    parse = _md_headings if fmt == "md" else _rst_headings
    heads, made = parse(lines), parse(layout.entry)
    versions = [n for n, h in enumerate(heads) if _title_version(h.title) is not None]
    at = [n for n in versions if heads[n].start == layout.at]
    ref = at[0] if at else versions[-1] if versions and layout.at is None else None
    if ref is None or not made:
        return layout
    body, subs = _section_of(lines, heads, ref, fmt)
    if not _listed_flat(lines, body, subs):
        return layout
    bullet = _bullet_of(lines, body)
    entry = [
        *layout.entry[: made[0].end],
        *_released_line(lines, day),
        "",
        *(bullet + text for text in _item_texts(layout.entry)),
    ]
    return _Layout(layout.at, layout.replace, entry, layout.header, layout.into)


def _layout_md(lines: list[str], entry: list[str]) -> _Layout:
    heads = _md_headings(lines)
    found = [(n, h) for n, h in enumerate(heads) if _title_version(h.title) is not None]
    entry_heads = _md_headings(entry)
    if not found:
        return _Layout(None, None, entry, [])
    first = found[0][1]
    at = _below_announced(lines, heads, found, "md")
    if not entry_heads:
        return _Layout(at, None, entry, [])
    level = len(first.style)
    kac = first.title.startswith("[")
    new_entry = _restyle_md(entry, level, _new_title(first.title, entry_heads[0].title, "md"))
    notes, subs = _section_of(lines, heads, found[0][0], "md")
    if _groups_spaced(lines, subs, notes):
        new_entry = _spaced_groups(new_entry)  # "### Added", a blank line, the items
    version = _title_version(entry_heads[0].title)
    replace = into = None
    for n, h in found:
        if len(h.style) == level and version is not None and _title_version(h.title) == version:
            stop = _section_stop(lines, heads, n, "md")
            if _shipdeck_wrote(lines[h.end : stop], _GROUP_LABELS):
                replace = (h.start, stop if stop < len(lines) else None)
            elif kac:  # notes of the user's (released from Unreleased): never dropped
                into = n
            break
    header = [CHANGELOG_HEADER, ""] if kac and level == 2 else []
    return _Layout(at, replace, new_entry, header, into)


def _layout_rst(lines: list[str], entry: list[str]) -> _Layout:
    heads = _rst_headings(lines)
    order = list(dict.fromkeys(h.style for h in heads))
    found = [(n, h) for n, h in enumerate(heads) if _title_version(h.title) is not None]
    entry_heads = _rst_headings(entry)
    if found:
        first = found[0][1]
        vstyle = first.style
        level = order.index(vstyle)
        gstyle = order[level + 1] if level + 1 < len(order) else _unused_style(order)
        title = _new_title(first.title, entry_heads[0].title, "rst") if entry_heads else None
        version = _title_version(entry_heads[0].title) if entry_heads else None
        replace = None
        for n, h in found:
            if h.style == vstyle and version is not None and _title_version(h.title) == version:
                stop = _section_stop(lines, heads, n, "rst")
                if _shipdeck_wrote(lines[h.end : stop], _GROUP_LABELS):
                    replace = (h.start, stop if stop < len(lines) else None)
                break
        at = _below_announced(lines, heads, found, "rst")
        return _Layout(at, replace, _restyle_rst(entry, vstyle, gstyle, title), [])
    # No release section yet: the entry goes at the end, below a title on top if there is one.
    title_on_top = (
        bool(heads)
        and sum(h.style == order[0] for h in heads) == 1
        and not any(ln.strip() for ln in lines[: heads[0].start])
    )
    levels = order[1:] if title_on_top else order
    vstyle = levels[0] if levels else _unused_style(order)
    below = order[order.index(vstyle) + 1 :] if vstyle in order else []
    gstyle = below[0] if below else _unused_style([*order, vstyle])
    return _Layout(None, None, _restyle_rst(entry, vstyle, gstyle, None), [])


# "Unreleased", "[Unreleased]": a heading's title, or the pallets projects' marker line
_UNRELEASED_RE = re.compile(r"\s*\[?\s*unreleased\s*\]?\s*", re.I)
# "Released 2024-04-16", "Released on 2024-01-02.": a line of its own, not prose
_RELEASED_RE = re.compile(
    r"\s*(released\b[^0-9]{0,16}?)([0-9]{4}-[0-9]{2}-[0-9]{2})(\W{0,3})\s*", re.I
)
_BULLET_RE = re.compile(r"([-*+]\s+)\S")


def _bullet_text(line: str) -> str:
    """A list line's words, whatever its bullet and spacing (``-   x`` is ``- x``)."""
    m = _BULLET_RE.match(line.strip())
    return line.strip()[m.end(1) :] if m else line.strip()


def _bullet_of(lines: Sequence[str], section: range) -> str:
    """The bullet a list line added to ``section`` gets: the section's, else the file's."""
    near_first = [*section, *range(len(lines))]
    return next((m.group(1) for k in near_first if (m := _BULLET_RE.match(lines[k]))), "- ")


def _item_texts(entry: Sequence[str]) -> list[str]:
    """The words of the entry's item lines (``SD-3 Dark mode (feature)``), bullets cut."""
    return [_bullet_text(ln) for ln in entry if _SHIPDECK_ITEM_RE.fullmatch(ln.strip())]


def _listed_flat(lines: Sequence[str], body: range, subs: Sequence[_Heading]) -> bool:
    """True if a section lists its changes without group headings (``-   x`` lines)."""
    return not subs and any(_BULLET_RE.match(lines[k]) for k in body)


def _released_words(lines: Sequence[str], day: str) -> str | None:
    """``Released DAY`` worded as the file's released sections say it (the pallets
    projects' ``Released 2024-04-16``); None in a file without such lines."""
    worded = next((m for ln in lines if (m := _RELEASED_RE.fullmatch(ln))), None)
    return f"{worded.group(1)}{day}{worded.group(3)}".strip() if worded else None


def _release_announced(lines: list[str], entry: list[str], fmt: ChangelogFormat) -> str | None:
    """The file with its newest section released, when that section is the version
    being released: written ahead as ``Unreleased`` (the pallets projects' "Version
    2.3.0 / Unreleased"), or already holding every item of the entry (a re-run).

    The ``Unreleased`` line becomes ``Released DATE`` (worded as the file's released
    sections are), and the items are added at the end of the section, with its own
    bullets. None: the usual insertion (no such section). A new section above it had
    made two "Version 2.3.0" headings, the announced one still "Unreleased".
    """
    md = fmt == "md"
    heads = _md_headings(lines) if md else _rst_headings(lines)
    entry_heads = _md_headings(entry) if md else _rst_headings(entry)
    parsed = _entry_version(entry_heads[0].title) if entry_heads else None
    found = [(n, h) for n, h in enumerate(heads) if _title_version(h.title) is not None]
    if parsed is None or not found:
        return None
    if _title_version(found[0][1].title) != parsed[0] and _announced(
        lines, heads, found[0][0], fmt
    ):
        found = found[1:]  # another version's, ahead: the release went below it
    if not found or _title_version(found[0][1].title) != parsed[0]:
        return None
    version_day = parsed[1]
    n, head = found[0]
    body = range(head.end, _section_stop(lines, heads, n, fmt))
    have = {_bullet_text(lines[k]) for k in body}
    items = _item_texts(entry)
    new = [text for text in items if text not in have]
    marker = next((k for k in body if _UNRELEASED_RE.fullmatch(lines[k])), None)
    if marker is None:  # a hand-written section that has them all: a re-run, unchanged
        mine = _shipdeck_wrote([lines[k] for k in body], _GROUP_LABELS)
        return "\n".join(lines) if items and not new and not mine else None
    if version_day is None:
        return None
    released = _released_words(lines, version_day) or f"Released {version_day}"
    bullet = _bullet_of(lines, body)
    last = max((k for k in body if lines[k].strip()), default=marker)
    out = list(lines)
    out[marker] = lines[marker][: len(lines[marker]) - len(lines[marker].lstrip())] + released
    added = [bullet + text for text in new]
    if last == marker:
        added = ["", *added]
    out[last + 1 : last + 1] = added
    return "\n".join(out)


def _in_files_words(entry: list[str], lines: Sequence[str], fmt: ChangelogFormat) -> list[str]:
    """The entry with its groups named in Keep a Changelog's words (``Added``, ``Fixed``,
    ``Changed``) when the file's own groups use them: one file, one vocabulary."""
    parse = _md_headings if fmt == "md" else _rst_headings
    if not any(h.title in _KAC_GROUPS for h in parse(lines)):
        return entry
    out = list(entry)
    for h in parse(entry)[1:]:
        word = _KAC_WORDS.get(h.title)
        if word is None:
            continue
        for k in range(h.start, h.end):
            if _is_adornment(out[k]):
                out[k] = out[k][0] * max(len(word), 3)
            else:
                out[k] = out[k].replace(h.title, word)
    return out


def _kac_rank(title: str) -> int:
    """Where Keep a Changelog puts a group (-1: not one of its six)."""
    return _KAC_GROUPS.index(title.strip()) if title.strip() in _KAC_GROUPS else -1


def _section_of(
    lines: Sequence[str], headings: Sequence[_Heading], index: int, fmt: ChangelogFormat
) -> tuple[range, list[_Heading]]:
    """The lines under ``headings[index]`` down to its section's end, and the headings
    among them (its groups)."""
    body = range(headings[index].end, _section_stop(lines, headings, index, fmt))
    return body, [h for h in headings if body.start <= h.start < body.stop]


def _join_groups(
    lines: list[str], subs: list[_Heading], body: range, entry: list[str], fmt: ChangelogFormat
) -> list[tuple[int, list[str]]]:
    """Where the entry's items go in a section of notes (``body``, its headings
    ``subs``): at the end of the group of the same name, else as a group of their own
    (in Keep a Changelog's order among its six), in the section's bullets and spacing;
    after the last note where the notes are a list without groups. Items already there
    (a re-run) are not added again."""
    md = fmt == "md"
    made = (_md_headings if md else _rst_headings)(entry)
    bullet = _bullet_of(lines, body)
    have = {_bullet_text(lines[k]) for k in body}
    if _listed_flat(lines, body, subs):
        new = [bullet + text for text in _item_texts(entry) if text not in have]
        after = max(k for k in body if lines[k].strip()) + 1
        return [(after, new)] if new else []
    # A new group's heading is followed by a blank line where the notes' is (rst: always).
    gap = [""] if not md or _groups_spaced(lines, subs, body) else []
    inserts: list[tuple[int, list[str]]] = []
    tail: list[str] = []
    for g, group in enumerate(made[1:], 1):
        stop = made[g + 1].start if g + 1 < len(made) else len(entry)
        items = [_bullet_text(ln) for ln in entry[group.end : stop]]
        new = [bullet + text for text in items if text and text not in have]
        if not new:
            continue
        same = [j for j, h in enumerate(subs) if h.title.strip().lower() == group.title.lower()]
        if not same:
            block = [*entry[group.start : group.end], *gap, *new]
            rank = _kac_rank(group.title)
            later = next((h for h in subs if rank >= 0 and _kac_rank(h.title) > rank), None)
            if later is None:
                tail += ["", *block]
            else:  # Keep a Changelog's order: Added, Changed, ..., Fixed, Security
                inserts.append((later.start, [*block, ""]))
            continue
        sub = subs[same[0]]
        end = subs[same[0] + 1].start if same[0] + 1 < len(subs) else body.stop
        last = max((k for k in range(sub.end, end) if lines[k].strip()), default=None)
        if last is None:
            inserts.append((sub.end, [*([] if md else [""]), *new]))
        else:
            inserts.append((last + 1, new))
    if tail:
        inserts.append((max(k for k in body if lines[k].strip()) + 1, tail))
    return inserts


def _inserted(lines: list[str], inserts: list[tuple[int, list[str]]]) -> list[str]:
    """``lines`` with each block inserted before its line index (the old file's)."""
    out = list(lines)
    # From the bottom up, so each index still means the old line; at one index, the
    # block added later goes in first and so lands below the ones before it.
    for at, _, block in sorted(((at, n, b) for n, (at, b) in enumerate(inserts)), reverse=True):
        out[at:at] = block
    return out


def _release_unreleased(
    lines: list[str], layout: _Layout, fmt: ChangelogFormat, day: str | None = None
) -> list[str] | None:
    """The file with its Unreleased notes released: the notes of an ``Unreleased``
    section above the newest release (Keep a Changelog's ``## [Unreleased]``) describe
    changes on the branch being tagged, so they are this release's.

    Lines added, none changed: the release's heading right below ``Unreleased`` (which
    stays, empty, for the next changes), and the items at the end of the notes' group of
    the same name (``### Added``), else as a group of their own. None: no such section,
    or one with nothing in it (the entry then goes below it, as before). The notes had
    stayed under Unreleased after the release.
    """
    md = fmt == "md"
    parse = _md_headings if md else _rst_headings
    heads, made = parse(lines), parse(layout.entry)
    top = layout.at if layout.at is not None else len(lines)
    n = next(
        (k for k, h in enumerate(heads) if h.start < top and _UNRELEASED_RE.fullmatch(h.title)),
        None,
    )
    if n is None or not made:
        return None
    head = heads[n]
    newest = next((h for h in heads if h.start == layout.at), None)
    if newest is not None and newest.style != head.style:
        return None  # an "Unreleased" sub-heading of some section: not the file's
    body, subs = _section_of(lines, heads, n, fmt)
    if not any(lines[k].strip() for k in body):
        return None
    if md:
        entry = _restyle_md(layout.entry, len(head.style), made[0].title)
    else:
        order = list(dict.fromkeys(h.style for h in heads))
        below = order[order.index(head.style) + 1 :]
        gstyle = subs[0].style if subs else below[0] if below else _unused_style(order)
        entry = _restyle_rst(layout.entry, head.style, gstyle, made[0].title)
    made = parse(entry)
    inserts = _join_groups(lines, subs, body, entry, fmt)
    heading = [*entry[made[0].start : made[0].end], *_released_line(lines, day)]
    spaced = not md and bool(lines[head.end].strip()) if head.end < len(lines) else False
    inserts.append((head.end, ["", *heading, *([""] if spaced else [])]))
    return _inserted(lines, inserts)


def _released_line(lines: Sequence[str], day: str | None) -> list[str]:
    """``["", "Released DAY"]`` where the file dates its releases so; else nothing."""
    words = _released_words(lines, day) if day is not None else None
    return ["", words] if words else []


# `[Unreleased]: https://host/owner/repo/compare/v1.1.0...HEAD`: Keep a Changelog's links.
_COMPARE_LINK_RE = re.compile(
    r"( {0,3}\[unreleased\]:[ \t]*)(\S*/compare/)(\S+?)\.\.\.(\S+?)([ \t]*)", re.I
)


def _compare_links(text: str, version: str) -> str:
    """Keep a Changelog's compare links moved on to ``version``: ``[Unreleased]`` now
    compares from its tag, and ``[version]`` is added below it comparing the previous
    tag with it (the tag spelled as the previous one: ``v1.1.0`` -> ``v1.2.0``).
    Unchanged without such links, or when ``[version]`` already has one (a re-run)."""
    rows = text.split("\n")
    for n, row in enumerate(rows):
        line = row.rstrip("\r")
        m = _COMPARE_LINK_RE.fullmatch(line)
        if m is None:
            continue
        prev = m.group(3)
        v = _VERSION_TOKEN_RE.search(prev)
        defined = f"[{version}]:".lower()
        if (
            v is None
            or v.group(1) == version
            or any(r.strip().lower().startswith(defined) for r in rows)
        ):
            return text
        tag = prev[: v.start(1)] + version + prev[v.end(1) :]
        cr = row[len(line) :]
        rows[n] = f"{m.group(1)}{m.group(2)}{tag}...{m.group(4)}{m.group(5)}{cr}"
        rows.insert(n + 1, f"[{version}]: {m.group(2)}{prev}...{tag}{cr}")
        return "\n".join(rows)
    return text


def prepend_changelog(existing: str, entry: str, *, fmt: ChangelogFormat = "md") -> str:
    """Put ``entry`` above the newest release, below the header and an empty Unreleased
    section (one with notes is released: see the module doc).

    The file's text is kept byte for byte: the result is ``existing`` with
    the entry inserted at one line boundary (see the module doc for the one
    exception, re-running the release of a version already in the file). The
    entry's headings are rewritten in the style of the file's newest release
    section; with no release section yet it goes at the end, and an empty
    file gets a title first.
    """
    _check_format(fmt)
    entry_lines = _split_lines(entry.strip("\r\n"))
    if not existing.strip():
        if fmt == "md":
            head = [CHANGELOG_HEADER, "", CHANGELOG_INTRO, ""]
            body = entry_lines
        else:
            head = [CHANGELOG_TITLE, "=" * len(CHANGELOG_TITLE), "", CHANGELOG_INTRO, ""]
            body = _layout_rst(head, entry_lines).entry
        return "\n".join([*head, *body]) + "\n"
    lines = _split_lines(existing)
    entry_lines = _in_files_words(entry_lines, lines, fmt)
    nl = "\r\n" if "\r\n" in existing else "\n"
    released = _release_announced(lines, entry_lines, fmt)
    if released is not None:
        return released.replace("\n", nl) if nl != "\n" else released
    layout = _layout_md(lines, entry_lines) if fmt == "md" else _layout_rst(lines, entry_lines)
    if layout.replace is not None:
        # Re-running a release: drop the earlier copy of this version's section, then insert.
        start, end = layout.replace
        raw = existing.split("\n")
        if end is None:
            kept = raw[:start]  # its blank lines too: the re-run adds none, as the run did
            return prepend_changelog("\n".join([*kept, ""]) if kept else "", entry, fmt=fmt)
        return prepend_changelog("\n".join(raw[:start] + raw[end:]), entry, fmt=fmt)
    if layout.into is not None:  # a re-run on a section that took Unreleased's notes
        notes, subs = _section_of(lines, _md_headings(lines), layout.into, fmt)
        joined = _join_groups(lines, subs, notes, layout.entry, fmt)
        return nl.join(_inserted(lines, joined)) if joined else existing
    made = _md_headings(entry_lines) if fmt == "md" else _rst_headings(entry_lines)
    parsed = _entry_version(made[0].title) if made else None
    day = parsed[1] if parsed else None
    moved = _release_unreleased(lines, layout, fmt, day)
    if moved is None:
        layout = _flat_as_file(lines, layout, day, fmt)
    gap = _section_gap(lines, fmt)
    text = nl.join(moved) if moved is not None else _insert(existing, lines, layout, nl, gap)
    return _compare_links(text, parsed[0]) if fmt == "md" and parsed else text


def _insert(existing: str, lines: list[str], layout: _Layout, nl: str, gap: int = 1) -> str:
    """``existing`` with the layout's entry (and header) inserted before line ``layout.at``."""
    block = nl.join(layout.entry) + nl
    if layout.at is None:
        if not existing.endswith("\n"):
            sep = nl + nl
        elif len(lines) >= 2 and not lines[-2].strip():
            sep = ""
        else:
            sep = nl
        return existing + sep + block
    offset = sum(len(raw) + 1 for raw in existing.split("\n")[: layout.at])
    if layout.at == 0:
        block = nl.join([*layout.header, *layout.entry]) + nl
        sep = ""
    else:
        sep = "" if not lines[layout.at - 1].strip() else nl
    return existing[:offset] + sep + block + nl * gap + existing[offset:]


def _section_gap(lines: Sequence[str], fmt: ChangelogFormat) -> int:
    """The blank lines the file leaves between a release's last line and the next
    release's heading, the most common count (the pallets projects: two); 1 if none."""
    heads = _md_headings(lines) if fmt == "md" else _rst_headings(lines)
    gaps: Counter[int] = Counter()
    for h in heads:
        if _title_version(h.title) is None:
            continue
        blank = next((k for k in range(h.start) if lines[h.start - 1 - k].strip()), None)
        if blank:  # content above it, then ``blank`` empty lines
            gaps[blank] += 1
    return gaps.most_common(1)[0][0] if gaps else 1
