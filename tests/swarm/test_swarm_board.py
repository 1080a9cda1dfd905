"""The swarm on the board (Pilot, the real app on the three-node test swarm): scale down and
up again with - and +, every node answering again; a worker's dockerd killed shows the node
Down in the metrics pane with an alert within 30 s while the service answers on the other
nodes; the alert is journaled, sent to the webhook and opens a bug item."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipdeck.project.repo import Project
from shipdeck.project.wiring import make_target
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.dialogs import ConfirmScreen
from tests.helpers import WebhookReceiver, shipdeck
from tests.swarm.lab import ServiceScope, Swarm, get
from tests.swarm.projects import committed, deploy_first, journal, staging
from tests.waiting import DEADLINE, Notices, until, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.swarm]

SIZE = (160, 50)


@pytest.fixture()
def project(
    tmp_path: Path, swarm: Swarm, services: ServiceScope, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Project, int, WebhookReceiver]]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    port = swarm.free_port()
    hook = WebhookReceiver()
    config = f"version: 1\nproject: {services.prefix}board\n" + staging(
        swarm, port, 3, "    update: {parallelism: 3, delay: 0, monitor: 2}"
    )
    config += (
        f'monitor: {{interval: 1, probe_environments: false}}\nnotify: {{webhook: "{hook.url}"}}\n'
    )
    project = committed(tmp_path / "svc", config)
    deploy_first(project, swarm, "board")
    try:
        yield project, port, hook
    finally:
        hook.close()


def _answering(swarm: Swarm, port: int) -> int:
    return sum(get(node.ip, port) is not None for node in swarm.nodes)


async def test_scale_from_the_board_and_a_dead_worker_shows_down_with_an_alert(
    project: tuple[Project, int, WebhookReceiver], swarm: Swarm
) -> None:
    proj, port, hook = project
    target = make_target(proj, "staging")
    app = ShipdeckApp(proj)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await pilot.press("o")
        await until(pilot, lambda: app.board.query_one("#env-pane").selected_env == "staging")
        await pilot.press("minus")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "Scale staging (1.0.0) from 3 to 2 replicas?"
        await pilot.press("y")
        await until(pilot, lambda: _answering(swarm, port) == 2, timeout=60)
        await until(pilot, notices.said("staging scaled to 2"), timeout=60)
        assert target.status().replicas_running == 2
        await pilot.press("plus")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, notices.said("staging scaled to 3"), timeout=60)
        assert _answering(swarm, port) == 3  # the scale waited for every node to answer

        await pilot.press("m")
        nodes = app.board.query_one("#nodes")
        await until(pilot, lambda: str(nodes.render()).count("ready") == 3, timeout=30)
        killed = time.monotonic()
        swarm.kill_dockerd(3)
        try:
            await until(pilot, lambda: "down" in str(nodes.render()), timeout=30)
            await until(pilot, notices.said("node swm-n3"), timeout=30)
            assert time.monotonic() - killed < 30
            assert _answering(swarm, port) >= 2  # the other nodes still answer
            status = target.status()
            assert "swm-n3 down" in status.detail["nodes"]
        finally:
            swarm.restart_dockerd(3)
        await until(pilot, lambda: str(nodes.render()).count("ready") == 3, timeout=60)
        await until(pilot, notices.said("ready again"), timeout=30)

    events = journal(proj.root)
    raised = [e for e in events if e["type"] == "alert.raised" and e.get("metric") == "node:swm-n3"]
    assert raised and raised[0]["env"] == "staging" and raised[0]["version"] == "1.0.0"
    assert any(
        e["type"] == "alert.cleared" and e["alert_id"] == raised[0]["alert_id"] for e in events
    )
    assert any(e["type"] == "scaled" and e["replicas"] == 2 for e in events)
    sent = wait_until(
        lambda: (
            [
                body["event"]
                for body in (json.loads(b) for b in hook.bodies)
                if body["event"]["type"] == "alert.raised"
            ]
            or None
        ),
        what="the node alert's webhook",
        timeout=DEADLINE,
    )
    assert sent[0]["metric"] == "node:swm-n3"
    bug = shipdeck("item", "add", "--from-alert", raised[0]["alert_id"], cwd=proj.root)
    assert bug.returncode == 0, bug.stderr
    shown = json.loads(shipdeck("item", "show", bug.stdout.strip(), "--json", cwd=proj.root).stdout)
    assert shown["kind"] == "bug" and "swm-n3" in shown["title"]
    with contextlib.suppress(Exception):
        target.close()  # type: ignore[attr-defined]


async def test_one_key_pauses_and_resumes_autoscaling_where_it_is_configured(
    tmp_path: Path, swarm: Swarm, services: ServiceScope, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets._footer import FooterKey

    from shipdeck.lifecycle.sampling import autoscale_paused
    from shipdeck.project.wiring import build_engine
    from shipdeck.widgets.footer import QuietFooter

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    environment = staging(swarm, swarm.free_port(), 1, "    autoscale: {min: 1, max: 3}")
    proj = committed(
        tmp_path / "svc", f"version: 1\nproject: {services.prefix}pause\n{environment}"
    )
    app = ShipdeckApp(proj)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await pilot.press("o")
        await until(pilot, lambda: app.board.query_one("#env-pane").selected_env == "staging")
        footer = app.board.query_one(QuietFooter)
        await until(
            pilot,
            lambda: any("autoscale" in k.description for k in footer.query(FooterKey)),
        )
        await pilot.press("A")
        await until(pilot, notices.said("Autoscaling of staging paused"))
        assert autoscale_paused(build_engine(proj), "staging")
        await pilot.press("A")
        await until(pilot, notices.said("Autoscaling of staging resumed"))
        assert not autoscale_paused(build_engine(proj), "staging")
    paused = journal(proj.root, "autoscale.paused")
    assert [e["paused"] for e in paused] == [True, False]
