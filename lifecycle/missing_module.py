"""What to say when a step or a service fails on ``No module named 'x'``.

The commonest first failure of a stranger's project: no ``.venv`` yet, so ``{python}``
is the ``python3`` on PATH, without the project's dependencies; or a venv that lacks
one package. Python's traceback names the module but not the interpreter, and not
what shipdeck chose; this line says both and the command that makes it right.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from shipdeck.lifecycle.ports import Line

# "ModuleNotFoundError: No module named 'flask_bootstrap'" (an import), Python 2's or a C
# extension's "ImportError: No module named foo", and "/usr/bin/python3: No module named
# pytest" (``python -m`` of a package that is not installed)
_NO_MODULE = re.compile(
    r"(?:\b(?:ModuleNotFoundError|ImportError)|(python[\d.]*)): No module named '?([\w.]+)'?"
)


class MissingModules:
    """Reads output lines for the first module Python could not import."""

    def __init__(self) -> None:
        self.module: str | None = None
        # the module was the one ``python -m`` runs (a tool: pytest, gunicorn), whose
        # package is usually named as it is and often not among the project's own
        self.run_by_m = False

    def feed(self, lines: Sequence[Line]) -> None:
        if self.module is not None:
            return
        for line in lines:
            if "No module named" in line.text and (m := _NO_MODULE.search(line.text)):
                self.module, self.run_by_m = m.group(2), m.group(1) is not None
                return


def install_command(folder: Path, pip: str, shown: str = "") -> str:
    """How the project's dependencies get into an environment, by what ``folder`` has;
    ``shown``: the folder as the command names it from where it runs (``backend/``)."""
    if (folder / "requirements.txt").is_file():
        return f"{pip} install -r {shown}requirements.txt"
    pyproject = folder / "pyproject.toml"
    text = pyproject.read_text(errors="replace") if pyproject.is_file() else ""
    if "[tool.poetry]" in text:
        return "poetry install"
    if (folder / "uv.lock").is_file():
        return "uv sync"
    if text or (folder / "setup.py").is_file():
        return f"{pip} install -e {shown or '.'}"
    return f"{pip} install PACKAGE"


def broken_venv(root: Path) -> str | None:
    """The repository's ``.venv`` or ``venv`` whose python does not run (a link to an
    interpreter since removed, as a pyenv upgrade leaves one): {python} passed it by."""
    for name in (".venv", "venv"):
        python = root / name / "bin" / "python"
        runs = python.is_file() and os.access(python, os.X_OK)
        if (root / name / "bin").is_dir() and not runs:
            return name
    return None


def hint(
    module: str,
    python: str,
    venv: str | None,
    folder: Path,
    run_by_m: bool = False,
    root: Path | None = None,
) -> str:
    """One line: which interpreter (``{python}``, and its venv if it is a venv's) lacked
    ``module`` and how to give it the project's packages; ``folder`` is the tree the
    command ran in, whose files say the install command. ``run_by_m``: the module is the
    tool ``python -m`` runs, installed by its own name. ``root``: the repository, whose
    broken venv (if any) is why {python} is no venv's."""
    top = module.split(".")[0]
    if venv:
        pip = f"{venv}/bin/pip"
        deps = install_command(folder, pip)
        what = f"install the project's dependencies there ({deps})"
        if run_by_m:
            what = f"install it there ({pip} install {top}) and the project's dependencies ({deps})"
        return f"hint: {python} (the venv {venv}) has no module {top!r}: {what}, and advance again"
    make = install_command(folder, ".venv/bin/pip")
    broken = broken_venv(root) if root is not None else None
    again = f"rm -rf {broken} && " if broken else ""
    tool = make.startswith(("poetry", "uv"))
    setup = make if tool else f"{again}python3 -m venv .venv && {make}"
    if run_by_m and not tool:
        setup += f" && .venv/bin/pip install {top}"
    why = "is no venv's"
    if broken:
        why = f"is no venv's, as {broken}/bin/python does not run (its interpreter is gone?)"
    return (
        f"hint: {python} has no module {top!r} and {why}: give the repository a"
        f" .venv with the project's dependencies ({setup}), which {{python}} then is,"
        f" or name an interpreter with python: in shipdeck.yaml"
    )
