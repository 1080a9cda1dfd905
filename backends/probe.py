"""HTTP health and latency probes (implements ``lifecycle.ports.Prober``).

A probe never raises: the monitor polls every few seconds and a dead service is
data (``ok=False`` with a short reason), not an exception. The client ignores
proxy variables so a loopback service stays reachable behind a corporate proxy.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import httpx

from lifecycle.ports import CancelToken, ProbeResult

MAX_REDIRECTS = 3
# One attempt inside wait_healthy never blocks longer than this, so a hung
# service cannot eat the whole health timeout in a single request.
_ATTEMPT_CAP = 5.0


def describe_error(exc: Exception, timeout: float | None = None) -> str:
    """A short, human reason for a failed request ("connection refused")."""
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {timeout:g}s" if timeout else "timed out"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if isinstance(exc, httpx.ConnectError):
        if "refused" in low:
            return "connection refused"
        if "name or service not known" in low or "nodename nor servname" in low:
            return "unknown host"
        if "unreachable" in low:
            return "network unreachable"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "bad response: " + text.splitlines()[0][:80]
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return "invalid url: " + text[:80]
    return text.splitlines()[0][:100]


class HttpProber:
    """A ``Prober`` over one reused ``httpx.Client`` (keep-alive, thread-safe)."""

    def __init__(self, *, user_agent: str = "shipdeck-probe") -> None:
        self._client = httpx.Client(
            trust_env=False,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"User-Agent": user_agent},
        )
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._client.close()

    def __enter__(self) -> HttpProber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def probe(self, name: str, url: str, timeout: float, slow_ms: float) -> ProbeResult:
        """GET ``url`` once; ok for 2xx/3xx, slow when latency exceeds ``slow_ms``."""
        start = time.perf_counter()
        try:
            response = self._client.get(url, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - a probe reports, it never raises
            return ProbeResult(
                name=name,
                url=url,
                ok=False,
                status=None,
                latency_ms=None,
                error=describe_error(exc, timeout),
            )
        latency = (time.perf_counter() - start) * 1000.0
        status = response.status_code
        ok = 200 <= status < 400
        return ProbeResult(
            name=name,
            url=url,
            ok=ok,
            status=status,
            latency_ms=round(latency, 3),
            slow=latency > slow_ms,
            error=None if ok else f"HTTP {status}",
        )

    def wait_healthy(
        self,
        url: str,
        timeout: float,
        interval: float = 0.5,
        cancel: CancelToken | None = None,
        expect: int | None = None,
        *,
        name: str = "health",
    ) -> ProbeResult:
        """Poll ``url`` until it answers 2xx (or exactly ``expect``), times out or is cancelled.

        Returns the last probe; on timeout or cancel ``ok`` is False and
        ``error`` says why, mentioning the last failure so the deploy log is useful.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        last: ProbeResult | None = None
        while True:
            if cancel is not None and cancel.cancelled:
                return _failed(name, url, last, "cancelled")
            remaining = deadline - time.monotonic()
            attempt_timeout = max(0.1, min(_ATTEMPT_CAP, remaining))
            last = self.probe(name, url, attempt_timeout, float("inf"))
            if _healthy(last, expect):
                return replace(last, ok=True, error=None)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _failed(name, url, last, f"not healthy after {timeout:g}s")
            pause = min(interval, remaining)
            if cancel is not None:
                if cancel.wait(pause):
                    return _failed(name, url, last, "cancelled")
            else:
                time.sleep(pause)


def _healthy(result: ProbeResult, expect: int | None) -> bool:
    if result.status is None:
        return False
    if expect is not None:
        return result.status == expect
    return 200 <= result.status < 300


def _failed(name: str, url: str, last: ProbeResult | None, reason: str) -> ProbeResult:
    detail = None
    if last is not None:
        detail = last.error or (f"HTTP {last.status}" if last.status is not None else None)
    return ProbeResult(
        name=name,
        url=url,
        ok=False,
        status=last.status if last else None,
        latency_ms=last.latency_ms if last else None,
        error=f"{reason} (last: {detail})" if detail else reason,
    )


def wait_healthy(
    url: str,
    timeout: float,
    interval: float = 0.5,
    cancel: CancelToken | None = None,
    expect: int | None = None,
) -> ProbeResult:
    """One-shot ``HttpProber.wait_healthy`` for deploy targets without a prober of their own."""
    with HttpProber() as prober:
        return prober.wait_healthy(url, timeout, interval, cancel, expect)
