"""The one way benchmarks get the tree of another commit: ``git archive`` into a
directory (no checkout, no worktree registered in the repository), run from there
with ``PYTHONPATH``. Its ``shipdeck/`` holds symbolic links to the packages, so the
archive is unpacked with tarfile's ``fully_trusted`` filter (it is our own tree).

An older tree may need a package this one dropped (40fe6f7 read the board through
gitdb): what its ``pyproject.toml`` requires and this interpreter lacks is installed
once with ``pip install --target`` under the temp folder and linked into the export,
so the baseline runs on a fresh machine too, not only where the package was left
installed by hand."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import tomllib
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
    missing = missing_requirements(rev)
    if missing:
        deps = installed_apart(missing)
        for entry in deps.iterdir():
            if not (into / entry.name).exists():
                (into / entry.name).symlink_to(entry)
    return into


def missing_requirements(rev: str) -> list[str]:
    """``rev``'s ``[project] dependencies`` that this interpreter has no distribution of."""
    shown = subprocess.run(
        ["git", "show", f"{rev}:pyproject.toml"], cwd=ROOT, capture_output=True, text=True
    )
    if shown.returncode:
        return []
    wanted = tomllib.loads(shown.stdout).get("project", {}).get("dependencies", [])
    missing = []
    for requirement in wanted:
        name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        if name is None:
            continue
        try:
            importlib.metadata.distribution(name.group())
        except importlib.metadata.PackageNotFoundError:
            missing.append(requirement)
    return missing


def installed_apart(requirements: list[str]) -> Path:
    """A folder holding ``requirements`` (``pip install --target``), made once per set."""
    key = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:12]
    home = Path(tempfile.gettempdir()) / f"shipdeck-bench-deps-{key}"
    if not home.is_dir():
        partial = home.with_name(f"{home.name}.{os.getpid()}")
        pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "--target", str(partial), *requirements], check=True, timeout=600)
        os.replace(partial, home)  # whole or not at all: a killed install is not taken
    return home


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
