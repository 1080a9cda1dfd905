"""Which paths a config may name inside the repository, and where a work tree keeps
shipdeck's files (lifecycle/paths.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipdeck.lifecycle.paths import ShipdeckPaths, shared_dir, tree_path_parts
from tests.helpers import git, git_repo


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


def test_every_work_tree_of_a_repository_shares_one_shipdeck_folder(tmp_path: Path) -> None:
    """``git worktree add``: the linked tree's files are the main tree's (one set of
    environments, one journal); a bare repository's trees keep theirs in its git
    folder; a submodule's ``.git`` file, with no common folder, keeps its own."""
    main = git_repo(tmp_path / "main")
    linked = tmp_path / "linked"
    git(main, "worktree", "add", "-q", str(linked), "-b", "other")
    assert shared_dir(main) == main / ".shipdeck"
    assert shared_dir(linked) == (main / ".shipdeck").resolve()
    assert ShipdeckPaths(linked).state == (main / ".shipdeck" / "state").resolve()

    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(main), str(bare))
    tree = tmp_path / "tree"
    git(bare, "worktree", "add", "-q", str(tree), "main")
    assert shared_dir(tree) == bare.resolve() / "shipdeck"

    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / ".git").write_text("gitdir: ../main/.git/modules/sub\n")  # no commondir there
    assert shared_dir(sub) == sub / ".shipdeck"
    (sub / ".git").write_text("not a gitdir line\n")
    assert shared_dir(sub) == sub / ".shipdeck"
