"""Operations presentation: pure functions from lifecycle models to Rich ``Text``.

The metrics, events and environments panes only arrange what these return, so
every colour and wording choice is tested without starting an app. Times are
shown in ``tz`` (None: the local zone); "now" is always passed in, never read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

from rich.text import Text

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.alerts import Alert
from shipdeck.lifecycle.event_words import clean, event_label, event_summary, event_where
from shipdeck.lifecycle.events import Event
from shipdeck.lifecycle.ports import ContainerStats, EnvStatus, NodeInfo, ProbeResult
from shipdeck.lifecycle.units import byte_rate, byte_size, duration

OK = "green"
WARN = "yellow"
ERROR = "red"
DIM = "dim"
ALERT = "bold red"


def clock(ts: datetime, tz: tzinfo | None = None) -> str:
    """``MM-DD HH:MM:SS`` in ``tz``; no "today"/"ago" wording, so output never drifts."""
    return ts.astimezone(tz).strftime("%m-%d %H:%M:%S")


# --- host metrics and probes ----------------------------------------------------


def percent_text(value: float | None, alerting: bool = False) -> Text:
    """A host metric's current value; red while an alert is open on it."""
    if value is None:
        return Text("–", style=DIM)
    return Text(f"{value:.1f}%", style=ALERT if alerting else "")


def rate_text(value: float | None) -> Text:
    return Text("–", style=DIM) if value is None else Text(byte_rate(value))


def probe_style(result: ProbeResult) -> str:
    """Failing beats slow: a probe that errors is red even if it also took long."""
    if not result.ok:
        return ERROR
    return WARN if result.slow else OK


def probe_label(result: ProbeResult) -> Text:
    """``● name``: the dot carries the probe's state colour."""
    dot = "✘" if not result.ok else "●"
    return Text.assemble((dot, probe_style(result)), " ", clean(result.name, 40))


def probe_value(result: ProbeResult) -> Text:
    """Status code and latency, with ``slow`` or ``failed`` spelled out (not colour only)."""
    style = probe_style(result)
    status = str(result.status) if result.status is not None else "---"
    latency = f"{result.latency_ms:.0f} ms" if result.latency_ms is not None else "– ms"
    text = Text(f"{status} {latency:>7}", style=style)
    if not result.ok:
        text.append(" failed", style=f"bold {ERROR}")
    elif result.slow:
        text.append(" slow", style=f"bold {WARN}")
    return text


def probe_error(result: ProbeResult) -> Text | None:
    """Why a probe failed, for the line under it; None while it passes."""
    if result.ok:
        return None
    reason = result.error or (f"HTTP {result.status}" if result.status is not None else "failed")
    return Text(clean(reason), style=ERROR)


def alert_text(alert: Alert, tz: tzinfo | None = None) -> Text:
    """An active (or cleared, dimmed) alert: id, message, environment, since when."""
    if alert.cleared:
        text = Text.assemble(("✓ ", DIM), (alert.id, DIM), " ", (clean(alert.message), DIM))
    else:
        text = Text.assemble(("⚠ ", ALERT), (alert.id, ALERT), " ", clean(alert.message))
    if alert.env:
        text.append(f"  [{clean(alert.env, 40)}]", style=DIM)
    text.append(f"  since {clock(alert.raised_at, tz)}", style=DIM)
    return text


# --- journal events -------------------------------------------------------------

# type -> style (the words and icons: lifecycle/event_words.py)
_EVENT_STYLE: dict[str, str] = {
    ev.ITEM_EDITED: DIM,
    ev.ITEM_ARCHIVED: DIM,
    ev.STAGE_STARTED: DIM,
    ev.STAGE_FINISHED: OK,
    ev.RELEASE_CUT: "cyan",
    ev.DEPLOY_STARTED: DIM,
    ev.DEPLOYED: f"bold {OK}",
    ev.DEPLOY_FAILED: f"bold {ERROR}",
    ev.DEPLOY_UNKNOWN: f"bold {WARN}",
    ev.DEPLOY_CANCELLED: WARN,
    ev.ROLLED_BACK: f"bold {WARN}",
    ev.AUTOSCALED: "cyan",
    ev.AUTOSCALE_PAUSED: WARN,
    ev.STOPPED: WARN,
    ev.ALERT_RAISED: ALERT,
    ev.ALERT_CLEARED: DIM,
}
_STAGE_STATUS_STYLE = {"passed": OK, "failed": f"bold {ERROR}", "cancelled": WARN}


def event_style(event: Event) -> str:
    """The row colour: deploys green, rollbacks yellow, failures and alerts red."""
    if event.type == ev.STAGE_FINISHED:
        return _STAGE_STATUS_STYLE.get(str(event.get("status")), "")
    return _EVENT_STYLE.get(event.type, "")


def event_row(event: Event, tz: tzinfo | None = None) -> list[Text]:
    """The timeline's columns: time, type, item/environment, short text."""
    style = event_style(event)
    return [
        Text(clock(event.ts, tz), style=DIM),
        Text(event_label(event), style=style),
        Text(event_where(event)),
        Text(clean(event_summary(event)), style=style if style in (DIM, ALERT) else ""),
    ]


def event_text(event: Event, tz: tzinfo | None = None) -> Text:
    """One event as one line (notifications, narrow layouts, tests)."""
    cells = [c for c in event_row(event, tz) if c.plain]
    return Text("  ").join(cells)


# --- environments ---------------------------------------------------------------


def uptime(started_at: datetime | None, now: datetime) -> str:
    return "–" if started_at is None else duration((now - started_at).total_seconds())


_STATE_STYLE = {
    "running": OK,
    "starting": WARN,
    "stopped": DIM,
    "absent": DIM,
    "failed": f"bold {ERROR}",
    "error": f"bold {ERROR}",
}


def health_text(healthy: bool | None) -> Text:
    if healthy is None:
        return Text("○ unknown", style=DIM)
    return Text("● healthy", style=OK) if healthy else Text("● unhealthy", style=f"bold {ERROR}")


def replicas_text(status: EnvStatus) -> Text:
    if status.replicas is None and status.replicas_running is None:
        return Text("–", style=DIM)
    running = "?" if status.replicas_running is None else str(status.replicas_running)
    wanted = "?" if status.replicas is None else str(status.replicas)
    short = status.replicas_running is not None and status.replicas_running < (status.replicas or 0)
    return Text(f"{running}/{wanted}", style=WARN if short else "")


ENV_COLUMNS = ("env", "target", "version", "state", "health", "uptime", "replicas", "restarts")


def env_row(status: EnvStatus, now: datetime, error: str | None = None) -> list[Text]:
    """One environment's cells (``ENV_COLUMNS`` plus a note); ``error`` when status failed."""
    running = status.state in ("running", "starting")
    restarts = status.restarts
    note = Text(clean(error), style=ERROR) if error else _cluster_note(status)
    state = "error" if error and status.state == "absent" else status.state
    return [
        Text(clean(status.env, 40), style="bold"),
        Text(clean(status.target, 20), style=DIM),
        Text(clean(status.version, 40)) if status.version else Text("–", style=DIM),
        Text(state, style=_STATE_STYLE.get(state, "")),
        health_text(status.healthy) if not error else Text("○ unknown", style=DIM),
        Text(uptime(status.started_at, now)) if running else Text("–", style=DIM),
        replicas_text(status),
        Text("–", style=DIM)
        if restarts is None
        else Text(str(restarts), style=WARN if restarts else ""),
        note,
    ]


def _cluster_note(status: EnvStatus) -> Text:
    """Where a swarm service's tasks run, what keeps one pending, an update not done."""
    if status.target != "swarm":
        return Text("")
    detail = status.detail
    note = Text(clean(detail.get("tasks", ""), 80), style=DIM)
    pending = detail.get("pending") or detail.get("reason")
    if pending:
        note.append(f"  pending: {clean(pending, 60)}", style=WARN)
    update = detail.get("update", "")
    if update and update != "completed":
        note.append(f"  update {clean(update, 30)}", style=WARN)
    return note


def containers_text(stats: Sequence[ContainerStats], errors: Mapping[str, str]) -> Text:
    """``docker stats`` as a small table: one line a container, errors (an engine away) after."""
    out = Text()
    header = f"{'CONTAINER':<28} {'CPU':>7} {'MEM':>18} {'NET rx/tx':>19} {'BLOCK r/w':>19} PIDS"
    out.append(header + "\n", "bold")
    for s in stats:
        cpu = "   –" if s.cpu is None else f"{s.cpu:6.1f}%"
        mem = f"{byte_size(s.memory)} {s.memory_percent:4.0f}%"
        net = f"{byte_size(s.net_rx)}/{byte_size(s.net_tx)}"
        blk = f"{byte_size(s.block_read)}/{byte_size(s.block_write)}"
        pids = "–" if s.pids is None else str(s.pids)
        out.append(f"{clean(s.name)[:28]:<28} {cpu:>7} {mem:>18} {net:>19} {blk:>19} {pids}\n")
    for env, error in errors.items():
        out.append(f"{env}: {clean(error)}\n", "red")
    out.rstrip()
    return out


# --- cluster nodes ------------------------------------------------------------------


def nodes_text(nodes: Mapping[str, Sequence[NodeInfo]]) -> Text:
    """``docker node ls`` with each environment's tasks: one line a machine (machines
    shared by several environments once), a node not ready in red."""
    out = Text()
    out.append(f"{'NODE':<20} {'ROLE':<12} {'STATE':<12} {'AVAILABILITY':<13} TASKS\n", "bold")
    rows: dict[str, tuple[NodeInfo, list[str]]] = {}
    for env, found in nodes.items():
        for node in found:
            _node, tasks = rows.setdefault(node.id, (node, []))
            if node.tasks:
                tasks.append(f"{clean(env, 20)} {node.tasks}")
    for node, tasks in rows.values():
        role = node.role + (" ★" if node.leader else "")
        style = "" if node.ready else f"bold {ERROR}"
        out.append(f"{clean(node.name, 20)[:20]:<20} {role:<12} ", "")
        out.append(f"{clean(node.state, 12):<12} ", style or OK)
        out.append(
            f"{clean(node.availability, 13):<13} ", "" if node.availability == "active" else WARN
        )
        out.append((", ".join(tasks) or "–") + "\n", DIM if not tasks else "")
    out.rstrip()
    return out
