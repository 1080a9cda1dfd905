"""One monitoring sample: host metrics and probes through the ports, alerts
through :class:`AlertTracker`, raised alerts journaled (and sent to the webhook).

The board's metrics pane and ``shipdeck monitor`` both drive a :class:`Sampler`;
the caller decides when to sample (after the previous sample finished).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.alerts import (
    Alert,
    AlertRules,
    AlertTracker,
    next_alert_number,
    open_alerts,
)
from shipdeck.lifecycle.config.schema import Probe
from shipdeck.lifecycle.engine import Engine
from shipdeck.lifecycle.ports import HostSample, MetricsSource, Prober, ProbeResult


@dataclass
class Sample:
    host: HostSample
    probes: list[ProbeResult] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


class Sampler:
    def __init__(self, engine: Engine, prober: Prober, metrics: MetricsSource) -> None:
        cfg = engine.config.monitor
        self.engine = engine
        self.prober = prober
        self.metrics = metrics
        events = engine.journal.read(types={ev.ALERT_RAISED, ev.ALERT_CLEARED})
        rules = AlertRules(
            cpu=cfg.alerts.cpu,
            memory=cfg.alerts.memory,
            disk=cfg.alerts.disk,
            probe_failures=cfg.alerts.probe_failures,
        )
        self.probes = list(cfg.probes)
        if cfg.probe_environments:
            self.probes += self._environment_probes({p.name for p in cfg.probes})
        envs = {p.name: p.name for p in self.probes}
        self.tracker = AlertTracker(
            rules, start=next_alert_number(events), probe_envs=envs, active=open_alerts(events)
        )

    def _environment_probes(self, taken: set[str]) -> list[Probe]:
        """A probe of each environment's own health URL, named after it: the pane charts
        every environment's latency without a ``monitor.probes`` entry per environment."""
        found = []
        for name in self.engine.config.environments:
            if name in taken:
                continue
            try:
                url = self.engine.target_for(name).health_url
            except Exception:  # noqa: BLE001 - an environment that cannot be built is not probed
                continue
            if url:
                found.append(Probe(name=name, url=url))
        return found

    def _version_on(self, env: str | None) -> str | None:
        if not env or env not in self.engine.config.environments:
            return None
        try:
            return self.engine.target_for(env).status().version
        except Exception:  # noqa: BLE001 - an alert is journaled even if the target can't say
            return None

    def sample(self) -> Sample:
        host = self.metrics.sample()
        out = Sample(host, alerts=self.tracker.observe_host(host))
        for probe in self.probes:
            result = self.prober.probe(probe.name, probe.url, probe.timeout, probe.slow_ms)
            out.probes.append(result)
            out.alerts.extend(self.tracker.observe_probe(result))
        for alert in out.alerts:
            version = None if alert.cleared else self._version_on(alert.env)
            self.engine.record(alert.to_event(version))
        return out
