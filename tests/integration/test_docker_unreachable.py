"""With the engine stopped the board opens, says the engine is unreachable, and
recovers when it returns. The engine is "stopped" by closing a unix-socket relay
that stands between shipdeck and the real engine, so other tests keep theirs."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import docker_images as di
import pytest

from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp
from tests.helpers import git_repo
from tests.waiting import until

pytestmark = [pytest.mark.docker, pytest.mark.slow]


class Relay:
    """A unix socket that forwards every connection to the real engine's socket."""

    def __init__(self, path: Path, target: str) -> None:
        self.path, self.target = path, target
        self.server: socket.socket | None = None
        self.conns: list[socket.socket] = []

    def start(self) -> None:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(self.path))
        server.listen()
        self.server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            with contextlib.suppress(OSError):
                self.server.shutdown(socket.SHUT_RDWR)
            self.server.close()
            self.server = None
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.close()
        self.conns.clear()
        self.path.unlink(missing_ok=True)

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


@pytest.fixture()
def relay(tmp_path: Path) -> Iterator[Relay]:
    di.require_engine().close()
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        pytest.skip(f"the relay needs a unix-socket engine, not {host}")
    relay = Relay(tmp_path / "engine.sock", host.removeprefix("unix://"))
    yield relay
    relay.stop()


async def test_board_says_engine_unreachable_and_recovers(
    tmp_path: Path, relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    repo = git_repo(tmp_path / "svc")  # the board lives in the repository's refs
    (repo / "shipdeck.yaml").write_text(
        "version: 1\nproject: sdrelay\nenvironments:\n  prod:\n    target: docker\n"
        f'    docker_host: "unix://{relay.path}"\n    image: "sdrelay:{{version}}"\n'
    )
    app = ShipdeckApp(Project(repo))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("o")  # the environments pane polls while it shows
        pane = app.board.query_one("#env-pane")
        await until(
            pilot,
            lambda: "prod" in pane.statuses or "prod" in pane.errors,
            what="the environments pane to show prod",
        )
        down = pane.statuses.get("prod")
        said = (
            (down.state, down.detail.get("error", "")) if down else ("error", pane.errors["prod"])
        )
        assert said[0] in ("unreachable", "error")
        assert str(relay.path) in said[1]  # the line names the host
        relay.start()  # the engine comes back
        await until(
            pilot,
            lambda: (
                pane.statuses.get("prod") is not None
                and pane.statuses["prod"].state != "unreachable"
            ),
            what="the board to recover",
        )
        assert pane.statuses["prod"].state in ("absent", "running", "stopped")
