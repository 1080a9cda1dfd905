"""A project installed editable in its own venv (``pip install -e .``, src layout): the
venv's ``.pth`` puts the work tree's ``src`` on sys.path, so a step or a release that
imported the project got the work tree's code, not its commit's. Found on a FastAPI
project: Test ran the branch's tests against main's code (the work tree was on main)
and failed. Real git, a real venv, a real editable install by pip, a real service.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port, git, python_service_config, shipdeck

pytestmark = pytest.mark.slow

SERVE = """\
import argparse, json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from greet import GREETING


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"greeting": GREETING}).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int)
ThreadingHTTPServer(("127.0.0.1", parser.parse_args().port), Handler).serve_forever()
"""

TEST = """\
import unittest

import greet


class T(unittest.TestCase):
    def test_greeting(self):
        self.assertEqual(greet.GREETING, {want!r})
"""

PYPROJECT = """\
[project]
name = "greet"
version = "0.1.0"

[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"
"""


# A script that runs the tests (as a console script such as `pytest` does): sys.path gets
# the script's folder, not the working directory, so the package comes from the install.
RUN_TESTS = """\
import sys, unittest

result = unittest.main(module=None, argv=["x", "discover", "-s", "tests"], exit=False).result
sys.exit(not result.wasSuccessful())
"""


def _project(root: Path, port: int, layout: str) -> Path:
    repo = root / "repo"
    package = repo / ("src/greet" if layout == "src" else "greet")
    package.mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "pyproject.toml").write_text(
        PYPROJECT + ('[tool.setuptools]\npackages = ["greet"]\n' if layout == "flat" else "")
    )
    (package / "__init__.py").write_text('GREETING = "old"\n')
    (package / "__main__.py").write_text(SERVE)
    (repo / "tests" / "test_greet.py").write_text(TEST.format(want="old"))
    (repo / "tools").mkdir()
    (repo / "tools" / "run_tests.py").write_text(RUN_TESTS)
    test = (
        "{python} -m unittest discover -s tests"
        if layout == "src"
        else "{python} tools/run_tests.py"
    )
    (repo / ".gitignore").write_text(".venv/\n__pycache__/\n*.egg-info/\nbuild/\n")
    (repo / "shipdeck.yaml").write_text(python_service_config("greet", test, "greet", port))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "greet")
    # `pip install -e .` in the project's venv, as its README would say: pip gets the
    # build backend (setuptools) from pip's cache or PyPI
    venv = repo / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install"]
    done = subprocess.run(
        [*pip, "-q", "--no-deps", "-e", str(repo)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return repo


@pytest.mark.parametrize("layout", ["src", "flat"])
def test_steps_and_releases_run_their_commits_code_not_the_editable_work_tree(
    tmp_path: Path, layout: str
) -> None:
    """src: the .pth names the work tree's src; flat: setuptools' finder maps the
    package to the work tree's folder, found when the working directory is not on
    sys.path (a script, a console script)."""
    port = free_port()
    repo = _project(tmp_path, port, layout)
    site = next((repo / ".venv" / "lib").glob("python3*/site-packages"))
    wrote = [p.read_text() for p in (*site.glob("*.pth"), *site.glob("__editable__*.py"))]
    where = str(repo / "src") if layout == "src" else str(repo / "greet")
    assert any(where in text for text in wrote), wrote  # what pip wrote
    assert shipdeck("item", "add", "Say new", cwd=repo).returncode == 0
    assert shipdeck("advance", "SD-1", "--to", "code", cwd=repo).returncode == 0
    package = repo / ("src/greet" if layout == "src" else "greet")
    (package / "__init__.py").write_text('GREETING = "new"\n')
    (repo / "tests" / "test_greet.py").write_text(TEST.format(want="new"))
    git(repo, "commit", "-q", "-am", "SD-1: new")
    # the work tree goes back to the old code, on a branch of its own, as a person
    # looking at something else would leave it
    git(repo, "switch", "-q", "-c", "elsewhere", "main")
    try:
        tested = shipdeck("advance", "SD-1", "--to", "test", cwd=repo)
        assert tested.returncode == 0, tested.stdout + tested.stderr
        assert "1 passed" in tested.stdout
        deployed = shipdeck("advance", "SD-1", "--to", "deploy", cwd=repo)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
            assert json.loads(answer.read()) == {"greeting": "new"}
        assert (package / "__init__.py").read_text() == 'GREETING = "old"\n'
    finally:
        shipdeck("stop", "staging", cwd=repo)
