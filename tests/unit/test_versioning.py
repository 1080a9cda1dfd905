"""Semver bumps, tag names and CHANGELOG.md text (pure, no git)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shipdeck.lifecycle.items import Item, Kind
from shipdeck.lifecycle.versioning import (
    bump,
    changelog_entry,
    latest,
    one_line,
    parse_semver,
    prepend_changelog,
    tag_name,
    version_from_tag,
)

F, B, C = Kind.FEATURE, Kind.BUG, Kind.CHORE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3", (1, 2, 3)),
        ("0.1.0", (0, 1, 0)),
        (" 10.20.30 ", (10, 20, 30)),
        ("1.2", None),
        ("v1.2.3", None),
        ("1.2.3-rc.1", None),
        ("01.2.3", None),
        ("", None),
    ],
)
def test_parse_semver(text: str, expected: tuple[int, int, int] | None) -> None:
    assert parse_semver(text) == expected


@pytest.mark.parametrize(
    ("previous", "kinds", "breaking", "expected"),
    [
        (None, [F], False, "0.1.0"),
        (None, [B], False, "0.1.0"),
        (None, [F], True, "0.1.0"),  # first release is 0.1.0 whatever the kinds
        ("0.1.0", [F], False, "0.2.0"),
        ("0.1.0", [B], False, "0.1.1"),
        ("0.1.0", [C], False, "0.1.1"),
        ("1.4.7", [F], False, "1.5.0"),
        ("1.4.7", [B, C], False, "1.4.8"),
        ("1.4.7", [B, F, C], False, "1.5.0"),  # biggest kind wins
        ("1.4.7", [B], True, "2.0.0"),
        ("0.4.2", [C], True, "1.0.0"),  # breaking bumps major in 0.x too
        ("1.4.7", [], False, "1.4.8"),
        ("1.4.7", ["feature"], False, "1.5.0"),
    ],
)
def test_bump_table(
    previous: str | None, kinds: list[Kind | str], breaking: bool, expected: str
) -> None:
    assert bump(previous, kinds, breaking) == expected


def test_bump_rejects_garbage_previous() -> None:
    with pytest.raises(ValueError, match="not a semantic version"):
        bump("one.two", [F], False)


def test_tag_name_and_back() -> None:
    assert tag_name("v{version}", "1.2.0") == "v1.2.0"
    assert tag_name("release-{version}-final", "0.1.0") == "release-0.1.0-final"
    assert version_from_tag("v{version}", "v1.2.0") == "1.2.0"
    assert version_from_tag("release-{version}-final", "release-0.1.0-final") == "0.1.0"
    assert version_from_tag("v{version}", "1.2.0") is None
    assert version_from_tag("v{version}", "v1.2.0-rc1") is None
    assert version_from_tag("v{version}", "vX.Y.Z") is None
    # The template's dots are literal, not regex wildcards.
    assert version_from_tag("a.{version}", "aX1.0.0") is None
    with pytest.raises(ValueError):
        tag_name("latest", "1.0.0")
    with pytest.raises(ValueError):
        tag_name("v{version}", "1.0")


def test_latest_orders_numerically() -> None:
    assert latest(["0.9.0", "0.10.0", "0.2.1", "junk"]) == "0.10.0"
    assert latest([]) is None


def _items() -> list[Item]:
    return [
        Item(id="SD-4", title="Crash on empty\nconfig", kind=Kind.BUG),
        Item(id="SD-3", title="Dark  mode", kind=Kind.FEATURE),
        Item(id="SD-5", title="Bump deps", kind=Kind.CHORE),
        Item(id="SD-6", title="New API", kind=Kind.FEATURE, breaking=True),
    ]


def test_changelog_entry_groups_by_kind() -> None:
    entry = changelog_entry("1.2.0", date(2024, 5, 1), _items())
    assert entry == (
        "## [1.2.0] - 2024-05-01\n"
        "\n"
        "### Features\n"
        "- SD-3 Dark  mode (feature)\n"
        "- SD-6 New API (feature, breaking)\n"
        "\n"
        "### Fixes\n"
        "- SD-4 Crash on empty config (bug)\n"
        "\n"
        "### Chores\n"
        "- SD-5 Bump deps (chore)\n"
    )


def test_changelog_entry_accepts_datetime_and_omits_empty_groups() -> None:
    when = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    entry = changelog_entry("0.1.1", when, [Item(id="SD-9", title="Fix", kind=Kind.BUG)])
    assert entry.startswith("## [0.1.1] - 2024-05-01\n")
    assert "### Features" not in entry
    assert "- SD-9 Fix (bug)" in entry


def test_one_line_collapses_newlines_only() -> None:
    assert one_line("a\r\n  b\n\nc") == "a b c"
    assert one_line("keep  double") == "keep  double"


def test_prepend_to_nothing_makes_a_changelog() -> None:
    text = prepend_changelog("", changelog_entry("0.1.0", "2024-01-01", _items()[:1]))
    assert text.startswith("# Changelog\n")
    assert "## [0.1.0] - 2024-01-01" in text
    assert text.endswith("(bug)\n")


def test_prepend_keeps_header_and_older_entries_newest_first() -> None:
    existing = prepend_changelog("", changelog_entry("0.1.0", "2024-01-01", _items()[:1]))
    existing = existing.replace("\n## [0.1.0]", "\nHand-written note.\n\n## [0.1.0]")
    text = prepend_changelog(existing, changelog_entry("0.2.0", "2024-02-01", _items()[1:2]))
    assert text.startswith("# Changelog\n")
    assert "Hand-written note." in text
    new, old = text.index("## [0.2.0]"), text.index("## [0.1.0]")
    assert text.index("Hand-written note.") < new < old
    assert "- SD-4 Crash on empty config (bug)" in text[old:]
    assert "- SD-3 Dark  mode (feature)" in text[new:old]
    assert "\n\n\n" not in text


def test_prepend_goes_below_an_empty_unreleased() -> None:
    existing = "# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2024-01-01\n\n- x\n"
    text = prepend_changelog(existing, "## [0.2.0] - 2024-02-01\n\n- y\n")
    assert text.index("## [Unreleased]") < text.index("## [0.2.0]") < text.index("## [0.1.0]")


# Keep a Changelog (keepachangelog.com): notes gather under "## [Unreleased]" in its
# words (Added, Removed, Fixed...), and compare links at the bottom say what changed.
KAC = """\
# Changelog

All notable changes to this project will be documented in this file.

## [Unreleased]
### Added
- Export to CSV.

### Removed
- The --legacy flag.

## [1.1.0] - 2024-01-01
### Fixed
- Crash on start.

[Unreleased]: https://github.com/o/r/compare/v1.1.0...HEAD
[1.1.0]: https://github.com/o/r/compare/v1.0.0...v1.1.0
"""


def test_the_unreleased_notes_are_the_release_s() -> None:
    """The notes under Unreleased describe changes on the branch being tagged: they
    move into the release (its heading goes above them), the items join the notes'
    groups in the file's words, Unreleased stays on top, empty, and the compare links
    move on. They had stayed under Unreleased, as if not released."""
    items = [_items()[1], _items()[0]]  # a feature and a fix
    text = prepend_changelog(KAC, changelog_entry("1.2.0", "2026-12-06", items))
    assert text == KAC.replace(
        "## [Unreleased]\n",
        "## [Unreleased]\n\n## [1.2.0] - 2026-12-06\n",
    ).replace("- Export to CSV.\n", "- Export to CSV.\n- SD-3 Dark  mode (feature)\n").replace(
        "- The --legacy flag.\n",
        "- The --legacy flag.\n\n### Fixed\n- SD-4 Crash on empty config (bug)\n",
    ).replace(
        "[Unreleased]: https://github.com/o/r/compare/v1.1.0...HEAD\n",
        "[Unreleased]: https://github.com/o/r/compare/v1.2.0...HEAD\n"
        "[1.2.0]: https://github.com/o/r/compare/v1.1.0...v1.2.0\n",
    )
    # A re-run of the same release changes nothing; the file's line endings are kept.
    assert prepend_changelog(text, changelog_entry("1.2.0", "2026-12-06", items)) == text
    # The same version again with another item (its tag was deleted and the release
    # made again): the item joins the section, and the notes it took are kept.
    again = prepend_changelog(text, changelog_entry("1.2.0", "2026-12-06", _items()[2:3]))
    assert again == text.replace(
        "### Removed\n", "### Changed\n- SD-5 Bump deps (chore)\n\n### Removed\n"
    )
    crlf = KAC.replace("\n", "\r\n")
    assert prepend_changelog(crlf, changelog_entry("1.2.0", "2026-12-06", items)) == (
        text.replace("\n", "\r\n")
    )


def test_a_new_group_goes_where_keep_a_changelog_orders_it_spaced_as_the_notes_are() -> None:
    """keep-a-changelog's own CHANGELOG.md: a blank line under each group heading, and
    a fix noted under Unreleased. A feature released with it makes ``### Added`` above
    ``### Fixed`` (the convention's order), spaced as the notes are."""
    notes = "## [Unreleased]\n\n### Fixed\n\n- Typo in the French translation.\n\n"
    older = "## [2.0.0] - 2026-06-07\n\n### Added\n\n- New guidance.\n"
    text = prepend_changelog(notes + older, changelog_entry("2.1.0", "2026-12-06", _items()[1:2]))
    assert text == (
        "## [Unreleased]\n\n## [2.1.0] - 2026-12-06\n\n"
        "### Added\n\n- SD-3 Dark  mode (feature)\n\n"
        "### Fixed\n\n- Typo in the French translation.\n\n" + older
    )
    # The next release, with nothing under Unreleased: below it, spaced the same way.
    after = prepend_changelog(text, changelog_entry("2.1.1", "2026-12-07", _items()[:1]))
    assert after == text.replace(
        "## [2.1.0]",
        "## [2.1.1] - 2026-12-07\n\n### Fixed\n\n- SD-4 Crash on empty config (bug)\n\n## [2.1.0]",
    )


def test_an_empty_unreleased_keeps_the_entry_below_it_and_the_links_move_on() -> None:
    empty = KAC.replace("### Added\n- Export to CSV.\n\n### Removed\n- The --legacy flag.\n", "")
    text = prepend_changelog(empty, changelog_entry("1.2.0", "2026-12-06", _items()[:1]))
    assert "## [Unreleased]\n\n## [1.2.0] - 2026-12-06\n\n### Fixed\n- SD-4 " in text
    assert text.endswith(
        "[Unreleased]: https://github.com/o/r/compare/v1.2.0...HEAD\n"
        "[1.2.0]: https://github.com/o/r/compare/v1.1.0...v1.2.0\n"
        "[1.1.0]: https://github.com/o/r/compare/v1.0.0...v1.1.0\n"
    )


def test_rst_unreleased_notes_are_released_under_the_files_headings() -> None:
    existing = (
        "Changes\n=======\n\nUnreleased\n----------\n\n- Faster start.\n\n"
        "1.0.0 (2024-01-01)\n------------------\n\n- First.\n"
    )
    entry = changelog_entry("1.1.0", "2024-05-01", _items()[1:2], fmt="rst")
    text = prepend_changelog(existing, entry, fmt="rst")
    assert text == existing.replace(
        "Unreleased\n----------\n\n- Faster start.\n",
        "Unreleased\n----------\n\n1.1.0 (2024-05-01)\n------------------\n\n- Faster start.\n"
        "- SD-3 Dark  mode (feature)\n",  # notes listed flat: the items join the list
    )


# The pallets projects (Flask, Click, Jinja, itsdangerous...) write the next version's
# section ahead, marked "Unreleased", and date it at release. itsdangerous's CHANGES.rst:
PALLETS = """\
Version 2.3.0
-------------

Unreleased

-   Drop support for Python 3.8 and 3.9.
-   Remove previously deprecated code.


Version 2.2.0
-------------

Released 2024-04-16

-   Drop support for Python 3.7. :pr:`372`
-   Use modern packaging metadata with ``pyproject.toml`` instead of ``setup.cfg``.
    :pr:`326`
"""


def _changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    """(lines only in old, lines only in new), in order: what a release rewrote."""
    import difflib

    diff = list(difflib.ndiff(old.splitlines(), new.splitlines()))
    return [d[2:] for d in diff if d[:2] == "- "], [d[2:] for d in diff if d[:2] == "+ "]


def test_a_section_announced_as_unreleased_is_released_in_place() -> None:
    """Found releasing itsdangerous: shipdeck wrote a second "Version 2.3.0" above the
    announced one, which still said "Unreleased"."""
    items = _items()[1:2] + _items()[:1]
    entry = changelog_entry("2.3.0", "2026-12-06", items, fmt="rst")
    text = prepend_changelog(PALLETS, entry, fmt="rst")
    assert text.count("Version 2.3.0") == 1 and "Unreleased" not in text
    gone, added = _changed_lines(PALLETS, text)
    assert gone == ["Unreleased"]
    assert added == [
        "Released 2026-12-06",  # worded as the file's released sections are
        "-   SD-3 Dark  mode (feature)",  # the section's own bullets
        "-   SD-4 Crash on empty config (bug)",
    ]
    assert text.index("SD-4") < text.index("Version 2.2.0")  # in its section, at its end
    assert prepend_changelog(text, entry, fmt="rst") == text  # a re-run adds nothing
    crlf = PALLETS.replace("\n", "\r\n")  # the file's own line endings are kept
    assert prepend_changelog(crlf, entry, fmt="rst") == text.replace("\n", "\r\n")


def test_an_announced_markdown_section_takes_the_files_wording() -> None:
    existing = (
        "# Changes\n\n## 1.4.0\n\nunreleased\n\n## 1.3.0\n\nReleased on 2024-01-02.\n\n* A fix\n"
    )
    entry = changelog_entry("1.4.0", "2026-12-06", _items()[1:2])
    text = prepend_changelog(existing, entry)
    gone, added = _changed_lines(existing, text)
    assert gone == ["unreleased"]
    assert added == ["Released on 2026-12-06.", "", "* SD-3 Dark  mode (feature)"]


def test_an_announced_section_of_another_version_is_left_as_it_is() -> None:
    """Announced as 3.0.0, released as 2.3.0 (a feature, not the breaking change the
    maintainers announced): nothing of the announced section changes."""
    entry = changelog_entry("2.2.1", "2026-12-06", _items()[:1], fmt="rst")
    text = prepend_changelog(PALLETS, entry, fmt="rst")
    gone, added = _changed_lines(PALLETS, text)
    assert gone == [] and "Unreleased" in text
    assert "Version 2.2.1" in added


def test_prepend_same_version_replaces_instead_of_duplicating() -> None:
    bug, feature = _items()[0:2]
    first = prepend_changelog("", changelog_entry("0.1.0", "2024-01-01", [bug]))
    again = prepend_changelog(first, changelog_entry("0.1.0", "2024-01-02", [feature]))
    assert again.count("## [0.1.0]") == 1
    assert "## [0.1.0] - 2024-01-02\n" in again and "- SD-3 " in again
    assert "- SD-4 " not in again  # all shipdeck's: made again
    # A hand-written line in it: nothing of it is dropped, the item joins it.
    noted = first.replace("(bug)\n", "(bug)\n- Also: faster start.\n")
    joined = prepend_changelog(noted, changelog_entry("0.1.0", "2024-01-02", [feature]))
    assert joined == noted + "\n### Features\n- SD-3 Dark  mode (feature)\n"


def test_prepend_adds_header_to_headerless_file() -> None:
    text = prepend_changelog("## [0.1.0] - 2024-01-01\n\n- x\n", "## [0.2.0] - 2024-02-01\n")
    assert text.startswith("# Changelog\n")
    assert text.index("## [0.2.0]") < text.index("## [0.1.0]")
