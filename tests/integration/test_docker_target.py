"""The docker deploy target against a real engine: deploy, rollback, operate, stats.

The service is busybox ``httpd`` in a scratch image; ``/version`` says which
release answers, so an HTTP GET proves which container really serves.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker_images as di
import httpx
import pytest

from shipdeck.backends.docker.target import DockerTarget
from shipdeck.lifecycle.ports import CancelToken, Line, Release, StatsSource, Stream, TargetError
from tests.waiting import returns, wait_until

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PROJECT = "sdtest"


class Sink:
    def __init__(self) -> None:
        self.lines: list[Line] = []

    def __call__(self, batch: Any) -> None:
        self.lines.extend(batch)

    def text(self) -> str:
        return "\n".join(t for _, t in self.lines)


@pytest.fixture(scope="module")
def images(client: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("images")
    tags = {
        "v1": "shipdeck-test/httpd:v1",
        "v2": "shipdeck-test/httpd:v2",
        "broken": "shipdeck-test/httpd:broken",
    }
    di.build(client, di.httpd_context(base / "v1", "v1"), tags["v1"])
    di.build(client, di.httpd_context(base / "v2", "v2"), tags["v2"])
    di.build(client, di.httpd_context(base / "broken", "broken", broken=True), tags["broken"])
    return tags


@pytest.fixture
def target(client: Any, tmp_path: Path) -> Iterator[DockerTarget]:
    env = "e" + secrets.token_hex(3)
    t: DockerTarget = di.httpd_target(
        env, PROJECT, tmp_path, env={"GREETING": "hi"}, secrets={"API_TOKEN": "s3cr3t-value"}
    )
    yield t
    t.close()
    for c in client.containers.list(all=True, filters={"label": f"shipdeck.env={env}"}):
        c.remove(force=True)


def version_served(target: DockerTarget) -> str | None:
    try:
        r = httpx.get(f"http://127.0.0.1:{target.port}/version", timeout=2)  # type: ignore[attr-defined]
    except httpx.HTTPError:
        return None
    return r.text.strip()


def release(version: str, image: str) -> Release:
    return Release(version=version, sha="0" * 40, tag=f"v{version}", image=image)


def test_deploy_then_a_broken_release_rolls_back(
    target: DockerTarget, images: dict[str, str], client: Any
) -> None:
    sink = Sink()
    result = target.deploy(release("1.0.0", images["v1"]), sink, CancelToken())
    assert result.ok, sink.text()
    assert version_served(target) == "v1"
    status = target.status()
    assert (status.state, status.version, status.healthy) == ("running", "1.0.0", True)
    assert status.restarts == 0 and status.started_at is not None
    container = client.containers.get(f"{PROJECT}-{target.name}-1.0.0")
    assert container.labels["shipdeck.managed"] == "true"
    assert container.labels["shipdeck.project"] == PROJECT
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert "API_TOKEN=s3cr3t-value" in container.attrs["Config"]["Env"]
    assert "s3cr3t-value" not in sink.text()

    sink = Sink()
    result = target.deploy(release("2.0.0", images["broken"]), sink, CancelToken())
    assert not result.ok
    assert result.rolled_back_to == "1.0.0"
    assert "exited with code 1" in result.message
    assert version_served(target) == "v1"
    names = [c.name for c in target.containers()]
    assert names == [f"{PROJECT}-{target.name}-1.0.0"]  # no 2.0.0 container is left
    assert target.status().version == "1.0.0"


def test_upgrade_then_rollback_and_operate(target: DockerTarget, images: dict[str, str]) -> None:
    assert target.deploy(release("1.0.0", images["v1"]), Sink(), CancelToken()).ok
    assert target.deploy(release("1.1.0", images["v2"]), Sink(), CancelToken()).ok
    assert version_served(target) == "v2"
    kept = target.containers()
    assert [c.labels["shipdeck.version"] for c in kept] == ["1.1.0", "1.0.0"]
    assert kept[1].attrs["HostConfig"]["RestartPolicy"]["Name"] == "no"  # stays down

    sink = Sink()
    result = target.rollback(sink, CancelToken())
    assert result.ok and result.version == "1.0.0", sink.text()
    assert version_served(target) == "v1"

    result = target.restart(Sink())
    assert result.ok
    assert version_served(target) == "v1"

    target.stop(Sink())
    assert target.status().state == "stopped"
    assert version_served(target) is None
    with pytest.raises(TargetError, match="swarm"):
        target.scale(3, Sink())


def test_redeploying_the_same_version_replaces_it(
    target: DockerTarget, images: dict[str, str]
) -> None:
    assert target.deploy(release("1.0.0", images["v1"]), Sink(), CancelToken()).ok
    first = target.containers()[0].id
    assert target.deploy(release("1.0.0", images["v1"]), Sink(), CancelToken()).ok
    kept = target.containers()
    assert kept[0].id != first and kept[0].attrs["State"]["Running"]
    assert version_served(target) == "v1"


def test_a_failed_redeploy_of_the_same_version_restores_the_old_one(
    target: DockerTarget, images: dict[str, str]
) -> None:
    assert target.deploy(release("1.0.0", images["v1"]), Sink(), CancelToken()).ok
    first = target.containers()[0].id
    result = target.deploy(release("1.0.0", images["broken"]), Sink(), CancelToken())
    assert not result.ok and result.rolled_back_to == "1.0.0"
    kept = target.containers()
    assert [(c.id, c.name) for c in kept] == [(first, f"{PROJECT}-{target.name}-1.0.0")]
    assert version_served(target) == "v1"


def test_a_port_in_use_is_a_clear_failure(
    target: DockerTarget, images: dict[str, str], client: Any
) -> None:
    blocker = client.containers.run(
        images["v1"],
        detach=True,
        labels=di.LABELS,
        ports={f"{di.HTTPD_PORT}/tcp": ("127.0.0.1", target.port)},  # type: ignore[attr-defined]
    )
    try:
        result = target.deploy(release("1.0.0", images["v1"]), Sink(), CancelToken())
        assert not result.ok
        port = target.port  # type: ignore[attr-defined]
        assert result.message.endswith(f"port 127.0.0.1:{port} is already in use on the engine")
        assert target.containers() == []
    finally:
        blocker.remove(force=True)


def test_a_missing_image_is_a_clear_error(target: DockerTarget) -> None:
    with pytest.raises(TargetError, match="not on the engine"):
        target.deploy(release("9.9.9", "shipdeck-test/nothing:here"), Sink(), CancelToken())


def test_stats_sample_has_cpu_and_memory(
    target: DockerTarget, images: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipdeck.backends.docker import stats

    opened: list[str] = []
    real_open = stats.open_stream

    def open_stream(api: Any, path: str, cid: str, *args: Any) -> Any:
        opened.append(cid)
        return real_open(api, path, cid, *args)

    monkeypatch.setattr(stats, "open_stream", open_stream)
    assert isinstance(target, StatsSource)
    assert target.stats() == []
    assert target.deploy(release("1.0.0", images["v1"]), Sink(), CancelToken()).ok
    samples = target.stats()
    assert len(samples) == 1
    sample = samples[0]
    assert sample.cpu is not None and sample.cpu >= 0
    assert sample.memory > 0 and sample.memory_limit > 0
    assert sample.pids is not None and sample.pids >= 1
    assert sample.to_dict()["name"] == f"{PROJECT}-{target.name}-1.0.0"
    assert len(opened) == 1
    # The reader runs in the background: a second sample is its latest, no new stream
    # (a one-shot stats call makes the daemon sample twice, a second apart).
    assert [s.name for s in target.stats()] == [sample.name]
    assert opened == [sample.id]


def test_an_unreachable_engine_is_one_line_naming_it(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/missing.sock"
    target = DockerTarget("prod", project=PROJECT, host=host)
    with pytest.raises(TargetError) as err:
        target.deploy(release("1.0.0", "x:y"), Sink(), CancelToken())
    message = str(err.value)
    assert "\n" not in message
    assert host in message and "no such socket" in message
    status = target.status()
    assert status.state == "unreachable" and host in status.detail["error"]


def test_logs_follow_the_environment_across_a_deploy(
    target: DockerTarget, images: dict[str, str]
) -> None:
    assert target.deploy(release("1.0.0", images["v1"]), Sink(), CancelToken()).ok
    url = f"http://127.0.0.1:{target.port}/version"  # type: ignore[attr-defined]
    httpx.get(url, timeout=2)

    def backlog() -> list[Line]:
        batches = target.logs(follow=False, tail=None, cancel=CancelToken())
        return [line for batch in batches for line in batch]

    # httpd writes its access line after the response: give it a moment under load.
    wait_until(
        lambda: any("response:200" in t for _, t in backlog()), what="the access line", interval=0.1
    )
    lines = backlog()
    assert any(s is Stream.STDERR and "response:200" in t for s, t in lines), lines

    cancel = CancelToken()
    seen: list[Line] = []

    def pump() -> None:
        for batch in target.logs(follow=True, tail=0, cancel=cancel):
            seen.extend(batch)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        assert target.deploy(release("1.1.0", images["v2"]), Sink(), CancelToken()).ok
        marker = f"--- reattached to {PROJECT}-{target.name}-1.1.0"

        def reattached() -> bool:
            httpx.get(url, timeout=2)
            return any(t.startswith(marker) for _, t in seen)

        wait_until(reattached, what=lambda: f"{marker} in {seen}", interval=0.2)
    finally:
        cancel.cancel()
        thread.join(5)
    assert not thread.is_alive()


def test_the_images_healthcheck_decides_without_a_url(
    client: Any, target: DockerTarget, tmp_path: Path
) -> None:
    probe = ["/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/health"]
    good = di.make_context(
        tmp_path / "good",
        cmd=["httpd", "-f", "-p", "8000", "-h", "/www"],
        files={"www/health": "ok\n"},
        healthcheck=probe,
    )
    bad = di.make_context(
        tmp_path / "bad", cmd=["httpd", "-f", "-p", "8000", "-h", "/www"], healthcheck=probe
    )
    di.build(client, good, "shipdeck-test/checked:good")
    di.build(client, bad, "shipdeck-test/checked:bad")
    target.health_url = None
    sink = Sink()
    assert target.deploy(release("1.0.0", "shipdeck-test/checked:good"), sink, CancelToken()).ok
    assert "waiting for the image's HEALTHCHECK" in sink.text()
    status = target.status()
    assert status.healthy is True and status.detail["health"] == "healthy"

    result = target.deploy(release("2.0.0", "shipdeck-test/checked:bad"), Sink(), CancelToken())
    assert not result.ok and result.rolled_back_to == "1.0.0"
    assert "unhealthy by its HEALTHCHECK" in result.message
    assert target.status().version == "1.0.0"


def test_a_cancelled_deploy_puts_the_previous_release_back(
    target: DockerTarget, images: dict[str, str]
) -> None:
    assert target.deploy(release("1.0.0", images["v1"]), Sink(), CancelToken()).ok
    target.health_url = target.health_url.replace("/health", "/missing")  # type: ignore[union-attr]
    # The new release never gets healthy; its message says the cancel, not the health
    # timeout, ended it. The timeout stays short: putting 1.0.0 back waits on the same
    # (missing) health URL, and that wait is not cut short by the cancel.
    target.health_timeout = 3
    cancel = CancelToken()
    threading.Timer(1.0, cancel.cancel).start()
    result = returns(lambda: target.deploy(release("2.0.0", images["v2"]), Sink(), cancel))
    assert not result.ok and result.rolled_back_to == "1.0.0"
    assert result.message.startswith("2.0.0: deploy cancelled")
    assert version_served(target) == "v1"
    assert [c.labels["shipdeck.version"] for c in target.containers()] == ["1.0.0"]


def test_a_swarm_environment_on_an_engine_that_is_no_manager_says_so(client: Any) -> None:
    """target: swarm pointed at a plain engine: one line naming it, not a traceback."""
    import os

    from shipdeck.backends.swarm.spec import ServiceSettings
    from shipdeck.backends.swarm.target import SwarmTarget

    host = os.environ.get("DOCKER_HOST")
    target = SwarmTarget("staging", ServiceSettings(project="noswarm", env="staging"), host=host)
    release = Release("1.0.0", "0" * 40, "v1.0.0", image="x:1")
    with pytest.raises(TargetError) as info:
        target.deploy(release, Sink(), CancelToken())
    assert "is not a swarm manager (swarm: inactive)" in str(info.value)
    assert "\n" not in str(info.value)
    status = target.status()
    assert status.state == "unreachable" and "swarm manager" in status.detail["error"]
