"""A project whose tests or service import a package its interpreter lacks: the run
says which interpreter shipdeck chose and how to give it the project's packages.

Found on miguelgrinberg/flasky (no venv yet; ``{python}`` the python3 on PATH): Test
failed with five ``No module named 'flask_bootstrap'`` tracebacks and the line "tests: 0
passed, 0 failed, 0 skipped", nothing naming the interpreter or the way out. Real git,
a real venv, a real service, the real CLI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import free_port, git, python_service_config, shipdeck

pytestmark = pytest.mark.slow

ABSENT = "shipdeck_absent_pkg_4711"


def _python3_only_path(tmp: Path) -> dict[str, str]:
    """A PATH whose python3 is a real interpreter outside any venv (where the tests run
    in one, its python3 would be a venv's), with git and sh still found."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    real = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    (bin_dir / "python3").symlink_to(real)
    rest = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and "venv" not in p]
    return {"PATH": os.pathsep.join([str(bin_dir), *rest]), "VIRTUAL_ENV": ""}


def _project(root: Path, port: int) -> Path:
    repo = root / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "app").mkdir()
    (repo / "requirements.txt").write_text(f"{ABSENT}\n")
    (repo / ".gitignore").write_text(".venv/\n__pycache__/\n")
    (repo / "app" / "__init__.py").write_text("")
    (repo / "app" / "__main__.py").write_text(f"import {ABSENT}\n")
    (repo / "tests" / "__init__.py").write_text("")
    (repo / "tests" / "test_app.py").write_text(
        f"import unittest\n\nimport {ABSENT}\n\n\n"
        "class T(unittest.TestCase):\n    def test_x(self):\n        pass\n"
    )
    test = "{python} -m unittest discover -s tests -t ."
    (repo / "shipdeck.yaml").write_text(python_service_config("absent", test, "app", port))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "absent")
    return repo


def test_a_missing_package_is_named_with_the_interpreter_and_the_way_to_install_it(
    tmp_path: Path,
) -> None:
    port = free_port()
    repo = _project(tmp_path, port)
    env = _python3_only_path(tmp_path)
    python3 = str(tmp_path / "bin" / "python3")
    assert shipdeck("item", "add", "Absent", cwd=repo, env=env).returncode == 0
    assert shipdeck("advance", "SD-1", "--to", "code", cwd=repo, env=env).returncode == 0
    (repo / "README").write_text("absent\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "SD-1: readme")

    tested = shipdeck("advance", "SD-1", "--to", "test", cwd=repo, env=env)
    assert tested.returncode == 1, tested.stdout + tested.stderr
    said = tested.stdout
    assert "tests: 0 passed, 0 failed, 0 skipped, 1 error" in said
    assert "FAILED tests.test_app\n" in said  # the module, not unittest's _FailedTest
    assert f"==> hint: {python3} has no module '{ABSENT}' and is no venv's;" in said
    assert "\n==>   python3 -m venv .venv && .venv/bin/pip install -r requirements.txt\n" in said
    shown = shipdeck("item", "show", "SD-1", cwd=repo, env=env)
    assert "tests:    0 passed, 0 failed, 0 skipped, 1 error" in shown.stdout

    # The project's venv, as the hint says (without the absent package): named now.
    venv = repo / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, env=env)
    again = shipdeck("advance", "SD-1", "--to", "test", cwd=repo, env=env)
    assert again.returncode == 1
    assert f"hint: {venv}/bin/python (the venv {venv}) has no module '{ABSENT}'" in again.stdout
    assert f"\n==>   {venv}/bin/pip install -r requirements.txt\n" in again.stdout

    # Tests that pass, a service that cannot start: the deploy says the same of it.
    (repo / "tests" / "test_app.py").write_text(
        "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_x(self):\n        pass\n"
    )
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "SD-1: fix")
    try:
        deployed = shipdeck("advance", "SD-1", "--to", "deploy", cwd=repo, env=env)
        assert deployed.returncode == 1, deployed.stdout + deployed.stderr
        assert "before it was healthy" in deployed.stdout + deployed.stderr
        assert f"(the venv {venv}) has no module '{ABSENT}'" in deployed.stdout
    finally:
        shipdeck("stop", "staging", cwd=repo, env=env)


NEEDS_NODE = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="needs node and npm"
)


def _node_project(folder: Path) -> Path:
    """package.json needing ABSENT, and a `node --test` test that requires it."""
    (folder / "test").mkdir(parents=True)
    (folder / "package.json").write_text(
        '{"name": "nd", "version": "1.0.0", "scripts": {"test": "node --test"},'
        f' "dependencies": {{"{ABSENT}": "1.0.0"}}}}\n'
    )
    (folder / "test" / "app.test.js").write_text(
        "const test = require('node:test');\n"
        f"const pkg = require('{ABSENT}');\n"
        "test('greets', () => { if (pkg.greet() !== 'hi') throw new Error('no'); });\n"
    )
    return folder


def _installed(node_modules: Path) -> Path:
    """What `npm install` would leave for ABSENT (no registry here)."""
    package = node_modules / ABSENT
    package.mkdir(parents=True)
    (package / "index.js").write_text("exports.greet = () => 'hi';\n")
    return package


def _commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message)


def _item_in_code_with_a_commit(repo: Path, edit: Path) -> None:
    """The project committed, SD-1 added and in Code, and a commit on its branch."""
    _commit_all(repo, "project")
    assert shipdeck("item", "add", "Greet", cwd=repo).returncode == 0
    assert shipdeck("advance", "SD-1", "--to", "code", cwd=repo).returncode == 0
    edit.write_text("edited\n")
    _commit_all(repo, "SD-1: edit")


@NEEDS_NODE
def test_a_node_package_not_installed_is_named_and_the_repositorys_node_modules_serve(
    tmp_path: Path,
) -> None:
    """An Express app cloned without `npm install`: its test failed on "Cannot find
    module 'express'" with nothing saying where the steps look. They run in an export
    below the repository and find its node_modules by Node's own walk up the folders;
    the line says to install there, and a package put there is found."""
    repo = _node_project(tmp_path / "repo")
    (repo / ".gitignore").write_text("node_modules/\n")
    git(repo, "init", "-q", "-b", "main")
    made = shipdeck("init", cwd=repo)
    assert made.returncode == 0, made.stderr
    assert "node: no node_modules here yet" in made.stdout and "(npm install)" in made.stdout
    _item_in_code_with_a_commit(repo, repo / "README")

    tested = shipdeck("advance", "SD-1", "--to", "test", cwd=repo)
    assert tested.returncode == 1
    assert f"hint: no package '{ABSENT}' in node_modules;" in tested.stdout
    assert "\n==>   npm install\n" in tested.stdout
    _installed(repo / "node_modules")  # in the repository: found from the export
    again = shipdeck("advance", "SD-1", "--to", "test", cwd=repo)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "tests: 1 passed, 0 failed, 0 skipped" in again.stdout


@NEEDS_NODE
def test_a_monorepo_folders_node_modules_serve_its_steps(tmp_path: Path) -> None:
    """frontend/ of a monorepo, its packages installed there (`cd frontend && npm
    install`): Node's walk up from the export's frontend/ never passes the repository's
    frontend/, so its test could not find them. The export links them in."""
    repo = tmp_path / "mono"
    front = _node_project(repo / "frontend")
    (repo / "backend").mkdir()
    (repo / "backend" / "README").write_text("backend\n")
    package = _installed(front / "node_modules")
    (repo / ".gitignore").write_text("node_modules/\n")
    git(repo, "init", "-q", "-b", "main")
    made = shipdeck("init", cwd=front)
    assert made.returncode == 0, made.stderr
    assert "node: no node_modules" not in made.stdout
    _item_in_code_with_a_commit(repo, front / "README")
    tested = shipdeck("advance", "SD-1", "--to", "test", cwd=repo)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "tests: 1 passed, 0 failed, 0 skipped" in tested.stdout
    assert (package / "index.js").is_file()  # the export's link, never a copy or a removal
    # a new commit: the old export goes (its link with it), the packages stay
    (front / "README").write_text("f2\n")
    _commit_all(repo, "SD-1: f2")
    again = shipdeck("advance", "SD-1", "--to", "test", cwd=repo)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(list((repo / ".shipdeck" / "work" / "SD-1").iterdir())) == 1
    assert (package / "index.js").is_file()
