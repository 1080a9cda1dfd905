"""A project's own interpreter and a local service's data, end to end (issue #13 steps 2, 3,
6): the config is the one ``shipdeck init`` writes, unedited.

Two generated projects, each with its own ``.venv`` holding what shipdeck's interpreter
lacks (``greetlib``, a tiny local package, installed with pip from a wheel made here):
a small JSON service on the standard library's ``http.server`` (``python -m svc
--port N``, its data under ``$DATA_DIR``) with unittest tests, and a Poetry-style
project (pyproject with ``[tool.poetry]``) serving a Flask app (``DATABASE`` names its
SQLite file) whose tests need pytest and a pytest plugin installed only in its venv.
Flask comes from pip (its cache or PyPI) into the project's venv; where pip cannot get
it, the Poetry-style project serves the ``http.server`` service instead. ``shipdeck
init`` detects the runner, the service, its port, its health route and its data
variable, and prints them; each project then goes Plan -> Deploy twice with that
config; a row written to its SQLite file survives two deploys and a rollback, and
rollback and restart run from a shell without the venv (PATH without it, VIRTUAL_ENV
unset).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT, config_port, free_port, git, processes_under, shipdeck

pytestmark = pytest.mark.slow

# A typical small service on the standard library: the port from --port (its default
# is the port the test picked), the data under $DATA_DIR, a /health route.
STDLIB_SERVICE = '''\
"""notes: a small JSON service on the standard library (greetlib's greeting, rows in SQLite)."""

import argparse
import json
import os
import sqlite3
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import greetlib

DATA_DIR = os.environ.get("DATA_DIR", "data")
DB = os.path.join(DATA_DIR, "app.db")


def rows():
    os.makedirs(DATA_DIR, exist_ok=True)
    with sqlite3.connect(DB) as db:
        db.execute("create table if not exists notes (text text)")
        return [r[0] for r in db.execute("select text from notes order by rowid")]


def add(text):
    with sqlite3.connect(DB) as db:
        db.execute("create table if not exists notes (text text)")
        db.execute("insert into notes values (?)", (text,))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            return self.reply({"status": "ok"})
        if url.path == "/add":
            add(parse_qs(url.query)["text"][0])
        body = {
            "greeting": greetlib.greet("shipdeck"),
            "version": os.environ.get("SHIPDECK_VERSION"),
            "python": sys.executable,
            "virtual_env": os.environ.get("VIRTUAL_ENV"),
            "cwd": os.getcwd(),
            "rows": rows(),
        }
        self.reply(body)

    def reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        print(format % args, flush=True)


def main():
    parser = argparse.ArgumentParser(description="the notes service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()
    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
'''

# A typical small Flask app: DATABASE names its SQLite file (the Flask tutorial's way),
# app.run(port=...) for a developer's own runs, a /health route.
FLASK_SERVICE = '''\
"""notes: a small Flask app (greetlib's greeting, rows in SQLite)."""

import os
import sqlite3
import sys

import greetlib
from flask import Flask, request

app = Flask(__name__)
DATABASE = os.environ.get("DATABASE", os.path.join(app.instance_path, "app.db"))


def rows():
    with sqlite3.connect(DATABASE) as db:
        db.execute("create table if not exists notes (text text)")
        return [r[0] for r in db.execute("select text from notes order by rowid")]


@app.get("/health")
def health():
    return {"status": "ok"}


@app.get("/add")
def add():
    with sqlite3.connect(DATABASE) as db:
        db.execute("create table if not exists notes (text text)")
        db.execute("insert into notes values (?)", (request.args["text"],))
    return index()


@app.get("/")
def index():
    return {
        "greeting": greetlib.greet("shipdeck"),
        "version": os.environ.get("SHIPDECK_VERSION"),
        "python": sys.executable,
        "virtual_env": os.environ.get("VIRTUAL_ENV"),
        "cwd": os.getcwd(),
        "rows": rows(),
    }


if __name__ == "__main__":
    app.run(port=PORT)
'''

UNITTEST = """\
import unittest

import greetlib


class GreetTest(unittest.TestCase):
    def test_greets(self):
        self.assertEqual(greetlib.greet("you"), "hello, you")

    def test_greets_shipdeck(self):
        self.assertIn("shipdeck", greetlib.greet("shipdeck"))
"""

PYTEST = """\
import greetlib


def test_greets(greeting):  # the fixture comes from pytest-greet, only in .venv
    assert greetlib.greet("you") == greeting


def test_three():
    assert len(greetlib.greet("")) == len("hello, ")
"""

PYPROJECT = """\
[tool.poetry]
name = "svc"
version = "0.1.0"
description = "a Poetry-style project"
authors = ["t <t@t>"]

[tool.poetry.dependencies]
python = "^3.11"
greetlib = "*"
{flask}
[tool.poetry.group.dev.dependencies]
pytest = "*"
pytest-greet = "*"
"""


def _wheel(dest: Path, name: str, files: dict[str, str], entry_points: str = "") -> Path:
    """A pure-Python wheel made by hand (no setuptools, no network)."""
    info = f"{name.replace('-', '_')}-0.1.dist-info"
    files = dict(files)
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n"
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
    files[f"{info}/WHEEL"] += "Tag: py3-none-any\n"
    if entry_points:
        files[f"{info}/entry_points.txt"] = entry_points
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = dest / f"{name.replace('-', '_')}-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


@functools.cache
def _flask_wheels() -> Path | None:
    """A folder with Flask and its dependencies as wheels, from pip's cache or PyPI once
    (kept for the next run); None when pip cannot get them (offline, no cache)."""
    folder = Path(tempfile.gettempdir()) / f"shipdeck-test-flask-{os.getuid()}"
    if sorted(folder.glob("flask-*.whl")):
        return folder
    partial = Path(tempfile.mkdtemp(prefix=folder.name + "-"))
    pip = [sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:"]
    try:
        done = subprocess.run(
            [*pip, "-d", str(partial), "flask>=3"], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0 or not sorted(partial.glob("flask-*.whl")):
        return None
    try:
        partial.rename(folder)  # whole or not at all: another run may be reading it
    except OSError:
        return partial  # another run got there first
    return folder


def _venv(repo: Path, wheels: list[Path], with_pytest: bool, flask: Path | None) -> Path:
    """``repo/.venv`` with ``wheels`` (and Flask, from ``flask``) installed by pip, with no
    index; pytest (and only what it needs) made visible from shipdeck's environment for
    the Poetry-style project."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", repo / ".venv"], check=True)
    python = repo / ".venv" / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    subprocess.run([*pip, "--no-index", "--no-deps", *map(str, wheels)], check=True)
    if flask is not None:
        subprocess.run([*pip, "--no-index", "--find-links", str(flask), "flask"], check=True)
    if with_pytest:
        import pytest as shipdecks_pytest

        site = Path(shipdecks_pytest.__file__).parent.parent
        shelf = repo / ".venv" / "pytest-shelf"
        shelf.mkdir()
        for entry in site.iterdir():
            if entry.name.split("-")[0].split(".")[0] in (
                "pytest", "_pytest", "py", "pluggy", "iniconfig", "packaging", "pygments",
            ):  # fmt: skip
                (shelf / entry.name).symlink_to(entry)
        venv_site = next((repo / ".venv" / "lib").glob("python3*/site-packages"))
        (venv_site / "pytest-shelf.pth").write_text(str(shelf) + "\n")
    return python


def _project(tmp_path: Path, kind: str) -> tuple[Path, Path, list[str]]:
    """The project (a git repository with its .venv), its service's file, and the lines
    ``shipdeck init`` printed for it."""
    repo = tmp_path / kind
    (repo / "svc").mkdir(parents=True)
    (repo / "svc" / "__init__.py").write_text("")
    (repo / "tests").mkdir()
    (repo / "tests" / "__init__.py").write_text("")
    wheels = tmp_path / "wheels"
    wheels.mkdir(exist_ok=True)
    greet = 'def greet(name):\n    return f"hello, {name}"\n'
    made = [_wheel(wheels, "greetlib", {"greetlib/__init__.py": greet})]
    port = free_port()  # the service's own default port: one nothing else uses now
    flask = _flask_wheels() if kind == "poetry" else None
    if flask is not None:
        service = repo / "svc" / "app.py"
        service.write_text(FLASK_SERVICE.replace("PORT", str(port)))
    else:
        service = repo / "svc" / "__main__.py"
        service.write_text(STDLIB_SERVICE.replace("default=PORT", f"default={port}"))
    if kind == "poetry":
        flask_dep = 'flask = "^3"\n' if flask is not None else ""
        (repo / "pyproject.toml").write_text(PYPROJECT.format(flask=flask_dep))
        (repo / "tests" / "test_svc.py").write_text(PYTEST)
        plugin = "import pytest\n\n\n@pytest.fixture\ndef greeting():\n    return 'hello, you'\n"
        entry = "[pytest11]\ngreet = pytest_greet\n"
        made.append(_wheel(wheels, "pytest-greet", {"pytest_greet.py": plugin}, entry))
    else:
        (repo / "tests" / "test_svc.py").write_text(UNITTEST)
    python = _venv(repo, made, with_pytest=kind == "poetry", flask=flask)
    (repo / ".gitignore").write_text(".venv/\n__pycache__/\ninstance/\ndata/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "svc")
    # shipdeck's interpreter lacks greetlib; the project's has it
    lacks = subprocess.run([sys.executable, "-c", "import greetlib"], capture_output=True)
    assert lacks.returncode != 0
    subprocess.run([python, "-c", "import greetlib"], check=True)
    inited = shipdeck("init", cwd=repo)
    print(f"shipdeck init ({kind}):\n{inited.stdout}{inited.stderr}")
    assert inited.returncode == 0, inited.stdout + inited.stderr
    print((repo / "shipdeck.yaml").read_text())
    return repo, service, inited.stdout.splitlines()


def _expected_init(kind: str, service: Path, port: int) -> list[str]:
    """The lines init prints about the runner, the service, its data and its health."""
    if kind == "poetry":
        runner = "test runner: pytest (pytest in pyproject.toml)"
    else:
        runner = "test runner: unittest (tests/test_svc.py)"
    if service.name == "app.py":
        return [
            runner,
            f"service: flask on port {port}"
            f" (Flask app svc.app:app in svc/app.py, port from its .run(port={port}))",
            "data: DATABASE={data_dir}/app.db (DATABASE read in svc/app.py): the"
            " environment's data directory, kept across deploys",
            "health: /health (svc/app.py)",
        ]
    return [
        runner,
        f"service: http.server on port {port}"
        " (http.server in svc/__main__.py, port from argparse --port)",
        "data: DATA_DIR={data_dir} (DATA_DIR read in svc/__main__.py): the"
        " environment's data directory, kept across deploys",
        "health: /health (svc/__main__.py)",
    ]


def _get(repo: Path, path: str = "/") -> dict[str, object]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{config_port(repo)}{path}", timeout=5) as response:
        assert response.status == 200
        data = json.loads(response.read().decode())
    assert isinstance(data, dict)
    return data


def _bare_shell(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m shipdeck ARGS`` from a shell with no venv: PATH is only the system's
    folders and VIRTUAL_ENV is unset (shipdeck itself is found through PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = "/usr/bin:/bin"
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "shipdeck", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _ship(repo: Path, service: Path, title: str, old: str, new: str) -> dict[str, object]:
    """One item from Plan to Deploy on staging, with a commit on its branch."""
    item_id = shipdeck("item", "add", title, "--kind", "feature", cwd=repo).stdout.strip()
    code = shipdeck("advance", item_id, "--to", "code", cwd=repo)
    assert code.returncode == 0, code.stdout + code.stderr
    assert old in service.read_text()
    service.write_text(service.read_text().replace(old, new))
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", title)
    went = shipdeck("advance", item_id, "--to", "deploy", "--env", "staging", cwd=repo)
    assert went.returncode == 0, went.stdout + went.stderr
    shown = json.loads(shipdeck("item", "show", item_id, "--json", cwd=repo).stdout)
    assert isinstance(shown, dict)
    return shown


@pytest.fixture(params=["unittest", "poetry"])
def project(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, Path, Path, list[str]]]:
    repo, service, said = _project(tmp_path, request.param)
    yield request.param, repo, service, said
    shipdeck("stop", "staging", cwd=repo)
    left = processes_under(tmp_path)
    for proc in left:
        proc.kill()
    assert not left, f"processes left behind: {[p.cmdline() for p in left]}"


def test_the_projects_interpreter_and_data_survive(
    project: tuple[str, Path, Path, list[str]],
) -> None:
    kind, project_dir, service, said = project
    port = config_port(project_dir)
    for line in _expected_init(kind, service, port):
        assert line in said, f"init did not say {line!r}: {said}"
    assert said[-2:] == ["wrote shipdeck.yaml", "wrote .shipdeck/.gitignore"], said
    _deploys(project_dir, service)


def _deploys(project: Path, service: Path) -> None:
    venv = project / ".venv"
    first = _ship(project, service, "First", '"rows": rows(),', '"rows": rows(), "n": 1,')
    tests = first["tests"]
    assert isinstance(tests, dict)
    assert tests["passed"] == 2 and tests["failed"] == 0  # read from the runner's summary
    live = _get(project)
    assert live["greeting"] == "hello, shipdeck"
    assert live["virtual_env"] == str(venv)
    assert str(live["python"]).startswith(str(venv))
    data_dir = project / ".shipdeck" / "data" / "staging"
    assert live["cwd"] == str(project / ".shipdeck" / "releases" / "0.1.0")  # the default
    assert _get(project, "/add?text=kept")["rows"] == ["kept"]
    assert (data_dir / "app.db").is_file()

    _ship(project, service, "Second", '"n": 1,', '"n": 2,')  # deploy 0.2.0
    assert _get(project)["version"] == "0.2.0"
    again = shipdeck("deploy", "staging", "--version", "0.1.0", cwd=project)  # deploy again
    assert again.returncode == 0, again.stdout + again.stderr
    assert _get(project)["rows"] == ["kept"]

    back = _bare_shell("rollback", "staging", cwd=project)
    assert back.returncode == 0, back.stdout + back.stderr
    live = _get(project)
    assert live["version"] == "0.2.0" and live["rows"] == ["kept"]
    assert live["virtual_env"] == str(venv) and live["greeting"] == "hello, shipdeck"

    restarted = _bare_shell("restart", "staging", cwd=project)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    status = json.loads(_bare_shell("status", "--json", cwd=project).stdout)
    staging = status["environments"]["staging"]
    assert staging["healthy"] is True, staging
    assert _get(project)["rows"] == ["kept"]
