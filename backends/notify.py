"""Deployment notifications: a JSON POST to a webhook (implements ``Notifier``).

A notification is a courtesy, never part of the pipeline. ``send()`` only puts
the event on a bounded queue (:data:`QUEUE_SIZE`; when full, the oldest event
is dropped) and returns; a background thread delivers it: each attempt over
within ``timeout`` seconds in all, at most 4 KiB of the answer read, no
redirects, up to :data:`RETRIES` retries with backoff after a connection error
or a 5xx. An event that is dropped, or not delivered in the end, goes to
``on_failure`` (the CLI and the board journal it as ``webhook.failed``) and
``last_error``. At exit the queue gets at most :data:`EXIT_FLUSH` seconds (half
a second after SIGINT/SIGTERM); what is left then is reported as not delivered.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shipdeck.backends import probe
from shipdeck.backends.http_client import httpx
from shipdeck.backends.probe import Stopped, describe_error, fetch, make_client
from shipdeck.lifecycle.event_words import clean, event_line
from shipdeck.lifecycle.events import Event
from shipdeck.lifecycle.ports import CancelToken

log = logging.getLogger(__name__)

SOURCE = "shipdeck"
QUEUE_SIZE = 100  # events waiting for the sender; past it the oldest is dropped
RETRIES = 3  # after a connection error or a 5xx; not after a timeout (it may have arrived)
BACKOFF = 0.5  # seconds before the first retry, doubling
EXIT_FLUSH = 1.5  # seconds the process waits at exit for the queue to drain (<= 2 s in all)
_EXIT_FLUSH_INTERRUPTED = 0.5
_JOIN = 0.2  # of a close's budget, kept for the attempt in flight to notice the cancel


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def payload(project: str | None, event: Mapping[str, object] | Event) -> dict[str, Any]:
    """The body POSTed: ``{"source", "project", "event", "text"}``; accepts a mapping or
    an ``Event``. ``text`` is the event in one line of words, the field Slack's,
    Mattermost's and Rocket.Chat's incoming webhooks (and Discord's ``/slack`` one)
    show: without it they refuse the post."""
    body = event.to_dict() if isinstance(event, Event) else dict(event)
    try:
        words = event_line(event if isinstance(event, Event) else Event.from_dict(body))
    except (KeyError, TypeError, ValueError):  # not an event's shape: its type at most
        words = clean(body.get("type", "event"))
    text = f"{clean(project, 60)}: {words}" if project else words
    return {"source": SOURCE, "project": project, "event": body, "text": text}


@dataclass(frozen=True)
class WebhookFailure:
    """An event the webhook did not get: why, after how many attempts (0: never tried)."""

    event: Mapping[str, Any]  # the event as it would have been posted
    error: str
    attempts: int
    webhook: str  # scheme://host:port only: a webhook's path often holds its secret

    @property
    def item(self) -> str | None:
        item = self.event.get("item")
        return str(item) if item is not None else None

    def journal_data(self) -> dict[str, Any]:
        """The fields of a ``webhook.failed`` journal event."""
        data: dict[str, Any] = {"event": self.event.get("type")}
        for key in ("env", "version", "alert_id"):
            if self.event.get(key) is not None:
                data[key] = self.event[key]
        return data | {"error": self.error, "attempts": self.attempts, "webhook": self.webhook}


@dataclass(frozen=True)
class _Pending:
    event: dict[str, Any]
    content: bytes


_live: weakref.WeakSet[WebhookNotifier] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    """Give every notifier with events left a short, shared time to deliver them."""
    budget = _EXIT_FLUSH_INTERRUPTED if probe.interrupted() else EXIT_FLUSH
    end = time.monotonic() + budget
    for notifier in list(_live):
        notifier.close(max(0.0, end - time.monotonic()))


class WebhookNotifier:
    """POSTs each event as JSON to ``url`` from a sender thread; never raises, never blocks."""

    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        project: str | None = None,
        *,
        on_failure: Callable[[WebhookFailure], None] | None = None,
        queue_size: int = QUEUE_SIZE,
        retries: int = RETRIES,
        backoff: float = BACKOFF,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.project = project
        self.on_failure = on_failure
        self.queue_size = max(1, queue_size)
        self.retries = max(0, retries)
        self.backoff = backoff
        self.last_error: str | None = None
        self.delivered = 0
        self.failed = 0
        self.dropped = 0  # of the failed: pushed out of a full queue
        try:
            self.webhook = probe.origin(httpx.URL(url))
        except Exception:  # noqa: BLE001 - a bad url fails each delivery with its reason
            self.webhook = "?"
        self._client = make_client(user_agent="shipdeck-webhook")
        self._queue: deque[_Pending] = deque()
        self._cond = threading.Condition()
        self._sender: threading.Thread | None = None
        self._busy = False
        self._closed = False
        self._stop = CancelToken()  # ends the attempt in flight and the backoff, on close

    def __enter__(self) -> WebhookNotifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the deploy path: returns at once ----------------------------------------------

    def send(self, event: Mapping[str, object] | Event) -> None:
        """``Notifier.send``: queue the event for the sender thread and return."""
        body = payload(self.project, event)
        item = _Pending(body["event"], json.dumps(body, default=_jsonable).encode("utf-8"))
        dropped: _Pending | None = None
        with self._cond:
            if self._closed:
                dropped = item
            else:
                if len(self._queue) >= self.queue_size:
                    dropped = self._queue.popleft()
                    self.dropped += 1
                self._queue.append(item)
                if self._sender is None:
                    self._sender = threading.Thread(
                        target=self._run, name="shipdeck-webhook", daemon=True
                    )
                    self._sender.start()
                    _live.add(self)
                self._cond.notify_all()
        if dropped is item:
            self._fail(item, "not sent: the notifier was closed", 0)
        elif dropped is not None:
            self._fail(dropped, f"dropped: {self.queue_size} newer events were waiting", 0)

    # --- the sender thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue or self._stop.cancelled:
                    self._sender = None
                    self._cond.notify_all()
                    return
                item = self._queue.popleft()
                self._busy = True
            try:
                error, attempts = self._deliver_with_retries(item)
                if error is None:
                    self.delivered += 1
                    self.last_error = None
                else:
                    self._fail(item, error, attempts)
            except Exception:  # the sender must outlive any one event
                log.exception("webhook sender")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _deliver_with_retries(self, item: _Pending) -> tuple[str | None, int]:
        attempt = 0
        while True:
            attempt += 1
            error, again = self._attempt(item.content, self._stop)
            if error is not None and self._stop.cancelled:
                last = "" if error == "cancelled" else f" (last: {error})"
                return f"not delivered before the notifier closed{last}", attempt
            if error is None or not again or attempt > self.retries:
                return error, attempt
            if self._stop.wait(self.backoff * 2 ** (attempt - 1)):
                return f"not delivered before the notifier closed (last: {error})", attempt

    def _attempt(self, content: bytes, cancel: CancelToken | None) -> tuple[str | None, bool]:
        """One POST: (None, _) when delivered, else (why, whether a retry may help)."""
        try:
            answer = fetch(
                self._client,
                "POST",
                self.url,
                timeout=self.timeout,
                cancel=cancel,
                content=content,
                headers={"Content-Type": "application/json"},
                follow_redirects=False,
                interruptible=False,  # the exit flush bounds it instead
            )
        except Stopped as exc:
            return str(exc), False
        except httpx.TimeoutException as exc:
            return describe_error(exc, self.timeout), False
        except httpx.TransportError as exc:  # refused, reset, a broken answer: try again
            return describe_error(exc, self.timeout), True
        except Exception as exc:  # noqa: BLE001 - a webhook never breaks the engine
            return describe_error(exc, self.timeout), False
        status = answer.status
        if 200 <= status < 300:
            return None, False
        if 300 <= status < 400:
            return f"HTTP {status} (redirects are not followed)", False
        return f"HTTP {status}", status >= 500

    def _fail(self, item: _Pending, error: str, attempts: int) -> None:
        self.failed += 1
        self.last_error = error
        log.warning("webhook %s: %s", self.webhook, error)
        if self.on_failure is None:
            return
        try:
            self.on_failure(WebhookFailure(item.event, error, attempts, self.webhook))
        except Exception:  # reporting a failure must not fail the sender
            log.exception("webhook failure callback")

    # --- synchronous use, flush and close ---------------------------------------------------

    def deliver(self, event: Mapping[str, object] | Event) -> str | None:
        """POST the event now, once (no queue, no retry); None on a 2xx, else a short error."""
        content = json.dumps(payload(self.project, event), default=_jsonable).encode("utf-8")
        error, _again = self._attempt(content, None)
        if error:
            log.warning("webhook %s: %s", self.webhook, error)
        self.last_error = error
        return error

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for every queued event to be delivered or reported."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = EXIT_FLUSH) -> None:
        """Deliver what is queued within ``timeout`` s; report the rest as not delivered."""
        end = time.monotonic() + timeout
        self.flush(max(0.0, timeout - _JOIN))
        with self._cond:
            self._closed = True
            left = list(self._queue)
            self._queue.clear()
            sender = self._sender
        self._stop.cancel()  # the attempt in flight ends within a tick, and is reported
        if sender is not None:
            sender.join(max(0.0, end - time.monotonic()))
        for item in left:
            self._fail(item, "not delivered before the notifier closed (never sent)", 0)
        if sender is None or not sender.is_alive():
            self._client.close()
        _live.discard(self)
