"""Waiting for a started container to become healthy, with its output relayed.

Health is the environment's ``health.url`` (polled with ``backends.probe``)
and the image's own HEALTHCHECK when it has one, both when both exist. A
watcher thread inspects the container four times a second so that a release
whose process dies at once fails in a second, not after the whole timeout.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from typing import Any

from shipdeck.backends.docker.logs import container_logs, source_of
from shipdeck.backends.probe import wait_healthy
from shipdeck.lifecycle.ports import CancelToken, OutputSink, Stream, TargetError, say

_SETTLE = 1.0  # without any health check: alive this long counts as started


def wait_started(
    api: Any,
    container: Any,
    *,
    url: str | None,
    timeout: float,
    interval: float = 0.5,
    expect: int | None = None,
    sink: OutputSink,
    cancel: CancelToken,
) -> tuple[bool, str]:
    """Wait for health (URL and HEALTHCHECK) while relaying the container's output.

    Fails fast when the container exits, or crash-loops under its restart
    policy, or its HEALTHCHECK says unhealthy; (ok, reason) for the deploy log.
    """
    local = CancelToken()
    undo = cancel.on_cancel(local.cancel)
    seen: dict[str, Any] = {}
    stderr_tail: deque[str] = deque(maxlen=3)
    relay_cancel = CancelToken()
    attrs = api.inspect_container(container.id)
    source = source_of(attrs)
    restarts = attrs.get("RestartCount", 0)  # a crash loop under a restart policy is a crash

    def relay() -> None:  # the only caller of ``sink`` while it runs
        with contextlib.suppress(TargetError):
            for batch in container_logs(api, [source], follow=True, cancel=relay_cancel):
                stderr_tail.extend(t for s, t in batch if s is Stream.STDERR and t.strip())
                sink(batch)

    def watch() -> None:
        while not local.cancelled:
            try:
                now = api.inspect_container(container.id)
            except Exception:  # noqa: BLE001 - a HEALTHCHECK we cannot read counts as none
                now = {"State": {"Running": False, "ExitCode": None}}
            state = now["State"]
            seen["health"] = (state.get("Health") or {}).get("Status")
            crashed = state.get("Restarting") or now.get("RestartCount", 0) > restarts
            if not state.get("Running") or crashed or seen["health"] == "unhealthy":
                seen["exit"] = state.get("ExitCode")
                local.cancel()
                return
            local.wait(0.25)

    checks = container.attrs["Config"].get("Healthcheck") or {}
    has_check = bool(checks.get("Test")) and checks["Test"][0] != "NONE"
    if url:
        say(sink, f"waiting for {url}")
    if has_check:
        say(sink, "waiting for the image's HEALTHCHECK")
    start = time.monotonic()
    threads = [threading.Thread(target=f, daemon=True) for f in (relay, watch)]
    for thread in threads:
        thread.start()
    ok, reason = True, ""
    try:
        if url:
            result = wait_healthy(
                url,
                timeout,
                interval,
                cancel=local,
                expect=expect,
            )
            ok, reason = result.ok, result.error or f"HTTP {result.status}"
        deadline = start + timeout
        while ok and has_check and seen.get("health") != "healthy":
            if local.wait(0.2) or time.monotonic() > deadline:
                ok, reason = False, f"not healthy after {timeout:g}s"
        if ok and not (url or has_check) and local.wait(_SETTLE):
            ok = False
    finally:
        local.cancel()
        undo()
        time.sleep(0.1)  # let the last lines of a dying container arrive
        relay_cancel.cancel()
        for thread in threads:
            thread.join(timeout=5)
    label = container.name
    if "exit" in seen and seen.get("health") == "unhealthy":
        return False, f"{label} reported unhealthy by its HEALTHCHECK"
    if "exit" in seen and (not ok or not url):
        last = f" (stderr: {stderr_tail[-1]})" if stderr_tail else ""
        return False, f"{label} exited with code {seen['exit']} before it was healthy{last}"
    if ok:
        say(sink, f"healthy after {time.monotonic() - start:.1f} s")
        return True, ""
    return False, "cancelled" if cancel.cancelled else reason
