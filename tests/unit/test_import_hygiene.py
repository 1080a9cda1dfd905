"""The domain core must not pull in UI or I/O libraries (docs/architecture.md section 1)."""

from __future__ import annotations

import subprocess
import sys

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


def test_widgets_import_no_backend() -> None:
    script = (
        "import importlib, pkgutil, sys, widgets\n"
        "for m in pkgutil.walk_packages(widgets.__path__, 'widgets.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('backends'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def test_the_composition_root_imports_no_front_end() -> None:
    """project/ is what cli/ and tui/ share: it must not need either, nor Textual."""
    script = (
        "import importlib, pkgutil, sys, project\n"
        "for m in pkgutil.walk_packages(project.__path__, 'project.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(' '.join(sorted(m for m in sys.modules\n"
        "    if m.split('.')[0] in {'tui', 'cli', 'widgets', 'textual'})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
