"""HostMetrics samples real psutil values without sleeping."""

from __future__ import annotations

import socket
import time

import psutil
import pytest

from shipdeck.backends.metrics import HostMetrics
from shipdeck.lifecycle.ports import HostSample


def test_sample_values_are_in_range(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    intervals: list[object] = []
    real_cpu_percent = psutil.cpu_percent

    def cpu_percent(interval: float | None = None, percpu: bool = False) -> object:
        intervals.append(interval)
        return real_cpu_percent(interval=None, percpu=percpu)  # never blocks the test

    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"a sample slept {seconds}s")

    monkeypatch.setattr(psutil, "cpu_percent", cpu_percent)
    monkeypatch.setattr(time, "sleep", no_sleep)
    metrics = HostMetrics(str(tmp_path))
    first = metrics.sample()
    second = metrics.sample()
    assert intervals and set(intervals) == {None}  # no blocking cpu interval, no sleep
    for sample in (first, second):
        assert isinstance(sample, HostSample)
        for value in (sample.cpu, sample.memory, sample.disk):
            assert 0.0 <= value <= 100.0
        assert sample.net_sent >= 0 and sample.net_recv >= 0
    assert first.net_sent == 0.0 and first.net_recv == 0.0  # no previous sample yet
    assert second.memory > 0.0 and second.disk > 0.0


def test_missing_path_reports_zero_disk_instead_of_raising(tmp_path: object) -> None:
    metrics = HostMetrics(f"{tmp_path}/does/not/exist")
    assert metrics.sample().disk == 0.0


def test_network_rate_sees_loopback_traffic() -> None:
    metrics = HostMetrics()
    metrics.sample()
    before = psutil.net_io_counters()
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    conn, _ = server.accept()
    payload = b"x" * 65536
    for _ in range(64):  # 4 MiB over loopback
        client.sendall(payload)
        received = 0
        while received < len(payload):
            received += len(conn.recv(len(payload)))
    for s in (client, conn, server):
        s.close()
    visible = psutil.net_io_counters().bytes_sent - before.bytes_sent >= len(payload) * 64
    sample = metrics.sample()
    if not visible:
        pytest.skip("this sandbox hides loopback traffic from the interface counters")
    assert sample.net_sent > 0 and sample.net_recv > 0
