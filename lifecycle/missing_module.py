"""What to say when a step or a service fails on ``No module named 'x'`` (Python) or
``Cannot find module 'x'`` (Node).

The commonest first failure of a stranger's project: no ``.venv`` yet, so ``{python}``
is the ``python3`` on PATH, without the project's dependencies; or a venv that lacks
one package. Python's traceback names the module but not the interpreter, and not
what shipdeck chose; this line says both and the command that makes it right. A Node
project's steps run in an export under the repository, and find the repository's
``node_modules`` by Node's own walk up the folders: without ``npm install`` there,
nothing is found.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

from shipdeck.lifecycle.ports import Line, venv_python

# "ModuleNotFoundError: No module named 'flask_bootstrap'" (an import), Python 2's or a C
# extension's "ImportError: No module named foo", and "/usr/bin/python3: No module named
# pytest" (``python -m`` of a package that is not installed)
_NO_MODULE = re.compile(
    r"(?:\b(?:ModuleNotFoundError|ImportError)|(python[\d.]*)): No module named '?([\w.]+)'?"
)


# "Error: Cannot find module 'express'" (require), "Error [ERR_MODULE_NOT_FOUND]: Cannot
# find package 'express' imported from ..." (import); a relative or absolute path is the
# project's own file, not a package
_NODE_MISSING = re.compile(
    r"\bError(?: \[ERR_MODULE_NOT_FOUND\])?: Cannot find (?:module|package) '([^'./][^']*)'"
)


class MissingModules:
    """Reads output lines for the first module Python, or package Node, could not load."""

    def __init__(self) -> None:
        self.module: str | None = None
        # the module was the one ``python -m`` runs (a tool: pytest, gunicorn), whose
        # package is usually named as it is and often not among the project's own
        self.run_by_m = False
        self.node = False  # a Node package, not a Python module

    def feed(self, lines: Sequence[Line]) -> None:
        if self.module is not None:
            return
        for line in lines:
            if "No module named" in line.text and (m := _NO_MODULE.search(line.text)):
                self.module, self.run_by_m = m.group(2), m.group(1) is not None
                return
            if "Cannot find" in line.text and (m := _NODE_MISSING.search(line.text)):
                name = m.group(1)
                parts = name.split("/")  # lodash/fp -> lodash, @scope/pkg/x -> @scope/pkg
                self.module = "/".join(parts[:2] if name.startswith("@") else parts[:1])
                self.node = True
                return

    def hint(
        self, python: str | None, venv: str | None, folder: Path, root: Path | None = None
    ) -> list[str]:
        """The lines for what was found (none: nothing, or a Python module where the
        command's interpreter is not known)."""
        if self.module is None:
            return []
        if self.node:
            return node_hint(self.module, folder)
        if python is None:
            return []
        return hint(self.module, python, venv, folder, self.run_by_m, root)


def node_install_command(folder: Path) -> str:
    """How a Node project's packages are installed, by the lock file ``folder`` has."""
    if (folder / "pnpm-lock.yaml").is_file():
        return "pnpm install"
    if (folder / "yarn.lock").is_file():
        return "yarn install"
    if (folder / "package-lock.json").is_file():
        return "npm ci"
    return "npm install"


def node_hint(package: str, folder: Path) -> list[str]:
    """A Node package not found: the repository's ``node_modules`` is where the steps
    and the service look (from their exports below it), so install there."""
    return [
        f"hint: no package {package!r} in node_modules; the steps and the service find the"
        " repository's, so install the project's packages there:",
        f"  {node_install_command(folder)}",
    ]


# Where projects keep what their tests need besides what they run on (pytest...).
_DEV_REQUIREMENTS = (
    "requirements-dev.txt", "requirements_dev.txt", "dev-requirements.txt",
    "requirements-test.txt", "requirements_test.txt", "test-requirements.txt",
    "requirements/dev.txt", "requirements/test.txt",
)  # fmt: skip
_TEST_EXTRAS = ("test", "tests", "testing", "dev")


def install_command(folder: Path, pip: str, shown: str = "") -> str:
    """How the project's dependencies get into an environment, by what ``folder`` has,
    with what its tests need (a dev requirements file, a ``test`` extra: a venv made
    without them fails next on ``No module named 'pytest'``); ``shown``: the folder as
    the command names it from where it runs (``backend/``)."""
    files = [n for n in ("requirements.txt", *_DEV_REQUIREMENTS) if (folder / n).is_file()]
    if files and files[0] == "requirements.txt":
        return f"{pip} install " + " ".join(f"-r {shown}{n}" for n in files[:2])
    pyproject = folder / "pyproject.toml"
    text = pyproject.read_text(errors="replace") if pyproject.is_file() else ""
    if "[tool.poetry]" in text:
        return "poetry install"
    if (folder / "uv.lock").is_file():
        return "uv sync"
    if text or (folder / "setup.py").is_file():
        extra = _test_extra(text)
        target = f"'{shown or '.'}[{extra}]'" if extra else shown or "."
        return f"{pip} install -e {target}"
    if files:
        return f"{pip} install -r {shown}{files[0]}"
    return f"{pip} install PACKAGE"


def _test_extra(pyproject: str) -> str | None:
    """The optional-dependencies group of pyproject.toml that holds the test tools."""
    try:
        data = tomllib.loads(pyproject)
    except tomllib.TOMLDecodeError:
        return None
    project = data.get("project")
    extras = project.get("optional-dependencies") if isinstance(project, dict) else None
    if not isinstance(extras, dict):
        return None
    return next((name for name in _TEST_EXTRAS if name in extras), None)


def broken_venv(root: Path) -> str | None:
    """The repository's ``.venv`` or ``venv`` whose python does not run (a link to an
    interpreter since removed, as a pyenv upgrade leaves one): {python} passed it by."""
    for name in (".venv", "venv"):
        if (root / name / "bin").is_dir() and venv_python(root / name) is None:
            return name
    return None


def make_venv(
    folder: Path, shown: str = "", broken: str | None = None, ignore: bool = False
) -> str:
    """The command that gives the repository a ``.venv`` with the project's packages, run
    from its root: a tool's own (``poetry install``, ``uv sync``, in the project's folder
    ``shown``), else ``python3 -m venv`` and pip. ``broken``: a venv to remove first;
    ``ignore``: the venv keeps itself out of git, as Python 3.13's venv does."""
    install = install_command(folder, ".venv/bin/pip", shown)
    if install.startswith(("poetry", "uv")):
        return f"cd {shown} && {install}" if shown else install
    again = f"rm -rf {broken} && " if broken else ""
    keep_out = " && echo '*' > .venv/.gitignore" if ignore else ""
    return f"{again}python3 -m venv .venv{keep_out} && {install}"


def hint(
    module: str,
    python: str,
    venv: str | None,
    folder: Path,
    run_by_m: bool = False,
    root: Path | None = None,
) -> list[str]:
    """A few short lines (the command on a line of its own, whole in a narrow log pane):
    which interpreter (``{python}``, and its venv if it is a venv's) lacked ``module``
    and how to give it the project's packages. ``folder`` is the tree the command ran
    in, whose files say the install command; ``run_by_m``: the module is the tool
    ``python -m`` runs, installed by its own name; ``root``: the repository, whose broken
    venv (if any) is why {python} is no venv's."""
    top = module.split(".")[0]
    if venv:
        pip = f"{venv}/bin/pip"
        lines = [
            f"hint: {python} (the venv {venv}) has no module {top!r}; install the project's"
            " dependencies there, and advance again:",
            f"  {install_command(folder, pip)}",
        ]
        return lines + ([f"  {pip} install {top}"] if run_by_m else [])
    broken = broken_venv(root) if root is not None else None
    setup = make_venv(folder, broken=broken)
    if run_by_m and "pip install" in setup:
        setup += f" && .venv/bin/pip install {top}"
    why = "is no venv's"
    if broken:
        why = f"is no venv's: {broken}/bin/python does not run (its interpreter is gone?)"
    return [
        f"hint: {python} has no module {top!r} and {why}; give the repository a .venv"
        " with the project's dependencies, which {python} then is:",
        f"  {setup}",
        "  (or name an interpreter with python: in shipdeck.yaml)",
    ]
