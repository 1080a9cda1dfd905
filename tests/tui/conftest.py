"""Fixtures for Pilot tests: a real demo repository and the real engine."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipdeck.project.repo import Project


@pytest.fixture()
def demo_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    from shipdeck.cli.demo import create

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    project = create(tmp_path / "demo")
    yield project
    # Stop whatever a test deployed: no service may outlive the test.
    from shipdeck.project.wiring import make_target

    for name in project.config.environments:
        make_target(project, name).stop(lambda _lines: None)


def commit(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
