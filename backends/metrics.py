"""Host metrics through psutil (implements ``lifecycle.ports.MetricsSource``).

``sample()`` never sleeps: CPU is measured since the previous call (psutil's
``interval=None``) and network rates since the previous sample, so the poller
decides the cadence and a sample costs microseconds, not a blocking interval.
"""

from __future__ import annotations

import os
import threading
import time

import psutil

from shipdeck.lifecycle.ports import HostSample


class HostMetrics:
    """CPU, memory, the filesystem holding ``path``, and network throughput."""

    def __init__(self, path: str = ".") -> None:
        self.path = os.path.abspath(path)
        self._lock = threading.Lock()
        # The first cpu_percent(None) call only sets psutil's baseline (returns 0.0).
        psutil.cpu_percent(interval=None)
        self._net_at = time.monotonic()
        self._net = _net_totals()
        self._first = True

    def sample(self) -> HostSample:
        with self._lock:
            cpu = float(psutil.cpu_percent(interval=None))
            memory = float(psutil.virtual_memory().percent)
            disk = self._disk_percent()
            now = time.monotonic()
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
            cpu=_clamp(cpu), memory=_clamp(memory), disk=_clamp(disk), net_sent=sent, net_recv=recv
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
