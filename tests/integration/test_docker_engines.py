"""Engines where users have them: a docker context (``docker context use``, with
DOCKER_HOST unset) and Podman's Docker-compatible API. On each: build, deploy,
a second deploy, a redeploy of the same version, restart, rollback, logs and stats;
a broken release leaves the old one serving.

The context is made by the docker CLI itself under a DOCKER_CONFIG of the test's
own, pointing at the dev engine (DOCKER_HOST). Podman is SHIPDECK_PODMAN_HOST, or
a service the ``podman_host`` fixture starts with scripts/podman-up.sh.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker_images as di
import pytest

from shipdeck.backends.docker.engine import connect, is_podman
from shipdeck.backends.docker.images import DockerImages
from shipdeck.backends.docker.target import DockerTarget
from shipdeck.lifecycle.ports import CancelToken, Line, Release
from tests.conftest import PODMAN_WHY
from tests.waiting import wait_until

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PROJECT = "sdengines"


class Sink:
    def __init__(self) -> None:
        self.lines: list[Line] = []

    def __call__(self, batch: Any) -> None:
        self.lines.extend(batch)

    def text(self) -> str:
        return "\n".join(t for _, t in self.lines)


def release(version: str, image: str) -> Release:
    return Release(version=version, sha="0" * 40, tag=f"v{version}", image=image)


def build_images(host: str | None, base: Path) -> dict[str, str]:
    """v1, v2 and a broken httpd built through shipdeck's own builder on ``host``."""
    builder = DockerImages(host)
    tags = {}
    for name, context in (
        ("v1", di.httpd_context(base / "v1", "v1")),
        ("v2", di.httpd_context(base / "v2", "v2")),
        ("broken", di.httpd_context(base / "broken", "broken", broken=True)),
    ):
        tag = f"shipdeck-test/engines:{name}-{di.RUN_ID}"
        sink = Sink()
        built = builder.build(
            str(context), tags=[tag], labels=di.LABELS, sink=sink, cancel=CancelToken()
        )
        assert built.id, sink.text()
        tags[name] = tag
    return tags


def the_whole_loop(target: DockerTarget, images: dict[str, str]) -> None:
    """deploy, deploy again, redeploy, a broken release, restart, rollback, logs, stats."""

    def deploy(version: str, image: str) -> Any:
        sink = Sink()
        result = target.deploy(release(version, image), sink, CancelToken())
        return result, sink.text()

    port = target.port  # type: ignore[attr-defined]
    result, log = deploy("1.0.0", images["v1"])
    assert result.ok, log
    assert di.served(port) == "v1"
    result, log = deploy("1.1.0", images["v2"])  # the second deploy: up, the new release
    assert result.ok, log
    assert di.served(port) == "v2"
    status = target.status()
    assert (status.state, status.version, status.healthy) == ("running", "1.1.0", True)
    result, log = deploy("1.1.0", images["v2"])  # the same version again
    assert result.ok, log
    assert di.served(port) == "v2"

    result, log = deploy("2.0.0", images["broken"])
    assert not result.ok and result.rolled_back_to == "1.1.0", log
    never_down = di.served(port)  # the old release serves again
    assert never_down == "v2", di.why_not_served(
        target.client(), target, port, f"{result.message}\n{log}"
    )
    assert target.status().state == "running"

    sink = Sink()
    result = target.restart(sink)
    assert result.ok, sink.text()
    assert di.served(port) == "v2"

    sink = Sink()
    result = target.rollback(sink, CancelToken())
    assert result.ok and result.version == "1.0.0", sink.text()
    assert di.served(port) == "v1"

    got: list[str] = []
    for batch in target.logs(follow=False, tail=50, cancel=CancelToken()):
        got.extend(t for _, t in batch)
    assert any("response:200" in t for t in got), got  # httpd -v: one per request

    samples = wait_until(target.stats, what="a stats sample", interval=0.5)
    assert samples[0].memory > 0, samples


def httpd_target(name: str, lock_dir: Path, host: str | None) -> DockerTarget:
    target: DockerTarget = di.httpd_target(name, PROJECT, lock_dir, host=host, health_timeout=20)
    return target


# --- a docker context --------------------------------------------------------------


@pytest.fixture
def ci_context(client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A context 'ci' for the dev engine, made and selected by the docker CLI in a
    DOCKER_CONFIG of the test's own; DOCKER_HOST unset while the test runs."""
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        di.unavailable("the docker CLI is not installed (it makes the context)")
    engine = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    config = tmp_path / "docker-config"
    env = {**os.environ, "DOCKER_CONFIG": str(config)}
    env.pop("DOCKER_HOST", None)
    for args in (
        ["context", "create", "ci", "--docker", f"host={engine}"],
        ["context", "use", "ci"],
    ):
        subprocess.run([docker_cli, *args], env=env, check=True, capture_output=True, timeout=30)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    yield engine


def test_a_docker_context_is_the_engine_when_docker_host_is_unset(
    ci_context: str, client: Any, tmp_path: Path
) -> None:
    own = connect()
    assert own.api.shipdeck_where == f"of context 'ci' at {ci_context}"
    assert own.version()["ApiVersion"]
    images = build_images(None, tmp_path / "images")
    target = httpd_target("c" + secrets.token_hex(3), tmp_path, None)
    assert target.host == ci_context
    try:
        the_whole_loop(target, images)
    finally:
        di.remove_environment(client, target)


def test_docker_context_names_the_context_it_cannot_reach(
    ci_context: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docker_cli = shutil.which("docker")
    assert docker_cli is not None
    gone = f"unix://{tmp_path}/gone.sock"
    subprocess.run(
        [docker_cli, "context", "create", "gone", "--docker", f"host={gone}"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    monkeypatch.setenv("DOCKER_CONTEXT", "gone")  # DOCKER_CONTEXT wins over `context use`
    target = DockerTarget("prod", project=PROJECT)
    status = target.status()
    assert status.state == "unreachable"
    assert status.detail["error"] == (
        f"cannot reach the Docker engine of context 'gone' at {gone}: no such socket"
    )


# --- podman ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def podman(podman_host: str | None) -> Iterator[Any]:
    if podman_host is None:
        di.unavailable(f"no podman service: {'; '.join(PODMAN_WHY) or '?'}")
    if di.busybox_missing():
        di.unavailable(str(di.busybox_missing()))
    client = connect(podman_host)
    assert is_podman(client)
    yield client
    di.cleanup(client)


def test_podman_builds_deploys_operates_and_never_leaves_an_environment_down(
    podman: Any, podman_host: str, tmp_path: Path
) -> None:
    images = build_images(podman_host, tmp_path / "images")
    target = httpd_target("p" + secrets.token_hex(3), tmp_path, podman_host)
    try:
        the_whole_loop(target, images)
        # podman has no update endpoint: containers get the policy when they are made
        current = podman.containers.get(f"{PROJECT}-{target.name}-1.0.0")
        assert current.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    finally:
        di.remove_environment(podman, target)
