"""Image builds, pushes to the local registry, and one-off runs, against a real engine."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker_images as di
import httpx
import pytest

from shipdeck.backends.docker.engine import connect
from shipdeck.backends.docker.images import DockerImages
from shipdeck.lifecycle.ports import (
    CancelToken,
    ContainerRunner,
    ImageBuilder,
    Line,
    Stream,
    TargetError,
)
from tests.waiting import returns

pytestmark = [pytest.mark.docker, pytest.mark.slow]


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[Line]] = []

    def __call__(self, batch: Any) -> None:
        self.batches.append(list(batch))

    @property
    def lines(self) -> list[Line]:
        return [line for batch in self.batches for line in batch]

    def of(self, stream: Stream) -> list[str]:
        return [t for s, t in self.lines if s is stream]


@pytest.fixture(scope="module")
def images(client: Any) -> DockerImages:
    return DockerImages(client=client)


def test_the_ports_are_implemented(images: DockerImages) -> None:
    builder: ImageBuilder = images
    runner: ContainerRunner = images
    assert builder and runner


def test_build_streams_steps_and_returns_the_id(images: DockerImages, tmp_path: Path) -> None:
    context = di.make_context(
        tmp_path,
        body='ARG GREETING=none\nRUN echo "greeting is $GREETING"\nFROM scratch AS unused',
        cmd=["true"],
    )
    # "FROM scratch AS unused" last would make it the final stage: target the first one
    text = (
        (context / "Dockerfile").read_text().replace("FROM scratch\n", "FROM scratch AS app\n", 1)
    )
    (context / "Dockerfile").write_text(text)
    sink = Sink()
    built = images.build(
        str(context),
        tags=["shipdeck-test/built:1", "shipdeck-test/built:latest"],
        buildargs={"GREETING": "hello"},
        target="app",
        labels=di.LABELS,
        sink=sink,
        cancel=CancelToken(),
    )
    assert built.id.startswith("sha256:") and built.size and built.size > 100_000
    assert built.tags == ("shipdeck-test/built:1", "shipdeck-test/built:latest")
    headers = sink.of(Stream.INFO)
    assert any(h.startswith("Step 1/") and "FROM scratch" in h for h in headers)
    assert "greeting is hello" in sink.of(Stream.STDOUT)
    assert len(sink.batches) > 3  # streamed as it came, not in one piece at the end
    tags = images.client().images.get(built.id).tags
    assert {"shipdeck-test/built:1", "shipdeck-test/built:latest"} <= set(tags)


def test_a_failing_run_names_the_step(images: DockerImages, tmp_path: Path) -> None:
    context = di.make_context(
        tmp_path, body='RUN echo "about to fail" && echo "oh no" >&2 && exit 3', cmd=["true"]
    )
    sink = Sink()
    with pytest.raises(TargetError) as err:
        images.build(
            str(context),
            tags=["shipdeck-test/failing:1"],
            labels=di.LABELS,
            sink=sink,
            cancel=CancelToken(),
        )
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith('image build failed at step 4/8 (RUN echo "about to fail" &&')
    assert message.endswith("returned a non-zero code: 3")
    assert sink.of(Stream.STDOUT) == ["about to fail"]
    assert sink.of(Stream.STDERR)[0] == "oh no"  # the step's stderr, told apart by its colour
    assert "non-zero code: 3" in sink.of(Stream.STDERR)[-1]


def test_a_missing_dockerfile_is_a_clear_error(images: DockerImages, tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="image build failed"):
        images.build(str(tmp_path), sink=Sink(), cancel=CancelToken())


def test_push_to_the_registry(images: DockerImages, client: Any, tmp_path: Path) -> None:
    registry = di.registry()
    try:
        httpx.get(f"http://{registry}/v2/", timeout=2)
    except httpx.HTTPError:
        di.unavailable(f"no registry at {registry} (scripts/docker-up.sh starts one)")
    tag = di.build(client, di.httpd_context(tmp_path, "v1"), "shipdeck-test/pushed:v1")
    repo = f"{registry}/shipdeck-test/pushed"  # one repository; a new tag each run
    version = f"1.0.{secrets.randbelow(10**6)}"
    sink = Sink()
    pushed = images.push(tag, f"{repo}:{version}", sink=sink, cancel=CancelToken())
    assert pushed.reference == f"{repo}:{version}"
    assert pushed.digest.startswith("sha256:")
    assert "shipdeck-test/pushed" in di.catalog(registry)
    tags = httpx.get(f"http://{registry}/v2/shipdeck-test/pushed/tags/list", timeout=5).json()
    assert version in tags["tags"]
    info = sink.of(Stream.INFO)
    assert any("layers" in t for t in info)
    assert info[-1] == f"pushed {repo}:{version} as {pushed.digest}"
    assert len(sink.lines) < 15  # progress is summarised, not one line per event
    client.images.remove(f"{repo}:{version}")


def test_a_push_to_a_missing_registry_says_why(
    images: DockerImages, client: Any, tmp_path: Path
) -> None:
    tag = di.build(client, di.httpd_context(tmp_path, "v1"), "shipdeck-test/pushed:v1")
    dead = f"127.0.0.1:{di.free_port()}/shipdeck-test/nowhere:1"
    with pytest.raises(TargetError) as err:
        images.push(tag, dead, sink=Sink(), cancel=CancelToken())
    assert "refused" in str(err.value) and "connection refused" in str(err.value)
    client.images.remove(dead)


def test_run_once_streams_and_removes(images: DockerImages, client: Any, tmp_path: Path) -> None:
    tag = di.build(client, di.make_context(tmp_path, cmd=["true"]), "shipdeck-test/once:1")
    sink = Sink()
    script = 'echo "hello $WHO"; echo "to err" >&2; exit 4'
    result = images.run_once(
        tag, ["sh", "-c", script], env={"WHO": "ci"}, sink=sink, cancel=CancelToken()
    )
    assert result.exit_code == 4 and not result.ok
    assert sink.of(Stream.STDOUT) == ["hello ci"] and sink.of(Stream.STDERR) == ["to err"]
    assert client.containers.list(all=True, filters={"label": "shipdeck.run=once"}) == []

    passed = images.run_once(tag, "sh -c 'exit 0'", sink=Sink(), cancel=CancelToken())
    assert passed.ok


def test_run_once_timeout_and_cancel_remove_the_container(
    images: DockerImages, client: Any, tmp_path: Path
) -> None:
    tag = di.build(client, di.make_context(tmp_path, cmd=["true"]), "shipdeck-test/once:1")
    result = returns(  # it sleeps past the deadline on the call: only the timeout ends it
        lambda: images.run_once(tag, ["sleep", "600"], sink=Sink(), cancel=CancelToken(), timeout=1)
    )
    assert result.timed_out and not result.ok
    cancel = CancelToken()
    threading.Timer(0.5, cancel.cancel).start()
    result = images.run_once(tag, ["sleep", "30"], sink=Sink(), cancel=cancel)
    assert result.cancelled and not result.ok
    assert client.containers.list(all=True, filters={"label": "shipdeck.run=once"}) == []


def test_run_once_of_a_missing_image(images: DockerImages) -> None:
    result = images.run_once("shipdeck-test/absent:0", sink=Sink(), cancel=CancelToken())
    assert result.error and "absent" in result.error


def test_build_output_pieces_become_lines_with_stderr_by_colour() -> None:
    from shipdeck.backends.docker.images import _Lines

    lines = _Lines()
    got = lines.split("par") + lines.split("tial\n\x1b[91moh ")
    got += lines.split("no\n") + lines.split("\x1b[0mback\n")
    assert got == [(Stream.STDOUT, "partial"), (Stream.STDERR, "oh no"), (Stream.STDOUT, "back")]
    assert lines.split("tail") == [] and lines.rest() == [Line(Stream.STDOUT, "tail")]


@pytest.fixture
def auth_registry(tmp_path: Path) -> Iterator[di.Registry]:
    """A registry of this test's own that wants a user and password (htpasswd, bcrypt)."""
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(di.htpasswd_line("ci", "s3cret-pw") + "\n")
    auth = f"auth:\n  htpasswd:\n    realm: shipdeck-test\n    path: {htpasswd}\n"
    try:
        registry = di.Registry(tmp_path / "registry", extra=auth)
    except RuntimeError as exc:
        di.unavailable(str(exc))
    yield registry
    registry.stop()


def docker_config(path: Path, auths: dict[str, str]) -> Path:
    """A DOCKER_CONFIG directory as ``docker login`` leaves it."""
    import base64
    import json

    path.mkdir()
    entries = {
        host: {"auth": base64.b64encode(cred.encode()).decode()} for host, cred in auths.items()
    }
    (path / "config.json").write_text(json.dumps({"auths": entries}))
    return path


def test_a_registry_that_refuses_says_so_in_its_own_words(
    client: Any, auth_registry: di.Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path / "nologin", {})))
    images = DockerImages(client=connect())
    tag = di.build(client, di.httpd_context(tmp_path / "ctx", "v1"), "shipdeck-test/private:v1")
    reference = f"{auth_registry.address}/shipdeck-test/private:1.0.0"
    sink = Sink()
    with pytest.raises(TargetError) as err:
        images.push(tag, reference, sink=sink, cancel=CancelToken())
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(
        f"push of {auth_registry.address}/shipdeck-test/private:1.0.0 refused"
    )
    assert "no basic auth credentials" in message  # the registry's own answer
    assert any("no basic auth credentials" in t for t in sink.of(Stream.STDERR))
    client.images.remove(reference)


def test_credentials_from_docker_login_let_the_push_through(
    client: Any, auth_registry: di.Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = docker_config(tmp_path / "login", {auth_registry.address: "ci:s3cret-pw"})
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    images = DockerImages(client=connect())
    tag = di.build(client, di.httpd_context(tmp_path / "ctx", "v1"), "shipdeck-test/private:v1")
    reference = f"{auth_registry.address}/shipdeck-test/private:1.0.0"
    sink = Sink()
    pushed = images.push(tag, reference, sink=sink, cancel=CancelToken())
    assert pushed.digest.startswith("sha256:")
    tags = httpx.get(
        f"http://{auth_registry.address}/v2/shipdeck-test/private/tags/list",
        auth=("ci", "s3cret-pw"),
        timeout=5,
    ).json()
    assert tags["tags"] == ["1.0.0"]
    assert "s3cret-pw" not in "\n".join(t for _, t in sink.lines)
    client.images.remove(reference)
