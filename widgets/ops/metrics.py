"""Host metrics, probe latencies and active alerts, fed by the app's poller.

The pane never samples anything itself: the app calls :meth:`MetricsPane.show_sample`
after each sample and starts or stops its poller on
:class:`MetricsPane.VisibilityChanged`, so nothing is sampled while the pane is
hidden. Each sample updates existing child widgets in place; a probe's row is
mounted once, the first time that probe is seen.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import tzinfo
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.events import Hide, Show
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Label, Static

from shipdeck.lifecycle.alerts import Alert, History
from shipdeck.lifecycle.ports import ContainerStats, HostSample, NodeInfo, ProbeResult
from shipdeck.lifecycle.units import byte_size, counted
from shipdeck.widgets.component_style import component_style
from shipdeck.widgets.ops.chart import (
    BAR,
    EMPTY,
    FAIL,
    HOT,
    latency_scale,
    percent_scale,
    plot,
    rate_scale,
    time_axis,
)
from shipdeck.widgets.ops.text import (
    alert_text,
    clean,
    nodes_text,
    percent_text,
    probe_error,
    probe_label,
    probe_value,
    rate_text,
)
from shipdeck.widgets.until_mounted import UntilMounted

# (history key, label, percent?) in display order
HOST_ROWS: tuple[tuple[str, str, bool], ...] = (
    ("cpu", "cpu", True),
    ("memory", "memory", True),
    ("disk", "disk", True),
    ("net_recv", "net in", False),
    ("net_sent", "net out", False),
)

GUTTER = 24  # label and current value, left of every chart
SCALE = 10  # the scale's labels, right of every chart
DEFAULT_INTERVAL = 2.0  # monitor.interval's default, when the app has no project
MAX_CHART_HEIGHT = 3


def chart_width(width: int) -> int:
    """Columns left for the bars in a row ``width`` wide: gutter, a space, bars, a space, scale."""
    return max(0, width - GUTTER - 1 - 1 - SCALE)


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


class Chart(Widget):
    """A time chart as one widget: ``label value | bars | scale``, ``height`` rows high.

    One widget rather than a label, a chart and a value: a sample repaints each
    row, and every widget in a repainted line is rendered again. ``gutter=False``
    draws the bars and the scale only (a probe's row draws its own gutter).
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "chart--label",
        "chart--value",
        "chart--note",
        "chart--bar",
        "chart--hot",
        "chart--fail",
        "chart--scale",
        "chart--empty",
        "chart--line",
    }
    DEFAULT_CSS = """
    Chart {
        height: 1;
        & > .chart--label { color: $text; }
        & > .chart--value { color: $text; text-style: bold; }
        & > .chart--note { color: $text-muted; }
        & > .chart--bar { color: $accent; }
        & > .chart--hot { color: $error; }
        & > .chart--fail { color: $error; text-style: bold; }
        & > .chart--scale { color: $text-muted; }
        & > .chart--empty { color: $text-disabled; }
        & > .chart--line { color: $warning 60%; }
    }
    Chart.-alerting {
        & > .chart--label { color: $error; text-style: bold; }
        & > .chart--value { color: $error; }
        & > .chart--note { color: $error; }
        & > .chart--bar { color: $error 70%; }
        & > .chart--line { color: $error; }
    }
    """

    def __init__(
        self, label: str = "", *, gutter: bool = True, id: str | None = None, classes: str = ""
    ) -> None:
        self._parts: dict[str, Style] = {}
        self._strips: list[Strip] | None = None
        self._strips_size: Size | None = None
        self._drawn: list[list[tuple[str, Style]]] | None = None  # the rows last drawn
        self._drawn_size: Size | None = None
        self._given: tuple[object, ...] = ()  # what set() was last given
        super().__init__(id=id, classes=f"chart {classes}".strip())
        self.label = label
        self.with_gutter = gutter
        self.series: list[float | None] = []
        self.value = Text("–", style="dim")
        self.note = ""
        self.high = 100.0
        self.scale = "100%"
        self.threshold: float | None = None
        self.window = 60
        self.mark_none = False

    def set(
        self,
        series: Sequence[float | None],
        value: Text,
        *,
        high: float,
        scale: str,
        alerting: bool = False,
        threshold: float | None = None,
        note: str = "",
        window: int = 60,
        mark_none: bool = False,
    ) -> None:
        """Repaint only when what would be drawn changed: a series that moved within
        one eighth of a cell, as memory and disk do at idle, draws the same row, and a
        repaint costs the compositor every widget between the dirty rows."""
        alerting_changed = alerting != self.has_class("-alerting")
        given = (list(series), value.plain, note, high, scale, threshold, window, mark_none)
        if not alerting_changed and given == self._given and self._drawn is not None:
            return  # the same sample as last time (a constant disk): nothing to work out
        self._given = given
        self.set_class(alerting, "-alerting")
        self.series, self.value, self.note = given[0], value, note
        self.high, self.scale, self.threshold = high, scale, threshold
        self.window, self.mark_none = window, mark_none
        size = self.size
        if not size.area or alerting_changed:  # not laid out yet, or its colours change
            self._drawn = None
            self._strips = None
            self.refresh()
            return
        drawn = self._rows()
        if drawn != self._drawn:
            self._drawn, self._drawn_size = drawn, size
            self._strips = None
            self.refresh()

    def render_line(self, y: int) -> Strip:
        """Rows from strips built once per change, straight from segments: a frame then
        costs no Text-to-Content conversion, which was most of the pane's idle cost."""
        size = self.size
        if self._strips is None or self._strips_size != size:
            rows = self._drawn if self._drawn is not None and self._drawn_size == size else None
            if rows is None:
                rows = self._drawn = self._rows()
                self._drawn_size = size
            base = self._base()
            self._strips = [
                Strip(
                    [Segment(text, base + style) for text, style in row if text], size.width
                ).adjust_cell_length(size.width, base)
                for row in rows
            ]
            self._strips_size = size
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(size.width, self.rich_style)

    def render(self) -> Text:
        """The same rows as one Text (what tests and screenshots read)."""
        out = Text(no_wrap=True, overflow="crop", end="")
        for index, row in enumerate(self._rows()):
            if index:
                out.append("\n")
            for text, style in row:
                out.append(text, style)
        return out

    def _rows(self) -> list[list[tuple[str, Style]]]:
        """Each row as (text, style) pieces: gutter, bars by kind, threshold line, scale."""
        width, height = self.size.width, max(1, self.size.height)
        bars = chart_width(width) if self.with_gutter else max(0, width - 1 - SCALE)
        drawn = plot(
            self.series,
            bars,
            height,
            self.high,
            window=self.window,
            threshold=self.threshold,
            mark_none=self.mark_none,
        )
        style = {
            kind: self._part(name)
            for kind, name in (
                (BAR, "chart--bar"),
                (HOT, "chart--hot"),
                (FAIL, "chart--fail"),
                (EMPTY, "chart--empty"),
            )
        }
        plain = Style()
        line_row = self._threshold_row(height)
        kinds = drawn.kinds
        cuts = _cuts(kinds)  # runs of one kind: one styled piece each, the same every row
        rows: list[list[tuple[str, Style]]] = []
        for row in range(height):
            pieces: list[tuple[str, Style]] = []
            if self.with_gutter:
                gutter = self._gutter(row, height)
                console = self.app.console
                own = console.get_style(gutter.style)  # Text.render leaves this to its caller
                pieces.extend(
                    (seg.text, own + seg.style if seg.style else own)
                    for seg in gutter.render(console)
                )
                pieces.append((" ", plain))
            cells = drawn.rows[row]
            row_cuts = cuts
            if row == line_row:  # the alert threshold, where no bar hides it
                cells = cells.replace(" ", "╌")
                row_cuts = _cuts([(k, c == "╌") for k, c in zip(kinds, cells, strict=True)])
            for start, end in itertools.pairwise(row_cuts):
                piece = cells[start:end]
                part = style[kinds[start]]
                if row == line_row and piece[:1] == "╌":
                    part = self._part("chart--line")
                pieces.append((piece, part))
            pieces.append((" ", plain))
            scale = self._scale(row, height).ljust(SCALE)[:SCALE]
            pieces.append((scale, self._part("chart--scale")))
            rows.append(pieces)
        return rows

    def _threshold_row(self, height: int) -> int | None:
        if self.threshold is None or height < 2 or not 0 < self.threshold < self.high:
            return None
        eighths = self.threshold / self.high * 8 * height
        return height - 1 - min(height - 1, int(eighths // 8))

    def _gutter(self, row: int, height: int) -> Text:
        label, value = self.label, self.value.copy()
        value.truncate(GUTTER - 2)
        value.stylize(self._part("chart--value"), 0, len(value))
        if row == 0 or height == 1:
            room = max(0, GUTTER - len(value) - 1)
            shown = label if len(label) <= room else label[: max(0, room - 1)] + "…"
            text = Text(shown.ljust(room), self._part("chart--label"))
            text.append(" ")
            text.append_text(value)
            return text
        note = self.note if row == 1 else ""
        return Text(note[:GUTTER].ljust(GUTTER), self._part("chart--note"))

    def _scale(self, row: int, height: int) -> str:
        if height == 1:
            if self.threshold is not None and self.has_class("-alerting"):
                return f"⚠{self.threshold:g}"[:SCALE]
            return f"0–{self.scale}"
        if row == 0:
            return self.scale
        if row == height - 1:
            return "0"
        line = self._threshold_row(height)
        if row == line and self.threshold is not None:
            return f"{self.threshold:g}"
        return ""

    def _base(self) -> Style:
        """The widget's own style (walking its ancestors' backgrounds), once per style change."""
        base = self._parts.get("")
        if base is None:
            base = self._parts[""] = self.rich_style
        return base

    def _part(self, name: str) -> Style:
        """A component's style, resolved once per style change (a theme, ``-alerting``):
        resolving walks the CSS, and a chart asks for eight of them every repaint."""
        style = self._parts.get(name)
        if style is None:
            style = self._parts[name] = component_style(self, name)
        return style

    def notify_style_update(self) -> None:
        self._parts.clear()
        self._strips = None
        self._drawn = None
        super().notify_style_update()


def _cuts(keys: Sequence[object]) -> list[int]:
    """Where runs of equal keys start, and the end: ``[0, ..., len(keys)]``."""
    inner = [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]]
    return [0, *inner, len(keys)] if keys else [0]


class MetricRow(Chart):
    """One host metric: ``cpu  93.5% | bars | 100%``; percents on a fixed 0–100 scale."""

    DEFAULT_CSS = """
    MetricRow#metric-memory > .chart--bar { color: $secondary; }
    MetricRow#metric-disk > .chart--bar { color: $primary; }
    MetricRow#metric-net_recv > .chart--bar, MetricRow#metric-net_sent > .chart--bar {
        color: $success;
    }
    """

    def __init__(self, key: str, label: str) -> None:
        super().__init__(label, id=f"metric-{key}", classes="metric")
        self.key = key


class SectionTitle(Widget):
    """``Host`` in the gutter and the time axis over the charts' columns."""

    DEFAULT_CSS = """
    SectionTitle {
        height: 1; margin: 1 0 0 0; color: $text-accent; text-style: bold;
        & > .section--axis { color: $text-muted; text-style: not bold; }
    }
    SectionTitle.-first { margin: 0; }
    SectionTitle.-alerting { color: $error; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"section--axis"}

    def __init__(self, title: str, *, axis: bool = True, id: str, classes: str = "") -> None:
        super().__init__(id=id, classes=f"section {classes}".strip())
        self.title = title
        self.axis = axis
        self.span = 0.0

    @property
    def content(self) -> str:  # as Static's, for callers reading a title
        return self.title

    def set(self, title: str, span: float | None = None) -> None:
        if span is None:
            span = self.span
        if (title, span) != (self.title, self.span):
            self.title, self.span = title, span
            self.refresh()

    def render(self) -> Text:
        width = self.size.width
        text = Text(self.title[:GUTTER].ljust(GUTTER + 1), end="")
        if self.axis and self.span > 0:
            axis = time_axis(chart_width(width), self.span)
            text.append(axis, component_style(self, "section--axis"))
        return text


class ProbeChart(Chart):
    """A probe's latency chart with its own gutter: ``● name  200  3 ms`` on one row,
    or the name over the status and latency when the chart is taller.

    One widget where there were five (two rows of containers and two Statics):
    the compositor renders every widget in the pane once a sample, and the Statics
    rebuilt their content every second as the latency moved."""

    def __init__(self, *, classes: str = "") -> None:
        super().__init__(classes=classes)
        self.name_text = Text()
        self._name_key: tuple[object, ...] = ()

    def set_name(self, name: Text) -> None:
        """The state dot and the probe's name; a change redraws at the next ``set``."""
        key = (name.plain, str(name.style), tuple(name.spans))
        if key != self._name_key:
            self._name_key, self.name_text = key, name
            self._given = ()  # set() then draws again; the new rows differ in the gutter

    def _gutter(self, row: int, height: int) -> Text:
        value = self.value.copy()
        value.truncate(GUTTER - 2)
        if height == 1:
            room = max(0, GUTTER - len(value) - 1)
            text = self._name_cell(room)
            text.append(" ")
            text.append_text(value)
            return text
        if row == 0:
            return self._name_cell(GUTTER)
        if row == 1:
            value.pad_right(GUTTER - len(value))
            return value
        return Text(" " * GUTTER)

    def _name_cell(self, room: int) -> Text:
        name = Text(style=self._part("chart--label"), end="")  # under the dot's colour
        name.append_text(self.name_text)
        if len(name) > room:
            name.truncate(max(0, room - 1))
            name.append("…")
        name.pad_right(room - len(name))
        return name


class ProbeRow(Vertical):
    """One probe: its chart (state dot, name, status and latency in the gutter), and
    the error under it while it fails.

    The latency scale is labelled with its top (the nice ceiling of the highest
    latency shown); a failed probe is a gap with a mark on the bottom row."""

    DEFAULT_CSS = """
    ProbeRow { height: auto; }
    ProbeRow ProbeChart { width: 1fr; }
    ProbeRow ProbeChart > .chart--bar { color: $success; }
    ProbeRow > .probe--error { display: none; padding: 0 0 0 2; color: $error; }
    ProbeRow.-failing > .probe--error { display: block; }
    ProbeRow.-slow ProbeChart > .chart--bar { color: $warning; }
    ProbeRow.-failing ProbeChart > .chart--bar { color: $error; }
    """

    def __init__(self, name: str, row_id: str) -> None:
        super().__init__(id=row_id, classes="probe")
        self.probe_name = name
        self.chart = ProbeChart(classes="probe--chart")
        self._error_text = Static(classes="probe--error")  # kept, not queried
        self._shown: tuple[ProbeResult, list[float | None], int, bool] | None = None

    def compose(self) -> ComposeResult:
        yield self.chart
        yield self._error_text

    def set(
        self,
        result: ProbeResult,
        series: list[float | None],
        window: int = 60,
        alerting: bool = False,
    ) -> None:
        """Show ``result``; before the row is composed it is kept and shown on mount."""
        self.set_class(not result.ok, "-failing")
        self.set_class(result.ok and result.slow, "-slow")
        self._shown = (result, series, window, alerting)
        if self.is_mounted:
            self._apply()

    def on_mount(self) -> None:
        self._apply()

    def _apply(self) -> None:
        if self._shown is None:
            return
        result, series, window, alerting = self._shown
        self.chart.set_name(probe_label(result))
        high, scale = latency_scale(series)
        self.chart.set(
            series,
            probe_value(result),
            high=high,
            scale=scale,
            alerting=alerting,
            window=window,
            mark_none=True,
        )
        _put(self._error_text, probe_error(result) or "", layout=True)


def env_key(name: str) -> str:
    """A chart's history key: the local target's ``"staging v0.1.0"`` is ``staging``,
    so a new release goes on the same chart; a container's name is its own key."""
    return name.partition(" ")[0] or name


class EnvRows(Vertical):
    """One running environment (a container, or the local target's process tree):
    a heading with pids and I/O, then its CPU and memory charts."""

    DEFAULT_CSS = """
    EnvRows { height: auto; }
    EnvRows > .env--title { height: 1; color: $text; text-style: bold; }
    EnvRows > .env--title.-none { display: none; }
    EnvRows > .env-cpu > .chart--bar { color: $accent; }
    EnvRows > .env-memory > .chart--bar { color: $secondary; }
    """

    def __init__(self, key: str, row_id: str, window: int) -> None:
        super().__init__(id=row_id, classes="env")
        self.key = key
        self.history = History(window)
        self.title = Static(classes="env--title")
        self.cpu = Chart("  cpu", classes="env-cpu")
        self.memory = Chart("  memory", classes="env-memory")
        self.stats: ContainerStats | None = None

    def compose(self) -> ComposeResult:
        yield self.title
        yield self.cpu
        yield self.memory

    def add(self, stats: ContainerStats) -> None:
        self.stats = stats
        self.history.add("cpu", stats.cpu)
        self.history.add("memory", stats.memory_percent)
        if self.is_mounted:
            self.show()

    def on_mount(self) -> None:
        self.show()

    def show(self) -> None:
        s = self.stats
        if s is None:
            return
        title = Text(clean(s.name, 60), style="bold")
        details = []
        if s.pids is not None:
            details.append(counted(s.pids, "pid"))
        if s.net_rx or s.net_tx:
            details.append(f"net {byte_size(s.net_rx)} in / {byte_size(s.net_tx)} out")
        details.append(f"disk {byte_size(s.block_read)} read / {byte_size(s.block_write)} written")
        title.append("  " + " · ".join(details), style="dim")
        _put(self.title, title)
        window = self.history.size
        cpu = self.history.series("cpu")
        high, scale = percent_scale(cpu)
        value = Text("–", style="dim") if s.cpu is None else Text(f"{s.cpu:.1f}%")
        self.cpu.set(cpu, value, high=high, scale=scale, window=window)
        memory = Text(f"{byte_size(s.memory)} {s.memory_percent:.1f}%")
        self.memory.set(
            self.history.series("memory"), memory, high=100.0, scale="100%", window=window
        )


class MetricsPane(VerticalScroll):
    """Host metrics, each environment's CPU and memory, probe latencies, as time charts
    over the poller's history (a time axis in each section's title); active alerts."""

    DEFAULT_CSS = """
    MetricsPane { height: 1fr; padding: 0 1; }
    MetricsPane > #probes { height: auto; }
    MetricsPane > .empty { color: $text-muted; }
    MetricsPane > Label.section {
        width: 1fr; margin: 1 0 0 0; color: $text-accent; text-style: bold;
    }
    MetricsPane > Label.section.-alerting { color: $error; }
    MetricsPane > #alerts { height: auto; }
    MetricsPane > #envs { height: auto; }
    MetricsPane > #env-errors { height: auto; color: $error; }
    MetricsPane > #nodes { height: auto; }
    MetricsPane > #envs-title.-none, MetricsPane > #envs.-none,
    MetricsPane > #env-errors.-none, MetricsPane > #nodes-title.-none,
    MetricsPane > #nodes.-none { display: none; }
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
        self._next_probe = 0
        self._next_env = 0
        self._nodes_shown = 0  # lines of the nodes table
        self._window = 60
        self._held_sample: UntilMounted[
            tuple[HostSample | None, list[ProbeResult], History, History, list[Alert]]
        ] = UntilMounted()
        self._held_envs: UntilMounted[tuple[list[ContainerStats], dict[str, str]]] = UntilMounted()
        self._held_nodes: UntilMounted[dict[str, list[NodeInfo]]] = UntilMounted()
        # Children made here, so a sample never has to query the DOM for them.
        self._host_title = SectionTitle("Host", id="host-title", classes="-first")
        self._metric_rows = {key: MetricRow(key, label) for key, label, _ in HOST_ROWS}
        self._envs_title = SectionTitle("Environments", id="envs-title", classes="-none")
        self._envs = Vertical(id="envs", classes="-none")
        self._env_errors = Static(id="env-errors", classes="-none")
        self._nodes_title = Label("Nodes", id="nodes-title", classes="section -none")
        self._node_table = Static(id="nodes", classes="-none")
        self._probes = Vertical(id="probes")
        self._probes_title = SectionTitle("Probes", id="probes-title")
        self._probes_empty = Static(
            Text("no probes yet", style="dim"), id="probes-empty", classes="empty"
        )
        self._alerts_title = Label("Alerts", id="alerts-title", classes="section")
        self._alerts = Static(Text("no active alerts", style="dim"), id="alerts")

    def compose(self) -> ComposeResult:
        yield self._host_title
        yield from self._metric_rows.values()
        yield self._envs_title
        yield self._envs
        yield self._env_errors
        yield self._nodes_title
        yield self._node_table
        yield self._probes_title
        yield self._probes
        yield self._probes_empty
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
        charts = len(self._metric_rows) + len(self._probe_rows) + 2 * len(self._env_rows)
        fixed = 4 + 3  # section titles and the blank lines above them
        fixed += max(
            1,
            len(self._alerts.content.plain.splitlines())
            if isinstance(self._alerts.content, Text)
            else 1,
        )
        if self._nodes_shown:
            fixed += 2 + self._nodes_shown  # title, blank line, a line a node
        fixed += len(self._env_rows) + sum(
            r.has_class("-failing") for r in self._probe_rows.values()
        )
        fixed += 1 if not self._probe_rows else 0
        room = self.size.height - fixed
        height = max(1, min(MAX_CHART_HEIGHT, room // max(1, charts)))
        if height != self.chart_height:
            self.chart_height = height
            for chart in self.query(Chart):
                chart.styles.height = height

    def _new_chart_height(self, rows: Iterable[Widget]) -> None:
        for row in rows:
            for chart in [row] if isinstance(row, Chart) else row.query(Chart):
                chart.styles.height = self.chart_height

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
        self._host_title.set("Host", span)
        self._envs_title.set("Environments", span)
        for key, _, is_percent in HOST_ROWS:
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
            self._metric_rows[key].set(
                series,
                text,
                high=high,
                scale=scale,
                alerting=alert is not None,
                threshold=None if alert is None else alert.threshold,
                note=note,
                window=self._window,
            )
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
        none = not stats and not errors
        self._envs_title.set_class(none, "-none")
        self._envs.set_class(not stats, "-none")
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
            self._env_rows.pop(key).remove()
        new_rows: list[EnvRows] = []
        for s in stats:
            key = env_key(s.name)
            row = self._env_rows.get(key)
            if row is None:
                row = EnvRows(key, f"env-{self._next_env}", self._window)
                self._next_env += 1
                self._env_rows[key] = row
                new_rows.append(row)
            row.add(s)
        if new_rows:
            self._envs.mount_all(new_rows)
            self._new_chart_height(new_rows)
        if new_rows or gone:
            self.call_after_refresh(self._fit)

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
            self._probe_rows.pop(name).remove()
        new_rows: list[ProbeRow] = []
        for result in probes:
            row = self._probe_rows.get(result.name)
            if row is None:
                row = ProbeRow(result.name, f"probe-{self._next_probe}")
                self._next_probe += 1
                self._probe_rows[result.name] = row
                new_rows.append(row)
            row.set(
                result,
                history.series(result.name),
                max(1, history.size),
                f"probe:{result.name}" in alerting,
            )
        if new_rows:
            self._probes.mount_all(new_rows)
            self._new_chart_height(new_rows)
        if new_rows or gone:
            self.call_after_refresh(self._fit)
        self._probes_empty.display = not self._probe_rows
        count = len(self._probe_rows)
        self._probes_title.set(f"Probes ({count})" if count else "Probes", span)

    def _show_alerts(self, open_alerts: list[Alert]) -> None:
        title, body = self._alerts_title, self._alerts
        _put(title, f"Alerts ({len(open_alerts)})" if open_alerts else "Alerts", layout=True)
        title.set_class(bool(open_alerts), "-alerting")
        if open_alerts:
            _put(body, Text("\n").join(alert_text(a, self.tz) for a in open_alerts), layout=True)
        else:
            _put(body, Text("no active alerts", style="dim"), layout=True)
