"""WebhookNotifier posts real JSON to a real HTTP server on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shipdeck.backends.notify import WebhookNotifier
from shipdeck.lifecycle.events import DEPLOYED, ROLLED_BACK, Event
from tests.helpers import WebhookReceiver as Hook
from tests.waiting import DEADLINE

pytestmark = pytest.mark.slow  # real webhook servers and the shipdeck command


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


def test_event_mapping_is_posted_as_json(hook: Hook) -> None:
    with WebhookNotifier(hook.url, timeout=5, project="hello") as notifier:
        error = notifier.deliver({"type": "deployed", "env": "staging", "version": "0.2.0"})
    assert error is None
    path, headers, body = hook.received.get(timeout=DEADLINE)
    assert path == "/hooks/deploy"
    assert headers["Content-Type"] == "application/json"
    assert body == {
        "source": "shipdeck",
        "project": "hello",
        "event": {"type": "deployed", "env": "staging", "version": "0.2.0"},
        # what chat tools show (Slack's incoming webhook refuses a post without it)
        "text": "hello: ✔ deployed  staging  0.2.0 on staging",
    }


def test_journal_events_are_posted_with_their_fields(hook: Hook) -> None:
    ts = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    notifier = WebhookNotifier(hook.url, timeout=5, project="hello")
    notifier.send(
        Event(
            DEPLOYED, item="SD-4", data={"env": "prod", "version": "1.0.0", "lead_time": 60}, ts=ts
        )
    )
    notifier.send(
        Event(ROLLED_BACK, data={"env": "prod", "from_version": "1.0.0", "to_version": "0.9.0"})
    )
    notifier.close()
    first = hook.received.get(timeout=DEADLINE)[2]
    second = hook.received.get(timeout=DEADLINE)[2]
    assert first["event"] == {
        "ts": "2024-05-01T12:00:00Z",
        "type": "deployed",
        "item": "SD-4",
        "env": "prod",
        "version": "1.0.0",
        "lead_time": 60,
    }
    assert first["text"] == "hello: ✔ deployed  SD-4 · prod  1.0.0 on prod"
    assert second["event"]["type"] == "rolled_back"
    assert second["event"]["to_version"] == "0.9.0"
    assert second["text"] == "hello: ↶ rolled back  prod  1.0.0 → 0.9.0"
    assert notifier.last_error is None


def test_non_json_values_are_stringified(hook: Hook) -> None:
    ts = datetime(2024, 5, 1, tzinfo=UTC)
    with WebhookNotifier(hook.url, project="p") as notifier:
        assert notifier.deliver({"type": "alert.raised", "at": ts}) is None
    body = hook.received.get(timeout=DEADLINE)[2]
    assert body["event"]["at"] == "2024-05-01T00:00:00+00:00"
    assert body["text"].startswith("p: ⚠ alert")


def test_error_status_is_returned_not_raised() -> None:
    hook = Hook(status=500)
    try:
        with WebhookNotifier(hook.url, project="p") as notifier:
            assert notifier.deliver({"type": "deployed"}) == "HTTP 500"
            assert notifier.last_error == "HTTP 500"
    finally:
        hook.close()


def test_unreachable_webhook_does_not_raise() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with WebhookNotifier(f"http://127.0.0.1:{port}/hook", timeout=2, project="p") as notifier:
        notifier.send({"type": "deployed", "env": "staging"})  # must not raise, nor wait
        assert notifier.flush(15)  # delivered in the background, retries included
        assert notifier.last_error == "connection refused"
        assert notifier.deliver({"type": "deployed"}) == "connection refused"


def test_bad_url_does_not_raise() -> None:
    with WebhookNotifier("not a url", timeout=1, project="p") as notifier:
        error = notifier.deliver({"type": "deployed"})
    assert error
