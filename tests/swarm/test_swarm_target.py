"""Issue 14's must-show against the three-node test swarm, from the CLI as a user runs it:
an item goes from Code to a service of 3 replicas (one task per node, each node's
host-mode port answering the new version); a release whose HEALTHCHECK fails is rolled
back by Swarm and reported as a rollback (exit 1, journal, card, webhook) while the
previous version answers on every node; scale, restart and rollback from the CLI."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import WebhookReceiver, git, shipdeck
from tests.swarm.lab import WEB_DOCKERFILE, ServiceScope, Swarm, get, web_context
from tests.swarm.projects import journal, staging
from tests.waiting import DEADLINE, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.swarm]

TOKEN = f"tok-{secrets.token_hex(8)}"  # the secret: never in any output, nor in the spec


def _config(project: str, swarm: Swarm, port: int, hook: str) -> str:
    environment = staging(
        swarm,
        port,
        3,
        "    update: {parallelism: 1, delay: 1, monitor: 4, failure_action: rollback}",
        "    secrets: [API_TOKEN]",
        "    bake: 0",
    )
    return f"""\
version: 1
project: {project}
stages:
  build:
    - docker_build: {{context: ., tag: "{project}:{{short_sha}}"}}
  release:
    push: "{swarm.registry}/{project}"
    remote: origin
{environment}notify:
  webhook: "{hook}"
"""


def _source(root: Path, version: str, *, healthy: bool = True) -> None:
    """The service's sources: busybox as the web image of the lab, answering ``version``."""
    scratch = root.parent / f"ctx-{version}-{secrets.token_hex(2)}"
    web_context(scratch, healthy=healthy)
    shutil.rmtree(root / "rootfs", ignore_errors=True)
    shutil.copytree(scratch / "rootfs", root / "rootfs", symlinks=True)
    (root / "Dockerfile").write_text(
        WEB_DOCKERFILE.replace("ARG VERSION=v1\nENV VERSION=$VERSION", f"ENV VERSION={version}")
    )
    (root / "rootfs" / "tmp" / ".keep").write_text("")  # git keeps no empty directory


@pytest.fixture()
def project(
    tmp_path: Path, swarm: Swarm, services: ServiceScope
) -> Iterator[tuple[Path, int, WebhookReceiver, dict[str, str]]]:
    name = f"{services.prefix}shop"
    port = swarm.free_port()
    hook = WebhookReceiver()
    root = tmp_path / "shop"
    root.mkdir()
    _source(root, "v1")
    (root / "shipdeck.yaml").write_text(_config(name, swarm, port, hook.url))
    git(root, "init", "-q", "-b", "master")  # not main: the base branch is configured
    with (root / "shipdeck.yaml").open("a") as f:
        f.write("base_branch: master\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "a busybox web service")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "master", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "master")
    env = {"DOCKER_HOST": swarm.host, "API_TOKEN": TOKEN, "NO_COLOR": "1"}
    try:
        yield root, port, hook, env
    finally:
        hook.close()
        swarm.remove_services(services.prefix)  # before its secrets, which it uses
        with contextlib.closing(swarm.client()) as client:
            for secret in client.secrets.list(filters={"label": f"shipdeck.project={name}"}):
                secret.remove()


def _item(root: Path, env: dict[str, str], title: str, version: str, healthy: bool = True) -> str:
    item_id = shipdeck("item", "add", title, cwd=root, env=env).stdout.strip()
    moved = shipdeck("advance", item_id, "--to", "code", cwd=root, env=env)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    _source(root, version, healthy=healthy)
    git(root, "add", "-A")  # as people do: nothing of shipdeck's may come along
    git(root, "commit", "-q", "-m", f"{item_id}: {title}")
    return item_id


def _answers(swarm: Swarm, port: int) -> list[str | None]:
    return [get(node.ip, port) for node in swarm.nodes]


def _every_node_says(swarm: Swarm, port: int, version: str) -> list[str | None]:
    return wait_until(
        lambda: (
            (a := _answers(swarm, port))
            and all(x and x.startswith(f"{version} from") for x in a)
            and a
        ),
        what=f"every node to answer {version}",
        timeout=60,
    )


def _nodes_in(lines: list[str], containing: str = " | ") -> set[str]:
    """The nodes named by the ``task@node | `` prefixes of the lines containing this."""
    return {line.split(" | ")[0].split("@")[-1] for line in lines if containing in line}


def _hooks(hook: WebhookReceiver) -> list[dict[str, Any]]:
    found = []
    while not hook.received.empty():
        found.append(hook.received.get_nowait()[2]["event"])
    return found


def _deploy(root: Path, env: dict[str, str], item: str) -> subprocess.CompletedProcess[str]:
    """``shipdeck advance ITEM --to deploy --env staging``, as a user runs it."""
    args = ("advance", item, "--to", "deploy", "--env", "staging")
    return shipdeck(*args, cwd=root, env=env, timeout=400)


def test_code_to_three_replicas_then_an_unhealthy_release_is_rolled_back_by_swarm(
    project: tuple[Path, int, WebhookReceiver, dict[str, str]], swarm: Swarm
) -> None:
    root, port, hook, env = project
    first = _item(root, env, "Serve v2", "v2")
    deployed = _deploy(root, env, first)
    out = deployed.stdout + deployed.stderr
    assert deployed.returncode == 0, out
    answers = _every_node_says(swarm, port, "v2")
    assert len(set(answers)) == 3  # three tasks, three hostnames: one task per node
    status = json.loads(shipdeck("status", "--json", cwd=root, env=env).stdout)
    staging = status["environments"]["staging"]
    assert (staging["replicas"], staging["replicas_running"], staging["healthy"]) == (3, 3, True)
    assert sorted(n["tasks"] for n in staging["nodes"]) == [1, 1, 1]
    assert all(n["state"] == "ready" for n in staging["nodes"])
    with contextlib.closing(swarm.client()) as client:
        service = client.services.list(filters={"label": "shipdeck.env=staging"})
        inspected = json.dumps([s.attrs for s in service])
    assert TOKEN not in inspected and "API_TOKEN_FILE=/run/secrets/API_TOKEN" in inspected
    assert TOKEN not in out
    _hooks(hook)

    broken = _item(root, env, "Serve v3 without health", "v3", healthy=False)
    failed = _deploy(root, env, broken)
    out = failed.stdout + failed.stderr
    assert failed.returncode == 1, out
    assert "unhealthy container" in out and "rolled back to 0.1.0" in out, out
    assert _every_node_says(swarm, port, "v2")  # the previous release answers everywhere
    rolled = journal(root, "rolled_back")
    assert rolled and rolled[-1]["from_version"] == "0.2.0" and rolled[-1]["to_version"] == "0.1.0"
    assert "unhealthy container" in rolled[-1]["reason"]
    card = json.loads(shipdeck("item", "show", broken, "--json", cwd=root, env=env).stdout)
    deploy = card["states"]["deploy"]
    assert deploy["state"] == "failed" and "rolled back to 0.1.0" in deploy["message"]
    assert "unhealthy container" in deploy["message"]
    sent = wait_until(
        lambda: [e for e in _hooks(hook) if e["type"] == "rolled_back"] or None,
        what="the rollback's webhook",
        timeout=DEADLINE,
    )
    assert sent[0]["to_version"] == "0.1.0"

    scaled = shipdeck("scale", "staging", "2", cwd=root, env=env, timeout=200)
    assert scaled.returncode == 0, scaled.stdout + scaled.stderr
    status = json.loads(shipdeck("status", "--json", cwd=root, env=env).stdout)["environments"]
    assert (status["staging"]["replicas"], status["staging"]["replicas_running"]) == (2, 2)
    assert sum(a is not None for a in _answers(swarm, port)) == 2
    assert shipdeck("scale", "staging", "3", cwd=root, env=env, timeout=200).returncode == 0
    _every_node_says(swarm, port, "v2")
    before = set(_answers(swarm, port))
    restarted = shipdeck("restart", "staging", cwd=root, env=env, timeout=300)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    after = _every_node_says(swarm, port, "v2")
    assert not before & set(after)  # every task was replaced: new hostnames everywhere


def test_rollback_from_the_cli_goes_back_to_the_previous_healthy_release(
    project: tuple[Path, int, WebhookReceiver, dict[str, str]], swarm: Swarm
) -> None:
    root, port, _hook, env = project
    for title, version in (("Serve v2", "v2"), ("Serve v3", "v3")):
        item = _item(root, env, title, version)
        done = _deploy(root, env, item)
        assert done.returncode == 0, done.stdout + done.stderr
    _every_node_says(swarm, port, "v3")
    back = shipdeck("rollback", "staging", cwd=root, env=env, timeout=300)
    assert back.returncode == 0, back.stdout + back.stderr
    assert "rolled back from 0.2.0 to 0.1.0" in back.stdout
    _every_node_says(swarm, port, "v2")
    status = json.loads(shipdeck("status", "--json", cwd=root, env=env).stdout)["environments"]
    assert status["staging"]["version"] == "0.1.0"


def test_logs_follow_every_node_across_a_rolling_update(
    project: tuple[Path, int, WebhookReceiver, dict[str, str]], swarm: Swarm
) -> None:
    root, _port, _hook, env = project
    item = _item(root, env, "Serve v2", "v2")
    done = _deploy(root, env, item)
    assert done.returncode == 0, done.stdout + done.stderr
    full = {**os.environ, **env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    follow = subprocess.Popen(
        [sys.executable, "-m", "shipdeck", "logs", "--env", "staging", "--follow", "--tail", "2"],
        cwd=root,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        for line in follow.stdout or ():
            lines.append(line)  # one at a time: the test reads them as they come

    try:
        threading.Thread(target=read, daemon=True).start()
        wait_until(
            lambda: _nodes_in(lines) >= {"swm-n1", "swm-n2", "swm-n3"},
            what="lines from all three nodes",
            timeout=30,
        )
        second = _item(root, env, "Serve v3", "v3")
        update = _deploy(root, env, second)
        assert update.returncode == 0, update.stdout + update.stderr
        wait_until(
            lambda: _nodes_in(lines, "version=v3") >= {"swm-n1", "swm-n2", "swm-n3"},
            what="the new tasks' lines from all three nodes, still following",
            timeout=60,
        )
        assert follow.poll() is None  # still following
    finally:
        follow.terminate()
        follow.wait(timeout=30)
    assert TOKEN not in "".join(lines)
