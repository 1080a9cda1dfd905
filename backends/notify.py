"""Deployment notifications: a JSON POST to a webhook (implements ``Notifier``).

A notification is a courtesy, never part of the pipeline: a dead webhook is
logged and remembered in ``last_error``, and the deploy carries on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from backends.probe import describe_error
from lifecycle.events import Event

log = logging.getLogger(__name__)

SOURCE = "shipdeck"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def payload(project: str | None, event: Mapping[str, object] | Event) -> dict[str, Any]:
    """The body POSTed: ``{"source", "project", "event"}``; accepts a mapping or an ``Event``."""
    body = event.to_dict() if isinstance(event, Event) else dict(event)
    return {"source": SOURCE, "project": project, "event": body}


class WebhookNotifier:
    """POSTs each event as JSON to ``url``; errors are returned and logged, never raised."""

    def __init__(self, url: str, timeout: float = 5.0, project: str | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.project = project
        self.last_error: str | None = None
        self._client = httpx.Client(trust_env=False, timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WebhookNotifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, event: Mapping[str, object] | Event) -> None:
        """``Notifier.send``: deliver, keeping any error in ``last_error``."""
        self.deliver(event)

    def deliver(self, event: Mapping[str, object] | Event) -> str | None:
        """POST the event; None on a 2xx answer, else a short error text."""
        error: str | None
        try:
            content = json.dumps(payload(self.project, event), default=_jsonable)
            response = self._client.post(
                self.url,
                content=content.encode("utf-8"),
                headers={"Content-Type": "application/json", "User-Agent": "shipdeck-webhook"},
            )
        except Exception as exc:  # noqa: BLE001 - a webhook never breaks the engine
            error = describe_error(exc, self.timeout)
        else:
            error = None if response.is_success else f"HTTP {response.status_code}"
        if error:
            log.warning("webhook %s: %s", self.url, error)
        self.last_error = error
        return error
