"""Host metrics through psutil (implements ``lifecycle.ports.MetricsSource``).

``sample()`` never sleeps: CPU is measured since the previous reading (psutil's
``interval=None``) and network rates since the previous sample, so the poller
decides the cadence and a sample costs microseconds, not a blocking interval.

CPU over a window shorter than :data:`MIN_CPU_WINDOW` is not read (``None``, a gap
in the chart, as a process tree's first reading is): the poller's first sample
comes milliseconds after the baseline, and that window was this process's own
start (imports, the pane's mount), which read as 100% and raised and cleared a
cpu alert, journaled and sent to the webhook, each time the metrics pane opened.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import psutil

from shipdeck.lifecycle.ports import HostSample

MIN_CPU_WINDOW = 0.25  # seconds: the shortest window a CPU percent is read over


class HostMetrics:
    """CPU, memory, the filesystem holding ``path``, and network throughput."""

    def __init__(self, path: str = ".", *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = os.path.abspath(path)
        self._lock = threading.Lock()
        self._clock = clock
        # The first cpu_percent(None) call only sets psutil's baseline (returns 0.0).
        psutil.cpu_percent(interval=None)
        self._cpu_at = self._net_at = clock()
        self._net = _net_totals()
        self._first = True

    def sample(self) -> HostSample:
        with self._lock:
            now = self._clock()
            cpu: float | None = None
            if now - self._cpu_at >= MIN_CPU_WINDOW:  # else the window goes on growing
                cpu = _clamp(float(psutil.cpu_percent(interval=None)))
                self._cpu_at = now
            memory = float(psutil.virtual_memory().percent)
            disk = self._disk_percent()
            totals = _net_totals()
            sent = recv = 0.0
            elapsed = now - self._net_at
            if not self._first and elapsed > 0 and totals and self._net:
                # Counters can wrap or reset (interface gone): clamp at zero.
                sent = max(0.0, (totals[0] - self._net[0]) / elapsed)
                recv = max(0.0, (totals[1] - self._net[1]) / elapsed)
            self._first = False
            self._net_at, self._net = now, totals
        return HostSample(
            cpu=cpu, memory=_clamp(memory), disk=_clamp(disk), net_sent=sent, net_recv=recv
        )

    def _disk_percent(self) -> float:
        try:
            return float(psutil.disk_usage(self.path).percent)
        except OSError:  # the repository vanished or is unreadable: report, don't crash
            return 0.0


def _net_totals() -> tuple[int, int] | None:
    counters = psutil.net_io_counters()
    if counters is None:  # no network interfaces (some containers)
        return None
    return int(counters.bytes_sent), int(counters.bytes_recv)


def _clamp(value: float) -> float:
    return min(100.0, max(0.0, value))
