"""Fixtures for Pilot tests: a real demo repository and the real engine."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from project.repo import Project


@pytest.fixture()
def demo_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    from cli.demo import create

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    project = create(tmp_path / "demo")
    yield project
    # Stop whatever a test deployed: no service may outlive the test.
    from project.wiring import make_target

    for name in project.config.environments:
        make_target(project, name).stop(lambda _lines: None)


def commit(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


async def until(pilot: Any, check: Callable[[], bool], timeout: float = 60) -> None:
    """Let the app run until ``check()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)
