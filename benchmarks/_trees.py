"""The one way benchmarks get the tree of another commit: ``git archive`` into a
directory (no checkout, no worktree registered in the repository), run from there
with ``PYTHONPATH``. Its ``shipdeck/`` holds symbolic links to the packages, so the
archive is unpacked with tarfile's ``fully_trusted`` filter (it is our own tree)."""

from __future__ import annotations

import os
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def export_tree(rev: str, into: Path, *paths: str) -> Path:
    """``rev``'s tree (or only ``paths`` of it) unpacked in ``into``, which must not exist."""
    data = subprocess.run(
        ["git", "archive", "--format=tar", rev, *paths], cwd=ROOT, check=True, capture_output=True
    ).stdout
    into.mkdir(parents=True)
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="fully_trusted")
    return into


GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def tree_env(code: Path, config_home: Path, pycache: Path) -> dict[str, str]:
    """The environment a child runs ``code``'s shipdeck in: that tree first on the
    path, a config home of its own (the user's theme is not touched), no debug, and
    bytecode written as a user's install has it (else every run compiles every
    module), kept out of the source trees."""
    env = dict(os.environ, **GIT_ENV)
    env["PYTHONPATH"] = str(code)
    env["XDG_CONFIG_HOME"] = str(config_home)
    env.pop("SHIPDECK_DEBUG", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env
