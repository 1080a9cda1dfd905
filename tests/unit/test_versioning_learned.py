"""Versions learned from a project's own tags, and its own changelog's style (pure, no git)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipdeck.lifecycle.items import Item, Kind
from shipdeck.lifecycle.versioning import (
    ChangelogFormat,
    ReleasePlan,
    changelog_entry,
    changelog_format,
    known_changelog_format,
    learn_tag_template,
    plan_release,
    prepend_changelog,
)

F, B, C = Kind.FEATURE, Kind.BUG, Kind.CHORE
NEW = "987.0.0"  # never in a generated file
DAY = "2030-01-02"


def _numbers(version: str) -> tuple[int, int, int]:
    parts = [int(p) for p in version.split(".")] + [0]
    return parts[0], parts[1], parts[2]


# --- plan_release -----------------------------------------------------------------


V0_1_TO_23 = [f"v0.{n}" for n in range(1, 24)]


@pytest.mark.parametrize(
    ("tags", "kinds", "breaking", "tag"),
    [
        # The examples.
        (V0_1_TO_23, [F], False, "v0.24"),
        (["3.1.2", "3.1.3"], [F], False, "3.2.0"),
        (["3.1.2", "3.1.3"], [B], False, "3.1.4"),
        ([], [F], False, "v0.1.0"),
        (["v1.2.3", "latest", "v1.3.0-rc1"], [F], False, "v1.3.0"),
        # Two components: a fix needs a third; breaking bumps the major.
        (V0_1_TO_23, [B], False, "v0.23.1"),
        (V0_1_TO_23, [C], False, "v0.23.1"),
        (V0_1_TO_23, [C], True, "v1.0"),
        (["v0.23", "v0.23.1"], [F], False, "v0.24"),
        (["v0.23", "v0.23.1"], [B], False, "v0.23.2"),
        (["v1.2.0", "v1.2.1"], [F], False, "v1.3.0"),
        (["v1.2.1"], [F], False, "v1.3.0"),
        # Numbers, not strings: v0.9 < v0.10.
        (["v0.9", "v0.10", "v0.2"], [F], False, "v0.11"),
        (["0.9.0", "0.10.0"], [B], False, "0.10.1"),
        # Above every release whatever its spelling; the highest's spelling wins.
        (["3.1.3", "v2.0.0"], [F], False, "3.2.0"),
        (["v3.1.3", "2.0.0", "1.0.0"], [F], False, "v3.2.0"),
        # The same version both ways: the spelling most tags use (then v).
        (["1.0.0", "v1.0.0", "v0.9.0"], [F], False, "v1.1.0"),
        (["1.0.0", "v1.0.0", "0.9.0"], [F], False, "1.1.0"),
        (["1.0.0", "v1.0.0"], [F], False, "v1.1.0"),
        # Not releases: ignored.
        (["latest", "foo", "nightly-2020", "v1.2.3-rc1", "v1", "v01.2.3", "1.2.3.4"], [F], False,
         "v0.1.0"),
        (["V9.0.0", "release-9.0.0", "v1.0.0"], [F], False, "v1.1.0"),
        # Breaking bumps the major in 0.x too; the first release is 0.1.0 whatever the kinds.
        (["v0.4.2"], [C], True, "v1.0.0"),
        ([], [C], True, "v0.1.0"),
    ],
)  # fmt: skip
def test_plan_release_learned(tags: list[str], kinds: list[Kind], breaking: bool, tag: str) -> None:
    plan = plan_release(tags, None, kinds, breaking)
    assert plan.tag == tag
    assert plan.template.replace("{version}", plan.version) == plan.tag


def test_plan_release_reports_previous_and_template() -> None:
    assert plan_release(V0_1_TO_23, None, [F], False) == ReleasePlan(
        version="0.24", tag="v0.24", previous="0.23", previous_tag="v0.23", template="v{version}"
    )
    assert plan_release(["3.1.2", "3.1.3", "latest"], None, [B], False) == ReleasePlan(
        version="3.1.4", tag="3.1.4", previous="3.1.3", previous_tag="3.1.3", template="{version}"
    )
    assert plan_release([], None, ["feature"], False) == ReleasePlan(
        version="0.1.0", tag="v0.1.0", previous=None, previous_tag=None, template="v{version}"
    )


def test_plan_release_explicit_template() -> None:
    # Two-component tags match an explicit v{version} too.
    plan = plan_release(["v0.22", "v0.23", "0.1"], "v{version}", [F], False)
    assert (plan.tag, plan.previous_tag, plan.template) == ("v0.24", "v0.23", "v{version}")
    # Other prefixes count when the template makes them.
    plan = plan_release(["release-1.2.0", "release-1.1.0", "x"], "release-{version}", [F], False)
    assert (plan.tag, plan.previous) == ("release-1.3.0", "1.2.0")
    # The new tag is spelled by the template but still sorts above every release.
    plan = plan_release(["3.1.3", "v2.0.0"], "v{version}", [F], False)
    assert (plan.tag, plan.previous_tag) == ("v3.2.0", "3.1.3")
    assert plan_release([], "release-{version}", [B], False).tag == "release-0.1.0"
    with pytest.raises(ValueError, match="exactly once"):
        plan_release([], "latest", [F], False)
    with pytest.raises(ValueError):
        plan_release(["v1.0.0"], None, ["epic"], False)


def test_learn_tag_template() -> None:
    assert learn_tag_template(["3.1.2", "3.1.3", "latest"]) == "{version}"
    assert learn_tag_template(V0_1_TO_23) == "v{version}"
    assert learn_tag_template(["1.0.0", "v2.0"]) == "v{version}"
    assert learn_tag_template(["latest", "v1.0.0-rc1"]) is None
    assert learn_tag_template([]) is None


_RELEASE_TAGS = st.builds(
    lambda v, nums, three: v + ".".join(str(n) for n in (nums if three else nums[:2])),
    st.sampled_from(["", "v"]),
    st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40)),
    st.booleans(),
)
_JUNK_TAGS = st.sampled_from(["latest", "nightly-2020", "v9.9.9-rc1", "v99", "foo", "99.0.0.1"])


@pytest.mark.slow  # a property test
@settings(max_examples=300, deadline=None)
@given(
    tags=st.lists(st.one_of(_RELEASE_TAGS, _JUNK_TAGS), max_size=25),
    kinds=st.lists(st.sampled_from([F, B, C]), max_size=3),
    breaking=st.booleans(),
)
def test_plan_release_sorts_above_every_release(
    tags: list[str], kinds: list[Kind], breaking: bool
) -> None:
    plan = plan_release(tags, None, kinds, breaking)
    releases = [
        _numbers(t.removeprefix("v")) for t in tags if re.fullmatch(r"v?\d+(\.\d+){1,2}", t)
    ]
    assert plan.tag not in tags
    assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?", plan.tag)
    assert all(_numbers(plan.version) > r for r in releases)
    if releases:
        assert plan.previous is not None
        assert _numbers(plan.previous) == max(releases)
    else:
        assert plan.tag == "v0.1.0"


# --- formats and entries ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fmt", "known"),
    [
        ("CHANGELOG.md", "md", "md"),
        ("docs/HISTORY.md", "md", "md"),
        ("CHANGES.rst", "rst", "rst"),
        ("HISTORY.RST", "rst", "rst"),
        ("CHANGELOG.markdown", "md", "md"),
        ("CHANGELOG.txt", "md", None),
        ("NEWS", "md", None),
    ],
)
def test_changelog_format(path: str, fmt: str, known: str | None) -> None:
    assert changelog_format(path) == fmt
    assert known_changelog_format(path) == known


def _items() -> list[Item]:
    return [
        Item(id="SD-4", title="Crash on empty\nconfig", kind=Kind.BUG),
        Item(id="SD-3", title="Dark mode", kind=Kind.FEATURE),
        Item(id="SD-6", title="New API", kind=Kind.FEATURE, breaking=True),
    ]


def test_md_entry_is_unchanged_by_the_fmt_keyword() -> None:
    assert changelog_entry("1.2.0", "2024-05-01", _items(), fmt="md") == changelog_entry(
        "1.2.0", "2024-05-01", _items()
    )
    with pytest.raises(ValueError, match="unknown changelog format"):
        changelog_entry("1.2.0", "2024-05-01", _items(), fmt="txt")
    with pytest.raises(ValueError, match="unknown changelog format"):
        prepend_changelog("", "x", fmt="adoc")


def test_rst_entry() -> None:
    assert changelog_entry("1.2.0", "2024-05-01", _items(), fmt="rst") == (
        "1.2.0 (2024-05-01)\n"
        "------------------\n"
        "\n"
        "Features\n"
        "~~~~~~~~\n"
        "\n"
        "- SD-3 Dark mode (feature)\n"
        "- SD-6 New API (feature, breaking)\n"
        "\n"
        "Fixes\n"
        "~~~~~\n"
        "\n"
        "- SD-4 Crash on empty config (bug)\n"
    )


@pytest.mark.parametrize("fmt", ["md", "rst"])
def test_control_characters_in_titles_never_reach_the_changelog(fmt: ChangelogFormat) -> None:
    item = Item(id="SD-1", title="Red \x1b[31malert\x07 \x1b]0;pwned\x07 \x9b2J", kind=Kind.BUG)
    entry = changelog_entry("0.2.0", "2024-05-01", [item], fmt=fmt)
    text = prepend_changelog("", entry, fmt=fmt)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)
    assert "Red \\x1b[31malert\\x07 \\x1b]0;pwned\\x07 \\x9b2J (bug)" in text


def test_new_rst_file_has_a_title() -> None:
    text = prepend_changelog(
        "", changelog_entry("0.1.0", "2024-05-01", _items()[:1], fmt="rst"), fmt="rst"
    )
    assert text == (
        "Changelog\n=========\n\n"
        "All notable changes to this project are documented in this file.\n\n"
        "0.1.0 (2024-05-01)\n------------------\n\n"
        "Fixes\n~~~~~\n\n"
        "- SD-4 Crash on empty config (bug)\n"
    )


# --- inserting into real-world styles -----------------------------------------------

TOWNCRIER = """\
=========
Changelog
=========

Versions follow `CalVer <https://calver.org>`_.

.. towncrier release notes start

3.1.3 (2024-01-02)
==================

Bug Fixes
---------

- Fixed the frobnicator. (#12)

3.1.2 (2023-12-01)
==================

- Older.
"""


def test_rst_entry_copies_the_files_heading_styles_below_its_title_block() -> None:
    entry = changelog_entry("3.2.0", "2024-05-01", _items()[:2], fmt="rst")
    text = prepend_changelog(TOWNCRIER, entry, fmt="rst")
    head, tail = TOWNCRIER.split("3.1.3 (2024-01-02)\n")
    assert text == (
        head + "3.2.0 (2024-05-01)\n"
        "==================\n"
        "\n"
        "Features\n"
        "--------\n"
        "\n"
        "- SD-3 Dark mode (feature)\n"
        "\n"
        "Fixes\n"
        "-----\n"
        "\n"
        "- SD-4 Crash on empty config (bug)\n"
        "\n"
        "3.1.3 (2024-01-02)\n" + tail
    )


def test_rst_overlined_tilde_and_caret_styles() -> None:
    existing = (
        "History\n#######\n\n"
        "~~~~~~\nv2.0.1\n~~~~~~\n\nFixes\n^^^^^\n\n- x\n\n"
        "~~~~\nv2.0\n~~~~\n\n- y\n"
    )
    text = prepend_changelog(
        existing, changelog_entry("2.1", "2024-05-01", _items()[1:2], fmt="rst"), fmt="rst"
    )
    assert text == (
        "History\n#######\n\n"
        "~~~~\nv2.1\n~~~~\n\nFeatures\n^^^^^^^^\n\n- SD-3 Dark mode (feature)\n\n" + existing[17:]
    )


def test_rst_flask_style_version_title_without_date_and_unreleased_on_top() -> None:
    existing = (
        "Unreleased\n----------\n\n- wip\n\n"
        "Version 3.0.1\n-------------\n\nReleased 2024-01-15\n\n-   Fix a bug.\n"
    )
    text = prepend_changelog(
        existing, changelog_entry("3.1.0", "2024-05-01", _items()[1:2], fmt="rst"), fmt="rst"
    )
    # The notes under Unreleased are this release's: its heading goes above them, dated
    # as the file dates its releases, and the items join the notes' list.
    assert text.startswith(
        "Unreleased\n----------\n\nVersion 3.1.0\n-------------\n\nReleased 2024-05-01\n\n"
        "- wip\n- SD-3 Dark mode (feature)\n\nVersion 3.0.1\n"
    )
    assert "Features" not in text


def test_rst_without_releases_appends_below_the_title() -> None:
    existing = "Changes\n=======\n\nNothing released yet.\n"
    text = prepend_changelog(
        existing, changelog_entry("0.1.0", "2024-05-01", _items()[:1], fmt="rst"), fmt="rst"
    )
    assert text == existing + "\n0.1.0 (2024-05-01)\n------------------\n\nFixes\n~~~~~\n\n" + (
        "- SD-4 Crash on empty config (bug)\n"
    )


@pytest.mark.parametrize(
    ("heading", "version", "expected"),
    [
        ("## 3.1.3 - 2024-01-02", "3.2.0", "## 3.2.0 - 2024-05-01"),
        ("## v0.23", "0.24", "## v0.24"),
        ("# 1.0 (2024-01-02)", "1.1", "# 1.1 (2024-05-01)"),
        ("### Release 2.0.0 — 2024-01-02", "2.1.0", "### Release 2.1.0 — 2024-05-01"),
        # A link would point at the old release: the shape is not copied, the v is.
        ("## [v1.0.0](https://example.com/compare/v0.9.0...v1.0.0)", "1.1.0", "## [1.1.0] - "),
        ("## v1.0.0 ([diff](https://example.com))", "1.1.0", "## v1.1.0 - 2024-05-01"),
    ],
)
def test_md_entry_copies_the_newest_heading(heading: str, version: str, expected: str) -> None:
    existing = f"# Changes\n\nIntro.\n\n{heading}\n\n* stuff\n"
    entry = changelog_entry(version, "2024-05-01", _items()[1:2])
    text = prepend_changelog(existing, entry)
    new_heading = text.split("\n")[4]
    assert new_heading.startswith(expected)
    assert text.startswith("# Changes\n\nIntro.\n\n")
    assert text.endswith(f"\n\n{heading}\n\n* stuff\n")
    # The file lists its changes flat: so does the entry, in the file's bullets.
    assert f"{new_heading}\n\n* SD-3 Dark mode (feature)\n\n{heading}" in text
    assert "Features" not in text


@pytest.mark.parametrize("fmt", ["md", "rst"])
def test_a_versioned_unreleased_section_stays_on_top(fmt: ChangelogFormat) -> None:
    existing = (
        "## 3.2.0 (unreleased)\n\n- wip\n\n## 3.1.0 (2024-01-01)\n\n- a\n"
        if fmt == "md"
        else "3.2.0 (unreleased)\n------------------\n\n- wip\n\n3.1.0 (2024-01-01)\n"
        "------------------\n\n- a\n"
    )
    entry = changelog_entry("3.1.1", "2024-05-01", _items()[:1], fmt=fmt)
    text = prepend_changelog(existing, entry, fmt=fmt)
    assert text.index("- wip") < text.index("3.1.1 (2024-05-01)") < text.index("3.1.0 (2024")
    assert _inserted_once(existing, text)


def test_md_heading_inside_a_code_fence_is_not_a_release() -> None:
    existing = "# Changelog\n\n```md\n## 0.0.1\n```\n\n## 1.0.0 - 2024-01-01\n\n- a\n"
    text = prepend_changelog(existing, changelog_entry("1.1.0", "2024-05-01", _items()[1:2]))
    assert text.index("```\n") < text.index("## 1.1.0 - 2024-05-01") < text.index("## 1.0.0")


def test_md_headerless_non_keep_a_changelog_gets_no_header() -> None:
    existing = "## v0.23\n\n- a\n"
    text = prepend_changelog(existing, changelog_entry("0.24", "2024-05-01", _items()[1:2]))
    assert text == "## v0.24\n\n- SD-3 Dark mode (feature)\n\n" + existing


@pytest.mark.parametrize("fmt", ["md", "rst"])
def test_rerun_replaces_shipdecks_own_section_but_keeps_a_hand_written_one(
    fmt: ChangelogFormat,
) -> None:
    old = (
        "## 0.23\n\n- x\n"
        if fmt == "md"
        else "Changes\n=======\n\n0.23 (2024-01-01)\n-----------------\n\n- x\n"
    )
    first = prepend_changelog(
        old, changelog_entry("0.24", "2024-05-01", _items()[1:2], fmt=fmt), fmt=fmt
    )
    again = prepend_changelog(
        first, changelog_entry("0.24", "2024-05-02", _items()[1:2], fmt=fmt), fmt=fmt
    )
    assert again == first.replace("2024-05-01", "2024-05-02")
    hand = first.replace("- SD-3 Dark mode (feature)", "- Our own words about 0.24")
    kept = prepend_changelog(
        hand, changelog_entry("0.24", "2024-05-02", _items()[1:2], fmt=fmt), fmt=fmt
    )
    assert "- Our own words about 0.24" in kept
    assert _inserted_once(hand, kept)


def test_crlf_files_stay_crlf() -> None:
    existing = "# Changes\r\n\r\n## 1.0.0 - 2024-01-01\r\n\r\n- a\r\n"
    text = prepend_changelog(existing, changelog_entry("1.1.0", "2024-05-01", _items()))
    assert "\n" not in text.replace("\r\n", "")
    assert _inserted_once(existing, text)
    rst = "Changes\r\n=======\r\n\r\n1.0.0\r\n-----\r\n\r\n- a\r\n"
    text = prepend_changelog(
        rst, changelog_entry("1.1.0", "2024-05-01", _items(), fmt="rst"), fmt="rst"
    )
    assert "\n" not in text.replace("\r\n", "")
    assert "\r\n1.1.0\r\n-----\r\n" in text


# --- properties: old text is never lost or reordered --------------------------------


def _inserted_once(old: str, new: str) -> bool:
    """True if ``new`` is ``old`` with one contiguous block inserted somewhere."""
    p = next((n for n, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), len(old))
    return len(new) > len(old) and new.endswith(old[p:])


def _lines_kept(old: str, new: str) -> bool:
    """True if ``new`` is ``old`` with lines inserted: every old line kept, in order."""
    rest = iter(new.split("\n"))
    return all(any(line == n for n in rest) for line in old.split("\n"))


def _notes_under_unreleased(text: str, fmt: ChangelogFormat) -> bool:
    """True if ``text`` has an Unreleased heading with something under it."""
    lines = text.replace("\r", "").split("\n")
    for n, line in enumerate(lines):
        if (line.lstrip("# ") if fmt == "md" else line) == "Unreleased":
            adorned = fmt == "rst" and n + 1 < len(lines) and lines[n + 1][:1] in "-=~^`#"
            return any(ln.strip() for ln in lines[n + 1 + adorned :])
    return False


ENTRY_LINE = "- SD-3 Dark mode (feature)"


_SAFE_TEXT = st.text(
    alphabet=st.characters(whitelist_categories=("L", "N", "Zs"), whitelist_characters=".,;()!?'/"),
    max_size=40,
).map(str.strip)
_SHAPES = ["{v}", "v{v}", "{v} - {d}", "[{v}] - {d}", "Version {v} ({d})", "{v} ({d})"]


@dataclass
class _File:
    text: str
    first_heading: str  # the first release section's heading line
    expected_heading: str  # the heading line the new entry must get
    group_char: str | None  # the rst group underline the entry must use (None: any unused)
    used_chars: str
    notes: bool = False  # an Unreleased section with notes: they become the release's
    flat: bool = False  # the newest release lists its changes without group headings


@st.composite
def _md_files(draw: st.DrawFn) -> _File:
    lines: list[str] = []
    if draw(st.booleans()):
        lines += ["# Changelog", ""]
    lines += [f"{t}" for t in draw(st.lists(_SAFE_TEXT, max_size=3))] + [""]
    level = draw(st.integers(1, 3))
    notes = False
    if draw(st.booleans()):
        notes = draw(st.booleans())
        lines += ["#" * level + " Unreleased", "", *(["- wip", ""] if notes else [])]
    shape = draw(st.sampled_from(_SHAPES))
    versions = draw(st.lists(st.tuples(*[st.integers(0, 30)] * 3), min_size=1, max_size=4))
    first = ""
    flat = False
    for n, nums in enumerate(sorted(set(versions), reverse=True)):
        heading = (
            "#" * level
            + " "
            + shape.format(v=".".join(map(str, nums)), d="2020-01-0" + "123456789"[n % 9])
        )
        grouped = draw(st.booleans())
        listed = draw(st.lists(_SAFE_TEXT, max_size=3))
        if not first:
            flat = not grouped and any(listed)
        first = first or heading
        lines += [heading, ""]
        if grouped:
            lines += ["#" * (level + 1) + " Fixed", ""]
        lines += [f"- {t}" for t in listed] + [""]
    lines += [""] * draw(st.integers(0, 2))
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    expected = "#" * level + " " + shape.format(v=NEW, d=DAY)
    return _File(nl.join(lines), first, expected, None, "", notes, flat)


@st.composite
def _rst_files(draw: st.DrawFn) -> _File:
    vchar = draw(st.sampled_from("-~^=*"))
    voverline = draw(st.booleans())
    tchar = draw(st.sampled_from("=#"))
    gchar = draw(st.sampled_from([c for c in "-~^\"'" if c not in (vchar, tchar)]))
    with_groups = draw(st.booleans())

    def adorned(title: str, char: str, overline: bool) -> list[str]:
        rule = char * len(title)
        return ([rule] if overline else []) + [title, rule, ""]

    lines: list[str] = []
    titled = draw(st.booleans())
    if titled:
        lines += adorned("Changelog", tchar, True)
    lines += [*draw(st.lists(_SAFE_TEXT.filter(bool), max_size=3)), ""]
    notes = False
    if draw(st.booleans()):
        notes = draw(st.booleans())
        lines += [*adorned("Unreleased", vchar, voverline), *(["- wip", ""] if notes else [])]
    shape = draw(st.sampled_from(_SHAPES))
    versions = draw(st.lists(st.tuples(*[st.integers(0, 30)] * 3), min_size=1, max_size=4))
    first = ""
    flat = False
    for nums in sorted(set(versions), reverse=True):
        title = shape.format(v=".".join(map(str, nums)), d="2020-01-01")
        listed = draw(st.lists(_SAFE_TEXT, max_size=3))
        if not first:
            flat = not with_groups and any(listed)
        first = first or title
        lines += adorned(title, vchar, voverline)
        if with_groups:
            lines += adorned("Fixed", gchar, False)
        lines += [f"- {t}" for t in listed] + [""]
    lines += [""] * draw(st.integers(0, 2))
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    expected = shape.format(v=NEW, d=DAY)
    expected_lines = adorned(expected, vchar, voverline)[:-1]
    return _File(
        nl.join(lines),
        first,
        nl.join(expected_lines),
        gchar if with_groups else None,
        vchar + (tchar if titled else ""),
        notes,
        flat,
    )


def _check_insertions(f: _File, new: str) -> None:
    """One block inserted; or, with Unreleased notes, the release's heading above them."""
    if not f.notes:
        assert _inserted_once(f.text, new)
        return
    assert _lines_kept(f.text, new)
    nl = "\r\n" if "\r\n" in f.text else "\n"
    head, first = new.index(f.expected_heading), (nl + new).index(nl + f.first_heading + nl)
    assert new.index("Unreleased") < head < new.index("- wip") < first
    assert new.count("Unreleased") == 1


@pytest.mark.slow  # a property test
@settings(max_examples=200, deadline=None)
@given(f=_md_files())
def test_md_property_one_insertion_above_every_release(f: _File) -> None:
    new = prepend_changelog(f.text, changelog_entry(NEW, DAY, _items()))
    _check_insertions(f, new)
    nl = "\r\n" if "\r\n" in f.text else "\n"
    assert nl + f.expected_heading + nl in nl + new
    assert new.index(f.expected_heading) < new.index(f.first_heading + nl)
    assert new.index(ENTRY_LINE) < new.index(f.first_heading + nl)
    assert "- SD-4 Crash on empty config (bug)" in new
    # A flat file gets a flat entry; its items join Unreleased notes listed flat ("- wip").
    grouped = re.search(r"^#+ (?:Features|Added)\r?$", new, re.M) is not None
    assert grouped is (not f.notes and not f.flat)


@pytest.mark.slow  # a property test
@settings(max_examples=200, deadline=None)
@given(f=_rst_files())
def test_rst_property_one_insertion_in_the_files_style(f: _File) -> None:
    new = prepend_changelog(f.text, changelog_entry(NEW, DAY, _items(), fmt="rst"), fmt="rst")
    _check_insertions(f, new)
    nl = "\r\n" if "\r\n" in f.text else "\n"
    assert nl + f.expected_heading + nl in nl + new
    first = (nl + new).index(nl + f.first_heading + nl)  # a whole line: 7.0.0 is in 987.0.0
    assert new.index(f.expected_heading) < first
    assert new.index(ENTRY_LINE) < first
    # Keep a Changelog's word when the file's groups use them (its "Fixed").
    group = re.search(r"(?:Features|Added)\r?\n(.)\1+\r?\n", new)
    if f.flat or f.notes:  # a flat file, or flat notes: the items are listed flat
        assert group is None
        return
    assert group is not None
    if f.group_char is not None:
        assert group.group(1) == f.group_char
    else:
        assert group.group(1) not in f.used_chars


@pytest.mark.slow  # a property test
@settings(max_examples=300, deadline=None)
@given(
    old=st.text(st.characters(blacklist_categories=("Cs",)), max_size=300).filter(
        lambda t: t.strip() and "987" not in t
    ),
    fmt=st.sampled_from(["md", "rst"]),
)
def test_any_text_is_kept_as_one_piece(old: str, fmt: ChangelogFormat) -> None:
    entry = changelog_entry(NEW, DAY, _items(), fmt=fmt)
    new = prepend_changelog(old, entry, fmt=fmt)
    assert _inserted_once(old, new)
    assert new.count("SD-6 New API") == old.count("SD-6 New API") + 1


@pytest.mark.slow  # a property test
@settings(max_examples=200, deadline=None)
@given(
    old=st.lists(
        st.sampled_from(
            ["", "## 1.0.0", "## [0.9.0] - 2020-01-01", "# T", "```", "- x", "v1.0", "----",
             "====", "Unreleased", "## Unreleased", "1.2 (2020-01-01)", "~~~~~~~~~~~~~~~~", " "]
        ),
        min_size=1,
        max_size=20,
    ).map("\n".join).filter(str.strip),
    fmt=st.sampled_from(["md", "rst"]),
)  # fmt: skip
def test_heading_soup_is_kept_as_one_piece(old: str, fmt: ChangelogFormat) -> None:
    new = prepend_changelog(old, changelog_entry(NEW, DAY, _items(), fmt=fmt), fmt=fmt)
    if _notes_under_unreleased(old, fmt):  # perhaps released: lines added, none changed
        assert _lines_kept(old, new)
    else:
        assert _inserted_once(old, new)
    assert new.count("SD-3 Dark mode") == 1


@pytest.mark.slow  # a property test
@settings(max_examples=200, deadline=None)
@given(f=st.one_of(_md_files(), _rst_files()))
def test_a_rerun_of_the_same_release_changes_nothing(f: _File) -> None:
    """A release retried (killed after the changelog commit, run again) writes the
    same file: no second section, no item twice, whatever the file's shape."""
    fmt: ChangelogFormat = "md" if f.first_heading.startswith("#") else "rst"
    entry = changelog_entry(NEW, DAY, _items(), fmt=fmt)
    once = prepend_changelog(f.text, entry, fmt=fmt)
    assert prepend_changelog(once, entry, fmt=fmt) == once
    assert once.count("SD-3 Dark mode") == 1


@st.composite
def _pallets_files(draw: st.DrawFn) -> tuple[str, str | None]:
    """A CHANGES.rst as the pallets projects keep it: flat lists (``-   x``), each
    release dated by a ``Released DATE`` line, and perhaps the next version's section
    written ahead and marked ``Unreleased`` (this release's version or another)."""
    lines: list[str] = []
    ahead = draw(st.sampled_from([NEW, "988.0.0", None]))
    if ahead:
        title = f"Version {ahead}"
        notes = draw(st.lists(_SAFE_TEXT.filter(bool), max_size=3))
        lines += [title, "-" * len(title), "", "Unreleased", "", *(f"-   {t}" for t in notes)]
        lines += ["", ""]
    versions = draw(st.lists(st.tuples(*[st.integers(0, 30)] * 3), min_size=1, max_size=3))
    for n, nums in enumerate(sorted(set(versions), reverse=True)):
        title = "Version " + ".".join(map(str, nums))
        listed = draw(st.lists(_SAFE_TEXT.filter(bool), min_size=1, max_size=2))
        lines += [title, "-" * len(title), "", f"Released 2020-01-0{n + 1}", ""]
        lines += [*(f"-   {t}" for t in listed), "", ""]
    return "\n".join(lines), ahead


@pytest.mark.slow  # a property test
@settings(max_examples=200, deadline=None)
@given(p=_pallets_files())
def test_a_pallets_changelog_is_released_in_its_own_shape(p: tuple[str, str | None]) -> None:
    """Found on pallets/itsdangerous: a release whose version the file had not
    announced got a section with Features/Fixes groups and ``- `` bullets, without the
    ``Released DATE`` line every other section has, above "Version 2.3.0 / Unreleased".
    Now: the section announced for this version is released in place; one announced
    for another version stays on top, the release's section below it; a new section
    is dated and listed as the file's are. No line of the file is lost or doubled."""
    text, ahead = p
    entry = changelog_entry(NEW, DAY, _items(), fmt="rst")
    new = prepend_changelog(text, entry, fmt="rst")
    assert prepend_changelog(new, entry, fmt="rst") == new
    for line in text.splitlines():
        if line.startswith("-   "):
            assert new.splitlines().count(line) == text.splitlines().count(line)
    assert new.count(f"Version {NEW}\n") == 1
    assert new.count(f"Released {DAY}\n") == 1
    assert re.search(r"^(?:Features|Fixes)\n(.)\1+$", new, re.M) is None  # no groups
    assert "-   SD-3 Dark mode (feature)\n" in new
    if ahead == NEW:
        assert "Unreleased" not in new
    elif ahead is not None:
        assert new.index("Version 988.0.0") < new.index(f"Version {NEW}")
        assert new.index("Unreleased") < new.index(f"Version {NEW}")
    block = f"Version {NEW}\n---------------\n\nReleased {DAY}\n\n-   SD-3 Dark mode (feature)\n"
    assert block in new or ahead == NEW
    if ahead != NEW and text.count("Version ") > 1:  # two blank lines, as the file has
        assert re.search(r"\(bug\)\n\n\n+Version \d", new), new
