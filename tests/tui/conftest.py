"""Fixtures for Pilot tests: a real demo repository and the real engine."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipdeck.project.repo import Project
from tests.helpers import processes_under


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
    left = processes_under(project.root)
    deadline = time.monotonic() + 5
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = processes_under(project.root)
    for proc in left:
        proc.kill()  # not left for the next test, or CI's machine
    assert not left, f"the test left processes running: {[p.pid for p in left]}"


def commit(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
