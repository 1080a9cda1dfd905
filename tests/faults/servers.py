"""Loopback servers that misbehave on purpose, for the fault tests
(tests/faults/test_slow_endpoints.py) and benchmarks/deadlines.py, which times what
those tests only prove ends: ``FaultServer`` (drip-fed, silent, endless, redirecting,
picked by the request's path) and ``full_backlog`` (a port whose connects hang).

A stuck handler holds a client for ``_SERVE_FOR`` seconds, far longer than
tests.waiting's generous DEADLINE, so a call that returns by then was ended by its
own deadline, cancel or signal.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.waiting import DEADLINE

TEN_GB = 10 * 1024**3
_SERVE_FOR = 2 * DEADLINE  # no handler runs longer than this, whatever the client does
_BLOCK = b"x" * 65536


class FaultServer:
    """A loopback HTTP server whose behaviour is picked by the request's path.

    ``/ok`` 200, ``/fail`` 500, ``/drip`` the status line one byte per 0.5 s,
    ``/drip-body`` headers at once then the body one byte per 0.5 s, ``/silent``
    reads the request and never answers, ``/huge`` and ``/huge-fail`` 200 or
    500 with ``Content-Length: 10 GB`` and bytes as fast as the client takes
    them, ``/away`` a 302 to another port, ``/evil`` a 302 to another host,
    ``/hop`` a 302 to ``/ok``, ``/loop`` a 302 to itself, ``/switch`` whatever
    ``mode`` says now.
    """

    def __init__(self, other_port: int = 9) -> None:
        self.mode = "ok"
        self.other_port = other_port
        self.stop = threading.Event()
        self.requests: list[tuple[str, str]] = []
        self.sent = 0  # body bytes of /huge* handed to the kernel, all connections
        fault = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                fault._handle(self.request)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()

    # --- the handlers -----------------------------------------------------------------

    def _handle(self, sock: socket.socket) -> None:
        sock.settimeout(5)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                head += chunk
            lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            self.requests.append((method, path))
            mode = path.strip("/").split("?")[0] or "ok"
            if mode == "switch":
                mode = self.mode
            getattr(self, "_" + mode.replace("-", "_"), self._ok)(sock)
        except OSError:
            pass  # the client hung up: what a bounded client does

    def _answer(self, sock: socket.socket, status: str, body: bytes = b"", **headers: str) -> None:
        extra = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
        head += extra + "\r\n"
        sock.sendall(head.encode() + body)

    def _ok(self, sock: socket.socket) -> None:
        self._answer(sock, "200 OK", b"ok")

    def _fail(self, sock: socket.socket) -> None:
        self._answer(sock, "500 Internal Server Error", b"nope")

    def _drip_bytes(self, sock: socket.socket, data: bytes) -> None:
        end = time.monotonic() + _SERVE_FOR
        for i in range(10**6):
            if self.stop.wait(0.5) or time.monotonic() > end:
                return
            sock.sendall(data[i % len(data) : i % len(data) + 1])

    def _drip(self, sock: socket.socket) -> None:
        self._drip_bytes(sock, b"HTTP/1.1 200 OK\r\nX-Drip: " + b"a" * 1000)

    def _drip_body(self, sock: socket.socket) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        self._drip_bytes(sock, b"b" * 1000)

    def _silent(self, sock: socket.socket) -> None:
        self.stop.wait(_SERVE_FOR)

    def _endless(self, sock: socket.socket, status: str) -> None:
        sock.sendall(f"HTTP/1.1 {status}\r\nContent-Length: {TEN_GB}\r\n\r\n".encode())
        end = time.monotonic() + _SERVE_FOR
        for _ in range(TEN_GB // len(_BLOCK)):
            if self.stop.is_set() or time.monotonic() > end:
                return
            sock.sendall(_BLOCK)
            self.sent += len(_BLOCK)

    def _huge(self, sock: socket.socket) -> None:
        self._endless(sock, "200 OK")

    def _huge_fail(self, sock: socket.socket) -> None:
        self._endless(sock, "500 Internal Server Error")

    def _away(self, sock: socket.socket) -> None:
        self._answer(sock, "302 Found", Location=f"http://127.0.0.1:{self.other_port}/ok")

    def _evil(self, sock: socket.socket) -> None:
        self._answer(sock, "302 Found", Location="http://evil.invalid/steal")

    def _hop(self, sock: socket.socket) -> None:
        self._answer(sock, "302 Found", Location="/ok")

    def _loop(self, sock: socket.socket) -> None:
        self._answer(sock, "302 Found", Location="/loop")


@contextmanager
def full_backlog() -> Iterator[str]:
    """A port whose listen queue is full and never served: a connect there just hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}/health"
    finally:
        for s in fillers:
            s.close()
        listener.close()
