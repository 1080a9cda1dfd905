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
