"""HostMetrics samples real psutil values without sleeping, and reads CPU only over a
window long enough to mean something."""

from __future__ import annotations

import socket
import time

import psutil
import pytest

from shipdeck.backends.metrics import MIN_CPU_WINDOW, HostMetrics
from shipdeck.lifecycle.alerts import AlertRules, AlertTracker
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
    now = [100.0]
    metrics = HostMetrics(str(tmp_path), clock=lambda: now[0])
    first = metrics.sample()
    now[0] += MIN_CPU_WINDOW
    second = metrics.sample()
    assert intervals and set(intervals) == {None}  # no blocking cpu interval, no sleep
    assert first.cpu is None and second.cpu is not None
    for sample in (first, second):
        assert isinstance(sample, HostSample)
        for value in (sample.memory, sample.disk):
            assert 0.0 <= value <= 100.0
        assert sample.net_sent >= 0 and sample.net_recv >= 0
    assert 0.0 <= second.cpu <= 100.0
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


def test_cpu_is_not_read_over_a_window_too_short_to_mean_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The metrics pane's first sample came milliseconds after the baseline, a window
    that was this process's own start: it read 100% and raised (and a second later
    cleared) a cpu alert each time the pane opened. A too-early reading is a gap, and
    it does not reset the window, so the next reading covers all of it."""
    readings = iter([40.0, 7.0])  # psutil's answers: the burst diluted in a window, then calm
    calls: list[float] = []
    now = [50.0]

    def cpu_percent(interval: float | None = None, percpu: bool = False) -> float:
        calls.append(now[0])
        return next(readings) if len(calls) > 1 else 0.0  # the first call is the baseline

    monkeypatch.setattr(psutil, "cpu_percent", cpu_percent)
    metrics = HostMetrics(clock=lambda: now[0])
    tracker = AlertTracker(AlertRules(cpu=90.0))
    seen = []
    for step in (0.004, 0.1, MIN_CPU_WINDOW - 0.1 - 0.004, 1.0):  # pane opened, then 1 Hz
        now[0] += step
        sample = metrics.sample()
        seen.append(sample.cpu)
        assert tracker.observe_host(sample) == []
    assert seen == [None, None, 40.0, 7.0]  # read once MIN_CPU_WINDOW had passed, not before
    assert calls == [50.0, 50.0 + MIN_CPU_WINDOW, 50.0 + MIN_CPU_WINDOW + 1.0]
    assert tracker.host.series("cpu") == [None, None, 40.0, 7.0]
