"""project.repo: a project opened by a relative path works from anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipdeck.project.repo import Project


def test_a_relative_root_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local service runs in its release's directory and is handed paths under the
    root (its masked output, its state): relative ones pointed into the release, and the
    service died with 'No such file or directory' (``Project(Path("."))``)."""
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path)
    project = Project(Path("repo"))
    assert project.root == tmp_path / "repo"
    assert project.paths.state.is_absolute()
    assert project.paths.run_log("r").is_absolute()
    monkeypatch.chdir(tmp_path / "repo")
    assert Project(Path(".")).paths.dir == tmp_path / "repo" / ".shipdeck"
