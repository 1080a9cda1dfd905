"""shipdeck SIGKILLed at each named step of a docker deploy: the next `shipdeck status`
finishes or reverses the switch, exactly one healthy container serves, the journal says
which, and no Created (or other stray) container and no process is left behind.

The kill is injected with SHIPDECK_FAULT_KILL_AT (read by backends.docker.intent in
tests only): shipdeck kills itself with SIGKILL at that step, as `kill -9` would. A
second test cuts the engine's socket after the new container started: the deploy is
"state unknown" (journaled), and the next status once the engine answers reconciles.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.journal import Journal
from shipdeck.lifecycle.ports import CancelToken, Line, Release
from shipdeck.lifecycle.runs import StageFailed
from shipdeck.lifecycle.stages.deploy import deploy_release
from tests.helpers import git, git_repo, processes_under, shipdeck

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
import docker_images as di  # the Docker tests' image helpers live there

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SWITCH_STEPS = ("stopping-old", "old-stopped", "new-created", "new-started", "new-checked")
ROLLBACK_STEPS = ("new-stopped",)  # on the failing path: the new release never got healthy
SERVES = {"1.0.0": "v1", "2.0.0": "v2"}  # what /version answers per release
BROKEN = "3.0.0"  # its container exits at once
KEEP = 3  # stopped containers a docker target keeps for rollback


def _config(project: str, port: int) -> str:
    return f"""\
version: 1
project: {project}
environments:
  staging:
    target: docker
    image: "{project}:{{version}}"
    ports: {{"8000/tcp": {port}}}
    health: {{url: "http://127.0.0.1:{port}/health", timeout: 5, interval: 0.2}}
    bake: 0
    labels: {{"{di.TEST_LABEL}": "{di.RUN_ID}"}}
"""


def _build(client: Any, base: Path, project: str) -> None:
    """The three releases' images; SIGKILL as stop signal, since busybox httpd as pid 1
    ignores SIGTERM and every stop would otherwise wait out docker's 10 s grace."""
    for version, (text, broken) in {
        "1.0.0": ("v1", False), "2.0.0": ("v2", False), BROKEN: ("broken", True),
    }.items():  # fmt: skip
        ctx = di.httpd_context(base / version, text, broken=broken)
        dockerfile = ctx / "Dockerfile"
        dockerfile.write_text(dockerfile.read_text() + "STOPSIGNAL SIGKILL\n")
        di.build(client, ctx, f"{project}:{version}")


@dataclass
class Demo:
    repo: Path
    project: str
    port: int
    serving: str | None = None  # what the last case left serving healthy (None: ask status)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    engine = di.require_engine()
    yield engine
    di.cleanup(engine)


@pytest.fixture(scope="module")
def demo(client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    base = tmp_path_factory.mktemp("docker-kills")
    project, port = f"sdkill{secrets.token_hex(3)}", di.free_port()
    _build(client, base / "images", project)
    repo = git_repo(base / "svc")
    (repo / "shipdeck.yaml").write_text(_config(project, port))
    git(repo, "add", "shipdeck.yaml")
    git(repo, "commit", "-q", "-m", "a busybox httpd service")
    for version in (*SERVES, BROKEN):
        git(repo, "tag", f"v{version}")
    first = shipdeck("deploy", "staging", "--version", "1.0.0", cwd=repo)
    assert first.returncode == 0, first.stdout + first.stderr
    yield Demo(repo, project, port, serving="1.0.0")
    for container in client.containers.list(
        all=True, filters={"label": f"shipdeck.project={project}"}
    ):
        container.remove(force=True)


def _recoveries(repo: Path) -> list[dict[str, Any]]:
    events = []
    for path in sorted((repo / ".shipdeck").glob("journal*.jsonl")):
        events += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [e for e in events if e["type"] == ev.DEPLOY_RECOVERED]


def _staging(repo: Path) -> dict[str, Any]:
    status = shipdeck("status", "--json", cwd=repo)
    assert status.returncode == 0, status.stderr
    return dict(json.loads(status.stdout)["environments"]["staging"])


def _check_containers(client: Any, demo: Demo, version: str) -> None:
    """One running container (``version``'s, with its restart policy back), the rest
    kept stopped releases: nothing Created, nothing of the broken release."""
    found = client.containers.list(all=True, filters={"label": f"shipdeck.project={demo.project}"})
    running = [c for c in found if c.status == "running"]
    assert [c.name for c in running] == [f"{demo.project}-staging-{version}"], found
    assert running[0].attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    strays = [(c.name, c.status) for c in found if c.status not in ("running", "exited")]
    assert strays == []
    assert [c.name for c in found if c.labels.get("shipdeck.version") == BROKEN] == []
    assert len(found) <= 1 + KEEP


PATHS = {"ok": SWITCH_STEPS, "failing": SWITCH_STEPS + ROLLBACK_STEPS}
CASES = [(p, s, n) for p, steps in PATHS.items() for s, n in itertools.product(steps, range(3))]


@pytest.mark.parametrize(("path", "step", "n"), CASES, ids=[f"{p}-{s}-{n}" for p, s, n in CASES])
def test_a_kill_at_each_step_leaves_one_healthy_container(
    client: Any, demo: Demo, path: str, step: str, n: int
) -> None:
    running, demo.serving = demo.serving, None
    if running is None:  # the case before failed: see for ourselves
        before = _staging(demo.repo)
        assert before["healthy"] is True, before
        running = before["version"]
    target = BROKEN if path == "failing" else ("2.0.0" if running == "1.0.0" else "1.0.0")
    seen = len(_recoveries(demo.repo))

    killed = shipdeck(
        "deploy", "staging", "--version", target, cwd=demo.repo,
        env={"SHIPDECK_FAULT_KILL_AT": step},
    )  # fmt: skip
    assert killed.returncode == -9, killed.stdout + killed.stderr  # SIGKILL, as kill -9

    env = _staging(demo.repo)
    assert env["healthy"] is True, env
    assert env["state"] == "running", env
    assert env["version"] in (running, target)
    assert di.served(demo.port) == SERVES[env["version"]]
    if step == "new-checked" and path == "ok":
        assert env["version"] == target  # healthy and checked: the switch is finished
    if path == "failing":
        assert env["version"] == running  # the broken release never gets healthy: reversed
    recovered = _recoveries(demo.repo)[seen:]
    assert len(recovered) == 1, recovered
    assert recovered[0]["env"] == "staging"
    assert recovered[0]["version"] == env["version"]
    expected = {"stopping-old": "kept", "new-checked": "finished" if path == "ok" else "reversed"}
    if step in expected:
        assert recovered[0]["outcome"] == expected[step], recovered[0]
    assert not list((demo.repo / ".shipdeck" / "state").glob("*.intent.json"))
    _check_containers(client, demo, env["version"])
    assert processes_under(demo.repo) == []
    demo.serving = env["version"]


# --- the engine stops answering midway ---------------------------------------------------


class Relay:
    """A unix socket forwarding each connection to the real engine; ``cut`` closes it
    all (as an engine that went away), ``start`` again lets it answer."""

    def __init__(self, path: Path, engine: str) -> None:
        self.path, self.engine = path, engine
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(self.path))
        server.listen()
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()
        self.path.unlink(missing_ok=True)

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.engine)
            with self._lock:
                self._conns += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Engine:
    """What ``deploy_release`` needs of the engine: the target and the journal."""

    def __init__(self, target: Any, journal: Journal) -> None:
        self.target, self.journal = target, journal

    def target_for(self, name: str) -> Any:
        return self.target

    def record(self, event: ev.Event) -> None:
        self.journal.append(event)


class _Reporter:
    """A run's reporter; cuts the relay once the new container is started (the health
    wait begins only after ``start``)."""

    def __init__(self, relay: Relay) -> None:
        self.relay, self.cancel, self.lines = relay, CancelToken(), list[str]()

    def say(self, text: str) -> None:
        self.lines.append(text)

    def emit(self, lines: Sequence[Line]) -> None:
        for _, text in lines:
            self.lines.append(text)
            if text.startswith("waiting for "):
                self.relay.cut()


def test_a_lost_engine_is_state_unknown_then_reconciled(client: Any, tmp_path: Path) -> None:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        pytest.skip(f"the relay stands in for a unix socket engine, not {host}")
    project = f"sdlost{secrets.token_hex(3)}"
    _build(client, tmp_path / "images", project)
    relay = Relay(tmp_path / "engine.sock", host.removeprefix("unix://"))
    relay.start()
    journal = Journal(tmp_path / "proj")

    def journal_recovery(message: str, data: dict[str, Any]) -> None:  # as project.wiring does
        journal.append(ev.Event(ev.DEPLOY_RECOVERED, None, {**data, "message": message}))

    target = di.httpd_target(
        "staging", project, tmp_path, host=f"unix://{relay.path}", on_recovered=journal_recovery
    )
    try:
        first = Release("1.0.0", "0" * 40, "v1.0.0", image=f"{project}:1.0.0")
        assert target.deploy(first, lambda _lines: None, CancelToken()).ok
        reporter = _Reporter(relay)
        second = Release("2.0.0", "0" * 40, "v2.0.0", image=f"{project}:2.0.0")
        with pytest.raises(StageFailed, match="state unknown") as failed:
            deploy_release(_Engine(target, journal), "staging", second, reporter, None)  # type: ignore[arg-type]
        assert "rolled back" not in str(failed.value)
        outcome = [e for e in journal.read() if e.type == ev.DEPLOY_UNKNOWN]
        assert len(outcome) == 1 and "state unknown" in outcome[0].get("reason"), outcome
        assert di.served(target.port) == "v2"  # the new release serves meanwhile

        cut = target.status()
        assert cut.state == "unreachable" and "pending" in cut.detail, cut

        relay.start()
        status = target.status()
        assert (status.state, status.version, status.healthy) == ("running", "2.0.0", True)
        assert "was finished" in status.detail["recovered"], status.detail
        assert "pending" not in status.detail
        recovered = [e for e in journal.read() if e.type == ev.DEPLOY_RECOVERED]
        assert [(e.get("version"), e.get("outcome")) for e in recovered] == [("2.0.0", "finished")]
        found = {c.name: c for c in target.containers()}
        assert sorted(found) == [f"{project}-staging-1.0.0", f"{project}-staging-2.0.0"]
        new = found[f"{project}-staging-2.0.0"]
        assert new.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        assert found[f"{project}-staging-1.0.0"].status == "exited"
    finally:
        relay.cut()
        target.close()
        for container in client.containers.list(
            all=True, filters={"label": f"shipdeck.project={project}"}
        ):
            container.remove(force=True)
