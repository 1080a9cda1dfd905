"""One monitoring sample: host metrics and probes through the ports, alerts
through :class:`AlertTracker`, raised alerts journaled (and sent to the webhook).

Swarm environments add their cluster: every node's state (a node not ready is an
alert) and, with ``autoscale:``, a scaling decision from the tasks' CPU and the
environment's probe latency (``lifecycle.autoscale``), journaled with its reason.

The board's metrics pane and ``shipdeck monitor`` both drive a :class:`Sampler`;
the caller decides when to sample (after the previous sample finished).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.alerts import (
    Alert,
    AlertRules,
    AlertTracker,
    next_alert_number,
    open_alerts,
)
from shipdeck.lifecycle.autoscale import Autoscaler, Decision
from shipdeck.lifecycle.config.schema import Probe
from shipdeck.lifecycle.engine import Engine
from shipdeck.lifecycle.ports import (
    HostSample,
    MetricsSource,
    NodeInfo,
    NodeSource,
    Prober,
    ProbeResult,
    Scalable,
    SpreadHealth,
    StatsSource,
)

_PROBES_AT_ONCE = 8  # more probes than this share the threads: each still has its timeout


@dataclass
class Sample:
    host: HostSample
    probes: list[ProbeResult] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    nodes: dict[str, list[NodeInfo]] = field(default_factory=dict)  # by environment
    scaled: list[tuple[str, Decision]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # environment -> why not sampled


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
        self.clusters = [n for n, e in engine.config.environments.items() if e.target == "swarm"]
        self.autoscalers = {
            name: Autoscaler(
                minimum=e.autoscale.min,
                maximum=e.autoscale.max,
                cpu=e.autoscale.cpu,
                latency_ms=e.autoscale.latency_ms,
                cooldown=e.autoscale.cooldown,
            )
            for name, e in engine.config.environments.items()
            if e.autoscale is not None
        }

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
        for result in self._probe_all():
            out.probes.append(result)
            out.alerts.extend(self.tracker.observe_probe(result))
        seen: set[str] = set()
        for name in self.clusters:
            try:
                self._cluster(name, out, seen)
            except Exception as exc:  # noqa: BLE001 - an engine away is shown, not raised
                out.errors[name] = str(exc)
        for alert in out.alerts:
            version = None if alert.cleared else self._version_on(alert.env)
            self.engine.record(alert.to_event(version))
        return out

    def _probe_all(self) -> list[ProbeResult]:
        """Every probe at once, in the config's order: one after another, an endpoint that
        never answers held the others for its whole timeout (five of them made a 1 s
        sample take 25 s, and a healthy environment's alert come minutes late)."""
        if len(self.probes) < 2:
            return [self._probe(probe) for probe in self.probes]
        workers = min(len(self.probes), _PROBES_AT_ONCE)
        with ThreadPoolExecutor(workers, thread_name_prefix="shipdeck-probe") as pool:
            return list(pool.map(self._probe, self.probes))

    def _probe(self, probe: Probe) -> ProbeResult:
        """One probe; a swarm environment's own (host mode) on every node running a task,
        as one result: ok when all are, the mean latency, the first failure's reason."""
        where: dict[str, str] = {}
        if probe.name in self.clusters:
            try:
                target = self.engine.target_for(probe.name)
                if isinstance(target, SpreadHealth):
                    where = target.health_urls()
            except Exception:  # noqa: BLE001 - the URL as configured is probed instead
                where = {}
        if not where or list(where.values()) == [probe.url]:
            return self.prober.probe(probe.name, probe.url, probe.timeout, probe.slow_ms)
        results = {
            node: self.prober.probe(probe.name, url, probe.timeout, probe.slow_ms)
            for node, url in where.items()
        }
        failed = [(node, r) for node, r in results.items() if not r.ok]
        latencies = [r.latency_ms for r in results.values() if r.latency_ms is not None]
        # The mean over the nodes, as HPA averages over pods; the slowest shows in "slow".
        if failed:
            node, first = failed[0]
            why = first.error or (f"HTTP {first.status}" if first.status else "failed")
            return replace(first, url=probe.url, error=f"{node}: {why}")
        return ProbeResult(
            name=probe.name,
            url=probe.url,
            ok=True,
            status=next(iter(results.values())).status,
            latency_ms=sum(latencies) / len(latencies) if latencies else None,
            slow=any(r.slow for r in results.values()),
        )

    def _cluster(self, name: str, out: Sample, seen: set[str]) -> None:
        """The nodes of ``name``'s swarm (alerts once per machine), then its autoscaling."""
        target = self.engine.target_for(name)
        if isinstance(target, NodeSource):
            nodes = target.nodes()
            out.nodes[name] = nodes
            fresh = [n for n in nodes if n.id not in seen]
            seen.update(n.id for n in nodes)
            out.alerts.extend(self.tracker.observe_nodes(name, fresh))
        scaler = self.autoscalers.get(name)
        if scaler is None or not isinstance(target, Scalable):
            return
        replicas = target.replica_count()
        if replicas is None or replicas == 0:  # absent, or stopped by a person: left alone
            return
        latency = None
        timeouts = {p.name: p.timeout for p in self.probes}
        for result in out.probes:
            if result.name == name:  # one that failed (timed out) counts as its whole timeout
                latency = result.latency_ms if result.ok else timeouts[name] * 1000
        cpu = None
        if isinstance(target, StatsSource):
            figures = [s.cpu for s in target.stats() if s.cpu is not None]
            cpu = sum(figures) / len(figures) if figures else None
        scaler.paused = autoscale_paused(self.engine, name)  # the board or another monitor
        decision = scaler.decide(time.monotonic(), replicas, cpu, latency)
        if decision is None:
            return
        target.set_replicas(decision.after)
        self.engine.record(ev.Event(ev.AUTOSCALED, None, decision.event_data(name)))
        out.scaled.append((name, decision))


def _pause_file(engine: Engine, env: str) -> Path:
    return engine.paths.state / f"autoscale-{env}.paused"


def autoscale_paused(engine: Engine, env: str) -> bool:
    """Whether a person paused ``env``'s autoscaling: a file every monitor sees (the board's
    and ``shipdeck monitor``'s), so one key pauses it wherever it runs."""
    return _pause_file(engine, env).exists()


def pause_autoscale(engine: Engine, env: str, paused: bool) -> None:
    """Pause (or resume) ``env``'s autoscaling, journaled as a person's decision."""
    path = _pause_file(engine, env)
    if paused:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    else:
        path.unlink(missing_ok=True)
    engine.record(ev.Event(ev.AUTOSCALE_PAUSED, None, {"env": env, "paused": paused}))
