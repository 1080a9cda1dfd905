"""A section of the metrics pane as one widget: a title, time charts and text lines.

Why one widget and not one a chart: Textual's compositor renders every widget whose
clip meets a repainted line, and inside a scrolled pane every child's clip is the
pane's. A 1 Hz sample that moved the cpu bar made the compositor render all 21
widgets of the pane (2.35 ms a frame on the idle board, most of its cost); a stack
is one widget a section, and a change repaints only the lines it moved.

The charts and lines here are plain objects (:class:`ChartModel`, :class:`TextLine`,
:class:`Title`): they hold what to draw and draw it as ``(text, style)`` pieces; the
stack turns those into strips once a change and looks the styles up in its CSS
(component classes, so themes and ``NO_COLOR`` apply as to any widget).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Sequence
from typing import ClassVar, Protocol

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from shipdeck.widgets.component_style import component_style
from shipdeck.widgets.ops.chart import BAR, EMPTY, FAIL, HOT, plot, time_axis

GUTTER = 24  # label and current value, left of every chart
SCALE = 10  # the scale's labels, right of every chart

Piece = tuple[str, Style]
Row = list[Piece]
Part = Callable[[str], Style]  # a component class's style, as the block's state picks it


def chart_width(width: int) -> int:
    """Columns left for the bars in a row ``width`` wide: gutter, a space, bars, a space, scale."""
    return max(0, width - GUTTER - 1 - 1 - SCALE)


class Block(Protocol):
    """One part of a stack, ``lines(chart_height)`` rows high (0: not shown)."""

    alerting: bool

    def lines(self, chart_height: int) -> int: ...

    def draw(self, width: int, height: int, part: Part, console: Console) -> list[Row]: ...


def _text_pieces(text: Text, console: Console) -> Row:
    """A Text as pieces, its own base style under each span's (Text.render leaves that out)."""
    own = console.get_style(text.style)
    return [(seg.text, own + seg.style if seg.style else own) for seg in text.render(console)]


class Title:
    """``Host`` in the gutter and the time axis over the charts' columns."""

    alerting = False

    def __init__(self, title: str, *, axis: bool = True) -> None:
        self.title = title
        self.axis = axis
        self.span = 0.0

    def set(self, title: str, span: float | None = None) -> bool:
        """True when what is drawn changed."""
        span = self.span if span is None else span
        if (title, span) == (self.title, self.span):
            return False
        self.title, self.span = title, span
        return True

    def lines(self, chart_height: int) -> int:
        return 1

    def draw(self, width: int, height: int, part: Part, console: Console) -> list[Row]:
        row: Row = [(self.title[:GUTTER].ljust(GUTTER + 1), part("chart--title"))]
        if self.axis and self.span > 0:
            row.append((time_axis(chart_width(width), self.span), part("chart--axis")))
        return [row]


class TextLine:
    """One line of text (an environment's heading, a probe's error), cut with ``…``
    to the width; ``None`` hides it (no line at all)."""

    alerting = False

    def __init__(self, part: str, *, indent: int = 0) -> None:
        self.part = part
        self.indent = indent
        self.text: Text | None = None
        self._key: tuple[object, ...] | None = None

    def set(self, text: Text | None) -> bool:
        """True when what is drawn changed."""
        key = None if text is None else (text.plain, str(text.style), tuple(text.spans))
        if key == self._key:
            return False
        self._key, self.text = key, text
        return True

    def lines(self, chart_height: int) -> int:
        return 0 if self.text is None else 1

    def draw(self, width: int, height: int, part: Part, console: Console) -> list[Row]:
        if self.text is None:
            return []
        text = Text(style=part(self.part), end="")
        text.append_text(self.text)
        room = max(0, width - self.indent)
        if text.cell_len > room:
            text.truncate(max(0, room - 1))
            text.append("…")
        return [[(" " * self.indent, Style()), *_text_pieces(text, console)]]


class ChartModel:
    """A time chart: ``label value | bars | scale``, as many rows as the stack's charts.

    ``bar`` is the component class of its bars (the metric's colour); while
    ``alerting``, its label, value, note, bars and threshold line take the
    ``-alerting`` variants of their classes."""

    def __init__(self, label: str = "", *, bar: str = "chart--bar") -> None:
        self.label = label
        self.bar = bar
        self.series: list[float | None] = []
        self.value = Text("–", style="dim")
        self.note = ""
        self.high = 100.0
        self.scale = "100%"
        self.threshold: float | None = None
        self.window = 60
        self.mark_none = False
        self.alerting = False
        self._given: tuple[object, ...] = ()  # what set() was last given

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
        bar: str | None = None,
    ) -> bool:
        """Take a sample; False when it is the one shown (a constant disk): the stack
        then works nothing out. A sample that is new may still draw the same rows (a
        series that moved within an eighth of a cell), which the stack finds out."""
        bar = self.bar if bar is None else bar
        shown = list(series)
        given: tuple[object, ...] = (shown, value.plain, str(value.style), note, high, scale)
        given += (threshold, window, mark_none, alerting, bar)
        if given == self._given:
            return False
        self._given = given
        self.series, self.value, self.note = shown, value, note
        self.high, self.scale, self.threshold = high, scale, threshold
        self.window, self.mark_none = window, mark_none
        self.alerting, self.bar = alerting, bar
        return True

    def lines(self, chart_height: int) -> int:
        return chart_height

    def draw(self, width: int, height: int, part: Part, console: Console) -> list[Row]:
        """Each row as pieces: gutter, bars by kind, threshold line, scale."""
        bars = chart_width(width)
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
            BAR: part(self.bar),
            HOT: part("chart--hot"),
            FAIL: part("chart--fail"),
            EMPTY: part("chart--empty"),
        }
        plain = Style()
        line_row = self._threshold_row(height)
        kinds = drawn.kinds
        cuts = _cuts(kinds)  # runs of one kind: one styled piece each, the same every row
        rows: list[Row] = []
        for row in range(height):
            pieces = _text_pieces(self.gutter(row, height, part), console)
            pieces.append((" ", plain))
            cells = drawn.rows[row]
            row_cuts = cuts
            if row == line_row:  # the alert threshold, where no bar hides it
                cells = cells.replace(" ", "╌")
                row_cuts = _cuts([(k, c == "╌") for k, c in zip(kinds, cells, strict=True)])
            for start, end in itertools.pairwise(row_cuts):
                piece = cells[start:end]
                kind = style[kinds[start]]
                if row == line_row and piece[:1] == "╌":
                    kind = part("chart--line")
                pieces.append((piece, kind))
            pieces.append((" ", plain))
            scale = self._scale(row, height).ljust(SCALE)[:SCALE]
            pieces.append((scale, part("chart--scale")))
            rows.append(pieces)
        return rows

    def gutter(self, row: int, height: int, part: Part) -> Text:
        """Label and value on the first row, the note (an alert) on the second."""
        label, value = self.label, self.value.copy()
        value.truncate(GUTTER - 2)
        value.stylize(part("chart--value"), 0, len(value))
        if row == 0 or height == 1:
            room = max(0, GUTTER - len(value) - 1)
            shown = label if len(label) <= room else label[: max(0, room - 1)] + "…"
            text = Text(shown.ljust(room), part("chart--label"))
            text.append(" ")
            text.append_text(value)
            return text
        note = self.note if row == 1 else ""
        return Text(note[:GUTTER].ljust(GUTTER), part("chart--note"))

    def _threshold_row(self, height: int) -> int | None:
        if self.threshold is None or height < 2 or not 0 < self.threshold < self.high:
            return None
        eighths = self.threshold / self.high * 8 * height
        return height - 1 - min(height - 1, int(eighths // 8))

    def _scale(self, row: int, height: int) -> str:
        if height == 1:
            if self.threshold is not None and self.alerting:
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


class ProbeChart(ChartModel):
    """A probe's latency chart with its state dot and name in the gutter: ``● name
    200  3 ms`` on one row, or the name over the status and latency when taller."""

    def __init__(self) -> None:
        super().__init__(bar="chart--bar-ok")
        self.name_text = Text()

    def set_name(self, name: Text) -> None:
        """The state dot and the probe's name; a change draws at the next ``set``."""
        if (name.plain, name.spans) != (self.name_text.plain, self.name_text.spans):
            self.name_text = name
            self._given = ()

    def gutter(self, row: int, height: int, part: Part) -> Text:
        value = self.value.copy()
        value.truncate(GUTTER - 2)
        if height == 1:
            room = max(0, GUTTER - len(value) - 1)
            text = self._name_cell(room, part)
            text.append(" ")
            text.append_text(value)
            return text
        if row == 0:
            return self._name_cell(GUTTER, part)
        if row == 1:
            value.pad_right(GUTTER - len(value))
            return value
        return Text(" " * GUTTER)

    def _name_cell(self, room: int, part: Part) -> Text:
        name = Text(style=part("chart--label"), end="")  # under the dot's colour
        name.append_text(self.name_text)
        if len(name) > room:
            name.truncate(max(0, room - 1))
            name.append("…")
        name.pad_right(room - len(name))
        return name


def _cuts(keys: Sequence[object]) -> list[int]:
    """Where runs of equal keys start, and the end: ``[0, ..., len(keys)]``."""
    inner = [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]]
    return [0, *inner, len(keys)] if keys else [0]


class ChartStack(Widget):
    """Blocks one under another, each chart ``chart_height`` rows high.

    :meth:`changed` after a block's ``set`` returned True: the stack draws that
    block again and repaints its lines only if they differ; :meth:`set_blocks`
    when blocks come or go (a new probe), which lays the stack out again."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "chart--title",
        "chart--axis",
        "chart--heading",
        "chart--error",
        "chart--muted",
        "chart--label",
        "chart--label-alerting",
        "chart--value",
        "chart--value-alerting",
        "chart--note",
        "chart--note-alerting",
        "chart--line",
        "chart--line-alerting",
        "chart--scale",
        "chart--empty",
        "chart--hot",
        "chart--fail",
        "chart--bar",
        "chart--bar-alerting",
        "chart--bar-memory",
        "chart--bar-disk",
        "chart--bar-net",
        "chart--bar-ok",
        "chart--bar-slow",
        "chart--bar-failing",
    }
    DEFAULT_CSS = """
    ChartStack {
        height: auto;
        & > .chart--title { color: $text-accent; text-style: bold; }
        & > .chart--axis { color: $text-muted; }
        & > .chart--heading { color: $text; }
        & > .chart--error { color: $error; }
        & > .chart--muted { color: $text-muted; }
        & > .chart--label { color: $text; }
        & > .chart--label-alerting { color: $error; text-style: bold; }
        & > .chart--value { color: $text; text-style: bold; }
        & > .chart--value-alerting { color: $error; text-style: bold; }
        & > .chart--note { color: $text-muted; }
        & > .chart--note-alerting { color: $error; }
        & > .chart--line { color: $warning 60%; }
        & > .chart--line-alerting { color: $error; }
        & > .chart--scale { color: $text-muted; }
        & > .chart--empty { color: $text-disabled; }
        & > .chart--hot { color: $error; }
        & > .chart--fail { color: $error; text-style: bold; }
        & > .chart--bar { color: $accent; }
        & > .chart--bar-alerting { color: $error 70%; }
        & > .chart--bar-memory { color: $secondary; }
        & > .chart--bar-disk { color: $primary; }
        & > .chart--bar-net { color: $success; }
        & > .chart--bar-ok { color: $success; }
        & > .chart--bar-slow { color: $warning; }
        & > .chart--bar-failing { color: $error; }
    }
    """
    # what takes its -alerting variant while a block alerts (a failing probe's bars
    # keep their own red: it says more than the alert does)
    _ALERTING = frozenset(("chart--label", "chart--value", "chart--note", "chart--line"))
    _ALERTING_BARS = frozenset(
        {
            "chart--bar",
            "chart--bar-memory",
            "chart--bar-disk",
            "chart--bar-net",
            "chart--bar-ok",
            "chart--bar-slow",
        }
    )

    def __init__(
        self, blocks: Sequence[Block] = (), *, id: str | None = None, classes: str = ""
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.blocks: list[Block] = list(blocks)
        self.chart_height = 1
        self._styles: dict[tuple[str, bool], Style] = {}
        self._rows: dict[int, list[Row]] = {}  # id(block) -> its rows as last drawn
        self._strips: dict[int, list[Strip]] = {}
        self._drawn_size = Size(0, 0)
        self._place: dict[int, tuple[int, int]] = {}  # id(block) -> (first line, lines)
        self._tops: list[int] = []  # first line of each block, in order

    # --- what to show ---------------------------------------------------------------

    def set_blocks(self, blocks: Sequence[Block]) -> None:
        """Show ``blocks`` (some new, some gone): laid out and drawn again."""
        if list(blocks) != self.blocks:
            self.blocks = list(blocks)
            self._forget()
            self.refresh(layout=True)

    def set_chart_height(self, height: int) -> None:
        if height != self.chart_height:
            self.chart_height = height
            self._forget()
            self.refresh(layout=True)

    def changed(self, block: Block) -> None:
        """``block`` took new data: repaint its lines if it now draws other rows, lay
        the stack out again if it now has another number of lines."""
        size = self.size
        place = self._place.get(id(block)) if size == self._drawn_size else None  # None: layout due
        height = block.lines(self.chart_height)
        if place is None or place[1] != height:
            self._forget()
            self.refresh(layout=True)
            return
        key = id(block)
        rows = self._draw(block, size.width, height)
        if rows != self._rows.get(key):
            self._rows[key] = rows
            self._strips.pop(key, None)
            self.refresh(Region(0, place[0], size.width, height))

    def plain_lines(self, block: Block | None = None) -> list[str]:
        """The lines (of ``block``, or all) as text, as wide as laid out: what tests read."""
        width = self.size.width or 80
        out: list[str] = []
        for shown in self.blocks if block is None else [block]:
            rows = self._draw(shown, width, shown.lines(self.chart_height))
            out.extend("".join(text for text, _ in row) for row in rows)
        return out

    # --- layout and paint ---------------------------------------------------------

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return sum(block.lines(self.chart_height) for block in self.blocks)

    def render_line(self, y: int) -> Strip:
        size = self.size
        if size != self._drawn_size:
            self._forget()
            self._drawn_size = size
        self._places()
        index = bisect.bisect_right(self._tops, y) - 1
        if index < 0:
            return Strip.blank(size.width, self.rich_style)
        block = self.blocks[index]
        key = id(block)
        strips = self._strips.get(key)
        if strips is None:
            rows = self._rows.get(key)
            if rows is None:
                rows = self._rows[key] = self._draw(
                    block, size.width, block.lines(self.chart_height)
                )
            base = self.rich_style
            strips = self._strips[key] = [
                Strip(
                    [Segment(text, base + style) for text, style in row if text]
                ).adjust_cell_length(size.width, base)
                for row in rows
            ]
        offset = y - self._tops[index]
        if 0 <= offset < len(strips):
            return strips[offset]
        return Strip.blank(size.width, self.rich_style)

    def notify_style_update(self) -> None:
        self._styles.clear()
        self._forget()
        super().notify_style_update()

    # --- helpers --------------------------------------------------------------------

    def _draw(self, block: Block, width: int, height: int) -> list[Row]:
        if height <= 0:
            return []
        alerting = block.alerting
        return block.draw(width, height, lambda name: self._part(name, alerting), self.app.console)

    def _places(self) -> dict[int, tuple[int, int]]:
        """Each block's first line and number of lines, as laid out now."""
        if not self._place:
            line = 0
            for block in self.blocks:
                height = block.lines(self.chart_height)
                self._place[id(block)] = (line, height)
                line += height
            self._tops = [self._place[id(block)][0] for block in self.blocks]
        return self._place

    def _forget(self) -> None:
        self._rows.clear()
        self._strips.clear()
        self._place.clear()
        self._tops = []

    def _part(self, name: str, alerting: bool) -> Style:
        """A component class's style, resolved once per style change (a theme): resolving
        walks the CSS, and a sample asks for eight a chart."""
        style = self._styles.get((name, alerting))
        if style is None:
            shown = name
            if alerting and name in self._ALERTING_BARS:
                shown = "chart--bar-alerting"
            elif alerting and name in self._ALERTING:
                shown = f"{name}-alerting"
            style = self._styles[(name, alerting)] = component_style(self, shown)
        return style
