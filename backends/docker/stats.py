"""Container stats from the daemon's stats stream, read in the background.

A one-shot ``stats(stream=False)`` makes the daemon take two samples a second
apart, so each call blocks for 1-2 s. Here one thread per container reads the
stream (a sample a second) and keeps the latest; ``sample()`` answers at once.
A reader stops after ``idle`` seconds without anyone asking (nothing shows the
numbers any more) or when its container is no longer among those asked about.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from shipdeck.backends.docker.logs import LogSource
from shipdeck.backends.docker.stream import body_blocks, open_stream
from shipdeck.lifecycle.ports import CancelToken, ContainerStats, TargetError


def _total(cpu: dict[str, Any]) -> tuple[int, int]:
    return int((cpu.get("cpu_usage") or {}).get("total_usage") or 0), int(
        cpu.get("system_cpu_usage") or 0
    )


def compute(source: LogSource, raw: dict[str, Any], prev: dict[str, Any] | None) -> ContainerStats:
    """``docker stats``' arithmetic on one stats document (``prev``: the one before)."""
    cpu_now = raw.get("cpu_stats") or {}
    pre = raw.get("precpu_stats") or {}
    if not pre.get("system_cpu_usage") and prev is not None:
        pre = prev.get("cpu_stats") or {}
    cpu: float | None = None
    (used, system), (used0, system0) = _total(cpu_now), _total(pre)
    if system0 and system > system0 and used >= used0:
        cores = cpu_now.get("online_cpus") or len(
            (cpu_now.get("cpu_usage") or {}).get("percpu_usage") or [1]
        )
        cpu = (used - used0) / (system - system0) * cores * 100.0
    mem = raw.get("memory_stats") or {}
    detail = mem.get("stats") or {}
    cache = detail.get("total_inactive_file", detail.get("inactive_file", 0))  # cgroup v1 / v2
    usage = max(0, int(mem.get("usage") or 0) - int(cache or 0))
    nets = (raw.get("networks") or {}).values()
    blkio = (raw.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    ops: dict[str, int] = {}
    for entry in blkio:
        op = str(entry.get("op", "")).lower()
        ops[op] = ops.get(op, 0) + int(entry.get("value") or 0)
    return ContainerStats(
        name=source.name,
        id=source.id,
        cpu=cpu,
        memory=usage,
        memory_limit=int(mem.get("limit") or 0),
        net_rx=sum(int(n.get("rx_bytes") or 0) for n in nets),
        net_tx=sum(int(n.get("tx_bytes") or 0) for n in nets),
        block_read=ops.get("read", 0),
        block_write=ops.get("write", 0),
        pids=(raw.get("pids_stats") or {}).get("current"),
    )


class _Reader:
    """One container's stats stream in a daemon thread; ``latest`` is the newest sample."""

    def __init__(self, api: Any, source: LogSource, poller: StatsPoller) -> None:
        self.source = source
        self.latest: ContainerStats | None = None
        self.first = threading.Event()
        self.cancel = CancelToken()
        self.error: str | None = None
        self._api = api
        self._poller = poller
        self.thread = threading.Thread(
            target=self._run, name=f"shipdeck-stats-{source.name}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        prev: dict[str, Any] | None = None
        held = b""
        try:
            response = open_stream(
                self._api, "/containers/{0}/stats", self.source.id, {"stream": "1"}, "stats"
            )
            for block in body_blocks(response, self.cancel):
                *docs, held = (held + block).split(b"\n")
                for doc in docs:
                    if not doc.strip():
                        continue
                    raw = json.loads(doc)
                    sample = compute(self.source, raw, prev)
                    if sample.cpu is not None or self.latest is None:
                        self.latest = sample
                    if prev is not None or sample.cpu is not None:
                        self.first.set()  # a CPU figure needs two samples
                    prev = raw
                if self._poller.idle():
                    break
        except (TargetError, ValueError) as exc:
            self.error = str(exc)
        finally:
            self.first.set()
            self.cancel.cancel()


class StatsPoller:
    """Background stats readers for the containers a caller asks about."""

    def __init__(self, api: Callable[[], Any], idle: float = 30.0) -> None:
        self._api = api
        self._idle = idle
        self._last = time.monotonic()
        self._readers: dict[str, _Reader] = {}
        self._lock = threading.Lock()

    def idle(self) -> bool:
        return time.monotonic() - self._last > self._idle

    def sample(self, sources: Sequence[LogSource], wait: float = 2.5) -> list[ContainerStats]:
        """The latest sample of each source; waits up to ``wait`` s for a new reader's first."""
        self._last = time.monotonic()
        wanted = {s.id: s for s in sources}
        with self._lock:
            for cid in list(self._readers):
                reader = self._readers[cid]
                if cid not in wanted or reader.cancel.cancelled:
                    reader.cancel.cancel()
                    del self._readers[cid]
            if wanted.keys() - self._readers.keys():
                api = self._api()
                for cid, source in wanted.items():
                    if cid not in self._readers:
                        self._readers[cid] = _Reader(api, source, self)
            readers = [self._readers[cid] for cid in wanted]
        deadline = time.monotonic() + wait
        for reader in readers:
            reader.first.wait(max(0.0, deadline - time.monotonic()))
        return [r.latest for r in readers if r.latest is not None]

    def close(self) -> None:
        with self._lock:
            readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            reader.cancel.cancel()
        for reader in readers:
            with contextlib.suppress(RuntimeError):
                reader.thread.join(timeout=2)
