"""Pilot and snapshot tests for the metrics, events and environments panes.

Each pane runs alone in a tiny host app with fixed data and a fixed clock and
zone, so the snapshots never drift with the date or the machine's timezone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.alerts import Alert, History
from shipdeck.lifecycle.events import Event
from shipdeck.lifecycle.ports import EnvStatus, HostSample, ProbeResult
from shipdeck.widgets.ops.envs import EnvironmentsPane
from shipdeck.widgets.ops.events import EventsPane
from shipdeck.widgets.ops.metrics import MetricsPane, ProbeRow
from tests.tui.host import PaneApp

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
SIZE = (100, 30)


def run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(scenario)


def metrics_data() -> tuple[HostSample, list[ProbeResult], History, History, list[Alert]]:
    host_history, probe_history = History(), History()
    for i in range(30):
        host_history.add("cpu", 40 + (i * 7) % 55)
        host_history.add("memory", 50 + i % 5)
        host_history.add("disk", 67.0)
        host_history.add("net_recv", 1000.0 * (i % 9))
        host_history.add("net_sent", 300.0 * (i % 4))
        probe_history.add("staging", 40.0 + i % 6)
        probe_history.add("api", 200.0 + 30 * (i % 10))
        probe_history.add("production", None if i > 26 else 55.0)
    host = HostSample(cpu=93.5, memory=54.0, disk=67.0, net_sent=900.0, net_recv=1_572_864.0)
    probes = [
        ProbeResult("staging", "http://127.0.0.1:8081/health", True, 200, 42.0),
        ProbeResult("api", "http://127.0.0.1:8083/health", True, 200, 812.0, slow=True),
        ProbeResult(
            "production",
            "http://127.0.0.1:8082/health",
            False,
            None,
            None,
            error="ConnectError: [Errno 111] Connection refused",
        ),
    ]
    alerts = [
        Alert("AL-3", "cpu", 93.5, 90.0, "cpu at 93.5% (threshold 90%)", T0),
        Alert(
            "AL-4",
            "probe:production",
            3.0,
            3.0,
            "probe production failed 3 times in a row: ConnectError",
            T0 + timedelta(seconds=20),
            env="production",
        ),
    ]
    return host, probes, host_history, probe_history, alerts


def journal() -> list[Event]:
    """A release's story in journal order (oldest first), one event a minute."""
    d = dict
    raw: list[tuple[str, str | None, dict[str, Any]]] = [
        (ev.ITEM_CREATED, "SD-3", d(title="Health check reports uptime", kind="bug")),
        (ev.STAGE_FINISHED, "SD-3", d(stage="build", status="passed", duration=3.2)),
        (ev.STAGE_FINISHED, "SD-3",
         d(stage="test", status="failed", duration=8.4, message="2 tests failed")),
        (ev.STAGE_FINISHED, "SD-3", d(stage="test", status="passed", duration=7.9)),
        (ev.RELEASE_CUT, "SD-3", d(version="1.3.0", tag="v1.3.0", sha="0a1b2c3d4e5f")),
        (ev.DEPLOYED, "SD-3", d(env="staging", version="1.3.0")),
        (ev.DEPLOY_FAILED, "SD-3", d(env="production", version="1.3.0", reason="unhealthy")),
        (ev.ROLLED_BACK, None,
         d(env="production", from_version="1.3.0", to_version="1.2.0", reason="health")),
        (ev.ALERT_RAISED, None,
         d(alert_id="AL-4", env="staging", metric="probe:staging", value=3.0, threshold=3.0,
           message="probe staging failed 3 times in a row: HTTP 503", version="1.3.0")),
        (ev.ALERT_CLEARED, None,
         d(alert_id="AL-4", env="staging", message="probe staging healthy again")),
    ]  # fmt: skip
    return [
        Event(t, item, data, T0 + timedelta(minutes=i)) for i, (t, item, data) in enumerate(raw)
    ]


def env_statuses() -> tuple[list[EnvStatus], dict[str, str]]:
    """Two known environments and one whose status could not be read."""
    staging = EnvStatus("staging", "local", "1.3.0", "running", True, T0 - timedelta(minutes=125))
    staging.restarts, staging.pid = 0, 4242
    production = EnvStatus(
        "production", "swarm", "1.2.0", "running", False, T0 - timedelta(hours=76)
    )
    production.replicas, production.replicas_running, production.restarts = 3, 2, 2
    errors = {"edge": "engine unreachable at unix:///var/run/docker.sock"}
    return [staging, production], errors


def plain(widget: Static) -> str:
    content = widget.content
    return content if isinstance(content, str) else str(getattr(content, "plain", content))


def probe_row(pane: MetricsPane, name: str) -> ProbeRow:
    return next(r for r in pane.probe_rows if r.probe_name == name)


# --- metrics pane -----------------------------------------------------------------


@pytest.mark.slow  # a Pilot test of a pane, polls and keys
def test_metrics_pane_shows_values_and_marks_slow_and_failing_probes() -> None:
    async def scenario() -> None:
        pane = MetricsPane(tz=UTC)
        app = PaneApp(pane, lambda p: p.show_sample(*metrics_data()))  # type: ignore[attr-defined]
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            cpu = pane.host_charts["cpu"]
            assert cpu.value.plain == "93.5%"
            assert "93.5%" in pane.host.plain_lines(cpu)[0]
            assert cpu.alerting  # AL-3 is on cpu
            assert not pane.host_charts["memory"].alerting
            assert pane.host_charts["net_recv"].value.plain == "1.5 MB/s"
            _, _, host_history, _, _ = metrics_data()
            assert cpu.series == host_history.values("cpu")

            staging, api, prod = (probe_row(pane, n) for n in ("staging", "api", "production"))
            assert not staging.slow and not staging.failing
            assert api.slow and not api.failing
            gutter = [line[:24] for line in pane.probes.plain_lines(api.chart)]
            assert gutter[0].startswith("● api")  # the value under the name in a tall chart
            assert gutter[len(gutter) > 1].rstrip().endswith("812 ms slow")
            assert prod.failing
            (error,) = pane.probes.plain_lines(prod.error)
            assert "Connection refused" in error and error.startswith("  ")
            assert not pane.probes.plain_lines(staging.error)  # no line while it passes

            alerts = plain(pane.query_one("#alerts", Static))
            assert "AL-3" in alerts and "AL-4" in alerts
            assert plain(pane.query_one("#alerts-title", Static)) == "Alerts (2)"

    run(scenario())


@pytest.mark.slow  # a Pilot test of a pane, polls and keys
def test_metrics_pane_updates_rows_in_place() -> None:
    async def scenario() -> None:
        pane = MetricsPane(tz=UTC)
        host, probes, host_history, probe_history, alerts = metrics_data()
        app = PaneApp(pane)
        async with app.run_test(size=SIZE) as pilot:
            pane.show_sample(host, probes, host_history, probe_history, alerts)
            await pilot.pause()
            rows = {r.probe_name: r for r in pane.probe_rows}
            recovered = ProbeResult("production", "http://x/health", True, 200, 61.0)
            cooler = HostSample(cpu=12.0, memory=54.0, disk=67.0, net_sent=0.0, net_recv=0.0)
            pane.show_sample(cooler, [*probes[:2], recovered], host_history, probe_history, [])
            await pilot.pause()
            assert {r.probe_name: r for r in pane.probe_rows} == rows  # same rows
            assert not rows["production"].failing
            assert not pane.host_charts["cpu"].alerting
            assert pane.host_charts["cpu"].value.plain == "12.0%"
            assert "no active alerts" in plain(pane.query_one("#alerts", Static))
            # A probe dropped from the config loses its row.
            pane.show_sample(cooler, probes[:1], host_history, probe_history, [])
            await pilot.pause()
            assert [r.probe_name for r in pane.probe_rows] == ["staging"]
            assert not any("production" in line for line in pane.probes.plain_lines())

    run(scenario())


def test_metrics_pane_sample_before_mount_is_shown_on_mount() -> None:
    async def scenario() -> None:
        pane = MetricsPane(tz=UTC)
        pane.show_sample(*metrics_data())
        app = PaneApp(pane)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert pane.host_charts["disk"].value.plain == "67.0%"
            assert probe_row(pane, "production").failing

    run(scenario())


@pytest.mark.slow  # a Pilot test of a pane, polls and keys
def test_metrics_pane_reports_visibility_so_the_app_can_stop_sampling() -> None:
    async def scenario() -> None:
        pane = MetricsPane()
        app = PaneApp(pane)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            changes = lambda: [m.visible for m in app.of(MetricsPane.VisibilityChanged)]  # noqa: E731
            assert changes() == [True]
            pane.display = False
            await pilot.pause()
            assert changes() == [True, False] and not pane.showing
            pane.display = True
            await pilot.pause()
            assert changes() == [True, False, True] and pane.showing

    run(scenario())


# --- events pane ------------------------------------------------------------------


def events_app(limit: int = 500) -> tuple[PaneApp, EventsPane]:
    pane = EventsPane(tz=UTC, limit=limit)
    return PaneApp(pane, lambda p: p.set_events(journal())), pane  # type: ignore[attr-defined]


@pytest.mark.slow  # a Pilot test of a pane, polls and keys
def test_events_pane_orders_newest_first_and_keeps_the_newest() -> None:
    async def scenario() -> None:
        app, pane = events_app(limit=6)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            shown = pane.events
            assert shown == list(reversed(journal()))[:6]
            assert [e.type for e in shown[:2]] == [ev.ALERT_CLEARED, ev.ALERT_RAISED]
            top = pane.table.get_row_at(0)
            assert "alert cleared" in top[1].plain and top[0].plain == "05-01 12:09:00"

            later = Event(
                ev.DEPLOYED, "SD-4", {"env": "staging", "version": "1.4.0"}, T0 + timedelta(hours=1)
            )
            pane.add_events([later])
            await pilot.pause()
            assert pane.events[0] is later and pane.table.cursor_row == 0  # follows the top
            assert len(pane.events) == 6 and journal()[4] not in pane.events  # oldest dropped

            await pilot.press("down", "down")
            chosen = pane.selected_event
            newer = Event(ev.RESTARTED, None, {"env": "staging"}, T0 + timedelta(hours=2))
            pane.add_events([newer])
            await pilot.pause()
            assert pane.events[0] is newer and pane.selected_event is chosen  # cursor kept

    run(scenario())


@pytest.mark.slow  # a Pilot test of a pane, polls and keys
def test_events_pane_b_on_an_alert_requests_a_bug_and_enter_selects() -> None:
    async def scenario() -> None:
        app, pane = events_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("b")  # top row: alert.cleared, not a raised alert
            await pilot.pause()
            assert app.of(EventsPane.BugRequested) == []
            await pilot.press("down", "b")  # alert.raised
            await pilot.pause()
            (bug,) = app.of(EventsPane.BugRequested)
            assert bug.event.type == ev.ALERT_RAISED and bug.event.get("alert_id") == "AL-4"
            assert bug.control is pane
            await pilot.press("down", "b")  # rolled_back: nothing more
            await pilot.press("enter")
            await pilot.pause()
            assert len(app.of(EventsPane.BugRequested)) == 1
            (selected,) = app.of(EventsPane.EventSelected)
            assert selected.event.type == ev.ROLLED_BACK
            assert app.of(DataTable.RowSelected) == []  # the raw table message stays inside

    run(scenario())


# --- environments pane ------------------------------------------------------------


def envs_app() -> tuple[PaneApp, EnvironmentsPane]:
    pane = EnvironmentsPane(clock=lambda: T0)
    return PaneApp(pane, lambda p: p.set_status(*env_statuses())), pane  # type: ignore[attr-defined]


def test_env_pane_renders_health_uptime_and_error() -> None:
    async def scenario() -> None:
        app, pane = envs_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            table = pane.table
            assert [str(r.key.value) for r in table.ordered_rows] == [
                "staging",
                "production",
                "edge",
            ]
            assert table.get_cell("staging", "health").plain == "● healthy"
            assert table.get_cell("staging", "uptime").plain == "2h 05m"
            assert table.get_cell("production", "health").plain == "● unhealthy"
            assert table.get_cell("production", "replicas").plain == "2/3"
            assert table.get_cell("edge", "state").plain == "error"
            assert "engine unreachable at unix://" in table.get_cell("edge", "note").plain
            assert pane.selected_env == "staging"

    run(scenario())


@pytest.mark.slow  # a Pilot test of a pane, polls and keys
def test_env_pane_keys_post_requests_for_the_selected_env() -> None:
    async def scenario() -> None:
        app, pane = envs_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("down", "R")
            await pilot.pause()
            (rollback,) = app.of(EnvironmentsPane.RollbackRequested)
            assert rollback.env == "production" == pane.selected_env
            await pilot.press("plus", "minus", "u", "S", "enter")
            await pilot.pause()
            assert [(m.env, m.delta) for m in app.of(EnvironmentsPane.ScaleRequested)] == [
                ("production", 1),
                ("production", -1),
            ]
            assert [m.env for m in app.of(EnvironmentsPane.RestartRequested)] == ["production"]
            assert [m.env for m in app.of(EnvironmentsPane.StopRequested)] == ["production"]
            assert [m.env for m in app.of(EnvironmentsPane.EnvSelected)] == ["production"]

    run(scenario())


@pytest.mark.slow  # a Pilot test of a pane, polls and keys
def test_env_pane_poll_updates_in_place_and_keeps_the_selection() -> None:
    async def scenario() -> None:
        app, pane = envs_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("down")
            statuses, _ = env_statuses()
            statuses[1].healthy = True
            statuses[1].replicas_running = 3
            # edge recovered and is listed first now; production stays selected.
            edge = EnvStatus("edge", "docker", version="1.3.0", state="stopped")
            pane.set_status([edge, *statuses])
            await pilot.pause()
            table = pane.table
            assert [str(r.key.value) for r in table.ordered_rows] == [
                "edge",
                "staging",
                "production",
            ]
            assert table.get_cell("production", "health").plain == "● healthy"
            assert table.get_cell("edge", "note").plain == ""
            assert pane.selected_env == "production"

    run(scenario())


# --- snapshots ----------------------------------------------------------------------


@pytest.mark.slow  # a Pilot test of a pane, polls and keys
def test_snapshot_metrics_pane(snap_compare: Any) -> None:
    pane = MetricsPane(tz=UTC)
    app = PaneApp(pane, lambda p: p.show_sample(*metrics_data()))  # type: ignore[attr-defined]
    assert snap_compare(app, terminal_size=SIZE)


@pytest.mark.slow  # a Pilot test of a pane, polls and keys
def test_snapshot_events_pane(snap_compare: Any) -> None:
    app, _ = events_app()
    assert snap_compare(app, terminal_size=SIZE, press=["down"])


@pytest.mark.slow  # a Pilot test of a pane, polls and keys
def test_snapshot_env_pane(snap_compare: Any) -> None:
    app, _ = envs_app()
    assert snap_compare(app, terminal_size=SIZE)
