"""AlertTracker: raise once, clear once, consecutive probe failures, unique ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shipdeck.lifecycle.alerts import (
    Alert,
    AlertRules,
    AlertTracker,
    History,
    bug_from_alert,
    next_alert_number,
    open_alerts,
)
from shipdeck.lifecycle.events import ALERT_CLEARED, ALERT_RAISED, DEPLOYED, Event
from shipdeck.lifecycle.ports import HostSample, ProbeResult

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def host(cpu: float = 10, memory: float = 20, disk: float = 30) -> HostSample:
    return HostSample(cpu=cpu, memory=memory, disk=disk, net_sent=0, net_recv=0)


def probe(ok: bool, name: str = "staging", latency: float | None = 12.0) -> ProbeResult:
    return ProbeResult(
        name=name,
        url="http://127.0.0.1:8081/health",
        ok=ok,
        status=200 if ok else None,
        latency_ms=latency if ok else None,
        error=None if ok else "connection refused",
    )


def test_threshold_crossing_raises_once_and_clears_once() -> None:
    tracker = AlertTracker(AlertRules(cpu=90, memory=90, disk=90))
    assert tracker.observe_host(host(cpu=50), at=T0) == []
    raised = tracker.observe_host(host(cpu=95), at=T0 + timedelta(seconds=2))
    assert len(raised) == 1
    alert = raised[0]
    assert (alert.id, alert.metric, alert.value, alert.threshold) == ("AL-1", "cpu", 95, 90)
    assert not alert.cleared and alert.raised_at == T0 + timedelta(seconds=2)
    assert alert.message == "cpu at 95% (threshold 90%)"
    # still over: no repeat
    assert tracker.observe_host(host(cpu=99), at=T0 + timedelta(seconds=4)) == []
    assert tracker.observe_host(host(cpu=90), at=T0 + timedelta(seconds=6)) == []
    cleared = tracker.observe_host(host(cpu=40), at=T0 + timedelta(seconds=8))
    assert len(cleared) == 1 and cleared[0].cleared and cleared[0].id == "AL-1"
    assert cleared[0].cleared_at == T0 + timedelta(seconds=8)
    assert tracker.active == {}
    assert tracker.observe_host(host(cpu=40)) == []
    # a new crossing is a new alert
    again = tracker.observe_host(host(cpu=91))
    assert [a.id for a in again] == ["AL-2"]


def test_each_host_metric_has_its_own_alert() -> None:
    tracker = AlertTracker(AlertRules(cpu=90, memory=80, disk=None))
    raised = tracker.observe_host(host(cpu=95, memory=85, disk=100))
    assert sorted(a.metric for a in raised) == ["cpu", "memory"]  # disk rule disabled
    assert len({a.id for a in raised}) == 2
    cleared = tracker.observe_host(host(cpu=95, memory=10, disk=100))
    assert [(a.metric, a.cleared) for a in cleared] == [("memory", True)]


def test_hysteresis_keeps_a_hovering_value_from_flapping() -> None:
    tracker = AlertTracker(AlertRules(cpu=90, hysteresis=5))
    assert len(tracker.observe_host(host(cpu=91))) == 1
    assert tracker.observe_host(host(cpu=87)) == []  # under 90 but not under 85
    assert tracker.observe_host(host(cpu=91)) == []
    assert [a.cleared for a in tracker.observe_host(host(cpu=84))] == [True]


def test_consecutive_probe_failures_raise_once_and_clear_on_success() -> None:
    tracker = AlertTracker(AlertRules(probe_failures=3))
    assert tracker.observe_probe(probe(False)) == []
    assert tracker.observe_probe(probe(False)) == []
    raised = tracker.observe_probe(probe(False))
    assert len(raised) == 1
    alert = raised[0]
    assert alert.metric == "probe:staging" and alert.probe == "staging"
    assert alert.value == 3 and alert.threshold == 3 and alert.env == "staging"
    assert "failed 3 times" in alert.message and "connection refused" in alert.message
    assert tracker.observe_probe(probe(False)) == []  # 4th failure: same alert
    cleared = tracker.observe_probe(probe(True))
    assert len(cleared) == 1 and cleared[0].cleared and cleared[0].id == alert.id
    assert "healthy again" in cleared[0].message


def test_a_success_resets_the_failure_count() -> None:
    tracker = AlertTracker(AlertRules(probe_failures=3))
    for ok in (False, False, True, False, False):
        assert tracker.observe_probe(probe(ok)) == []
    assert tracker.failures["staging"] == 2


def test_probes_are_counted_separately_and_mapped_to_envs() -> None:
    tracker = AlertTracker(AlertRules(probe_failures=2), probe_envs={"api": "production"})
    tracker.observe_probe(probe(False, "api"))
    assert tracker.observe_probe(probe(False, "staging")) == []
    raised = tracker.observe_probe(probe(False, "api"))
    assert [(a.metric, a.env) for a in raised] == [("probe:api", "production")]


def test_ids_are_unique_and_continue_from_the_journal() -> None:
    journal = [
        Event(ALERT_RAISED, data={"alert_id": "AL-7", "metric": "cpu"}),
        Event(ALERT_CLEARED, data={"alert_id": "AL-7"}),
        Event(ALERT_RAISED, data={"alert_id": "AL-3", "metric": "disk"}),
        Event(DEPLOYED, data={"env": "staging", "alert_id": "AL-99"}),  # not an alert event
    ]
    assert next_alert_number([]) == 1
    assert next_alert_number(journal) == 8
    tracker = AlertTracker(AlertRules(cpu=50, memory=50, disk=50, probe_failures=1), start=8)
    ids = [a.id for a in tracker.observe_host(host(cpu=60, memory=60, disk=60))]
    ids += [a.id for a in tracker.observe_probe(probe(False))]
    tracker.observe_host(host())
    ids += [a.id for a in tracker.observe_host(host(cpu=60))]
    assert ids == ["AL-8", "AL-9", "AL-10", "AL-11", "AL-12"]


def test_open_alerts_restore_a_tracker_without_repeating() -> None:
    journal = [
        Event(
            ALERT_RAISED, data={"alert_id": "AL-1", "metric": "cpu", "value": 95, "threshold": 90}
        ),
        Event(
            ALERT_RAISED, data={"alert_id": "AL-2", "metric": "disk", "value": 97, "threshold": 90}
        ),
        Event(ALERT_CLEARED, data={"alert_id": "AL-1"}),
    ]
    still_open = open_alerts(journal)
    assert [a.id for a in still_open] == ["AL-2"]
    tracker = AlertTracker(AlertRules(), start=next_alert_number(journal), active=still_open)
    assert tracker.observe_host(host(disk=98)) == []  # already open: not raised again
    cleared = tracker.observe_host(host(disk=50))
    assert [(a.id, a.cleared) for a in cleared] == [("AL-2", True)]


def test_alert_events_round_trip_through_the_journal() -> None:
    tracker = AlertTracker(AlertRules(probe_failures=1), clock=lambda: T0)
    (alert,) = tracker.observe_probe(probe(False))
    event = alert.to_event(version="0.2.0", item="SD-4")
    assert event.type == ALERT_RAISED and event.item == "SD-4" and event.ts == T0
    assert event.data["alert_id"] == "AL-1" and event.data["version"] == "0.2.0"
    assert event.data["env"] == "staging" and event.data["threshold"] == 1
    restored = Event.from_dict(event.to_dict())
    assert open_alerts([restored])[0] == Alert(
        id="AL-1",
        metric="probe:staging",
        value=1.0,
        threshold=1.0,
        message=alert.message,
        raised_at=T0,
        env="staging",
    )
    (cleared,) = tracker.observe_probe(probe(True))
    assert cleared.to_event().type == ALERT_CLEARED
    assert cleared.to_event().data["alert_id"] == "AL-1"


def test_history_is_bounded_and_marks_failures_as_gaps() -> None:
    tracker = AlertTracker(AlertRules(), history_size=3)
    for ok, latency in ((True, 10.0), (False, None), (True, 30.0), (True, 40.0)):
        tracker.observe_probe(probe(ok, latency=latency))
    assert tracker.probes.series("staging") == [None, 30.0, 40.0]
    assert tracker.probes.values("staging") == [30.0, 40.0]
    tracker.observe_host(host(cpu=12))
    assert tracker.host.last("cpu") == 12.0
    assert History().series("missing") == []


def test_bug_from_a_probe_alert() -> None:
    event = Event(
        ALERT_RAISED,
        data={
            "alert_id": "AL-3",
            "env": "staging",
            "metric": "probe:staging",
            "value": 3,
            "threshold": 3,
            "message": "probe staging failed 3 times in a row: connection refused",
            "version": "0.2.0",
        },
        ts=T0,
    )
    bug = bug_from_alert(event)
    assert bug["title"] == "Alert: probe staging failed 3 times"
    assert bug["kind"] == "bug"
    assert bug["links"] == ["release:v0.2.0", "alert:AL-3"]
    assert "connection refused" in bug["body"] and "AL-3" in bug["body"]
    assert "2024-05-01T12:00:00Z" in bug["body"]


def test_bug_from_a_host_alert_without_release() -> None:
    event = Event(
        ALERT_RAISED,
        data={"alert_id": "AL-9", "metric": "disk", "value": 97.26, "threshold": 90, "env": None},
    )
    bug = bug_from_alert(event, tag_format="release-{version}")
    assert bug["title"] == "Alert: disk at 97.3% (threshold 90%)"
    assert bug["links"] == ["alert:AL-9"]
    event2 = Event(ALERT_RAISED, data={"alert_id": "AL-1", "metric": "cpu", "version": "1.2.0"})
    assert (
        bug_from_alert(event2, tag_format="release-{version}")["links"][0]
        == "release:release-1.2.0"
    )


def test_bug_from_a_non_alert_event_is_an_error() -> None:
    with pytest.raises(ValueError):
        bug_from_alert(Event(DEPLOYED, data={"env": "staging"}))


def test_a_node_not_ready_is_one_alert_until_it_is_ready_again() -> None:
    from shipdeck.lifecycle.ports import NodeInfo

    tracker = AlertTracker(AlertRules())
    up = NodeInfo("id3", "swm-n3", "worker", "ready", "active", "10.77.0.13")
    down = NodeInfo("id3", "swm-n3", "worker", "down", "active", "10.77.0.13")
    assert tracker.observe_nodes("staging", [up]) == []
    raised = tracker.observe_nodes("staging", [down])
    assert len(raised) == 1 and not raised[0].cleared
    assert raised[0].env == "staging" and raised[0].metric == "node:swm-n3"
    assert "node swm-n3 (worker, 10.77.0.13) is down" in raised[0].message
    assert tracker.observe_nodes("staging", [down]) == []  # still down: no second alert
    cleared = tracker.observe_nodes("staging", [up])
    assert len(cleared) == 1 and cleared[0].cleared and cleared[0].id == raised[0].id
    bug = bug_from_alert(raised[0].to_event("1.2.0"))
    assert bug["title"] == "Alert: node swm-n3 (worker, 10.77.0.13) is down on staging"
    assert bug["kind"] == "bug" and "release:v1.2.0" in bug["links"]


def test_a_cpu_not_read_is_a_gap_that_neither_raises_nor_clears() -> None:
    """HostMetrics reads no CPU over a too-short window (None): the chart shows a gap,
    an open cpu alert stays open, and nothing is raised from the missing value."""
    tracker = AlertTracker(AlertRules(cpu=90, memory=90, disk=90))
    unread = HostSample(cpu=None, memory=20, disk=30, net_sent=0, net_recv=0)
    assert tracker.observe_host(unread, at=T0) == []
    (raised,) = tracker.observe_host(host(cpu=95), at=T0 + timedelta(seconds=1))
    assert tracker.observe_host(unread, at=T0 + timedelta(seconds=2)) == []
    assert tracker.active["cpu"] == raised  # still open: a gap says nothing either way
    (cleared,) = tracker.observe_host(host(cpu=5), at=T0 + timedelta(seconds=3))
    assert cleared.cleared and cleared.id == raised.id
    assert tracker.host.series("cpu") == [None, 95.0, None, 5.0]
