"""What both deploy targets (local, docker) do around a switch of releases.

A switch stops the old release and starts the new one under the environment's lock;
a killed shipdeck leaves it half-done, and the next operation (or ``recover``)
finishes or reverses it. How a target records and settles a switch is its own; the
lock, the recovery entry points, the report of what recovery did and the fault
hook are the same for both, and live here.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shipdeck.backends.local import supervise
from shipdeck.lifecycle.ports import OutputSink, TargetError, say

LOCK_WAIT = 2.0  # seconds an operation waits for another one on the same environment


def fault(step: str) -> None:
    """Tests only: SIGKILL this process at a named step of a switch (the fault suite)."""
    if os.environ.get("SHIPDECK_FAULT_KILL_AT") == step:
        os.kill(os.getpid(), signal.SIGKILL)


def env_lock(name: str, lock_path: Path | None) -> contextlib.AbstractContextManager[None]:
    """The environment's lock (none without a lock file); busy is a ``TargetError``."""
    if lock_path is None:
        return contextlib.nullcontext()
    busy = TargetError(f"{name} is busy: another deploy, rollback or restart runs")
    return supervise.exclusive(lock_path, wait=LOCK_WAIT, busy=busy)


def recover_pending(
    pending: bool,
    locked: Callable[[], contextlib.AbstractContextManager[None]],
    recover: Callable[[OutputSink], str | None],
    sink: OutputSink,
) -> str | None:
    """``recover`` under the environment's lock, when a switch is ``pending``; None when
    nothing was pending or it raised a ``TargetError`` (another shipdeck holds the
    lock: it is mid-switch, not interrupted; or the target cannot be reached)."""
    if not pending:
        return None
    try:
        with locked():
            return recover(sink)
    except TargetError:
        return None


def recover_first(recover: Callable[[OutputSink], str | None], sink: OutputSink) -> None:
    """At the start of an operation (lock held): settle a switch that did not end."""
    recovered = recover(sink)
    if recovered:
        say(sink, recovered)


def report(
    on_recovered: Callable[[str, dict[str, Any]], None] | None,
    env: str,
    message: str,
    data: dict[str, Any],
) -> str:
    """Hand what recovery did to ``on_recovered`` (the journal); the message back."""
    if on_recovered is not None:
        on_recovered(message, {"env": env, **data})
    return message
