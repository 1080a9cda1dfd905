"""Running the real ``shipdeck`` command in tests, and a few other shared pieces."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from shipdeck.cli.demo import free_port  # noqa: F401 - the tests' too: one home

ROOT = Path(__file__).resolve().parent.parent


def root_on_path(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with this checkout first on PYTHONPATH, and no empty entry: one would
    put each child's working directory on sys.path, which an installed shipdeck's do
    not have (it hid an editable install's bug from tests/integration/test_editable_install.py)."""
    env = dict(environ)
    rest = env.get("PYTHONPATH", "").split(os.pathsep)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), *rest) if p)
    return env


def shipdeck(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 240,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m shipdeck ARGS`` in ``cwd``; never raises on a non-zero exit."""
    full_env = root_on_path(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "shipdeck", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


def python_says(script: str) -> list[str]:
    """What ``python -c script`` prints, as words: a fresh interpreter (what it
    imports is what a new shipdeck process would), run from the repository."""
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()


def fast_first(cases: Sequence[Any], keep: int = 1) -> list[Any]:
    """``cases`` for ``parametrize``, all but the first ``keep`` marked slow: the fast lane
    (``pytest -m "not slow"``) runs the test on its first case, the whole suite on every
    case. A case of several arguments is a tuple."""
    slow = [
        pytest.param(*(case if isinstance(case, tuple) else (case,)), marks=pytest.mark.slow)
        for case in cases[keep:]
    ]
    return [*cases[:keep], *slow]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def git_repo(path: Path, branch: str = "main") -> Path:
    """A real repository at ``path`` with one commit (the board ref needs a repository)."""
    path.mkdir(parents=True, exist_ok=True)
    if not (path / ".git").exists():
        git(path, "init", "-q", "-b", branch)
        git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty",
            "-m", "first")  # fmt: skip
    return path


def initialised_repo(root: Path) -> Path:
    """A repository at ``root`` with one commit, made a shipdeck project by ``init``."""
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("hi\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    result = shipdeck("init", cwd=root)
    assert result.returncode == 0, result.stderr
    return root


def repo_with_item_in_code(root: Path, config: str) -> Path:
    """A repository at ``root`` with ``config`` as its shipdeck.yaml and SD-1 in Code,
    one commit on its branch: ready to advance."""
    git(root, "init", "-q", "-b", "main")
    (root / "shipdeck.yaml").write_text(config)
    (root / "a.txt").write_text("a\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    assert shipdeck("item", "add", "Work", cwd=root).returncode == 0
    assert shipdeck("advance", "SD-1", "--to", "code", cwd=root).returncode == 0
    (root / "a.txt").write_text("b\n")
    git(root, "commit", "-q", "-am", "work")
    return root


def board_store(path: Path, **kwargs: float):  # type: ignore[no-untyped-def]
    """The board of the repository at ``path``, made a repository if it is not one."""
    from shipdeck.backends.git_board import open_board

    return open_board(git_repo(path), **kwargs)


def python_service_config(project: str, test: str, module: str, port: int) -> str:
    """A shipdeck.yaml for a Python project: no build, ``test`` as its Test step, and a
    local staging that runs ``{python} -m MODULE --port {port}``, healthy on ``/``."""
    return (
        f"version: 1\nproject: {project}\nbase_branch: main\nstages:\n  build: []\n"
        f'  test:\n    - run: "{test}"\n'
        "environments:\n  staging:\n    target: local\n"
        f'    run: "{{python}} -m {module} --port {{port}}"\n'
        f"    port: {port}\n"
        '    health: {url: "http://127.0.0.1:{port}/", timeout: 20}\n'
        "    auto: true\n"
    )


def config_port(repo: Path) -> int:
    """The port in ``repo``'s shipdeck.yaml (the demo's and init's have one ``port:``)."""
    for line in (repo / "shipdeck.yaml").read_text().splitlines():
        if line.strip().startswith("port:"):
            return int(line.split(":")[1].split("#")[0])
    raise AssertionError(f"no port in {repo / 'shipdeck.yaml'}")


def served_version(repo: Path) -> str:
    """The version the demo service on ``repo``'s port says it is (``GET /``)."""
    import json
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{config_port(repo)}/", timeout=5) as response:
        return str(json.loads(response.read())["version"])


def processes_under(root: Path) -> list[Any]:
    """Live (not zombie) processes whose cwd is inside ``root``: what a test leaves behind."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cwd", "status"]):
        cwd = proc.info.get("cwd") or ""
        if cwd.startswith(str(root)) and proc.info.get("status") != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


class WebhookReceiver:
    """A webhook endpoint on loopback: every POST is answered ``status`` and kept, as
    (path, headers, parsed JSON) in ``received`` and as raw text in ``bodies``."""

    def __init__(self, status: int = 204, path: str = "/hooks/deploy") -> None:
        import json
        import queue
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.status = status
        self.received: queue.Queue[tuple[str, dict[str, str], Any]] = queue.Queue()
        self.bodies: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hook.bodies.append(raw.decode("utf-8", "replace"))
                hook.received.put((self.path, dict(self.headers), json.loads(raw)))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
