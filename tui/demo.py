"""``shipdeck demo``: a real sample service repository, driven into shape by the engine.

Nothing on the demo board is staged by hand: items are added through the store
and the one in Code got there through the engine (a real branch with a real
commit ahead of main), so every state the user sees is one shipdeck reached.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from lifecycle.items import Kind
from tui.errors import UsageError
from tui.project import Project

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hello"

CONFIG = """\
# The shipdeck demo: a stdlib HTTP service deployed as a local process.
version: 1
project: hello
base_branch: main
branch: "{{kind}}/{{id}}-{{slug}}"
stages:
  build:
    - run: "{{python}} -m compileall -q app"
  test:
    - run: "{{python}} -m pytest -q -p no:cacheprovider --junitxml={junit} tests"
      junit: {junit}
  release:
    version: semver
    tag: "v{{version}}"
environments:
  staging:
    target: local
    run: "{{python}} -m app --port {{port}}"
    port: {port}
    health: {{url: "http://127.0.0.1:{{port}}/health", timeout: 20}}
    auto: true
    bake: 5
monitor:
  interval: 2
  probes:
    - {{name: staging, url: "http://127.0.0.1:{port}/health", slow_ms: 300}}
"""

PLAN_ITEMS = (
    ("Return the service version on /", Kind.FEATURE, "Users want to see which release answers."),
    ("Health check should report uptime in seconds", Kind.BUG, ""),
    ("Log requests as JSON lines", Kind.CHORE, "So the log pane can filter them."),
)
CODE_ITEM = ("Greet in French as well", Kind.FEATURE, "Bonjour!")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _git(root: Path, *args: str) -> None:
    identity = []
    if subprocess.run(["git", "config", "user.email"], cwd=root, capture_output=True).returncode:
        identity = ["-c", "user.name=shipdeck demo", "-c", "user.email=demo@shipdeck.invalid"]
    subprocess.run(["git", *identity, *args], cwd=root, check=True, capture_output=True)


def create(path: Path) -> Project:
    """Make the demo repository at ``path`` (which must not exist or be empty)."""
    if path.exists() and any(path.iterdir()):
        raise UsageError(f"{path} exists and is not empty (choose another PATH)")
    if not EXAMPLE.is_dir():
        raise UsageError(f"the demo service is missing from this install ({EXAMPLE})")
    shutil.copytree(EXAMPLE, path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    (path / "shipdeck.yaml").write_text(
        CONFIG.format(port=free_port(), junit=".shipdeck/reports/junit.xml")
    )
    (path / ".gitignore").write_text("__pycache__/\n*.pyc\n")
    _git(path, "init", "-q", "-b", "main")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "hello: a tiny HTTP service")

    project = Project(path.resolve())
    project.paths.ensure()
    from lifecycle import events as ev

    def add(title: str, kind: Kind, body: str) -> str:
        item = project.store.add(title, kind=kind, body=body)
        project.journal.append(
            ev.Event(ev.ITEM_CREATED, item.id, {"title": title, "kind": kind.value})
        )
        return item.id

    from lifecycle.stages import Stage
    from tui.wiring import build_engine

    code_id = add(*CODE_ITEM)
    for spec in PLAN_ITEMS:
        add(*spec)
    engine = build_engine(project)
    outcome = engine.advance(code_id, to=Stage.CODE)
    if not outcome.ok:
        raise UsageError(f"demo: could not create the branch: {outcome.message}")
    init = path / "app" / "__init__.py"
    init.write_text(
        init.read_text().replace(
            'GREETING = "hello from the shipdeck demo"',
            'GREETING = "hello (bonjour!) from the shipdeck demo"',
        )
    )
    _git(path, "commit", "-q", "-am", f"{code_id}: greet in French as well")
    return project
