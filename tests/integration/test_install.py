"""shipdeck as users install it: a built wheel in a fresh venv, and with pipx.

Editable installs hid three breakages (issue #13): ``shipdeck demo`` needs the
demo service as package data, ``python -m shipdeck`` needs ``__main__``, and the
wheel must put everything under the one ``shipdeck`` package. These tests build
the wheel as a user's ``pip install .`` would and use it from outside the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("lifecycle", "backends", "widgets", "tui", "cli", "project")


def _run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600):
    """A command from a directory outside the checkout, with no PYTHONPATH to it."""
    clean = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    clean.update(env or {})
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, ROOT], cwd=out
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (found,) = out.glob("shipdeck-*.whl")
    return found


def test_the_wheel_holds_one_package_with_the_demo(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"shipdeck"}
    for package in PACKAGES:
        assert f"shipdeck/{package}/__init__.py" in names
    assert "shipdeck/__main__.py" in names
    assert "shipdeck/examples/hello/app/__main__.py" in names
    assert "shipdeck/tui/app.tcss" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def _demo_flow(shipdeck: list[str | Path], where: Path) -> None:
    """``shipdeck demo``, then the demo's card in Code all the way to Deploy, then stop."""
    demo = where / "demo"
    made = _run([*shipdeck, "demo", demo, "--no-open"], cwd=where)
    assert made.returncode == 0, made.stderr[-2000:]
    assert (demo / "shipdeck.yaml").is_file()
    listed = _run([*shipdeck, "item", "list", "--json"], cwd=demo)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert '"SD-1"' in listed.stdout
    try:
        went = _run([*shipdeck, "advance", "SD-1", "--to", "deploy"], cwd=demo)
        assert went.returncode == 0, (went.stdout + went.stderr)[-3000:]
        assert "Deploy passed" in went.stdout + went.stderr
        shown = _run([*shipdeck, "item", "show", "SD-1", "--json"], cwd=demo)
        assert '"deploy"' in shown.stdout
    finally:
        _run([*shipdeck, "stop", "staging"], cwd=demo, timeout=120)


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel pip-installed in it (its dependencies from the index)."""
    env_dir = tmp_path_factory.mktemp("installed") / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    done = _run([python, "-m", "pip", "install", "-q", wheel], cwd=env_dir.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    return env_dir


def test_a_wheel_in_a_fresh_venv_runs_the_demo_pipeline(installed: Path, tmp_path: Path) -> None:
    env_dir = installed
    python = env_dir / "bin" / "python"
    version = _run([python, "-m", "shipdeck", "--version"], cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("shipdeck "), version.stderr
    # Nothing of the checkout is importable from there: the venv's own copy runs.
    where = _run([python, "-c", "import shipdeck; print(shipdeck.__file__)"], cwd=tmp_path)
    assert str(env_dir) in where.stdout and str(ROOT) not in where.stdout
    bare = _run([python, "-c", "import lifecycle"], cwd=tmp_path)
    assert bare.returncode != 0  # no generic top-level names in site-packages
    _demo_flow([env_dir / "bin" / "shipdeck"], tmp_path)


def test_an_activated_shipdeck_venv_is_never_the_projects_python(
    installed: Path, tmp_path: Path
) -> None:
    """shipdeck pip-installed in a venv the user activated, in a project with no venv of
    its own: {python} is the python3 on PATH past that venv, so the project's tests do
    not import shipdeck's packages (textual here) and the hint makes the project a
    .venv, never an install into shipdeck's."""
    project = tmp_path / "proj"
    (project / "tests").mkdir(parents=True)
    (project / "requirements.txt").write_text("textual\n")
    (project / "tests" / "test_ui.py").write_text(
        "import unittest\nimport textual\n\n\nclass T(unittest.TestCase):\n"
        "    def test_it(self):\n        self.assertTrue(textual)\n"
    )
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "start"]):
        done = _run(["git", *args], cwd=project)
        assert done.returncode == 0, done.stderr
    bin_dir = installed / "bin"  # as `. venv/bin/activate` leaves the shell
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    activated = {"VIRTUAL_ENV": str(installed), "PATH": path}

    def shipdeck(*args: str) -> subprocess.CompletedProcess[str]:
        return _run(["shipdeck", *args], cwd=project, env=activated)

    init = shipdeck("init")
    assert init.returncode == 0, init.stderr
    said = init.stdout + init.stderr
    assert "python: " in said and "the python3 on PATH" in said, said
    assert str(bin_dir) not in said, said  # shipdeck's venv is not named as the project's
    for args in (["add", "-A"], ["commit", "-qm", "shipdeck init"]):
        assert _run(["git", *args], cwd=project).returncode == 0
    item = shipdeck("item", "add", "Try it").stdout.strip()
    assert shipdeck("advance", item, "--to", "code").returncode == 0
    (project / "README").write_text("tried\n")
    for args in (["add", "-A"], ["commit", "-qm", f"{item}: a readme"]):
        assert _run(["git", *args], cwd=project).returncode == 0
    went = shipdeck("advance", item, "--to", "test")
    out = went.stdout + went.stderr
    assert went.returncode == 1, out
    assert "No module named 'textual'" in out or "no module 'textual'" in out, out
    assert "python3 -m venv .venv" in out, out
    assert f"{installed}/bin/pip" not in out, out


def _tool(name: str) -> str | None:
    """``name`` from the test extra (beside this interpreter, in .venv/bin), else PATH's."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name)


def _installed_as_a_tool(command: list[str | Path], bin_dir: Path, env: dict[str, str]) -> Path:
    """Install the wheel with an installer's ``command``; the ``shipdeck`` it puts in
    ``bin_dir``, checked to answer ``--version``."""
    done = _run(command, cwd=bin_dir.parent, env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    shipdeck = bin_dir / "shipdeck"
    version = _run([shipdeck, "--version"], cwd=bin_dir.parent)
    assert version.returncode == 0 and version.stdout.startswith("shipdeck "), version.stderr
    return shipdeck


@pytest.mark.skipif(_tool("pipx") is None, reason="pipx is not installed (the test extra has it)")
def test_pipx_install_gives_a_working_shipdeck(wheel: Path, tmp_path: Path) -> None:
    pipx = _tool("pipx")
    assert pipx is not None
    bin_dir = tmp_path / "pipx-bin"
    env = {
        "PIPX_HOME": str(tmp_path / "pipx-home"),
        "PIPX_BIN_DIR": str(bin_dir),
        "PIPX_MAN_DIR": str(tmp_path),
    }
    command: list[str | Path] = [pipx, "install", "--python", sys.executable, wheel]
    _demo_flow([_installed_as_a_tool(command, bin_dir, env)], tmp_path)


@pytest.mark.skipif(_tool("uv") is None, reason="uv is not installed (the test extra has it)")
def test_uv_tool_install_gives_a_working_shipdeck(wheel: Path, tmp_path: Path) -> None:
    uv = _tool("uv")
    assert uv is not None
    bin_dir = tmp_path / "uv-bin"
    env = {
        "UV_TOOL_DIR": str(tmp_path / "uv-tools"),
        "UV_TOOL_BIN_DIR": str(bin_dir),
        "UV_CACHE_DIR": str(Path.home() / ".cache" / "shipdeck-test-uv"),  # kept: offline reruns
    }
    command: list[str | Path] = [uv, "tool", "install", "--python", sys.executable, wheel]
    _demo_flow([_installed_as_a_tool(command, bin_dir, env)], tmp_path)
