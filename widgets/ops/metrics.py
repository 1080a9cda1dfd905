"""Host metrics, probe latencies and active alerts, fed by the app's poller.

The pane never samples anything itself: the app calls :meth:`MetricsPane.show_sample`
after each sample and starts or stops its poller on
:class:`MetricsPane.VisibilityChanged`, so nothing is sampled while the pane is
hidden. Each section (host, environments, probes) is one :class:`ChartStack`; a
sample updates its charts in place and repaints only the lines that moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import tzinfo

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.events import Hide, Show
from textual.message import Message
from textual.widgets import Label, Static

from shipdeck.lifecycle.alerts import Alert, History
from shipdeck.lifecycle.event_words import clean
from shipdeck.lifecycle.ports import ContainerStats, HostSample, NodeInfo, ProbeResult
from shipdeck.lifecycle.units import byte_size, counted
from shipdeck.widgets.ops.chart import latency_scale, percent_scale, rate_scale
from shipdeck.widgets.ops.chart_stack import (
    Block,
    ChartModel,
    ChartStack,
    ProbeChart,
    TextLine,
    Title,
)
from shipdeck.widgets.ops.text import (
    alert_text,
    nodes_text,
    percent_text,
    probe_error,
    probe_label,
    probe_value,
    rate_text,
)
from shipdeck.widgets.until_mounted import UntilMounted

# (history key, label, percent?, bar colour) in display order
HOST_ROWS: tuple[tuple[str, str, bool, str], ...] = (
    ("cpu", "cpu", True, "chart--bar"),
    ("memory", "memory", True, "chart--bar-memory"),
    ("disk", "disk", True, "chart--bar-disk"),
    ("net_recv", "net in", False, "chart--bar-net"),
    ("net_sent", "net out", False, "chart--bar-net"),
)

DEFAULT_INTERVAL = 2.0  # monitor.interval's default, when the app has no project
MAX_CHART_HEIGHT = 3


def _put(widget: Static, text: Text | str, layout: bool = False) -> None:
    """Update only on change, and lay out only when the text's shape changed: a
    probe's ``200   3 ms`` becoming ``200   4 ms`` costs a repaint, not a layout."""
    old = widget.content
    if isinstance(old, Text) and isinstance(text, Text):
        if old.plain == text.plain and old.style == text.style and old.spans == text.spans:
            return
    elif old == text:
        return
    widget.update(text, layout=layout and _shape(old) != _shape(text))


def _shape(text: object) -> tuple[int, ...]:
    """The cell width of each line: what a ``width: auto`` widget's size depends on."""
    plain = text.plain if isinstance(text, Text) else str(text)
    return tuple(cell_len(line) for line in plain.split("\n"))


class ProbeRow:
    """One probe in the probes stack: its chart (state dot, name, status and latency
    in the gutter), and the error under it while it fails.

    The latency scale is labelled with its top (the nice ceiling of the highest
    latency shown); a failed probe is a gap with a mark on the bottom row."""

    def __init__(self, name: str) -> None:
        self.probe_name = name
        self.chart = ProbeChart()
        self.error = TextLine("chart--error", indent=2)
        self.slow = False
        self.failing = False

    @property
    def blocks(self) -> tuple[Block, ...]:
        return (self.chart, self.error)

    def set(
        self,
        result: ProbeResult,
        series: list[float | None],
        window: int = 60,
        alerting: bool = False,
    ) -> list[Block]:
        """Take ``result``; returns the blocks that changed."""
        self.failing = not result.ok
        self.slow = result.ok and result.slow
        bar = "chart--bar-failing" if self.failing else "chart--bar-slow" if self.slow else None
        self.chart.set_name(probe_label(result))
        high, scale = latency_scale(series)
        changed: list[Block] = []
        if self.chart.set(
            series,
            probe_value(result),
            high=high,
            scale=scale,
            alerting=alerting,
            window=window,
            mark_none=True,
            bar=bar or "chart--bar-ok",
        ):
            changed.append(self.chart)
        if self.error.set(probe_error(result)):
            changed.append(self.error)
        return changed


def env_key(name: str) -> str:
    """A chart's history key: the local target's ``"staging v0.1.0"`` is ``staging``,
    so a new release goes on the same chart; a container's name is its own key."""
    return name.partition(" ")[0] or name


class EnvRows:
    """One running environment (a container, or the local target's process tree) in
    the environments stack: a heading with pids and I/O, then its CPU and memory charts."""

    def __init__(self, key: str, window: int) -> None:
        self.key = key
        self.history = History(window)
        self.heading = TextLine("chart--heading")
        self.cpu = ChartModel("  cpu")
        self.memory = ChartModel("  memory", bar="chart--bar-memory")
        self.stats: ContainerStats | None = None

    @property
    def blocks(self) -> tuple[Block, ...]:
        return (self.heading, self.cpu, self.memory)

    def add(self, stats: ContainerStats) -> list[Block]:
        """Take one sample; returns the blocks that changed."""
        self.stats = s = stats
        self.history.add("cpu", s.cpu)
        self.history.add("memory", s.memory_percent)
        title = Text(clean(s.name, 60), style="bold")
        details = []
        if s.pids is not None:
            details.append(counted(s.pids, "pid"))
        if s.net_rx or s.net_tx:
            details.append(f"net {byte_size(s.net_rx)} in / {byte_size(s.net_tx)} out")
        details.append(f"disk {byte_size(s.block_read)} read / {byte_size(s.block_write)} written")
        title.append("  " + " · ".join(details), style="dim")
        window = self.history.size
        cpu = self.history.series("cpu")
        high, scale = percent_scale(cpu)
        value = Text("–", style="dim") if s.cpu is None else Text(f"{s.cpu:.1f}%")
        memory = Text(f"{byte_size(s.memory)} {s.memory_percent:.1f}%")
        changed = [
            self.heading.set(title),
            self.cpu.set(cpu, value, high=high, scale=scale, window=window),
            self.memory.set(
                self.history.series("memory"), memory, high=100.0, scale="100%", window=window
            ),
        ]
        return [block for block, moved in zip(self.blocks, changed, strict=True) if moved]


class MetricsPane(VerticalScroll):
    """Host metrics, each environment's CPU and memory, probe latencies, as time charts
    over the poller's history (a time axis in each section's title); active alerts."""

    DEFAULT_CSS = """
    MetricsPane { height: 1fr; padding: 0 1; }
    MetricsPane > ChartStack { margin: 1 0 0 0; }
    MetricsPane > ChartStack#host { margin: 0; }
    MetricsPane > Label.section {
        width: 1fr; margin: 1 0 0 0; color: $text-accent; text-style: bold;
    }
    MetricsPane > Label.section.-alerting { color: $error; }
    MetricsPane > #alerts { height: auto; }
    MetricsPane > #env-errors { height: auto; color: $error; }
    MetricsPane > #nodes { height: auto; }
    MetricsPane > #envs.-none, MetricsPane > #env-errors.-none,
    MetricsPane > #nodes-title.-none, MetricsPane > #nodes.-none { display: none; }
    """

    class VisibilityChanged(Message):
        """The pane was shown or hidden: the app starts or stops sampling."""

        def __init__(self, pane: MetricsPane, visible: bool) -> None:
            super().__init__()
            self.pane = pane
            self.visible = visible

        @property
        def control(self) -> MetricsPane:
            return self.pane

    def __init__(
        self,
        *,
        tz: tzinfo | None = None,
        interval: float | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """``tz``: the zone alert times are shown in (None: local). ``interval``: seconds
        between samples, for the time axis (None: the app's ``monitor.interval``)."""
        super().__init__(name=name, id=id, classes=classes)
        self.tz = tz
        self.interval = interval
        self.showing = False
        self.chart_height = 1
        self._probe_rows: dict[str, ProbeRow] = {}
        self._env_rows: dict[str, EnvRows] = {}
        self._nodes_shown = 0  # lines of the nodes table
        self._window = 60
        self._held_sample: UntilMounted[
            tuple[HostSample | None, list[ProbeResult], History, History, list[Alert]]
        ] = UntilMounted()
        self._held_envs: UntilMounted[tuple[list[ContainerStats], dict[str, str]]] = UntilMounted()
        self._held_nodes: UntilMounted[dict[str, list[NodeInfo]]] = UntilMounted()
        # Children made here, so a sample never has to query the DOM for them.
        self.host_charts = {key: ChartModel(label, bar=bar) for key, label, _, bar in HOST_ROWS}
        self._host_title = Title("Host")
        self.host = ChartStack([self._host_title, *self.host_charts.values()], id="host")
        self._envs_title = Title("Environments")
        self.envs = ChartStack([self._envs_title], id="envs", classes="-none")
        self._env_errors = Static(id="env-errors", classes="-none")
        self._nodes_title = Label("Nodes", id="nodes-title", classes="section -none")
        self._node_table = Static(id="nodes", classes="-none")
        self._probes_title = Title("Probes")
        self._probes_empty = TextLine("chart--muted")
        self._probes_empty.set(Text("no probes yet"))
        self.probes = ChartStack([self._probes_title, self._probes_empty], id="probes")
        self._alerts_title = Label("Alerts", id="alerts-title", classes="section")
        self._alerts = Static(Text("no active alerts", style="dim"), id="alerts")

    @property
    def probe_rows(self) -> list[ProbeRow]:
        """The probes shown, in order."""
        return list(self._probe_rows.values())

    @property
    def env_rows(self) -> list[EnvRows]:
        """The environments shown, in order."""
        return list(self._env_rows.values())

    def compose(self) -> ComposeResult:
        yield self.host
        yield self.envs
        yield self._env_errors
        yield self._nodes_title
        yield self._node_table
        yield self.probes
        yield self._alerts_title
        yield self._alerts

    def on_mount(self) -> None:
        envs, sample = self._held_envs.mount(), self._held_sample.mount()
        nodes = self._held_nodes.mount()
        if envs is not None:
            self.show_containers(*envs)
        if nodes is not None:
            self.show_nodes(nodes)
        if sample is not None:
            self.show_sample(*sample)

    # --- visibility: the app's poller runs only while this is True ----------

    def _set_showing(self, visible: bool) -> None:
        if visible != self.showing:
            self.showing = visible
            self.post_message(self.VisibilityChanged(self, visible))

    def on_show(self, event: Show) -> None:
        self._set_showing(True)

    def on_hide(self, event: Hide) -> None:
        self._set_showing(False)

    # --- chart height: as tall as the pane allows, 1 to 3 rows --------------

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Give every chart the same height: the most rows (up to 3) that fit without
        scrolling, counting the titles, headings, alerts and probe errors around them."""
        charts = len(self.host_charts) + len(self._probe_rows) + 2 * len(self._env_rows)
        fixed = 4 + 3  # section titles and the blank lines above them
        fixed += max(
            1,
            len(self._alerts.content.plain.splitlines())
            if isinstance(self._alerts.content, Text)
            else 1,
        )
        if self._nodes_shown:
            fixed += 2 + self._nodes_shown  # title, blank line, a line a node
        fixed += len(self._env_rows) + sum(r.failing for r in self._probe_rows.values())
        fixed += 1 if not self._probe_rows else 0
        room = self.size.height - fixed
        height = max(1, min(MAX_CHART_HEIGHT, room // max(1, charts)))
        if height != self.chart_height:
            self.chart_height = height
            for stack in (self.host, self.envs, self.probes):
                stack.set_chart_height(height)

    # --- data ----------------------------------------------------------------

    def _span(self) -> float:
        """Seconds the charts span: the history's size times ``monitor.interval``."""
        interval = self.interval
        if interval is None:
            project = getattr(self.app, "project", None)
            monitor = getattr(getattr(project, "config", None), "monitor", None)
            interval = getattr(monitor, "interval", None) or DEFAULT_INTERVAL
        return self._window * float(interval)

    def show_sample(
        self,
        host: HostSample | None,
        probes: Sequence[ProbeResult],
        host_history: History,
        probe_history: History,
        active: Iterable[Alert],
    ) -> None:
        """Show one sample: current values from ``host``/``probes``, charts from the
        histories, and the alerts open now (their metric's chart is marked).

        Call it on the UI thread before the next sample starts, since the histories
        are the poller's own (``AlertTracker.host`` / ``.probes``), read here unlocked.
        """
        held = (host, list(probes), host_history, probe_history, list(active))
        if self._held_sample.hold(held):  # shown once composed: see on_mount
            return
        open_alerts = sorted((a for a in active if not a.cleared), key=lambda a: a.raised_at)
        alerting = {a.metric: a for a in open_alerts}
        self._window = max(1, host_history.size)
        span = self._span()
        if self._host_title.set("Host", span):
            self.host.changed(self._host_title)
        if self._envs_title.set("Environments", span):
            self.envs.changed(self._envs_title)
        for key, _, is_percent, _ in HOST_ROWS:
            reading = None if host is None else getattr(host, key)
            value = None if reading is None else float(reading)
            alert = alerting.get(key)
            series = host_history.series(key)
            if is_percent:
                text = percent_text(value, alert is not None)
                high, scale = 100.0, "100%"
            else:
                text = rate_text(value)
                high, scale = rate_scale(series)
            note = f"⚠ {alert.id} ≥ {alert.threshold:g}%" if alert is not None else ""
            chart = self.host_charts[key]
            if chart.set(
                series,
                text,
                high=high,
                scale=scale,
                alerting=alert is not None,
                threshold=None if alert is None else alert.threshold,
                note=note,
                window=self._window,
            ):
                self.host.changed(chart)
        self._show_probes(probes, probe_history, alerting, span)
        self._show_alerts(open_alerts)

    def show_containers(
        self, stats: Sequence[ContainerStats], errors: Mapping[str, str] | None = None
    ) -> None:
        """Each environment's container (or local process tree): CPU and memory charts
        kept here, one sample a call; hidden when there are none."""
        errors = dict(errors or {})
        if self._held_envs.hold((list(stats), errors)):  # shown once composed
            return
        self.envs.set_class(not stats and not errors, "-none")
        self._env_errors.set_class(not errors, "-none")
        if errors:
            _put(
                self._env_errors,
                Text("\n").join(Text(f"{env}: {clean(e)}") for env, e in errors.items()),
                layout=True,
            )
        seen = {env_key(s.name) for s in stats}
        gone = [key for key in self._env_rows if key not in seen]
        for key in gone:
            del self._env_rows[key]
        changed: list[Block] = []
        new = False
        for s in stats:
            key = env_key(s.name)
            row = self._env_rows.get(key)
            if row is None:
                row = self._env_rows[key] = EnvRows(key, self._window)
                new = True
            changed.extend(row.add(s))
        if new or gone:
            blocks: list[Block] = [self._envs_title]
            for row in self._env_rows.values():
                blocks.extend(row.blocks)
            self.envs.set_blocks(blocks)
            self.call_after_refresh(self._fit)
        else:
            for block in changed:
                self.envs.changed(block)

    def show_nodes(self, nodes: Mapping[str, Sequence[NodeInfo]]) -> None:
        """The swarm's machines (state, availability, this environment's tasks); a node
        not ready in red. Hidden without a swarm environment."""
        held = {env: list(found) for env, found in nodes.items()}
        if self._held_nodes.hold(held):
            return
        text = nodes_text(held)
        lines = len(text.plain.splitlines()) if held else 0
        self._nodes_title.set_class(not held, "-none")
        self._node_table.set_class(not held, "-none")
        if held:
            _put(self._node_table, text, layout=lines != self._nodes_shown)
        if lines != self._nodes_shown:
            self._nodes_shown = lines
            self.call_after_refresh(self._fit)

    def _show_probes(
        self,
        probes: Sequence[ProbeResult],
        history: History,
        alerting: Mapping[str, Alert],
        span: float,
    ) -> None:
        seen = {result.name for result in probes}
        gone = [n for n in self._probe_rows if n not in seen]
        for name in gone:
            del self._probe_rows[name]
        changed: list[Block] = []
        structure, refit = bool(gone), bool(gone)
        for result in probes:
            row = self._probe_rows.get(result.name)
            if row is None:
                row = self._probe_rows[result.name] = ProbeRow(result.name)
                structure = refit = True
            was_failing = row.failing
            changed.extend(
                row.set(
                    result,
                    history.series(result.name),
                    max(1, history.size),
                    f"probe:{result.name}" in alerting,
                )
            )
            refit = refit or row.failing != was_failing  # an error line came or went
        count = len(self._probe_rows)
        if self._probes_title.set(f"Probes ({count})" if count else "Probes", span):
            changed.append(self._probes_title)
        if structure:
            blocks: list[Block] = [self._probes_title]
            for row in self._probe_rows.values():
                blocks.extend(row.blocks)
            self.probes.set_blocks(blocks if self._probe_rows else [*blocks, self._probes_empty])
        else:
            for block in changed:
                self.probes.changed(block)
        if refit:
            self.call_after_refresh(self._fit)

    def _show_alerts(self, open_alerts: list[Alert]) -> None:
        title, body = self._alerts_title, self._alerts
        _put(title, f"Alerts ({len(open_alerts)})" if open_alerts else "Alerts", layout=True)
        title.set_class(bool(open_alerts), "-alerting")
        if open_alerts:
            _put(body, Text("\n").join(alert_text(a, self.tz) for a in open_alerts), layout=True)
        else:
            _put(body, Text("no active alerts", style="dim"), layout=True)
