"""Fixtures for Pilot tests: a real demo repository and the real engine."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipdeck.project.repo import Project
from tests.helpers import processes_under
from tests.waiting import TimedOut, wait_until


@pytest.fixture()
def demo_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    from shipdeck.cli.demo import create

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    project = create(tmp_path / "demo")
    yield project
    # Stop whatever a test deployed: no service may outlive the test. The config is read
    # again: a test may have added an environment (and deployed to it) since.
    from shipdeck.project.wiring import make_target

    for where in (project, Project(project.root)):
        for name in where.config.environments:
            make_target(where, name).stop(lambda _lines: None)
    try:
        wait_until(lambda: not processes_under(project.root), 5, interval=0.1)
    except TimedOut:
        left = processes_under(project.root)
        for proc in left:
            proc.kill()  # not left for the next test, or CI's machine
        raise AssertionError(f"the test left processes running: {[p.pid for p in left]}") from None


def commit(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def reconfigure(project: Project, old: str, new: str) -> Project:
    """The demo with its shipdeck.yaml edited (and committed, as a person would)."""
    config = project.root / "shipdeck.yaml"
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new))
    commit(project.root, "commit", "-q", "-am", "config")
    return Project(project.root)


@pytest.fixture(scope="module")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One repository for a module's generated cases: its config, board, journal and one
    run log fixed (tests/tui/static_board.py), no git run by a case. Settings (the
    theme) go to a temporary home."""
    from tests.tui.static_board import build

    base = tmp_path_factory.mktemp("static-board")
    before = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(base / "config")
    try:
        yield build(base / "hello")
    finally:
        if before is None:
            os.environ.pop("XDG_CONFIG_HOME", None)
        else:
            os.environ["XDG_CONFIG_HOME"] = before
