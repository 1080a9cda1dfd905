"""Following a swarm update on the event stream: the end of an earlier update is not this
one's, a rollback's short states are all seen, and inspect stands in for a broken stream."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from shipdeck.backends.swarm.watch import UpdateWatch
from shipdeck.lifecycle.ports import CancelToken


def event(state: str) -> dict[str, Any]:
    return {"Type": "service", "Actor": {"Attributes": {"updatestate.new": state}}}


class FakeApi:
    """``events`` yields the given events (then blocks until closed); ``inspect_service``
    answers with ``status``, its StartedAt ``started`` seconds from now."""

    def __init__(
        self, events: list[dict[str, Any]], status: str = "", started: float = -60
    ) -> None:
        self._events = events
        self.status, self.started = status, started
        self.closed = threading.Event()

    def events(self, **_kwargs: Any) -> Any:
        api = self

        class Stream:
            def __iter__(self) -> Iterator[dict[str, Any]]:
                yield from api._events
                api.closed.wait(30)

            def close(self) -> None:
                api.closed.set()

        return Stream()

    def inspect_service(self, _sid: str) -> dict[str, Any]:
        at = datetime.now(UTC) + timedelta(seconds=self.started)
        stamp = at.isoformat().replace("+00:00", "Z")
        return {"UpdateStatus": {"State": self.status, "StartedAt": stamp, "Message": "m"}}


def test_a_rollback_is_seen_state_by_state_and_ends_it() -> None:
    api = FakeApi([event("updating"), event("rollback_started"), event("rollback_completed")])
    seen: list[str] = []
    end = UpdateWatch(api, "svc").wait(10, CancelToken(), seen.append)
    assert end.state == "rollback_completed" and end.rolled_back
    assert seen == ["updating", "rollback_started", "rollback_completed"]
    assert api.closed.is_set()  # the stream is closed when the wait ends


def test_the_end_of_an_earlier_update_is_not_this_ones() -> None:
    """The stream replays from just before the request: a final state before any start
    state belongs to the update before (inspect's old status is ignored by its time)."""
    api = FakeApi(
        [event("rollback_completed"), event("updating"), event("completed")],
        status="rollback_completed",
        started=-60,
    )
    end = UpdateWatch(api, "svc").wait(10, CancelToken())
    assert end.state == "completed" and not end.rolled_back
    assert end.seen == ("updating", "completed")


def test_inspect_ends_the_wait_when_the_stream_says_nothing() -> None:
    api = FakeApi([], status="completed", started=5)  # an update that started after the ask
    end = UpdateWatch(api, "svc").wait(10, CancelToken())
    assert end.state == "completed"


def test_nothing_happening_times_out_and_cancel_ends_it() -> None:
    assert UpdateWatch(FakeApi([]), "svc").wait(0.5, CancelToken()).state == "timeout"
    cancel = CancelToken()
    cancel.cancel()
    assert UpdateWatch(FakeApi([event("updating")]), "svc").wait(10, cancel).state == "cancelled"
