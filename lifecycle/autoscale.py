"""When to scale a service: Kubernetes' HorizontalPodAutoscaler rules, without the I/O.

desired = ceil(replicas x metric / target) for each metric given (mean task CPU,
probe latency), the largest wins, clamped to [min, max]. Each metric is the median
of its last few samples (as HPA reads averaged metrics), and counts only from its
third sample on: one slow answer is noise, the first after a start as well.
Inside a tolerance band (10% around the target) nothing changes. A scale-up may follow the previous
change after ``cooldown``; a scale-down takes the highest recommendation of the
last ``cooldown`` seconds (HPA's stabilisation window), so load that comes and goes
does not make the service flap. Paused, it recommends nothing.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

TOLERANCE = 0.1
SMOOTHING = 5  # samples a metric's median is taken over
MIN_SAMPLES = 3  # before this many, a median is one or two answers: not yet a metric


@dataclass(frozen=True)
class Decision:
    """A change of replicas and why, as the journal and the board say it."""

    before: int
    after: int
    reason: str
    cpu: float | None = None
    latency_ms: float | None = None

    def event_data(self, env: str) -> dict[str, object]:
        return {
            "env": env,
            "from": self.before,
            "to": self.after,
            "reason": self.reason,
            "cpu": None if self.cpu is None else round(self.cpu, 1),
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
        }


def _desired(replicas: int, value: float, target: float) -> int | None:
    """HPA's formula for one metric; None inside the tolerance band."""
    ratio = value / target
    if abs(ratio - 1.0) <= TOLERANCE:
        return None
    return max(1, math.ceil(replicas * ratio - 1e-9))


@dataclass
class Autoscaler:
    minimum: int
    maximum: int
    cpu: float | None = 70.0  # target mean CPU per task, percent of one core
    latency_ms: float | None = None  # target probe latency
    cooldown: float = 60.0
    paused: bool = False
    last_change: float | None = None  # monotonic seconds
    _window: deque[tuple[float, int]] = field(default_factory=deque)
    _cpu: deque[float] = field(default_factory=lambda: deque(maxlen=SMOOTHING))
    _latency: deque[float] = field(default_factory=lambda: deque(maxlen=SMOOTHING))

    def decide(
        self, now: float, replicas: int, cpu: float | None, latency_ms: float | None
    ) -> Decision | None:
        """What to do at ``now`` with ``replicas`` running and these measurements."""
        if cpu is not None:
            self._cpu.append(cpu)
        if latency_ms is not None:
            self._latency.append(latency_ms)
        if self.paused:
            return None
        cpu = statistics.median(self._cpu) if len(self._cpu) >= MIN_SAMPLES else None
        latency_ms = statistics.median(self._latency) if len(self._latency) >= MIN_SAMPLES else None
        wanted: list[tuple[int, str]] = []
        if self.cpu is not None and cpu is not None:
            d = _desired(max(1, replicas), cpu, self.cpu)
            wanted.append((replicas if d is None else d, f"cpu {cpu:.0f}% (target {self.cpu:g}%)"))
        if self.latency_ms is not None and latency_ms is not None:
            d = _desired(max(1, replicas), latency_ms, self.latency_ms)
            what = f"latency {latency_ms:.0f} ms (target {self.latency_ms:g} ms)"
            wanted.append((replicas if d is None else d, what))
        if replicas < self.minimum or replicas > self.maximum:
            bound = min(max(replicas, self.minimum), self.maximum)
            wanted.append((bound, f"outside {self.minimum}-{self.maximum} replicas"))
        if not wanted:
            return None
        desired = max(d for d, _why in wanted)
        reason = ", ".join(why for d, why in wanted if d == desired)  # every metric asking it
        desired = min(max(desired, self.minimum), self.maximum)
        self._window.append((now, desired))
        while self._window and self._window[0][0] < now - self.cooldown:
            self._window.popleft()
        if desired < replicas:  # down: the highest recommendation of the window
            desired = max(d for _t, d in self._window)
        if desired == replicas:
            return None
        if self.last_change is not None and now - self.last_change < self.cooldown:
            in_bounds = self.minimum <= replicas <= self.maximum
            if in_bounds:
                return None
        self.last_change = now
        self._window.clear()
        cpu_seen = cpu if self.cpu is not None else None
        latency_seen = latency_ms if self.latency_ms is not None else None
        return Decision(replicas, desired, reason, cpu_seen, latency_seen)
