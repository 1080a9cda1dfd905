"""HTTP health and latency probes (implements ``lifecycle.ports.Prober``).

A probe never raises: the monitor polls every few seconds and a dead service is
data (``ok=False`` with a short reason), not an exception. The client ignores
proxy variables so a loopback service stays reachable behind a corporate proxy.

Every HTTP attempt made here (probes, health waits and, through :func:`fetch`,
webhooks) is bounded: a total deadline per attempt, not httpx's per-read timeout
(which a server sending one byte every 0.5 s never trips), at most
:data:`MAX_BODY` bytes of body, and no redirect that leaves the configured
scheme, host and port. The sockets are read in slices of :data:`_TICK` seconds,
so a ``CancelToken`` or :func:`interrupt` (SIGINT/SIGTERM) ends an attempt
within about 0.1 s, wherever it is blocked: connecting, waiting for the status
line, or in the middle of the body.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from shipdeck.backends.http_client import httpcore, httpx
from shipdeck.lifecycle.errors import ShipdeckError
from shipdeck.lifecycle.ports import CancelToken, ProbeResult

MAX_REDIRECTS = 3
MAX_BODY = 4096  # bytes of a response body read at most; the rest is never received
# One attempt inside wait_healthy never blocks longer than this, so a hung
# service cannot eat the whole health timeout in a single request.
_ATTEMPT_CAP = 5.0
_TICK = 0.1  # longest a socket call blocks before the deadline and the cancel are checked
# A health wait looks again after this pause at first, growing by _PAUSE_GROWTH up to
# its interval: a service just started answers within tens of ms, and a fixed 0.5 s
# pause after the first refused connection was most of a local deploy's time. Growing
# by 1.2, a service that comes up at any moment is seen within a fifth of the time it
# took (1.5 lost up to half: 0.09 s of the demo's 0.17 s start); a refused attempt
# costs ~0.5 ms, and the first second holds ~17 of them.
_FIRST_PAUSE = 0.01
_PAUSE_GROWTH = 1.2
# After a refused connection, the pause knocks (a bare TCP connect, ~0.1 ms) this often
# and ends once the port accepts: the growing pauses saw the demo's service up to 15 ms
# after it listened.
_KNOCK = 0.004

_interrupted = threading.Event()


def interrupt() -> None:
    """End every HTTP attempt and health wait of this process at once, and all later ones.

    For SIGINT/SIGTERM: the process is on its way out, so nothing waits on the
    network any more (they fail with "interrupted").
    """
    _interrupted.set()


def interrupted() -> bool:
    return _interrupted.is_set()


class Stopped(ShipdeckError):
    """An attempt ended by its deadline, its CancelToken or :func:`interrupt`; str() says which."""


class RedirectRefused(ShipdeckError):
    """A redirect off the configured origin, or too many; ``status`` is the 3xx that asked."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def describe_error(exc: Exception, timeout: float | None = None) -> str:
    """A short, human reason for a failed request ("connection refused")."""
    if isinstance(exc, Stopped | RedirectRefused):
        return str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {timeout:.3g}s" if timeout else "timed out"
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


# --- the deadline of one attempt, seen by the sockets of the thread making it ---------


class _Limit:
    def __init__(self, timeout: float, cancel: CancelToken | None, interruptible: bool) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.cancel = cancel
        self.interruptible = interruptible

    def left(self) -> float:
        """Seconds left; Stopped when interrupted, cancelled or out of time."""
        if self.interruptible and _interrupted.is_set():
            raise Stopped("interrupted")
        if self.cancel is not None and self.cancel.cancelled:
            raise Stopped("cancelled")
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Stopped(f"timed out after {self.timeout:.3g}s")
        return left


_local = threading.local()


def _within_deadline(timeout: float | None) -> float | None:
    """``timeout``, cut to what is left of the attempt's deadline (if one is running)."""
    limit = _current()
    if limit is None:
        return timeout
    left = limit.left()
    return left if timeout is None else min(timeout, left)


def _current() -> _Limit | None:
    limit: _Limit | None = getattr(_local, "limit", None)
    return limit


@contextlib.contextmanager
def _limited(limit: _Limit) -> Iterator[_Limit]:
    previous = _current()
    _local.limit = limit
    try:
        yield limit
    finally:
        _local.limit = previous


def _step(end: float | None, expired: type[Exception]) -> float | None:
    """How long the next socket call may block: a tick inside the attempt's deadline."""
    limit = _current()
    left = None if limit is None else limit.left()
    if end is not None:
        rest = end - time.monotonic()
        if rest <= 0:
            raise expired("timed out")
        left = rest if left is None else min(left, rest)
    return None if left is None else min(_TICK, left)


class _Stream(httpcore.NetworkStream):
    """A blocking socket read in ticks, so the deadline and the cancel are seen while it waits."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            self._sock.settimeout(_step(end, httpcore.ReadTimeout))
            try:
                return self._sock.recv(max_bytes)
            except TimeoutError:
                continue  # nothing arrived in this tick: nothing was consumed either
            except OSError as exc:
                raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # Not in ticks (a timed-out send may have sent part of the buffer), but never
        # past the attempt's deadline; requests here are a few hundred bytes.
        self._sock.settimeout(_within_deadline(timeout))
        try:
            self._sock.sendall(buffer)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout("timed out") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        self._sock.settimeout(_within_deadline(timeout))
        try:
            sock = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname)
        except TimeoutError as exc:
            self.close()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from exc
        except OSError as exc:
            self.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return _Stream(sock)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock._sslobj  # type: ignore[attr-defined]  # what httpcore returns
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            if self._sock.fileno() < 0:
                return True
            poller = select.poll()
            poller.register(self._sock.fileno(), select.POLLIN)
            return bool(poller.poll(0))
        return None


def _connect(sock: socket.socket, address: Any, end: float | None) -> None:
    sock.setblocking(False)
    code = sock.connect_ex(address)
    if code in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLOUT)
        while True:
            step = _step(end, httpcore.ConnectTimeout)
            if poller.poll(None if step is None else step * 1000):
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                break
    if code:
        raise OSError(code, os.strerror(code))
    sock.setblocking(True)


class _Backend(httpcore.SyncBackend):
    """Connects in ticks too (a blackholed host does not hold a cancel for the whole timeout)."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        end = None if timeout is None else time.monotonic() + timeout
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        error: OSError | None = None
        for family, kind, proto, _name, address in infos:
            sock = socket.socket(family, kind, proto)
            try:
                if local_address:
                    sock.bind((local_address, 0))
                _connect(sock, address, end)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            except BaseException:
                sock.close()
                raise
            return _Stream(sock)
        raise httpcore.ConnectError(str(error) if error else f"no address for {host}")


class _Transport(httpx.HTTPTransport):
    """httpx's transport over :class:`_Backend` (its handle_request maps httpcore's errors)."""

    def __init__(self) -> None:  # no super().__init__(): it would build a pool replaced here
        self._pool = httpcore.ConnectionPool(
            ssl_context=None,  # httpcore's default (certifi), made on the first https use
            max_connections=20,
            max_keepalive_connections=4,
            keepalive_expiry=5.0,
            network_backend=_Backend(),
        )


def make_client(*, user_agent: str) -> httpx.Client:
    """A client for :func:`fetch`: bounded sockets, no proxies, no automatic redirects."""
    return httpx.Client(
        transport=_Transport(),
        trust_env=False,
        follow_redirects=False,
        headers={"User-Agent": user_agent, "Accept-Encoding": "identity"},
    )


# --- one bounded attempt ---------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # at most MAX_BODY bytes
    truncated: bool  # the body went on past MAX_BODY (and was not read)
    url: str  # where the answer came from (after same-origin redirects)


def origin(url: httpx.URL) -> str:
    """``scheme://host:port`` with the port always spelled out."""
    host = url.host
    if ":" in host:
        host = f"[{host}]"
    port = url.port or {"http": 80, "https": 443}.get(url.scheme, 0)
    return f"{url.scheme}://{host}:{port}"


def fetch(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    timeout: float,
    cancel: CancelToken | None = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    follow_redirects: bool = True,
    max_body: int = MAX_BODY,
    interruptible: bool = True,
) -> Answer:
    """One request, over within ``timeout`` seconds in total whatever the server does.

    Reads at most ``max_body`` bytes of the body, then closes the connection.
    Follows at most :data:`MAX_REDIRECTS` redirects, and only those that stay on
    the scheme, host and port of ``url`` (others raise :class:`RedirectRefused`).
    Raises :class:`Stopped` past the deadline, on a cancel or (when ``interruptible``)
    after :func:`interrupt`; httpx errors otherwise.
    """
    current = httpx.URL(url)
    home = origin(current)
    with _limited(_Limit(timeout, cancel, interruptible)) as limit:
        for _hop in range(MAX_REDIRECTS + 1):
            request = client.build_request(
                method, current, content=content, headers=headers, timeout=limit.left()
            )
            response = client.send(request, stream=True, follow_redirects=False)
            try:
                body, truncated = _read_capped(response, max_body, limit)
            finally:
                response.close()  # unread body: the connection is dropped, not drained
            location = response.headers.get("location") if response.is_redirect else None
            if not follow_redirects or not location:
                return Answer(response.status_code, body, truncated, str(current))
            target = current.join(location)
            if origin(target) != home:
                raise RedirectRefused(
                    f"redirected off {home} to {origin(target)}", response.status_code
                )
            current = target
            if response.status_code == 303 or method == "POST":
                method, content = "GET", None
        raise RedirectRefused(
            f"too many redirects (more than {MAX_REDIRECTS})", response.status_code
        )


def _read_capped(response: httpx.Response, cap: int, limit: _Limit) -> tuple[bytes, bool]:
    """At most ``cap`` bytes of the raw body (never decoded: no gzip bomb), within the limit."""
    body = bytearray()
    for chunk in response.iter_raw():
        limit.left()
        body += chunk[: cap - len(body)]
        if len(body) >= cap:
            return bytes(body), True  # the rest is never received: the response is closed
    return bytes(body), False


def _stop_reason(cancel: CancelToken | None, interruptible: bool = True) -> str | None:
    if interruptible and _interrupted.is_set():
        return "interrupted"
    if cancel is not None and cancel.cancelled:
        return "cancelled"
    return None


def _pause(seconds: float, cancel: CancelToken | None, interruptible: bool = True) -> bool:
    """Sleep in ticks; True as soon as cancelled or interrupted."""
    end = time.monotonic() + seconds
    while _stop_reason(cancel, interruptible) is None:
        left = end - time.monotonic()
        if left <= 0:
            return False
        step = min(_TICK, left)
        if cancel is not None:
            cancel.wait(step)
        elif interruptible:
            _interrupted.wait(step)
        else:
            time.sleep(step)
    return True


def _pause_until_open(
    address: tuple[str, int], seconds: float, cancel: CancelToken | None, interruptible: bool
) -> None:
    """:func:`_pause`, ended early once ``address`` accepts a connection (the service that
    refused the last attempt is listening now)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if _pause(min(_KNOCK, left), cancel, interruptible) or _accepts(address):
            return


def _accepts(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=_TICK).close()
    except OSError:
        return False
    return True


def _address(url: str) -> tuple[str, int] | None:
    """Where ``url``'s connections go; None for what is not plain http(s)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    default = {"http": 80, "https": 443}.get(parsed.scheme)
    if not parsed.host or default is None:
        return None
    return parsed.host, parsed.port or default


class HttpProber:
    """A ``Prober`` over one reused ``httpx.Client`` (keep-alive, thread-safe)."""

    def __init__(self, *, user_agent: str = "shipdeck-probe") -> None:
        self._client = make_client(user_agent=user_agent)
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

    def probe(
        self,
        name: str,
        url: str,
        timeout: float,
        slow_ms: float,
        cancel: CancelToken | None = None,
        *,
        follow_redirects: bool = True,
        interruptible: bool = True,
    ) -> ProbeResult:
        """GET ``url`` once, within ``timeout`` s in all; ok for 2xx/3xx, slow past ``slow_ms``."""
        start = time.perf_counter()
        try:
            answer = fetch(
                self._client,
                "GET",
                url,
                timeout=timeout,
                cancel=cancel,
                follow_redirects=follow_redirects,
                interruptible=interruptible,
            )
        except RedirectRefused as exc:
            latency = (time.perf_counter() - start) * 1000.0
            return ProbeResult(name, url, False, exc.status, round(latency, 3), error=str(exc))
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
        status = answer.status
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
        interruptible: bool = True,
    ) -> ProbeResult:
        """Poll ``url`` until it answers 2xx (or exactly ``expect``), times out or is cancelled.

        Not ``interruptible``: SIGINT/SIGTERM do not end it (the wait for a restored
        release after an interrupted deploy; its own deadline still bounds it).

        Attempts follow :func:`pause_schedule`: soon at first, then every ``interval``.
        Over within ``timeout`` (plus a tick): each attempt gets at most the time
        left. Returns the last probe; on timeout or cancel ``ok`` is False and
        ``error`` says why, mentioning the last failure so the deploy log is useful.
        An ``expect`` of 3xx takes the redirect itself as the answer.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        follow = not (expect is not None and 300 <= expect < 400)
        last: ProbeResult | None = None
        pauses = pause_schedule(interval)
        address = _address(url)
        while True:
            why = _stop_reason(cancel, interruptible)
            if why:
                return _failed(name, url, last, why)
            remaining = deadline - time.monotonic()
            attempt_timeout = max(0.05, min(_ATTEMPT_CAP, remaining))
            last = self.probe(
                name,
                url,
                attempt_timeout,
                float("inf"),
                cancel,
                follow_redirects=follow,
                interruptible=interruptible,
            )
            if _healthy(last, expect):
                return replace(last, ok=True, error=None)
            why = _stop_reason(cancel, interruptible)
            if why:
                return _failed(name, url, last, why)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _failed(name, url, last, f"not healthy after {timeout:g}s")
            pause = min(next(pauses), remaining)
            if last.error == "connection refused" and address is not None:
                _pause_until_open(address, pause, cancel, interruptible)
            else:
                _pause(pause, cancel, interruptible)


def pause_schedule(interval: float) -> Iterator[float]:
    """The pauses between a health wait's attempts: from :data:`_FIRST_PAUSE`, growing
    by :data:`_PAUSE_GROWTH`, then ``interval`` for good (never above it)."""
    pause = min(_FIRST_PAUSE, interval)
    while True:
        yield pause
        pause = min(pause * _PAUSE_GROWTH, interval)


def _healthy(result: ProbeResult, expect: int | None) -> bool:
    if result.status is None:
        return False
    if expect is not None:
        return result.status == expect
    return result.ok and 200 <= result.status < 300


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
        error=f"{reason} (last: {detail})" if detail and detail != reason else reason,
    )


def wait_healthy(
    url: str,
    timeout: float,
    interval: float = 0.5,
    cancel: CancelToken | None = None,
    expect: int | None = None,
    *,
    interruptible: bool = True,
) -> ProbeResult:
    """One-shot ``HttpProber.wait_healthy`` for deploy targets without a prober of their own."""
    with HttpProber() as prober:
        return prober.wait_healthy(
            url, timeout, interval, cancel, expect, interruptible=interruptible
        )
