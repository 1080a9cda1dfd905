"""Which paths a config may name inside the repository (lifecycle/paths.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipdeck.lifecycle.paths import tree_path_parts


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("CHANGELOG.md", ("CHANGELOG.md",)),
        ("docs/CHANGES.rst", ("docs", "CHANGES.rst")),
        ("./backend//reports/junit.xml", ("backend", "reports", "junit.xml")),
        ("../CHANGELOG.md", None),
        ("docs/../../x", None),
        ("/etc/passwd", None),
        (".git/config", None),
        ("", None),
        (".", None),
        ("a\0b", None),
    ],
)
def test_a_path_inside_the_repository(path: str, parts: tuple[str, ...] | None) -> None:
    assert tree_path_parts(path) == parts


@given(st.lists(st.sampled_from(["a", "b.md", ".", "", "..", ".git", "x y"]), max_size=6))
def test_no_path_that_climbs_or_enters_git_passes(names: list[str]) -> None:
    parts = tree_path_parts("/".join(names))
    if parts is not None:
        assert ".." not in parts and ".git" not in parts and "" not in parts
        assert all(name in names for name in parts)
