"""The domain core must not pull in UI or I/O libraries (docs/architecture.md section 1)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each check imports in a fresh interpreter

FORBIDDEN = ("textual", "rich", "docker", "git", "psutil", "httpx")

SCRIPT = """
import importlib, pkgutil, sys
import lifecycle
names = [m.name for m in pkgutil.walk_packages(lifecycle.__path__, "lifecycle.")]
for name in names:
    importlib.import_module(name)
print(len(names))
print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in {forbidden!r})))
"""


def test_lifecycle_imports_no_ui_or_io_library() -> None:
    # A fresh interpreter, so nothing imported by other tests can hide a leak.
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(forbidden=set(FORBIDDEN))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert int(out[0]) >= 5, "expected the lifecycle modules to be found"
    leaked = out[1].split() if len(out) > 1 else []
    assert leaked == []


def imported_by(package: str, tops: set[str]) -> list[str]:
    """The modules under ``tops`` that importing every module of ``package`` loads,
    in a fresh interpreter (nothing another test imported can hide a leak)."""
    script = (
        f"import importlib, pkgutil, sys, {package}\n"
        f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
        "    importlib.import_module(m.name)\n"
        f"print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {tops!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return out.split()


def test_widgets_import_no_backend() -> None:
    assert imported_by("widgets", {"backends", "project", "tui", "cli"}) == []


def test_the_composition_root_imports_no_front_end() -> None:
    """project/ is what cli/ and tui/ share: it must not need either, nor Textual."""
    assert imported_by("project", {"tui", "cli", "widgets", "textual"}) == []
