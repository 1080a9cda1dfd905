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

from shipdeck.lifecycle.items import Kind
from shipdeck.project.errors import UsageError
from shipdeck.project.repo import Project

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
{docker_step}  test:
    - run: "{{python}} -m unittest discover -s tests -t ."   # counts: read from its summary
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
{docker_env}monitor:
  interval: 2
  probes:
    - {{name: staging, url: "http://127.0.0.1:{port}/health", slow_ms: 300}}
"""

# Added when a Docker engine answers: the same service built into an image (Build)
# and run as a container. Without push: the release tags the image hello:VERSION on
# that engine, which is what this environment runs.
DOCKER_STEP = """\
    - docker_build:
        tag: "hello:{{short_sha}}"
        buildargs: {{BASE: "{base}"}}
"""
DOCKER_ENV = """\
  container:
    target: docker
    ports: {{"8080/tcp": {port}}}
    health: {{url: "http://127.0.0.1:{port}/health", timeout: 30}}
    bake: 5
"""
DOCKERFILE = """\
# The demo service in a container. BASE is any image with python3 on its PATH
# (shipdeck demo --docker-base IMAGE); the app needs nothing but the stdlib.
ARG BASE=python:3.12-slim
FROM ${BASE}
WORKDIR /srv
COPY app/ /srv/app/
ENV PYTHONUNBUFFERED=1
EXPOSE 8080
CMD ["python3", "-m", "app", "--host", "0.0.0.0", "--port", "8080"]
"""
DEFAULT_BASE = "python:3.12-slim"

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


def docker_base_ready(base: str) -> tuple[str | None, str]:
    """(engine address, "") when DOCKER_HOST's engine answers and has ``base`` (pulled
    if need be), else (None, why not): the demo's Build must work wherever it is made."""
    from shipdeck.backends.docker.engine import api_error, connect, engine_address
    from shipdeck.lifecycle.ports import TargetError

    try:
        client = connect(timeout=5)
    except TargetError as exc:
        return None, str(exc)
    try:
        import docker.errors
        import docker.utils

        try:
            client.images.get(base)
        except docker.errors.ImageNotFound:
            repo, tag = docker.utils.parse_repository_tag(base)
            try:
                client.images.pull(repo, tag=tag or "latest")
            except docker.errors.APIError as exc:
                why = api_error(exc)[:160]
                return None, f"base image {base} is not on the engine and cannot be pulled ({why})"
        return engine_address(), ""
    finally:
        client.close()


def create(path: Path, *, docker_base: str | None = None) -> Project:
    """Make the demo repository at ``path`` (which must not exist or be empty).

    With ``docker_base`` (an image with python3), a Docker environment is added.
    """
    if path.exists() and any(path.iterdir()):
        raise UsageError(f"{path} exists and is not empty (choose another PATH)")
    if not EXAMPLE.is_dir():
        raise UsageError(f"the demo service is missing from this install ({EXAMPLE})")
    shutil.copytree(EXAMPLE, path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    docker_step = docker_env = ""
    if docker_base:
        docker_step = DOCKER_STEP.format(base=docker_base)
        docker_env = DOCKER_ENV.format(port=free_port())
        (path / "Dockerfile").write_text(DOCKERFILE)
    (path / "shipdeck.yaml").write_text(
        CONFIG.format(
            port=free_port(),
            docker_step=docker_step,
            docker_env=docker_env,
        )
    )
    (path / ".gitignore").write_text("__pycache__/\n*.pyc\n")
    _git(path, "init", "-q", "-b", "main")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "hello: a tiny HTTP service")

    project = Project(path.resolve())
    project.paths.ensure()
    from shipdeck.lifecycle import events as ev

    def add(title: str, kind: Kind, body: str) -> str:
        item = project.store.add(title, kind=kind, body=body)
        project.journal.append(
            ev.Event(ev.ITEM_CREATED, item.id, {"title": title, "kind": kind.value})
        )
        return item.id

    from shipdeck.lifecycle.stages import Stage
    from shipdeck.project.wiring import build_engine

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
