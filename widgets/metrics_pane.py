"""Host metrics, probe latencies and active alerts, fed by the app's poller.

The pane never samples anything itself: the app calls :meth:`MetricsPane.show_sample`
after each sample and starts or stops its poller on
:class:`MetricsPane.VisibilityChanged`, so nothing is sampled while the pane is
hidden. Each sample updates existing child widgets in place; a probe's row is
mounted once, the first time that probe is seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Hide, Show
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label, Static

from lifecycle.monitor import Alert, History
from lifecycle.ports import ContainerStats, HostSample, ProbeResult
from widgets.present_ops import (
    alert_text,
    containers_text,
    percent_text,
    probe_error,
    probe_label,
    probe_value,
    rate_text,
)
from widgets.spark import TextSparkline as Sparkline
from widgets.spark import spark_text

# (history key, label, percent?) in display order
HOST_ROWS: tuple[tuple[str, str, bool], ...] = (
    ("cpu", "cpu", True),
    ("memory", "memory", True),
    ("disk", "disk", True),
    ("net_recv", "net in", False),
    ("net_sent", "net out", False),
)


def _put(widget: Static, text: Text | str, layout: bool = False) -> None:
    """Update only on change; fixed-size cells skip layout, so a sample costs a repaint."""
    old = widget.content
    if isinstance(old, Text) and isinstance(text, Text):
        if old.plain == text.plain and old.style == text.style and old.spans == text.spans:
            return
    elif old == text:
        return
    widget.update(text, layout=layout)


class MetricRow(Widget):
    """``label  ▁▂▅▇▃  value`` for one host metric, drawn by one widget.

    One widget rather than a label, a sparkline and a value: a sample repaints
    each row, and every widget in a repainted line is rendered again, so three
    widgets a row made an idle board with metrics showing cost 1% of a core.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"metric--name", "metric--spark"}
    DEFAULT_CSS = """
    MetricRow {
        height: 1;
        & > .metric--name { color: $text-muted; }
        & > .metric--spark { color: $accent; }
    }
    MetricRow.-alerting {
        & > .metric--name { color: $error; text-style: bold; }
        & > .metric--spark { color: $error; }
    }
    """
    NAME_WIDTH, VALUE_WIDTH = 9, 11

    def __init__(self, key: str, label: str) -> None:
        super().__init__(id=f"metric-{key}", classes="metric")
        self.key = key
        self.label = label
        self.series: list[float] = []
        self.value = Text("–", style="dim")

    def set(self, series: list[float], value: Text, alerting: bool) -> None:
        self.set_class(alerting, "-alerting")
        series = list(series)
        if series != self.series or value != self.value:
            self.series, self.value = series, value
            self.refresh()

    def render(self) -> Text:
        width = self.size.width
        spark = max(0, width - self.NAME_WIDTH - self.VALUE_WIDTH - 1)
        value = self.value.copy()
        value.truncate(self.VALUE_WIDTH)
        value.align("right", self.VALUE_WIDTH)
        return Text.assemble(
            (self.label[: self.NAME_WIDTH].ljust(self.NAME_WIDTH), self._part("metric--name")),
            (spark_text(self.series, spark).rjust(spark), self._part("metric--spark")),
            " ",
            value,
        )

    def _part(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)


class ProbeRow(Vertical):
    """One probe: name, latency sparkline, status and latency; the error underneath."""

    DEFAULT_CSS = """
    ProbeRow { height: auto; }
    ProbeRow > Horizontal { height: 1; }
    ProbeRow .probe--name { width: 18; }
    ProbeRow TextSparkline { width: 1fr; margin: 0 1 0 0; }
    ProbeRow .probe--value { width: 18; text-align: right; }
    ProbeRow > .probe--error { display: none; padding: 0 0 0 2; color: $error; }
    ProbeRow.-failing > .probe--error { display: block; }
    ProbeRow.-slow TextSparkline { color: $warning; }
    ProbeRow.-failing TextSparkline { color: $error; }
    """

    def __init__(self, name: str, row_id: str) -> None:
        super().__init__(id=row_id, classes="probe")
        self.probe_name = name
        self._shown: tuple[ProbeResult, list[float]] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static(classes="probe--name")
            yield Sparkline([])
            yield Static(classes="probe--value")
        yield Static(classes="probe--error")

    def set(self, result: ProbeResult, series: list[float]) -> None:
        """Show ``result``; before the row is composed it is kept and shown on mount."""
        self.set_class(not result.ok, "-failing")
        self.set_class(result.ok and result.slow, "-slow")
        self._shown = (result, series)
        if self.is_mounted:
            self._apply()

    def on_mount(self) -> None:
        self._apply()

    def _apply(self) -> None:
        if self._shown is None:
            return
        result, series = self._shown
        _put(self.query_one(".probe--name", Static), probe_label(result))
        self.query_one(Sparkline).data = series
        _put(self.query_one(".probe--value", Static), probe_value(result))
        _put(self.query_one(".probe--error", Static), probe_error(result) or "", layout=True)


class MetricsPane(VerticalScroll):
    """Host metrics with sparklines, probe status and latency, active alerts."""

    DEFAULT_CSS = """
    MetricsPane { height: 1fr; padding: 0 1; }
    MetricsPane > .section {
        width: 1fr; margin: 1 0 0 0; color: $text-accent; text-style: bold;
    }
    MetricsPane > .section.-first { margin: 0; }
    MetricsPane > .section.-alerting { color: $error; }
    MetricsPane > #probes { height: auto; }
    MetricsPane > .empty { color: $text-muted; }
    MetricsPane > #alerts { height: auto; }
    MetricsPane > #containers { height: auto; }
    MetricsPane > #containers-title.-none, MetricsPane > #containers.-none { display: none; }
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
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """``tz``: the zone alert times are shown in (None: local)."""
        super().__init__(name=name, id=id, classes=classes)
        self.tz = tz
        self.showing = False
        self._probe_rows: dict[str, ProbeRow] = {}
        self._next_probe = 0
        self._ready = False
        self._pending: (
            tuple[HostSample | None, list[ProbeResult], History, History, list[Alert]] | None
        ) = None
        # Children made here, so a sample never has to query the DOM for them.
        self._metric_rows = {key: MetricRow(key, label) for key, label, _ in HOST_ROWS}
        self._probes = Vertical(id="probes")
        self._probes_title = Label("Probes", id="probes-title", classes="section")
        self._probes_empty = Static(
            Text("no probes yet", style="dim"), id="probes-empty", classes="empty"
        )
        self._alerts_title = Label("Alerts", id="alerts-title", classes="section")
        self._alerts = Static(Text("no active alerts", style="dim"), id="alerts")
        self._containers_title = Label("Containers", id="containers-title", classes="section -none")
        self._containers = Static(id="containers", classes="-none")

    def compose(self) -> ComposeResult:
        yield Label("Host", classes="section -first")
        yield from self._metric_rows.values()
        yield self._probes_title
        yield self._probes
        yield self._probes_empty
        yield self._alerts_title
        yield self._alerts
        yield self._containers_title
        yield self._containers

    def on_mount(self) -> None:
        self._ready = True
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.show_sample(*pending)

    # --- visibility: the app's poller runs only while this is True ----------

    def _set_showing(self, visible: bool) -> None:
        if visible != self.showing:
            self.showing = visible
            self.post_message(self.VisibilityChanged(self, visible))

    def on_show(self, event: Show) -> None:
        self._set_showing(True)

    def on_hide(self, event: Hide) -> None:
        self._set_showing(False)

    # --- data ----------------------------------------------------------------

    def show_sample(
        self,
        host: HostSample | None,
        probes: Sequence[ProbeResult],
        host_history: History,
        probe_history: History,
        active: Iterable[Alert],
    ) -> None:
        """Show one sample: current values from ``host``/``probes``, sparklines from
        the histories, and the alerts open now.

        Call it on the UI thread before the next sample starts, since the histories
        are the poller's own (``AlertTracker.host`` / ``.probes``), read here unlocked.
        """
        if not self._ready:  # shown once composed: see on_mount
            self._pending = (host, list(probes), host_history, probe_history, list(active))
            return
        open_alerts = sorted((a for a in active if not a.cleared), key=lambda a: a.raised_at)
        alerting = {a.metric for a in open_alerts}
        for key, _, is_percent in HOST_ROWS:
            value = None if host is None else float(getattr(host, key))
            text = percent_text(value, key in alerting) if is_percent else rate_text(value)
            self._metric_rows[key].set(host_history.values(key), text, key in alerting)
        self._show_probes(probes, probe_history)
        self._show_alerts(open_alerts)

    def show_containers(
        self, stats: Sequence[ContainerStats], errors: Mapping[str, str] | None = None
    ) -> None:
        """Container CPU, memory, network, block I/O and pids; hidden when there are none."""
        errors = errors or {}
        none = not stats and not errors
        self._containers_title.set_class(none, "-none")
        self._containers.set_class(none, "-none")
        if self.is_mounted and not none:
            _put(self._containers, containers_text(stats, errors), layout=True)

    def _show_probes(self, probes: Sequence[ProbeResult], history: History) -> None:
        seen = {result.name for result in probes}
        for name in [n for n in self._probe_rows if n not in seen]:
            self._probe_rows.pop(name).remove()
        new_rows: list[ProbeRow] = []
        for result in probes:
            row = self._probe_rows.get(result.name)
            if row is None:
                row = ProbeRow(result.name, f"probe-{self._next_probe}")
                self._next_probe += 1
                self._probe_rows[result.name] = row
                new_rows.append(row)
            row.set(result, history.values(result.name))
        if new_rows:
            self._probes.mount_all(new_rows)
        self._probes_empty.display = not self._probe_rows
        _put(self._probes_title, f"Probes ({len(self._probe_rows)})", layout=True)

    def _show_alerts(self, open_alerts: list[Alert]) -> None:
        title, body = self._alerts_title, self._alerts
        _put(title, f"Alerts ({len(open_alerts)})" if open_alerts else "Alerts", layout=True)
        title.set_class(bool(open_alerts), "-alerting")
        if open_alerts:
            _put(body, Text("\n").join(alert_text(a, self.tz) for a in open_alerts), layout=True)
        else:
            _put(body, Text("no active alerts", style="dim"), layout=True)
