"""Who listens on a port, asked of the kernel's sock_diag (``backends/local/listeners.py``):
the answer must be psutil's (which reads /proc/net/tcp), for IPv4 and IPv6 listeners,
a port nobody listens on, a process that only connects, and a process tree."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import pytest

from shipdeck.backends.local import listeners, supervise

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sock_diag: Linux")

SERVE = """
import socket, sys, time
family = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
server = socket.socket(family)
server.bind((sys.argv[2], 0))
server.listen()
client = socket.create_connection(server.getsockname()[:2])  # an established one too
print(server.getsockname()[1], flush=True)
time.sleep(60)
"""


@contextmanager
def serving(version: str, host: str, *, under_shell: bool = False) -> Iterator[tuple[int, int]]:
    """(pid of the process started, the port its grandchild or itself listens on)."""
    argv = [sys.executable, "-c", SERVE, version, host]
    if under_shell:
        argv = ["/bin/sh", "-c", " ".join(f"'{a}'" for a in argv) + "; true"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.pid, int(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()


def psutil_says(pid: int, port: int) -> bool:
    tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return any(
        c.status == psutil.CONN_LISTEN and c.laddr.port == port
        for p in tree
        for c in p.net_connections(kind="tcp")
    )


@pytest.mark.parametrize(("version", "host"), [("4", "127.0.0.1"), ("6", "::1")])
def test_the_listener_is_found_as_psutil_finds_it(version: str, host: str) -> None:
    if version == "6" and not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    with serving(version, host) as (pid, port):
        inodes = listeners.listening_inodes(port)
        assert inodes is not None and len(inodes) == 1
        mine = listeners.socket_inodes(pid)
        assert mine is not None and inodes <= mine  # its listening socket, among others:
        assert len(mine) == 2  # the connecting end (the accepted one waits in the backlog)
        created = psutil.Process(pid).create_time()
        assert supervise.holds_port(pid, created, port) is True is psutil_says(pid, port)
        free = port + 1 if port < 65535 else port - 1
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", free)) != 0:  # nobody there: nothing listens
                assert listeners.listening_inodes(free) == set()
                assert supervise.holds_port(pid, created, free) is False


def test_a_grandchild_listening_counts_and_a_stranger_does_not() -> None:
    with serving("4", "127.0.0.1", under_shell=True) as (shell, port):
        created = psutil.Process(shell).create_time()
        deadline = time.monotonic() + 10
        while not psutil.Process(shell).children() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert supervise.holds_port(shell, created, port) is True is psutil_says(shell, port)
        with serving("4", "127.0.0.1") as (stranger, _):
            stranger_created = psutil.Process(stranger).create_time()
            assert supervise.holds_port(stranger, stranger_created, port) is False
            assert psutil_says(stranger, port) is False


def test_without_sock_diag_psutil_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    with serving("4", "127.0.0.1") as (pid, port):
        monkeypatch.setattr(listeners, "listening_inodes", lambda port: None)
        created = psutil.Process(pid).create_time()
        assert supervise.holds_port(pid, created, port) is True
        assert supervise.holds_port(pid, created, 1) is False


def test_hidden_sockets_make_the_answer_unknown_but_a_zombie_has_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process whose fds may not be read (another user's) leaves the answer unknown
    (None), as psutil's AccessDenied did; a zombie of the tree is gone, not hidden."""
    script = f"true & exec '{sys.executable}' -c '{SERVE.replace(chr(39), chr(34))}' 4 127.0.0.1"
    proc = subprocess.Popen(["/bin/sh", "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        leader = psutil.Process(proc.pid)
        deadline = time.monotonic() + 10
        while not [c for c in leader.children() if c.status() == psutil.STATUS_ZOMBIE]:
            assert time.monotonic() < deadline, "the shell's `true` never became a zombie"
            time.sleep(0.01)
        zombie = next(c for c in leader.children() if c.status() == psutil.STATUS_ZOMBIE)
        free = next(p for p in range(port + 1, port + 50) if not listeners.listening_inodes(p))
        real = listeners.socket_inodes
        created = leader.create_time()

        monkeypatch.setattr(
            listeners, "socket_inodes", lambda pid: None if pid == zombie.pid else real(pid)
        )
        assert supervise.holds_port(proc.pid, created, port) is True
        assert supervise.holds_port(proc.pid, created, free) is False  # the zombie is gone
        monkeypatch.setattr(listeners, "socket_inodes", lambda pid: None)
        assert supervise.holds_port(proc.pid, created, free) is None  # the server is hidden
    finally:
        proc.kill()
        proc.wait()
