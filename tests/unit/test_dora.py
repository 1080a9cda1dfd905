"""DORA metrics over hand-built journals with answers worked out by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shipdeck.lifecycle.dora import compute, frequency_band, percentile
from shipdeck.lifecycle.events import (
    ALERT_CLEARED,
    ALERT_RAISED,
    DEPLOY_FAILED,
    DEPLOYED,
    ITEM_CREATED,
    ROLLED_BACK,
    Event,
)

NOW = datetime(2024, 5, 31, tzinfo=UTC)
H = timedelta(hours=1)


def ev(kind: str, at: datetime, **data: Any) -> Event:
    return Event(kind, data=data, ts=at)


def two_busy_days() -> list[Event]:
    """4 deploys to staging in 2 days, one manual rollback restored 1h30m later."""
    d0 = NOW - timedelta(days=2)
    return [
        ev(ITEM_CREATED, d0, title="first"),
        ev(DEPLOYED, d0 + 1 * H, env="staging", version="0.1.0", lead_time=3600),
        ev(DEPLOYED, d0 + 5 * H, env="staging", version="0.2.0", lead_time=7200),
        ev(DEPLOYED, d0 + 24 * H, env="staging", version="0.3.0", lead_time=1800),
        ev(ROLLED_BACK, d0 + 24.5 * H, env="staging", from_version="0.3.0", to_version="0.2.0"),
        ev(DEPLOYED, d0 + 26 * H, env="staging", version="0.3.1", lead_time=600),
    ]


def test_four_deploys_in_two_days_with_one_rollback() -> None:
    report = compute(two_busy_days(), NOW)
    assert report.deployments == 4
    # The journal is 2 days old, so the observed period is 2 days, not 30.
    assert report.period_days == pytest.approx(2.0)
    assert report.deployment_frequency == pytest.approx(2.0)
    assert report.frequency_band == "elite"
    # Lead times 600, 1800, 3600, 7200: median (1800+3600)/2, p90 = 3600 + 0.7 * 3600.
    assert report.lead_time_median == pytest.approx(2700)
    assert report.lead_time_p90 == pytest.approx(6120)
    assert report.lead_time_samples == 4
    # CFR = failed changes / attempts = 1 rollback / (4 deployed + 0 failed) = 0.25;
    # a rollback is a failed change, not another deploy attempt.
    assert report.rollbacks == 1 and report.failed_changes == 1
    assert report.change_failure_rate == pytest.approx(0.25)
    # Restored by the next deploy to staging, 1h30m after the rollback.
    assert report.restore_times == [5400.0]
    assert report.time_to_restore_median == pytest.approx(5400)
    assert report.open_incidents == 0


def failed_deploy_in_production() -> list[Event]:
    t = NOW - timedelta(days=10)
    return [
        ev(DEPLOYED, t, env="production", version="1.0.0", lead_time=100),
        ev(DEPLOY_FAILED, t + 2 * H, env="production", version="1.1.0", reason="unhealthy"),
        # the engine's automatic rollback of that same failure
        ev(
            ROLLED_BACK,
            t + 2 * H + timedelta(seconds=10),
            env="production",
            from_version="1.1.0",
            to_version="1.0.0",
        ),
        ev(DEPLOYED, t + 5 * H, env="production", version="1.1.1", lead_time=300),
    ]


def test_a_failed_deploy_and_its_automatic_rollback_count_once() -> None:
    report = compute(failed_deploy_in_production(), NOW)
    assert report.deployments == 2 and report.failed_deployments == 1
    assert report.rollbacks == 1 and report.failed_changes == 1
    # attempts = 2 deployed + 1 failed = 3; one failed change
    assert report.change_failure_rate == pytest.approx(1 / 3)
    assert report.restore_times == [3 * 3600.0]
    # journal started 10 days ago: 2 deploys / 10 days = 0.2/day (between weekly and daily)
    assert report.deployment_frequency == pytest.approx(0.2)
    assert report.frequency_band == "high"


def test_env_filter_keeps_one_environment() -> None:
    events = sorted(two_busy_days() + failed_deploy_in_production(), key=lambda e: e.ts)
    everything = compute(events, NOW)
    assert everything.deployments == 6
    assert everything.change_failure_rate == pytest.approx(2 / 7)
    prod = compute(events, NOW, env="production")
    assert prod.env == "production"
    assert prod.deployments == 2 and prod.failed_changes == 1
    assert prod.lead_time_median == pytest.approx(200)
    assert prod.restore_times == [3 * 3600.0]


def test_window_cut_off() -> None:
    old = NOW - timedelta(days=40)
    events = [
        ev(DEPLOYED, old, env="staging", version="0.1.0", lead_time=99999),
        ev(DEPLOY_FAILED, NOW - timedelta(days=30, hours=1), env="staging", version="0.2.0"),
        ev(DEPLOYED, NOW - timedelta(days=29), env="staging", version="0.2.1", lead_time=60),
        ev(DEPLOYED, NOW + timedelta(days=1), env="staging", version="9.9.9"),  # future
    ]
    report = compute(events, NOW, window_days=30)
    assert report.since == NOW - timedelta(days=30)
    assert report.deployments == 1
    assert report.lead_time_median == 60  # the 40-day-old deploy is outside
    assert report.failed_deployments == 0  # the failure was 1h before the window...
    # ...but its restore happened inside it, so the restore counts: 1 day + 1 hour
    assert report.restore_times == [25 * 3600.0]
    # the journal is older than the window: the period is the whole window
    assert report.period_days == 30
    assert report.deployment_frequency == pytest.approx(1 / 30)
    assert report.frequency_band == "medium"
    short = compute(events, NOW, window_days=7)
    assert short.deployments == 0 and short.deployment_frequency is None


def test_alert_incident_is_restored_when_its_alerts_clear() -> None:
    t = NOW - timedelta(days=1)
    events = [
        ev(DEPLOYED, t, env="staging", version="0.2.0"),
        ev(ALERT_RAISED, t + H, alert_id="AL-1", env="staging", metric="probe:staging"),
        ev(ALERT_RAISED, t + H, alert_id="AL-2", env=None, metric="cpu"),  # host: ignored
        ev(ALERT_RAISED, t + 1.5 * H, alert_id="AL-3", env="staging", metric="probe:api"),
        ev(ALERT_CLEARED, t + 2 * H, alert_id="AL-1"),  # AL-3 still open
        ev(ALERT_CLEARED, t + 3 * H, alert_id="AL-3"),
        ev(ALERT_RAISED, t + 4 * H, alert_id="AL-4", env="staging", metric="probe:staging"),
    ]
    report = compute(events, NOW)
    assert report.restore_times == [2 * 3600.0]
    assert report.open_incidents == 1  # AL-4 is still open
    assert report.change_failure_rate == 0.0  # alerts are not failed changes
    assert report.lead_time_median is None  # deployed without a lead_time


def test_empty_journal_gives_nulls() -> None:
    report = compute([], NOW)
    data = report.to_dict()
    assert data["deployments"] == 0
    assert data["deployment_frequency"] is None and data["frequency_band"] is None
    assert data["lead_time"] == {"median_seconds": None, "p90_seconds": None, "samples": 0}
    assert data["change_failure_rate"] is None
    assert data["time_to_restore"]["median_seconds"] is None
    assert data["period_days"] == 30
    json.dumps(data)  # serialisable as-is
    text = report.format_text()
    assert "no deployments" in text and "no deploy attempts" in text


def test_to_dict_and_text() -> None:
    report = compute(two_busy_days(), NOW)
    data = report.to_dict()
    assert data["until"] == "2024-05-31T00:00:00Z" and data["since"] == "2024-05-01T00:00:00Z"
    assert data["deployment_frequency"] == 2.0 and data["frequency_band"] == "elite"
    assert data["lead_time"]["median_seconds"] == 2700.0
    assert data["change_failure_rate"] == 0.25
    assert data["time_to_restore"] == {"median_seconds": 5400.0, "restores": 1, "open_incidents": 0}
    text = report.format_text()
    assert "2.00/day (elite), 4 deployments" in text
    assert "median 45m, p90 1h 42m" in text
    assert "25% (1 of 4 deploy attempts failed)" in text
    assert "median 1h 30m (1 restored)" in text


@pytest.mark.parametrize(
    ("per_day", "band"),
    [(3.0, "elite"), (1.0, "high"), (1 / 7, "high"), (0.1, "medium"), (0.01, "low"), (None, None)],
)
def test_frequency_bands(per_day: float | None, band: str | None) -> None:
    assert frequency_band(per_day) == band


def test_helpers() -> None:
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
