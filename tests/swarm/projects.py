"""A project whose ``staging`` environment is a swarm service on the test swarm: the
config every swarm test starts from, committed, and its first release deployed."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipdeck.lifecycle.ports import CancelToken, Release
from shipdeck.project.repo import Project
from shipdeck.project.wiring import make_target
from tests.helpers import git
from tests.swarm.lab import Swarm


def staging(swarm: Swarm, port: int, replicas: int, *more: str) -> str:
    """``environments: staging:`` on the swarm, host-mode ``port``, healthy at /health;
    ``more`` are further lines of that environment (indented as they are given)."""
    lines = [
        "environments:",
        "  staging:",
        "    target: swarm",
        f'    docker_host: "{swarm.host}"',
        f"    replicas: {replicas}",
        "    publish_mode: host",
        f'    ports: {{"8080/tcp": {port}}}',
        f'    health: {{url: "http://127.0.0.1:{port}/health", timeout: 30}}',
        *more,
    ]
    return "\n".join(lines) + "\n"


def committed(root: Path, config: str, *, branch: str = "main") -> Project:
    """``root`` as a git repository holding ``config`` as shipdeck.yaml, opened."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "shipdeck.yaml").write_text(config)
    git(root, "init", "-q", "-b", branch)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "a swarm service")
    return Project.discover(root)


def deploy_first(
    project: Project, swarm: Swarm, name: str, cgi: Mapping[str, str] | None = None
) -> None:
    """Push the lab's web image (v1) and deploy it to staging as 1.0.0."""
    image = swarm.push_web(f"{name}-{secrets.token_hex(3)}", version="v1", cgi=cgi)
    target = make_target(project, "staging")
    result = target.deploy(Release("1.0.0", "0" * 40, "v1.0.0", image=image), print, CancelToken())
    assert result.ok, result.message


def journal(root: Path, kind: str | None = None) -> list[dict[str, Any]]:
    """The project's journal events (of type ``kind``), oldest first; none before the first."""
    path = root / ".shipdeck" / "journal.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    events = [json.loads(line) for line in lines if line.strip()]
    return [e for e in events if kind is None or e["type"] == kind]
