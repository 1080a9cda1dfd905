"""``shipdeck init`` reads real projects: their test runner, service, health route,
repository root and default branch, on fixture projects in real git repositories.

Every generated config is loaded with the project's own loader (``Project``) and
``shipdeck check``. The full report and the write at the root go through
``shipdeck.cli.init.command``, the init command itself.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipdeck.cli.init import command, project_folder
from shipdeck.lifecycle.config.schema import Config
from shipdeck.lifecycle.stages import Stage
from shipdeck.project.errors import UsageError
from shipdeck.project.repo import Project
from tests.helpers import git, shipdeck

pytestmark = pytest.mark.slow  # real git, and the shipdeck command in subprocesses


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git config leaks in (default branch, signing, hooks)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{var}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{var}_EMAIL", "test@example.com")
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CEILING_DIRECTORIES"):
        monkeypatch.delenv(var, raising=False)


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def repo(root: Path, files: dict[str, str], branch: str = "main") -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", branch)
    write(root, files)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return root


def run_init(
    cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[list[str], str, Config]:
    """init run in ``cwd``: (its stdout lines, the config text, the config as shipdeck loads it)."""
    monkeypatch.chdir(cwd)
    assert command(argparse.Namespace(path=".", force=False)) == 0
    out = capsys.readouterr().out.splitlines()
    root = Path(git(cwd, "rev-parse", "--show-toplevel"))
    project = Project.discover(cwd)
    assert project.root.resolve() == root.resolve()
    return out, (root / "shipdeck.yaml").read_text(), project.config


def checks(root: Path) -> None:
    result = shipdeck("check", cwd=root)
    assert result.returncode == 0, result.stderr


FLASK_APP = """\
from flask import Flask

from greet import greet

app = Flask(__name__)


@app.route("/health")
def health():
    return "ok"


@app.route("/")
def index():
    return greet("world")
"""
UNITTEST = """\
import unittest

from greet import greet


class GreetTest(unittest.TestCase):
    def test_greet(self):
        self.assertEqual(greet("x"), "hello x")
"""


@pytest.fixture()
def flask_unittest(tmp_path: Path) -> Path:
    """A Flask app with unittest tests, cloned from a repository whose default branch
    is master and which has 24 old tags shipdeck did not make; the clone sits on a
    feature branch, so neither 'main' nor the current branch is the answer."""
    upstream = repo(
        tmp_path / "upstream",
        {
            "app.py": FLASK_APP,
            "greet.py": "def greet(name):\n    return f'hello {name}'\n",
            "tests/test_greet.py": UNITTEST,
            "requirements.txt": "flask>=2.2\n",
        },
        branch="master",
    )
    for n in range(24):
        git(upstream, "tag", f"0.{n}")
    clone = tmp_path / "flaskapp"
    git(tmp_path, "clone", "-q", str(upstream), str(clone))
    git(clone, "switch", "-q", "-c", "feature/x")
    return clone


def test_flask_with_unittest_on_master(
    flask_unittest: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out, text, cfg = run_init(flask_unittest, monkeypatch, capsys)
    assert cfg.base_branch == "master"
    assert "base branch: master (origin/HEAD)" in out
    assert "test runner: unittest (tests/test_greet.py)" in out
    [step] = cfg.stages.test
    assert step.run == "{python} -m unittest discover -s tests" and step.junit is None
    staging = cfg.environments["staging"]
    assert staging.target == "local"
    assert staging.run == "{python} -m flask --app app:app run --port {port}"
    assert staging.port == 5000
    assert staging.health is not None
    assert staging.health.url == "http://127.0.0.1:{port}/health"
    assert "health: /health (app.py)" in out
    # The 24 old tags were learned (no 'v', two numbers), not replaced by v{version}.
    assert cfg.stages.release.tag == "{version}"
    assert text.splitlines()[0].startswith("# ")
    checks(flask_unittest)
    # The test step finds the suite: it runs one test rather than passing on none.
    ran = subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests"],
        cwd=flask_unittest,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0 and "Ran 1 test" in ran.stderr, ran.stderr


PYPROJECT_POETRY = """\
[tool.poetry]
name = "api"
version = "0.3.0"
description = ""
authors = ["A <a@example.com>"]

[tool.poetry.dependencies]
python = "^3.11"
fastapi = "^0.110"
uvicorn = {extras = ["standard"], version = "^0.29"}

[tool.poetry.group.dev.dependencies]
pytest = "^8"
pytest-cov = "^5"

[tool.pytest.ini_options]
addopts = "--cov=app"

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
"""
FASTAPI_APP = """\
from fastapi import FastAPI

app = FastAPI(title="api")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
"""


def test_fastapi_poetry_with_pytest_cov(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = repo(
        tmp_path / "api",
        {
            "pyproject.toml": PYPROJECT_POETRY,
            "app/__init__.py": "",
            "app/main.py": FASTAPI_APP,
            "tests/test_main.py": "from app.main import app\n\ndef test_app():\n    assert app\n",
            "Dockerfile": 'FROM python:3.12-slim\nEXPOSE 8000\nCMD ["uvicorn", "app.main:app",'
            ' "--host", "0.0.0.0", "--port", "8000"]\n',
        },
    )
    out, text, cfg = run_init(root, monkeypatch, capsys)
    assert cfg.base_branch == "main"
    [step] = cfg.stages.test
    assert step.run is not None and step.run.startswith("{python} -m pytest")
    assert step.junit is not None and f"--junitxml={step.junit}" in step.run
    assert any(line.startswith("test runner: pytest") for line in out)
    staging = cfg.environments["staging"]
    # A Dockerfile is there, but a local command fits: staging is local.
    assert staging.target == "local"
    assert staging.run == "{python} -m uvicorn app.main:app --host 127.0.0.1 --port {port}"
    assert staging.port == 8000
    assert staging.health is not None and staging.health.url.endswith("/healthz")
    assert "# - docker_build:" in text  # offered, commented
    assert cfg.stages.build[0].run is not None and "compileall" in cfg.stages.build[0].run
    checks(root)


def test_dockerfile_only_is_a_docker_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = repo(
        tmp_path / "gosvc",
        {
            "main.go": "package main\nfunc main() {}\n",
            "Dockerfile": "FROM golang:1.22\nCOPY . .\nRUN go build -o /srv ./...\n"
            "EXPOSE 9090/tcp\nHEALTHCHECK CMD curl -f http://localhost:9090/ping || exit 1\n"
            'CMD ["/srv"]\n',
        },
    )
    out, _text, cfg = run_init(root, monkeypatch, capsys)
    staging = cfg.environments["staging"]
    assert staging.target == "docker"
    assert staging.ports == {"9090/tcp": 9090}
    assert staging.health is not None and staging.health.url == "http://127.0.0.1:9090/ping"
    assert [s.docker_build is not None for s in cfg.stages.build] == [True]
    assert cfg.stages.test == []
    assert "test runner: not found - add a step under stages.test" in out
    assert cfg.stages.builds_image
    checks(root)


def test_package_json_test_and_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = repo(
        tmp_path / "web",
        {
            "package.json": '{"name": "web", "scripts": {"test": "node --test",'
            ' "start": "node server.js", "build": "tsc"}}\n',
            "server.js": "const app = require('express')();\n"
            "app.get('/status', (req, res) => res.send('ok'));\n"
            "app.listen(process.env.PORT || 3000);\n",
            "compose.yaml": "services:\n  db:\n    image: postgres:16\n"
            "  web:\n    build: .\n    ports: ['8081:3000']\n",
            "Dockerfile": 'FROM node:20\nEXPOSE 3000\nCMD ["npm", "start"]\n',
        },
    )
    out, _text, cfg = run_init(root, monkeypatch, capsys)
    assert [s.run for s in cfg.stages.test] == ["npm test"]
    assert [s.run for s in cfg.stages.build] == ["npm run build"]
    staging = cfg.environments["staging"]
    assert staging.target == "local" and staging.run == "npm start"
    assert staging.port == 8081 and staging.env == {"PORT": "8081"}  # compose's published port
    assert staging.health is not None and staging.health.url.endswith("/status")
    assert "test runner: npm (package.json scripts.test)" in out
    checks(root)


def test_makefile_test_target_and_no_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = repo(
        tmp_path / "clib",
        {"Makefile": "CC ?= cc\nbuild:\n\t$(CC) -c lib.c\ntest: build\n\t./run-tests\n"},
    )
    out, text, cfg = run_init(root, monkeypatch, capsys)
    assert [s.run for s in cfg.stages.test] == ["make test"]
    assert [s.run for s in cfg.stages.build] == ["make build"]
    assert cfg.environments == {}
    assert "service: not found - add environments.staging.run" in out
    assert "environments: {}" in text
    checks(root)


def test_init_in_a_subdirectory_writes_at_the_root(
    flask_unittest: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = flask_unittest / "tests"
    out, _text, cfg = run_init(sub, monkeypatch, capsys)
    assert not (sub / "shipdeck.yaml").exists()
    assert (flask_unittest / "shipdeck.yaml").is_file()
    assert (flask_unittest / ".shipdeck" / ".gitignore").is_file()
    assert cfg.base_branch == "master" and cfg.project == "flaskapp"
    assert any(line.startswith("wrote ../shipdeck.yaml (the repository's root") for line in out), (
        out
    )
    # A second run from the subdirectory finds the root's file.
    monkeypatch.chdir(sub)
    with pytest.raises(UsageError, match="already exists"):
        command(argparse.Namespace(path=".", force=False))


def test_cli_init_in_a_subdirectory_writes_at_the_root(flask_unittest: Path) -> None:
    result = shipdeck("init", cwd=flask_unittest / "tests")
    assert result.returncode == 0, result.stderr
    assert (flask_unittest / "shipdeck.yaml").is_file()
    assert "test runner: unittest" in result.stdout


FASTAPI_APP = """\
from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
def healthz():
    return {"ok": True}
"""


def test_init_in_a_project_folder_of_a_monorepo_runs_its_steps_and_service_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """backend/ (pyproject, its own .venv, app/main.py) beside frontend/, as the full
    stack templates lay it out: init run in backend/ found no test runner, served
    ``backend.app.main:app`` from the root (its imports say ``app.``), and ``{python}``
    was not backend/.venv's."""
    root = repo(tmp_path / "mono", {
        "backend/pyproject.toml": '[project]\nname = "b"\n[tool.pytest.ini_options]\nx = 1\n',
        "backend/app/__init__.py": "",
        "backend/app/main.py": FASTAPI_APP,
        "backend/tests/test_main.py": "from app.main import app\n\ndef test_a():\n    assert app\n",
        "backend/Dockerfile": "FROM python:3.12-slim\nEXPOSE 80\n",
        "frontend/package.json": '{"name": "f", "scripts": {"build": "vite build"}}\n',
        "CHANGELOG.md": "# Changelog\n",
    })  # fmt: skip
    # the monorepo's tags: each project its own series; the newest is the frontend's
    for tag in ("backend-v0.3.0", "frontend-v2.4.0", "frontend-v2.5.0"):
        git(root, "tag", tag)
    (root / "backend" / ".venv" / "bin").mkdir(parents=True)
    (root / "backend" / ".venv" / "bin" / "python").symlink_to(sys.executable)
    out, text, cfg = run_init(root / "backend", monkeypatch, capsys)
    assert (
        "project: backend/ (steps and the service run there; python: backend/.venv/bin/python)"
        in out
    )
    assert "test runner: pytest (pyproject.toml [tool.pytest])" in out
    assert cfg.python is not None and 'python: "backend/.venv/bin/python"' in text
    build, test = cfg.stages.steps(Stage.BUILD), cfg.stages.steps(Stage.TEST)
    assert build[0].run == "cd backend && {python} -m compileall -q -x '(^|/)\\.' ."
    assert test[0].run.startswith("cd backend && {python} -m pytest -q --junitxml=")
    assert test[0].junit == "backend/.shipdeck/reports/junit.xml"
    staging = cfg.environments["staging"]
    assert staging.workdir == "backend"
    assert staging.run == "{python} -m uvicorn app.main:app --host 127.0.0.1 --port {port}"
    assert staging.health is not None and str(staging.health.url).endswith("/healthz")
    # the Dockerfile from the context (docker build reads -f there: backend/backend/... was
    # not found)
    assert "context: backend, dockerfile: Dockerfile" in text
    assert 'changelog: "CHANGELOG.md"' in text  # found at the repository's root
    assert "release: tags like backend-v0.3.0 (backend-v{version}), changelog CHANGELOG.md" in out
    assert cfg.stages.release.tag == "backend-v{version}"
    checks(root)
    # the repository's root is still the root's project; tests/ is not a project
    assert project_folder(root, root) is None
    assert project_folder(root, root / "backend" / "tests") is None


def test_a_config_init_made_wrong_is_not_written_and_the_error_names_shipdeck_yaml(
    flask_unittest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Procfile's ``${RELEASE:-dev}`` once made init write a template shipdeck then
    refused, and the error named the temporary file (shipdeck.yaml.28489....tmp:19:10)."""
    import shipdeck.cli.init as init

    monkeypatch.setattr(init, "render_config", lambda d: "version: 1\nproject: x\nbogus: 1\n")
    monkeypatch.chdir(flask_unittest)
    with pytest.raises(UsageError) as refused:
        command(argparse.Namespace(path=".", force=False))
    said = str(refused.value)
    assert said.startswith("init made a config shipdeck refuses, not written: shipdeck.yaml:3:1:")
    assert ".tmp" not in said
    assert not (flask_unittest / "shipdeck.yaml").exists()
    assert not [p.name for p in flask_unittest.iterdir() if p.name.startswith("shipdeck.yaml")]


def test_cli_init_outside_git_refuses_in_one_line(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "app.py").write_text(FLASK_APP)
    result = shipdeck("init", cwd=plain, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "not in a git repository" in result.stderr
    assert not (plain / "shipdeck.yaml").exists() and not (plain / ".shipdeck").exists()


def test_cli_init_reads_the_project(flask_unittest: Path) -> None:
    """What the shipdeck command writes is the config the detection renders."""
    result = shipdeck("init", cwd=flask_unittest)
    assert result.returncode == 0, result.stderr
    cfg = Project(flask_unittest).config
    assert cfg.base_branch == "master"
    assert cfg.environments["staging"].run == "{python} -m flask --app app:app run --port {port}"
    assert [s.run for s in cfg.stages.test] == ["{python} -m unittest discover -s tests"]
    checks(flask_unittest)


def test_init_points_editors_at_the_configs_schema(flask_unittest: Path) -> None:
    """The yaml-language-server header, and the schema it names, written beside it."""
    result = shipdeck("init", cwd=flask_unittest)
    assert result.returncode == 0, result.stderr
    first = (flask_unittest / "shipdeck.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=shipdeck.schema.json"
    schema = json.loads((flask_unittest / "shipdeck.schema.json").read_text())
    assert schema["properties"]["environments"]["description"]
    assert "wrote shipdeck.schema.json" in result.stdout
    # A schema the user already keeps is used, not overwritten.
    (flask_unittest / "shipdeck.schema.json").write_text("{}\n")
    again = shipdeck("init", "--force", cwd=flask_unittest)
    assert again.returncode == 0, again.stderr
    assert (flask_unittest / "shipdeck.schema.json").read_text() == "{}\n"


def test_a_clone_made_with_branch_gets_origins_default_and_says_it_is_not_local_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``git clone --branch dev``: origin's default (main) is where releases go, though
    no local main exists yet; init says so, and the first Code makes it (as ``git
    switch main`` would, tests/integration/test_git_as_users_do.py)."""
    upstream = repo(tmp_path / "upstream", {"README.md": "x\n"})
    git(upstream, "branch", "dev")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--branch", "dev", str(upstream), str(clone))
    out, _text, cfg = run_init(clone, monkeypatch, capsys)
    assert cfg.base_branch == "main"
    assert "base branch: main (origin/HEAD; no local main yet: made from origin/main" in "\n".join(
        out
    )


def test_init_says_when_python_is_no_venvs_and_how_to_make_the_projects(
    flask_unittest: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """flasky, cloned, no venv yet: init said nothing of the interpreter, and the first
    Test failed on ``No module named 'flask_bootstrap'``. Now init names the python3 on
    PATH that ``{python}`` will be and the command that makes the project's venv; with a
    ``.venv`` there it says nothing of it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    real = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    (bin_dir / "python3").symlink_to(real)
    rest = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and "venv" not in p]
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), *rest]))
    out, _text, _cfg = run_init(flask_unittest, monkeypatch, capsys)
    said = [line for line in out if line.startswith("python: ")]
    assert len(said) == 1, out
    assert said[0].startswith(f"python: {bin_dir / 'python3'}, the python3 on PATH (no .venv")
    # no .gitignore names .venv: the venv made keeps itself out of `git add -A`
    make = "python3 -m venv .venv && echo '*' > .venv/.gitignore && .venv/bin/pip install -r"
    assert f"({make} requirements.txt)" in said[0]
    assert "the tests and the service need the project's packages" in said[0]

    # the venv made, but git would add it: init says so
    (flask_unittest / "shipdeck.yaml").unlink()
    venv_bin = flask_unittest / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(real)
    out, _text, _cfg = run_init(flask_unittest, monkeypatch, capsys)
    said = [line for line in out if line.startswith("python: ")]
    assert said == [
        "python: .venv/ is not ignored by git, so `git add -A` would commit it: add it to"
        " .gitignore (echo '.venv/' >> .gitignore)"
    ]
    # ignored: nothing to say of the interpreter
    (flask_unittest / "shipdeck.yaml").unlink()
    (flask_unittest / ".gitignore").write_text(".venv/\n")
    out, _text, _cfg = run_init(flask_unittest, monkeypatch, capsys)
    assert not [line for line in out if line.startswith("python: ")], out


def test_init_names_a_venv_whose_python_does_not_run(
    flask_unittest: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A .venv left by an interpreter since removed (a pyenv upgrade): init said "no .venv
    or venv here" beside it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(os.path.realpath(sys.executable))
    rest = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and "venv" not in p]
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), *rest]))
    (flask_unittest / ".venv" / "bin").mkdir(parents=True)
    (flask_unittest / ".venv" / "bin" / "python").symlink_to(tmp_path / "gone" / "python3.9")
    (flask_unittest / ".gitignore").write_text(".venv/\n")
    out, _text, _cfg = run_init(flask_unittest, monkeypatch, capsys)
    said = [line for line in out if line.startswith("python: ")]
    assert len(said) == 1 and "(.venv/bin/python does not run: its interpreter is gone?)" in said[0]
    assert "(rm -rf .venv && python3 -m venv .venv && .venv/bin/pip install -r" in said[0]
