"""HttpProber against a real HTTP server on loopback (no mocks: sockets, timing, errors).

Thresholds that would flag a probe slow, and timeouts that would fail it, are far above
what a loaded machine takes, unless they are what a test is about."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shipdeck.backends.probe import HttpProber, _address, _pause_until_open, wait_healthy
from shipdeck.lifecycle.ports import CancelToken
from tests.helpers import free_port
from tests.waiting import DEADLINE, returns

pytestmark = pytest.mark.slow  # real HTTP servers, health waits that run out


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(0.3)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = {"/fail": 500, "/teapot": 418}.get(self.path, 200)
        body = b"ok" if status == 200 else b"nope"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


def start_server(port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def server() -> Iterator[str]:
    srv = start_server()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def prober() -> Iterator[HttpProber]:
    with HttpProber() as p:
        yield p


def test_200_is_ok_with_latency(server: str, prober: HttpProber) -> None:
    result = prober.probe("staging", server + "/ok", timeout=DEADLINE, slow_ms=60_000)
    assert result.ok and result.status == 200
    assert result.name == "staging" and result.url == server + "/ok"
    assert result.latency_ms is not None and result.latency_ms > 0
    assert not result.slow and result.error is None


def test_500_is_not_ok(server: str, prober: HttpProber) -> None:
    result = prober.probe("staging", server + "/fail", timeout=2, slow_ms=1000)
    assert not result.ok
    assert result.status == 500
    assert result.error == "HTTP 500"


def test_redirect_is_followed(server: str, prober: HttpProber) -> None:
    result = prober.probe("staging", server + "/redirect", timeout=2, slow_ms=1000)
    assert result.ok and result.status == 200


def test_slow_handler_is_flagged_slow(server: str, prober: HttpProber) -> None:
    result = prober.probe("staging", server + "/slow", timeout=5, slow_ms=100)
    assert result.ok
    assert result.latency_ms is not None and result.latency_ms >= 250
    assert result.slow


def test_timeout_is_reported_not_raised(server: str, prober: HttpProber) -> None:
    result = prober.probe("staging", server + "/slow", timeout=0.05, slow_ms=100)
    assert not result.ok and result.status is None
    assert result.error is not None and "timed out" in result.error


def test_closed_port_is_connection_refused(prober: HttpProber) -> None:
    url = f"http://127.0.0.1:{free_port()}/health"
    result = prober.probe("staging", url, timeout=2, slow_ms=100)
    assert not result.ok
    assert result.status is None and result.latency_ms is None
    assert result.error == "connection refused"


def test_proxy_variables_are_ignored(
    server: str, prober: HttpProber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    with HttpProber() as fresh:
        assert fresh.probe("s", server + "/ok", timeout=2, slow_ms=1000).ok


def test_wait_healthy_succeeds_once_the_server_starts() -> None:
    port = free_port()
    started: list[ThreadingHTTPServer] = []
    timer = threading.Timer(1.0, lambda: started.append(start_server(port)))
    timer.start()
    try:
        result = wait_healthy(f"http://127.0.0.1:{port}/ok", timeout=DEADLINE, interval=0.1)
    finally:
        timer.join()
        for srv in started:
            srv.shutdown()
            srv.server_close()
    # Only the server the timer starts answers on the port: an ok is an answer from it,
    # so the wait went on through the refused connects until it came.
    assert result.ok and result.status == 200


def test_a_pause_after_a_refused_connection_ends_once_the_port_listens() -> None:
    """After "connection refused" a health wait knocks on the port during its pause: the
    service is seen as it starts listening, not when the (growing) pause is over."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))  # refused until the timer makes it listen
        opened = threading.Timer(0.3, server.listen)
        opened.start()
        # An hour's pause, over once the port listens.
        returns(lambda: _pause_until_open(server.getsockname(), 3600.0, None, True))
        opened.join()
    cancel = CancelToken()
    threading.Timer(0.2, cancel.cancel).start()
    returns(lambda: _pause_until_open(("127.0.0.1", free_port()), 3600.0, cancel, True))
    assert _address("http://localhost/health") == ("localhost", 80)
    assert _address("https://[::1]:8443/h") == ("::1", 8443)
    assert _address("ftp://example.invalid/") is None


def test_wait_healthy_fails_after_timeout(server: str, prober: HttpProber) -> None:
    result = returns(lambda: prober.wait_healthy(server + "/fail", timeout=0.6, interval=0.1))
    assert not result.ok
    assert result.status == 500
    assert result.error is not None and "not healthy after 0.6s" in result.error
    assert "HTTP 500" in result.error


def test_wait_healthy_expect_exact_status(server: str, prober: HttpProber) -> None:
    assert prober.wait_healthy(server + "/teapot", timeout=2, interval=0.1, expect=418).ok
    assert not prober.wait_healthy(server + "/ok", timeout=0.3, interval=0.1, expect=204).ok


def test_wait_healthy_returns_early_on_cancel(prober: HttpProber) -> None:
    cancel = CancelToken()
    timer = threading.Timer(0.3, cancel.cancel)
    timer.start()
    url = f"http://127.0.0.1:{free_port()}/health"
    # A timeout far beyond the deadline on the call: only the cancel can end it in time.
    result = returns(lambda: prober.wait_healthy(url, timeout=600, interval=0.2, cancel=cancel))
    timer.join()
    assert not result.ok
    assert result.error is not None and result.error.startswith("cancelled")
