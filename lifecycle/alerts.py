"""Alert rules and the state machine that turns samples into alerts.

Pure: samples and probe results go in, ``Alert`` notices come out; the caller
journals them (``Alert.to_event``), notifies, and may open a bug item
(``bug_from_alert``). An alert is raised once when a threshold is crossed and
cleared once when the value is back, so a pegged CPU is one alert, not one per
sample. Alert ids (``AL-<n>``) continue from the journal across restarts.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shipdeck.lifecycle.errors import ShipdeckError
from shipdeck.lifecycle.events import ALERT_CLEARED, ALERT_RAISED, Event
from shipdeck.lifecycle.items import Kind, format_time, utcnow
from shipdeck.lifecycle.ports import HostSample, NodeInfo, ProbeResult

ALERT_PREFIX = "AL-"
HOST_METRICS = ("cpu", "memory", "disk")
PROBE_PREFIX = "probe:"
NODE_PREFIX = "node:"
_ALERT_ID_RE = re.compile(r"^AL-([0-9]+)$")


def _num(value: float) -> str:
    """95.0 -> "95", 95.46 -> "95.5": alert texts stay short."""
    return f"{round(value, 1):g}"


@dataclass(frozen=True)
class AlertRules:
    """Thresholds from ``monitor.alerts``; None (or <= 0 failures) disables a rule.

    Host metrics alert at ``value >= threshold`` and clear below
    ``threshold - hysteresis``, so a value hovering at the line doesn't flap.
    """

    cpu: float | None = 90.0
    memory: float | None = 90.0
    disk: float | None = 90.0
    probe_failures: int = 3
    hysteresis: float = 0.0

    def threshold(self, metric: str) -> float | None:
        if metric in HOST_METRICS:
            value: float | None = getattr(self, metric)
            return value
        if metric.startswith(PROBE_PREFIX):
            return float(self.probe_failures) if self.probe_failures > 0 else None
        if metric.startswith(NODE_PREFIX):
            return 1.0  # a machine not ready is one alert, at once
        return None


@dataclass(frozen=True)
class Alert:
    """One alert; the same alert with ``cleared_at`` set is its "cleared" notice."""

    id: str
    metric: str  # "cpu", "memory", "disk" or "probe:<name>"
    value: float  # the metric's percent, or the consecutive failure count
    threshold: float
    message: str
    raised_at: datetime
    env: str | None = None
    cleared_at: datetime | None = None

    @property
    def cleared(self) -> bool:
        return self.cleared_at is not None

    @property
    def probe(self) -> str | None:
        """The probe's name for probe alerts, else None."""
        return self.metric[len(PROBE_PREFIX) :] if self.metric.startswith(PROBE_PREFIX) else None

    def event_data(self, version: str | None = None) -> dict[str, Any]:
        """The journal fields of ``alert.raised`` (or ``alert.cleared`` once cleared)."""
        if self.cleared:
            return {
                "alert_id": self.id,
                "env": self.env,
                "metric": self.metric,
                "value": self.value,
                "message": self.message,
            }
        return {
            "alert_id": self.id,
            "env": self.env,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
            "version": version,
        }

    def to_event(self, version: str | None = None, item: str | None = None) -> Event:
        """A journal event; ``version`` is the release deployed where the alert fired."""
        if self.cleared:
            assert self.cleared_at is not None
            return Event(ALERT_CLEARED, item=item, data=self.event_data(), ts=self.cleared_at)
        return Event(ALERT_RAISED, item=item, data=self.event_data(version), ts=self.raised_at)


class History:
    """Bounded recent values per key (probe latencies, host metrics) for sparklines."""

    def __init__(self, size: int = 60) -> None:
        self.size = size
        self._series: dict[str, deque[float | None]] = {}

    def add(self, key: str, value: float | None) -> None:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = deque(maxlen=self.size)
        series.append(value)

    def series(self, key: str) -> list[float | None]:
        """Oldest first; None marks a failed probe (a gap in the sparkline)."""
        return list(self._series.get(key, ()))

    def values(self, key: str) -> list[float]:
        return [v for v in self._series.get(key, ()) if v is not None]

    def last(self, key: str) -> float | None:
        series = self._series.get(key)
        return series[-1] if series else None

    def keys(self) -> list[str]:
        return list(self._series)


class AlertTracker:
    """Feeds samples through ``AlertRules``; returns raised and cleared alerts.

    ``start`` is the next alert number (see ``next_alert_number``); ``active``
    restores alerts still open in the journal (``open_alerts``) so a restart
    neither repeats nor forgets them. ``probe_envs`` maps a probe to the
    environment it watches (default: the probe's own name).
    """

    def __init__(
        self,
        rules: AlertRules,
        *,
        start: int = 1,
        probe_envs: Mapping[str, str] | None = None,
        active: Iterable[Alert] = (),
        history_size: int = 60,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.rules = rules
        self._next = max(1, start)
        self._probe_envs = dict(probe_envs or {})
        self._clock = clock
        self.active: dict[str, Alert] = {a.metric: a for a in active if not a.cleared}
        self.failures: dict[str, int] = {}
        self.last_probe: dict[str, ProbeResult] = {}
        self.probes = History(history_size)
        self.host = History(history_size)

    def _new_id(self) -> str:
        number = self._next
        self._next += 1
        return f"{ALERT_PREFIX}{number}"

    def _raise(
        self,
        metric: str,
        value: float,
        threshold: float,
        message: str,
        env: str | None,
        at: datetime,
    ) -> Alert:
        alert = Alert(self._new_id(), metric, value, threshold, message, at, env)
        self.active[metric] = alert
        return alert

    def _clear(self, metric: str, value: float, message: str, at: datetime) -> Alert:
        alert = self.active.pop(metric)
        return replace(alert, value=value, message=message, cleared_at=at)

    def observe_host(self, sample: HostSample, at: datetime | None = None) -> list[Alert]:
        """Record a host sample; alerts raised or cleared by it."""
        at = at or self._clock()
        for key in ("cpu", "memory", "disk", "net_sent", "net_recv"):
            reading = getattr(sample, key)
            self.host.add(key, None if reading is None else float(reading))
        out: list[Alert] = []
        for metric in HOST_METRICS:
            reading = getattr(sample, metric)
            if reading is None:  # not read this time: an open alert stays as it is
                continue
            value = float(reading)
            threshold = self.rules.threshold(metric)
            open_alert = self.active.get(metric)
            if open_alert is not None:
                limit = open_alert.threshold if threshold is None else threshold
                if threshold is None or value < limit - self.rules.hysteresis:
                    text = f"{metric} back to {_num(value)}% (threshold {_num(limit)}%)"
                    out.append(self._clear(metric, value, text, at))
            elif threshold is not None and value >= threshold:
                text = f"{metric} at {_num(value)}% (threshold {_num(threshold)}%)"
                out.append(self._raise(metric, value, threshold, text, None, at))
        return out

    def observe_probe(self, result: ProbeResult, at: datetime | None = None) -> list[Alert]:
        """Record a probe result; an alert after N consecutive failures, cleared on success."""
        at = at or self._clock()
        name = result.name
        metric = PROBE_PREFIX + name
        self.last_probe[name] = result
        self.probes.add(name, result.latency_ms if result.ok else None)
        if result.ok:
            self.failures[name] = 0
            if metric in self.active:
                how = f"HTTP {result.status}" if result.status is not None else "ok"
                if result.latency_ms is not None:
                    how += f", {_num(result.latency_ms)} ms"
                return [self._clear(metric, 0.0, f"probe {name} healthy again ({how})", at)]
            return []
        count = self.failures.get(name, 0) + 1
        self.failures[name] = count
        threshold = self.rules.threshold(metric)
        if threshold is None or metric in self.active or count < threshold:
            return []
        reason = result.error or (f"HTTP {result.status}" if result.status else "failed")
        text = f"probe {name} failed {count} times in a row: {reason}"
        env = self._probe_envs.get(name, name)
        return [self._raise(metric, float(count), threshold, text, env, at)]

    def observe_nodes(
        self, env: str, nodes: Iterable[NodeInfo], at: datetime | None = None
    ) -> list[Alert]:
        """A node not ready (down, disconnected) raises ``node:<name>``; ready clears it.

        ``env`` is the environment whose cluster it is (the first one asking, when
        several environments share a swarm: one machine is one alert)."""
        at = at or self._clock()
        out: list[Alert] = []
        for node in nodes:
            metric = NODE_PREFIX + node.name
            if node.ready and metric in self.active:
                text = f"node {node.name} is ready again ({node.role})"
                out.append(self._clear(metric, 0.0, text, at))
            elif not node.ready and metric not in self.active:
                text = (
                    f"node {node.name} ({node.role}, {node.addr or 'no address'}) is {node.state}"
                )
                out.append(self._raise(metric, 1.0, 1.0, text, env, at))
        return out


def alert_number(alert_id: str) -> int | None:
    m = _ALERT_ID_RE.match(str(alert_id).strip().upper())
    return int(m.group(1)) if m else None


def next_alert_number(events: Iterable[Event]) -> int:
    """One past the highest ``AL-<n>`` in the journal, so ids stay unique across restarts."""
    highest = 0
    for event in events:
        if event.type in (ALERT_RAISED, ALERT_CLEARED):
            number = alert_number(str(event.get("alert_id", "")))
            if number is not None:
                highest = max(highest, number)
    return highest + 1


def alert_from_event(event: Event) -> Alert:
    """Rebuild an ``Alert`` from its ``alert.raised`` journal event."""
    return Alert(
        id=str(event.get("alert_id", "")),
        metric=str(event.get("metric", "")),
        value=float(event.get("value") or 0.0),
        threshold=float(event.get("threshold") or 0.0),
        message=str(event.get("message", "")),
        raised_at=event.ts,
        env=event.get("env"),
    )


def open_alerts(events: Iterable[Event]) -> list[Alert]:
    """Alerts raised and not yet cleared, oldest first (to restore an ``AlertTracker``)."""
    raised: dict[str, Alert] = {}
    for event in events:
        alert_id = str(event.get("alert_id", ""))
        if event.type == ALERT_RAISED and alert_id:
            raised[alert_id] = alert_from_event(event)
        elif event.type == ALERT_CLEARED:
            raised.pop(alert_id, None)
    return list(raised.values())


def release_link(version: str, tag_format: str = "v{version}") -> str:
    tag = version if version.startswith("v") else tag_format.format(version=version)
    return f"release:{tag}"


class NotAnAlert(ShipdeckError, ValueError):
    """A bug was asked of an event that is not an ``alert.raised``."""


def bug_from_alert(alert_event: Event, tag_format: str = "v{version}") -> dict[str, Any]:
    """Title, kind, body and links for ``item add --from-alert``: a bug linked to the release."""
    if alert_event.type != ALERT_RAISED:
        raise NotAnAlert(f"not an alert event: {alert_event.type}")
    alert = alert_from_event(alert_event)
    version = alert_event.get("version")
    where = f" on {alert.env}" if alert.env else ""
    if alert.probe is not None:
        title = f"Alert: probe {alert.probe} failed {_num(alert.value)} times"
    elif alert.metric.startswith(NODE_PREFIX):
        title = f"Alert: {alert.message}{where}"
    else:
        title = (
            f"Alert: {alert.metric} at {_num(alert.value)}%{where} "
            f"(threshold {_num(alert.threshold)}%)"
        )
    lines = [
        f"Opened from alert {alert.id} raised at {format_time(alert.raised_at)}.",
        "",
        alert.message,
        "",
        f"- metric: {alert.metric}",
        f"- value: {_num(alert.value)} (threshold {_num(alert.threshold)})",
    ]
    if alert.env:
        lines.append(f"- environment: {alert.env}")
    links: list[str] = []
    if version:
        lines.append(f"- release: {version}")
        links.append(release_link(str(version), tag_format))
    links.append(f"alert:{alert.id}")
    return {"title": title, "kind": Kind.BUG.value, "body": "\n".join(lines), "links": links}
