"""The four DORA metrics, computed from the journal alone.

From its index (:func:`from_journal`): the five event types DORA reads, a few
fields each, streamed in time order from the last deploy before the window, so a
journal of a million events costs about the window's rows, not a million parsed
events.

Pure and replayable: the same journal and ``now`` always give the same report,
so ``shipdeck dora``, the board and the tests agree. Definitions (each metric is
``None`` when there is nothing to measure, e.g. an empty journal):

* **Window**: events with ``now - window_days < ts <= now``. Earlier events
  still set the state (what was live, which incident was open) but are not counted.
* **Deployment frequency**: ``deployed`` events in the window per day of the
  *observed period*: the window, shortened to the journal's first event when the
  journal is younger than the window, but never under one day (so a new project
  is not judged on 30 days it didn't exist). Band: elite > 1/day, high >= 1/week,
  medium >= 1/month, else low. None (no band) without deployments.
* **Lead time for changes**: median and p90 (linear interpolation) of the
  ``lead_time`` seconds the engine writes on ``deployed`` (first commit on the
  item's branch to deployed); events without one are skipped.
* **Change failure rate**: failed changes / deploy attempts, where attempts =
  ``deployed`` + ``deploy.failed`` and failed changes = every ``deploy.failed``
  plus every ``rolled_back`` of a release that had deployed successfully. The
  automatic rollback that follows a ``deploy.failed`` in the same environment is
  the same failure and is not counted twice. Capped at 1.
* **Time to restore**: per environment an incident opens at the first failure
  (``deploy.failed``, ``rolled_back`` or an ``alert.raised`` for that
  environment) and is restored at the next ``deployed`` there, or, when an alert
  was part of it, at the ``alert.cleared`` that leaves the environment with no
  open alert. The median covers incidents restored inside the window. Host
  alerts (no environment) are not service incidents.

``env`` restricts every metric to one environment (e.g. "production").
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shipdeck.lifecycle.events import (
    ALERT_CLEARED,
    ALERT_RAISED,
    DEPLOY_FAILED,
    DEPLOYED,
    ROLLED_BACK,
    Event,
)
from shipdeck.lifecycle.history import DoraFacts, dora_row
from shipdeck.lifecycle.items import format_time
from shipdeck.lifecycle.journal import Journal
from shipdeck.lifecycle.units import counted, duration

DAY = 86400.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear between closest ranks; None when empty."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q / 100.0
    low, high = math.floor(pos), math.ceil(pos)
    return data[low] + (data[high] - data[low]) * (pos - low)


def frequency_band(per_day: float | None) -> str | None:
    """The DORA performance band for an average deployment rate."""
    if per_day is None:
        return None
    if per_day > 1.0:
        return "elite"  # on demand, multiple deploys per day
    if per_day >= 1.0 / 7:
        return "high"  # between once per day and once per week
    if per_day >= 1.0 / 30:
        return "medium"  # between once per week and once per month
    return "low"


@dataclass(frozen=True)
class DoraReport:
    since: datetime
    until: datetime
    window_days: int
    period_days: float
    env: str | None
    deployments: int
    failed_deployments: int
    rollbacks: int
    failed_changes: int
    deployment_frequency: float | None  # per day
    frequency_band: str | None
    lead_time_median: float | None  # seconds
    lead_time_p90: float | None
    lead_time_samples: int
    change_failure_rate: float | None  # 0..1
    time_to_restore_median: float | None  # seconds
    restores: int
    open_incidents: int
    restore_times: list[float] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        return self.deployments + self.failed_deployments

    def to_dict(self) -> dict[str, Any]:
        """The ``shipdeck dora --json`` shape: numbers, null when there's no data."""
        return {
            "window_days": self.window_days,
            "since": format_time(self.since),
            "until": format_time(self.until),
            "period_days": round(self.period_days, 3),
            "env": self.env,
            "deployments": self.deployments,
            "failed_deployments": self.failed_deployments,
            "rollbacks": self.rollbacks,
            "deployment_frequency": _round(self.deployment_frequency, 4),
            "frequency_band": self.frequency_band,
            "lead_time": {
                "median_seconds": _round(self.lead_time_median, 1),
                "p90_seconds": _round(self.lead_time_p90, 1),
                "samples": self.lead_time_samples,
            },
            "change_failure_rate": _round(self.change_failure_rate, 4),
            "failed_changes": self.failed_changes,
            "time_to_restore": {
                "median_seconds": _round(self.time_to_restore_median, 1),
                "restores": self.restores,
                "open_incidents": self.open_incidents,
            },
        }

    def format_text(self) -> str:
        """A few aligned lines for a terminal."""
        scope = f"environment {self.env}" if self.env else "all environments"
        lines = [f"DORA metrics, last {self.window_days} days ({scope})"]
        if self.deployment_frequency is None:
            freq = "no deployments"
        else:
            n = self.deployments
            freq = (
                f"{self.deployment_frequency:.2f}/day ({self.frequency_band}), "
                f"{counted(n, 'deployment')}"
            )
        lines.append(f"  Deployment frequency   {freq}")
        if self.lead_time_median is None:
            lead = "no data"
        else:
            lead = (
                f"median {duration(self.lead_time_median)}, "
                f"p90 {duration(self.lead_time_p90)} ({self.lead_time_samples} changes)"
            )
        lines.append(f"  Lead time for changes  {lead}")
        if self.change_failure_rate is None:
            cfr = "no deploy attempts"
        else:
            cfr = (
                f"{self.change_failure_rate:.0%} "
                f"({self.failed_changes} of {self.attempts} deploy attempts failed)"
            )
        lines.append(f"  Change failure rate    {cfr}")
        if self.time_to_restore_median is None:
            ttr = "no incidents restored"
        else:
            ttr = f"median {duration(self.time_to_restore_median)} ({self.restores} restored)"
        if self.open_incidents:
            ttr += f", {self.open_incidents} still open"
        lines.append(f"  Time to restore        {ttr}")
        return "\n".join(lines)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class _Incident:
    start: float  # epoch seconds
    alerts: set[str] = field(default_factory=set)
    had_alert: bool = False


def compute(
    events: Sequence[Event], now: datetime, window_days: int = 30, env: str | None = None
) -> DoraReport:
    """The DORA report for the ``window_days`` up to ``now`` (see the module docstring)."""
    ordered = sorted((e for e in events if e.ts <= now), key=lambda e: e.ts)
    first = ordered[0].ts.timestamp() if ordered else None
    facts = DoraFacts(first, [dora_row(e) for e in ordered])
    return compute_facts(facts, now, window_days, env)


def from_journal(
    journal: Journal, now: datetime, window_days: int = 30, env: str | None = None
) -> DoraReport:
    """:func:`compute` over the journal's index: only the few fields DORA reads, of
    its five event types, from the last deploy before the window on, streamed in
    time order (1M events: no Event objects, and the rows of about the window)."""
    facts = journal.dora_facts(now, now - timedelta(days=window_days), env)
    return compute_facts(facts, now, window_days, env)


def compute_facts(
    facts: DoraFacts, now: datetime, window_days: int = 30, env: str | None = None
) -> DoraReport:
    """:func:`compute` from the journal's first time and DORA's facts in time order
    (epoch seconds; see ``lifecycle.history.dora_row``)."""
    first = facts.first
    since = now - timedelta(days=window_days)
    since_ts = since.timestamp()

    deployments = failed_deploys = rollbacks = failed_changes = 0
    lead_times: list[float] = []
    restore_times: list[float] = []
    failure_counted: dict[str, bool] = {}  # env -> the live change already counted as failed
    incidents: dict[str, _Incident] = {}
    alert_env: dict[str, str] = {}

    def restore(where: str, at: float) -> None:
        incident = incidents.pop(where, None)
        if incident is not None and at > since_ts:
            restore_times.append(at - incident.start)

    def open_incident(where: str, at: float) -> _Incident:
        incident = incidents.get(where)
        if incident is None:
            incident = incidents[where] = _Incident(at)
        return incident

    for ts, kind, event_env, alert_id, lead in facts.rows:
        where = event_env
        if kind == ALERT_CLEARED and not where:
            where = alert_env.get(alert_id)
        if where is None or (env is not None and where != env):
            continue
        counted = ts > since_ts
        if kind == DEPLOYED:
            failure_counted[where] = False
            restore(where, ts)
            if counted:
                deployments += 1
                if lead is not None and lead >= 0:
                    lead_times.append(lead)
        elif kind == DEPLOY_FAILED:
            failure_counted[where] = True
            open_incident(where, ts)
            if counted:
                failed_deploys += 1
                failed_changes += 1
        elif kind == ROLLED_BACK:
            already = failure_counted.get(where, False)
            failure_counted[where] = True
            open_incident(where, ts)
            if counted:
                rollbacks += 1
                failed_changes += 0 if already else 1
        elif kind == ALERT_RAISED:
            alert_env[alert_id] = where
            raised_in = open_incident(where, ts)
            raised_in.alerts.add(alert_id)
            raised_in.had_alert = True
        elif kind == ALERT_CLEARED:
            cleared_in = incidents.get(where)
            if cleared_in is not None:
                cleared_in.alerts.discard(alert_id)
                if cleared_in.had_alert and not cleared_in.alerts:
                    restore(where, ts)

    period = float(window_days)
    if first is not None and first > since_ts:
        period = max(1.0, (now.timestamp() - first) / DAY)
    frequency = deployments / period if deployments and period > 0 else None
    attempts = deployments + failed_deploys
    cfr = min(1.0, failed_changes / attempts) if attempts else None
    return DoraReport(
        since=since,
        until=now,
        window_days=window_days,
        period_days=period,
        env=env,
        deployments=deployments,
        failed_deployments=failed_deploys,
        rollbacks=rollbacks,
        failed_changes=failed_changes,
        deployment_frequency=frequency,
        frequency_band=frequency_band(frequency),
        lead_time_median=statistics.median(lead_times) if lead_times else None,
        lead_time_p90=percentile(lead_times, 90),
        lead_time_samples=len(lead_times),
        change_failure_rate=cfr,
        time_to_restore_median=statistics.median(restore_times) if restore_times else None,
        restores=len(restore_times),
        open_incidents=len(incidents),
        restore_times=restore_times,
    )
