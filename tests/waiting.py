"""Waiting in tests, in one place: for a condition (in a Pilot test, or on a thread or a
process), for a call to return, and the notices an app posts.

A test waits for what it needs, never for a fixed time, and never asserts that
something was fast: the deadlines here only turn a hang into a failure with a message,
so they are generous (a loaded CI machine must never reach them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from textual.message import Message
from textual.notifications import Notification, Notify, SeverityLevel

T = TypeVar("T")

DEADLINE = 60.0  # seconds: how long a wait may take before it is a hang


class TimedOut(AssertionError):
    """A wait reached its deadline: what it waited for never happened."""


def _failure(what: str | Callable[[], str], timeout: float) -> TimedOut:
    said = what() if callable(what) else what
    return TimedOut(f"timed out after {timeout:g}s waiting for {said}")


async def until(
    pilot: Any,
    check: Callable[[], T],
    timeout: float = DEADLINE,
    *,
    what: str | Callable[[], str] = "the app",
    interval: float = 0.02,
) -> T:
    """Let the app run until ``check()`` is truthy and return that value; a Pilot test's
    one way to wait. Raises ``TimedOut`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise _failure(what, timeout)
        await pilot.pause(interval)
    return value


def wait_until(
    check: Callable[[], T],
    timeout: float = DEADLINE,
    *,
    what: str | Callable[[], str] = "the condition",
    interval: float = 0.01,
) -> T:
    """Call ``check`` until it is truthy and return that value; the one way to wait for
    a thread or a process. Raises ``TimedOut`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise _failure(what, timeout)
        time.sleep(interval)
    return value


def returns(call: Callable[[], T], timeout: float = DEADLINE, *, what: str = "the call") -> T:
    """``call()``'s result, run on a thread and waited for up to ``timeout`` seconds.

    For a call whose failure would be a hang (a wait that never ends, a kill that never
    comes): the deadline is set far below how long the broken behaviour would block, so
    the test tells the two apart without measuring anything.
    """
    box: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # noqa: BLE001 - re-raised on the test's thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True, name="tests.waiting.returns")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise _failure(f"{what} to return", timeout)
    if errors:
        raise errors[0]
    return box[0]


class Notices:
    """Every notification an app posts, recorded with Textual's public hook:
    ``app.run_test(message_hook=notices)``. ``App.notify`` posts a ``Notify`` message to
    the app; the hook sees it as it is dispatched, so a notice that has since expired or
    been taken away is still here (what is on screen now is the screen's toasts)."""

    def __init__(self) -> None:
        self.posted: list[Notification] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, Notify):
            self.posted.append(message.notification)

    def of(
        self, *, title: str | None = None, severity: SeverityLevel | None = None
    ) -> list[Notification]:
        """The notifications posted so far with this title and severity (either may be any)."""
        return [
            n
            for n in self.posted
            if (title is None or n.title == title) and (severity is None or n.severity == severity)
        ]

    def messages(self, severity: SeverityLevel | None = None) -> list[str]:
        return [n.message for n in self.of(severity=severity)]

    def said(self, text: str, severity: SeverityLevel | None = None) -> Callable[[], bool]:
        """A check for ``until``: a notice containing ``text`` was posted."""
        return lambda: any(text in m for m in self.messages(severity))
