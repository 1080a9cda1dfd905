"""Following a service's rolling update (or rollback) to its end, from the event stream.

Swarm reports an update in ``UpdateStatus`` (``updating`` -> ``completed``, or
``rollback_started`` -> ``rollback_completed``, or ``paused``). Polling inspect
misses short states (a rollback state can last 2 ms), so the engine's event
stream is read from just before the update was asked for: every ``updatestate``
change arrives, in order. Inspect is still read every few seconds, in case the
stream breaks (a manager that restarts); its ``UpdateStatus`` counts only when it
started after the update was asked for.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shipdeck.backends.docker.engine import CONNECTION_ERRORS, parse_time
from shipdeck.lifecycle.ports import CancelToken

FINAL = frozenset({"completed", "rollback_completed", "paused", "rollback_paused"})
STARTS = frozenset({"updating", "rollback_started"})
_INSPECT_EVERY = 2.0


@dataclass(frozen=True)
class UpdateEnd:
    """How an update ended: the last ``UpdateStatus`` state, its message, what was seen."""

    state: str  # one of FINAL, "timeout" or "cancelled"
    message: str
    seen: tuple[str, ...]

    @property
    def rolled_back(self) -> bool:
        return self.state == "rollback_completed" or "rollback_started" in self.seen


class UpdateWatch:
    """Started before the update call; ``wait`` returns once it ends (or times out)."""

    def __init__(self, api: Any, service_id: str) -> None:
        self._api = api
        self._service = service_id
        # Events from now on (to the microsecond: the previous update may have ended
        # a moment ago); a final state counts only after a start state of this one.
        self._since = f"{time.time():.6f}"
        self._asked = datetime.now().astimezone() - timedelta(milliseconds=1)
        self._states: queue.Queue[str] = queue.Queue()
        self._stream: Any = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._read, name="shipdeck-swarm-events", daemon=True
        )
        self._thread.start()
        self._ready.wait(5)

    def _read(self) -> None:
        try:
            self._stream = self._api.events(
                since=self._since,
                filters={"type": ["service"], "service": [self._service]},
                decode=True,
            )
            self._ready.set()
            for event in self._stream:
                if self._stop.is_set():
                    return
                attrs = (event.get("Actor") or {}).get("Attributes") or {}
                new = attrs.get("updatestate.new")
                if new:
                    self._states.put(str(new))
        except CONNECTION_ERRORS:  # a broken stream: inspect takes over
            return
        finally:
            self._ready.set()

    def _inspected(self) -> tuple[str, str] | None:
        """Inspect's ``UpdateStatus`` if it belongs to this update (started after it)."""
        try:
            status = self._api.inspect_service(self._service).get("UpdateStatus") or {}
        except CONNECTION_ERRORS:
            return None
        started = parse_time(status.get("StartedAt"))
        if not status.get("State") or started is None or started < self._asked:
            return None
        return str(status["State"]), str(status.get("Message") or "")

    def wait(
        self,
        timeout: float,
        cancel: CancelToken,
        on_state: Callable[[str], None] = lambda _state: None,
    ) -> UpdateEnd:
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        next_look = time.monotonic() + _INSPECT_EVERY
        try:
            while True:
                if cancel.cancelled:
                    return UpdateEnd("cancelled", "", tuple(seen))
                try:
                    state = self._states.get(timeout=0.2)
                except queue.Empty:
                    state = None
                if state in FINAL and not STARTS & set(seen):
                    state = None  # the end of an earlier update, not of this one
                if state is not None and (not seen or seen[-1] != state):
                    seen.append(state)
                    on_state(state)
                now = time.monotonic()
                if state in FINAL or now >= next_look:
                    next_look = now + _INSPECT_EVERY
                    got = self._inspected()
                    if got is not None and got[0] in FINAL:
                        if not seen or seen[-1] != got[0]:
                            seen.append(got[0])
                            on_state(got[0])
                        return UpdateEnd(got[0], got[1], tuple(seen))
                    if state in FINAL:  # inspect lags the event by a moment
                        return UpdateEnd(state, got[1] if got else "", tuple(seen))
                if now >= deadline:
                    return UpdateEnd("timeout", "", tuple(seen))
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        if self._stream is not None:
            with contextlib.suppress(Exception):
                self._stream.close()
