"""The domain core must not pull in UI or I/O libraries (docs/architecture.md section 1)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each check imports in a fresh interpreter

FORBIDDEN = ("textual", "rich", "docker", "git", "psutil", "httpx")

SCRIPT = """
import importlib, pkgutil, sys
from shipdeck import lifecycle
names = [m.name for m in pkgutil.walk_packages(lifecycle.__path__, "shipdeck.lifecycle.")]
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


def _family(module: str) -> str:
    """``textual`` for a library's module, ``tui`` for ``shipdeck.tui.app``."""
    parts = module.split(".")
    return parts[1] if parts[0] == "shipdeck" and len(parts) > 1 else parts[0]


def imported_by(package: str, tops: set[str]) -> list[str]:
    """The modules under ``tops`` (libraries, or shipdeck's own packages by their short
    name) that importing every module of ``shipdeck.<package>`` loads, in a fresh
    interpreter (nothing another test imported can hide a leak)."""
    script = (
        f"import importlib, pkgutil, sys\n"
        f"pkg = importlib.import_module('shipdeck.{package}')\n"
        f"for m in pkgutil.walk_packages(pkg.__path__, 'shipdeck.{package}.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return [m for m in out.split() if _family(m) in tops and m != "shipdeck"]


def test_widgets_import_no_backend() -> None:
    assert imported_by("widgets", {"backends", "project", "tui", "cli"}) == []


def test_the_composition_root_imports_no_front_end() -> None:
    """project/ is what cli/ and tui/ share: it must not need either, nor Textual."""
    assert imported_by("project", {"tui", "cli", "widgets", "textual"}) == []


PACKAGES = ("lifecycle", "backends", "widgets", "tui", "cli", "project")


def test_everything_is_imported_through_the_one_namespace() -> None:
    """Installed, only ``shipdeck`` exists: a bare ``import lifecycle`` works in a
    checkout (the folders are at its top) and nowhere else, and would load a second
    copy of the module besides. Every source file, tests and tools included."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    bare = re.compile(rf"^\s*(?:from|import) ({'|'.join(PACKAGES)})\b(?!\s*=)", re.M)
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if (
            rel.parts[0] in {".venv", ".git", "shipdeck", "examples"}
            or "__snapshots__" in rel.parts
        ):
            continue
        found += [f"{rel}: {m.group(0).strip()}" for m in bare.finditer(path.read_text())]
    assert found == []
    loaded = imported_by("tui", set(PACKAGES)) + imported_by("cli", set(PACKAGES))
    assert loaded, "expected shipdeck's own modules to be seen"
    assert [m for m in loaded if not m.startswith("shipdeck.")] == []
