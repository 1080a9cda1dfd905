"""The operations panes' presentation, tested without an app."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from rich.text import Text

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.alerts import Alert
from shipdeck.lifecycle.event_words import clean
from shipdeck.lifecycle.events import Event
from shipdeck.lifecycle.ports import EnvStatus, ProbeResult
from shipdeck.lifecycle.units import duration
from shipdeck.widgets.ops.text import (
    ENV_COLUMNS,
    alert_text,
    env_row,
    event_row,
    event_style,
    event_text,
    percent_text,
    probe_error,
    probe_label,
    probe_value,
    uptime,
)

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
OK = ProbeResult("staging", "http://h/health", True, 200, 42.4)
SLOW = replace(OK, latency_ms=812.0, slow=True)
DOWN = ProbeResult("prod", "http://p/health", False, None, None, error="ConnectError: refused")


def styles(text: Text) -> set[str]:
    """Every style used anywhere in ``text`` (base style and spans)."""
    return {str(text.style)} | {str(span.style) for span in text.spans}


def test_clean_neutralises_control_sequences_and_keeps_one_line() -> None:
    assert clean("\x1b]0;pwned\x07\x1b[2J") == "\\x1b]0;pwned\\x07\\x1b[2J"
    assert clean("first\nsecond") == "first …"
    assert clean("x" * 300, limit=10) == "x" * 9 + "…"


def test_percent_is_red_only_while_alerting() -> None:
    assert percent_text(93.46).plain == "93.5%"
    assert "red" not in str(percent_text(93.5).style)
    assert "red" in str(percent_text(93.5, alerting=True).style)
    assert percent_text(None).plain == "–"


def test_probe_texts_mark_slow_in_warning_and_failing_in_error_colour() -> None:
    assert probe_label(OK).plain == "● staging" and "green" in styles(probe_label(OK))
    assert probe_value(OK).plain == "200   42 ms"
    assert probe_error(OK) is None

    assert probe_value(SLOW).plain.endswith("slow") and "yellow" in str(probe_value(SLOW).style)

    assert probe_label(DOWN).plain == "✘ prod" and "red" in styles(probe_label(DOWN))
    assert probe_value(DOWN).plain.endswith("failed")
    error = probe_error(DOWN)
    assert error is not None and error.plain == "ConnectError: refused"
    # Failing beats slow; with no error text the status code says why.
    both = replace(DOWN, slow=True, status=503, error=None)
    assert "red" in str(probe_value(both).style)
    assert probe_error(both) == Text("HTTP 503")


def test_alert_text_active_and_cleared() -> None:
    alert = Alert("AL-4", "probe:prod", 3.0, 3.0, "probe prod failed 3 times", T0, env="prod")
    text = alert_text(alert, UTC)
    assert text.plain == "⚠ AL-4 probe prod failed 3 times  [prod]  since 05-01 12:00:00"
    assert "bold red" in styles(text)
    cleared = alert_text(replace(alert, cleared_at=T0 + timedelta(minutes=1)), UTC)
    assert cleared.plain.startswith("✓ AL-4") and "bold red" not in styles(cleared)


def event(kind: str, item: str | None = None, **data: object) -> Event:
    return Event(kind, item, dict(data), T0)


def test_event_text_colours_deploys_rollbacks_failures_and_alerts() -> None:
    deployed = event(ev.DEPLOYED, "SD-3", env="staging", version="1.3.0")
    assert event_text(deployed, UTC).plain == (
        "05-01 12:00:00  ✔ deployed  SD-3 · staging  1.3.0 on staging"
    )
    assert "green" in event_style(deployed)
    rolled = event(ev.ROLLED_BACK, env="prod", from_version="1.3.0", to_version="1.2.0")
    assert "yellow" in event_style(rolled) and "1.3.0 → 1.2.0" in event_text(rolled).plain
    failed = event(
        ev.STAGE_FINISHED,
        "SD-3",
        stage="test",
        status="failed",
        duration=8.4,
        message="2 tests failed",
    )
    assert "red" in event_style(failed)
    assert event_row(failed)[3].plain == "test failed in 8.4s: 2 tests failed"
    passed = event(
        ev.STAGE_FINISHED, "SD-3", stage="test", status="passed", duration=75, message="ignored"
    )
    assert "green" in event_style(passed) and event_row(passed)[3].plain == "test passed in 1m 15s"
    deploy_failed = event(ev.DEPLOY_FAILED, env="prod", version="1.3.0", reason="unhealthy")
    assert "red" in event_style(deploy_failed)
    raised = event(ev.ALERT_RAISED, alert_id="AL-4", env="prod", message="cpu at 95%")
    assert event_style(raised) == "bold red" and "AL-4 cpu at 95%" in event_text(raised).plain
    assert event_style(event(ev.ALERT_CLEARED, alert_id="AL-4")) == "dim"


def test_event_text_is_one_harmless_line_for_unknown_or_hostile_data() -> None:
    hostile = event(ev.DEPLOY_FAILED, env="prod", version="1", reason="boom\x1b[2J\nmore")
    text = event_text(hostile).plain
    assert "\x1b" not in text and "\n" not in text and "boom\\x1b[2J …" in text
    unknown = event("custom.thing", "SD-1", answer=42)
    assert event_row(unknown)[1].plain == "· custom.thing"
    assert event_row(unknown)[3].plain == "answer=42"
    # the webhook's text is the same words, as harmless, for any shape it is given
    from shipdeck.backends.notify import payload

    said = payload("p\x1b]0;x\x07", hostile)["text"]
    assert "\x1b" not in said and "\n" not in said and "boom\\x1b[2J …" in said
    assert payload("p", {"no": "type"})["text"] == "p: event"
    assert payload(None, {"type": "deployed", "version": 3})["text"].startswith("✔ deployed  3")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45, "45s"),
        (723, "12m 03s"),
        (3 * 3600 + 240, "3h 04m"),
        (2 * 86400 + 5 * 3600, "2d 05h"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_uptime_uses_the_given_now() -> None:
    assert uptime(T0 - timedelta(seconds=90), T0) == "1m 30s"
    assert uptime(None, T0) == "–"


def row(status: EnvStatus, error: str | None = None) -> dict[str, str]:
    cells = env_row(status, T0, error)
    return dict(zip([*ENV_COLUMNS, "note"], (c.plain for c in cells), strict=True))


def test_env_row_health_replicas_uptime() -> None:
    running = EnvStatus(
        "prod",
        "swarm",
        "1.2.0",
        "running",
        False,
        T0 - timedelta(hours=2),
        replicas=3,
        replicas_running=2,
        restarts=1,
    )
    cells = env_row(running, T0)
    assert row(running) == {
        "env": "prod",
        "target": "swarm",
        "version": "1.2.0",
        "state": "running",
        "health": "● unhealthy",
        "uptime": "2h",
        "replicas": "2/3",
        "restarts": "1",
        "note": "",
    }
    assert "red" in str(cells[4].style) and "yellow" in str(cells[6].style)
    healthy = replace(running, healthy=True, replicas_running=3, restarts=0)
    cells = env_row(healthy, T0)
    assert cells[4].plain == "● healthy" and "green" in str(cells[4].style)
    assert cells[6].style == "" and cells[7].style == ""
    stopped = EnvStatus("staging", "local", "1.1.0", "stopped", None, T0 - timedelta(hours=1))
    assert row(stopped)["uptime"] == "–" and row(stopped)["health"] == "○ unknown"
    assert row(stopped)["replicas"] == "–"


def test_env_row_shows_why_the_status_failed() -> None:
    unknown = EnvStatus("edge", "?")
    cells = row(unknown, "engine unreachable at unix:///var/run/docker.sock")
    assert cells["state"] == "error" and cells["health"] == "○ unknown"
    assert cells["note"] == "engine unreachable at unix:///var/run/docker.sock"
    # A known (stale) status keeps its state but health is no longer trusted.
    stale = EnvStatus("prod", "docker", "1.2.0", "running", True, T0)
    assert row(stale, "timeout")["state"] == "running"
    assert row(stale, "timeout")["health"] == "○ unknown"


def test_containers_text_lists_stats_and_errors() -> None:
    from shipdeck.lifecycle.ports import ContainerStats
    from shipdeck.widgets.ops.text import containers_text

    stats = [
        ContainerStats("hello-staging-0.1.0", "abcdef123456789", 12.5, 50_000_000, 1_000_000_000,
                       2_000, 3_000, 0, 4_096, 3),
        ContainerStats("hello-staging-0.2.0", "fedcba", None, 0, 0, 0, 0, 0, 0, None),
    ]  # fmt: skip
    text = containers_text(stats, {"production": "engine unreachable at ssh://prod"}).plain
    assert "hello-staging-0.1.0" in text
    assert "12.5%" in text and "47.7 MB" in text and "5%" in text  # 1024-based, as docker stats
    assert "2.0 KB/2.9 KB" in text
    assert "engine unreachable at ssh://prod" in text
    lines = text.splitlines()
    assert lines[0].startswith("CONTAINER") and len(lines) == 4


def test_swarm_rows_say_where_tasks_run_and_nodes_show_down_in_red() -> None:
    from shipdeck.lifecycle.ports import NodeInfo
    from shipdeck.widgets.ops.text import env_row, nodes_text

    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    status = EnvStatus(env="staging", target="swarm", version="1.0.0", state="starting")
    status.detail = {"tasks": "2 on swm-n1, 1 on swm-n2", "pending": "no suitable node"}
    note = env_row(status, now)[-1].plain
    assert "2 on swm-n1, 1 on swm-n2" in note and "pending: no suitable node" in note
    local = EnvStatus(env="dev", target="local", state="stopped", detail={"reason": "gone"})
    assert env_row(local, now)[-1].plain == ""
    up = NodeInfo("a", "swm-n1", "manager", "ready", "active", "10.77.0.11", True, 2)
    down = NodeInfo("c", "swm-n3", "worker", "down", "active", "10.77.0.13", False, 0)
    text = nodes_text({"staging": [up, down], "prod": [up]})
    lines = text.plain.splitlines()
    assert len(lines) == 3  # a header and one line a machine, shared or not
    assert "swm-n1" in lines[1] and "manager ★" in lines[1] and "staging 2" in lines[1]
    down_at = text.plain.index("down")
    assert any(
        span.start <= down_at < span.end and "bold" in str(span.style) for span in text.spans
    )
