"""Running the real ``shipdeck`` command in tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shipdeck(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 240,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m tui.cli ARGS`` in ``cwd``; never raises on a non-zero exit."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def git_repo(path: Path, branch: str = "main") -> Path:
    """A real repository at ``path`` with one commit (the board ref needs a repository)."""
    path.mkdir(parents=True, exist_ok=True)
    if not (path / ".git").exists():
        git(path, "init", "-q", "-b", branch)
        git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty",
            "-m", "first")  # fmt: skip
    return path


def board_store(path: Path, **kwargs: float):  # type: ignore[no-untyped-def]
    """The board of the repository at ``path``, made a repository if it is not one."""
    from backends.git_board import open_board

    return open_board(git_repo(path), **kwargs)
