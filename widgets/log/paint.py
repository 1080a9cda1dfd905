"""Turning ring lines into Strips for ``LogView.render_line``, with small caches.

Only lines that scroll into view are styled; a line's styled Strip is cached by its
sequence number (which is never reused), so following a fast log re-styles only
the lines that just arrived.
"""

from __future__ import annotations

import re
import time

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.strip import Strip

from shipdeck.lifecycle.lines import Line, Stream
from shipdeck.lifecycle.text import SOURCE_PREFIX, source_colour
from shipdeck.widgets.log import ansi
from shipdeck.widgets.log.json_lines import json_row, level_of, pretty_lines
from shipdeck.widgets.log.lines import Marker
from shipdeck.widgets.log.model import LogModel

GUTTER = {Stream.STDOUT: " ", Stream.STDERR: "▌", Stream.INFO: " "}
STYLE_NAMES = (
    "stderr",
    "info",
    "marker",
    "timestamp",
    "match",
    "match-current",
    "note",
    "control",
    "level-error",
    "level-warn",
    "level-info",
    "level-debug",
    "json-key",
    "json-string",
    "json-number",
    "json-literal",
    "cursor",
    "selection",
)


def clock(when: float) -> str:
    """Local ``HH:MM:SS.mmm``."""
    return time.strftime("%H:%M:%S", time.localtime(when)) + f".{int(when * 1000) % 1000:03d}"


class LinePainter:
    """Strips for one view; ``styles`` come from the widget's component classes."""

    def __init__(self, max_line_chars: int) -> None:
        self.max_line_chars = max_line_chars
        self.styles: dict[str, Style] = {}
        self.base = Style()
        self.widest = 0  # widest line drawn so far, in cells
        self._lines: LRUCache[tuple[int, int], Strip] = LRUCache(256)
        self._blocks: LRUCache[int, list[Strip]] = LRUCache(64)  # pretty JSON, per line
        self._prefixes: LRUCache[tuple[Stream, float, bool, bool], Strip] = LRUCache(256)
        self._blank: Strip | None = None

    def restyle(self, base: Style, styles: dict[str, Style]) -> None:
        self.base, self.styles = base, styles
        self.forget()

    def forget(self, seq: int | None = None) -> None:
        """Drop cached strips: all of them, or line ``seq``'s."""
        if seq is None:
            self._blank = None
            self._lines.clear()
            self._prefixes.clear()
            self._blocks.clear()
        else:
            self._lines.discard((seq, 0))
            self._blocks.discard(seq)

    def blank(self, width: int) -> Strip:
        """A row below the last line: most of the view while a run is young, so it is
        kept rather than styled afresh (the widget's ``rich_style`` walks its ancestors)."""
        blank = self._blank
        if blank is None or blank.cell_length != width:
            blank = self._blank = Strip.blank(width, self.base)
        return blank

    @staticmethod
    def prefix_width(timestamps: bool) -> int:
        return 1 + (13 if timestamps else 0)

    def row(
        self,
        model: LogModel,
        seq: int,
        row: int,
        *,
        width: int,
        scroll_x: int,
        wrap: bool,
        timestamps: bool,
        current: int | None,
        console: Console,
        mark: str | None = None,
    ) -> Strip:
        """Row ``row`` of line ``seq``, ``width`` cells wide; ``mark`` is ``"cursor"`` or
        ``"selection"`` for a line so marked (drawn over everything else)."""
        line = model.line(seq)
        if type(line) is Marker:
            return self._over(self._marker(seq, line.text, width), mark)
        when = model.time_of(seq) if timestamps else 0.0
        prefix = self._prefix(line.stream, when, row > 0, timestamps)
        visible = max(1, width - prefix.cell_length)
        search = model.search.pattern if model.search else None
        block = pretty_lines(line.text) if model.pretty else None
        if block is not None:
            content, row = self._block_row(seq, line, block, row, visible, wrap, search, console)
        else:
            content = self._content(seq, line, search, seq == current, console)
        if wrap:
            body = content.crop(row * visible, (row + 1) * visible)
            body = body.extend_cell_length(visible, self.base)
        else:
            body = content.crop_extend(scroll_x, scroll_x + visible, self.base)
        return self._over(Strip.join([prefix, body]), mark)

    def _over(self, strip: Strip, mark: str | None) -> Strip:
        if mark is None:
            return strip
        style = self.styles.get(mark) or Style(reverse=True)
        return Strip(Segment.apply_style(strip, post_style=style), strip.cell_length)

    def _line_style(self, line: Line) -> Style:
        """The base, the stream's colour, then the level's (``log_json.level_of``)."""
        style = self.base
        if line.stream is not Stream.STDOUT:
            style += self.styles.get(line.stream.value, Style())
        level = level_of(line.text)
        if level is not None:
            style += self.styles.get(f"level-{level}", Style())
        return style

    def _block_row(
        self,
        seq: int,
        line: Line,
        block: tuple[str, ...],
        row: int,
        visible: int,
        wrap: bool,
        search: re.Pattern[str] | None,
        console: Console,
    ) -> tuple[Strip, int]:
        """The pretty JSON row a view row falls in, and the row within it (wrapped)."""
        strips = self._blocks.get(seq)
        if strips is None:
            style = self.base
            if line.stream is not Stream.STDOUT:
                style += self.styles.get(line.stream.value, Style())
            highlight = self.styles.get("match", Style())
            strips = []
            for text_row in block:
                text = json_row(text_row, style, self.styles)
                if search is not None:
                    for found in search.finditer(text_row):
                        if found.end() > found.start():
                            text.stylize(highlight, found.start(), found.end())
                strip = Strip(Segment.apply_style(text.render(console), style), text.cell_len)
                self.widest = max(self.widest, strip.cell_length)
                strips.append(strip)
            self._blocks[seq] = strips
        if not wrap:
            return (strips[row] if row < len(strips) else Strip([])), 0
        for strip in strips:
            rows = max(1, -(-strip.cell_length // visible))
            if row < rows:
                return strip, row
            row -= rows
        return Strip([]), 0

    def _content(
        self,
        seq: int,
        line: Line,
        search: re.Pattern[str] | None,
        current: bool,
        console: Console,
    ) -> Strip:
        strip = self._lines.get((seq, 0))
        if strip is not None:
            return strip
        style = self._line_style(line)
        note = self.styles.get("note", Style(dim=True))
        text = ansi.to_text(
            line.text,
            style,
            max_chars=self.max_line_chars,
            note_style=note,
            control_style=self.styles.get("control", Style(reverse=True)),
        )
        source = SOURCE_PREFIX.match(text.plain)
        if source is not None:  # a task of a service: its colour, the same for each line
            text.stylize(
                Style(color=source_colour(source.group(1))[0], bold=True), 0, source.end(1)
            )
        if search is not None:
            highlight = self.styles.get("match-current" if current else "match", Style())
            for found in search.finditer(text.plain):
                if found.end() > found.start():
                    text.stylize(highlight, found.start(), found.end())
        # Text.render drops the base style when a line has no spans: apply it here.
        strip = Strip(Segment.apply_style(text.render(console), style), text.cell_len)
        self.widest = max(self.widest, strip.cell_length)
        self._lines[(seq, 0)] = strip
        return strip

    def _prefix(self, stream: Stream, when: float, continued: bool, timestamps: bool) -> Strip:
        key = (stream, when, continued, timestamps)
        strip = self._prefixes.get(key)
        if strip is None:
            mark = GUTTER[stream] if not continued or stream is Stream.STDERR else " "
            segments = [Segment(mark, self.base + self.styles.get(stream.value, Style()))]
            if timestamps:
                stamp = " " * 12 if continued else clock(when)
                segments.append(Segment(stamp + " ", self.base + self.styles.get("timestamp")))
            strip = self._prefixes[key] = Strip(segments)
        return strip

    def _marker(self, seq: int, text: str, width: int) -> Strip:
        key = (seq, width)  # as wide as the view: cached per width
        strip = self._lines.get(key)
        if strip is None:
            label = f" {ansi.plain(text, max_chars=200)} "
            side = max(0, width - cell_len(label))
            rule = "─" * max(1, side // 2) + label + "─" * max(1, side - side // 2)
            style = self.base + self.styles.get("marker", Style(bold=True))
            strip = Strip([Segment(rule, style)]).crop_extend(0, width, self.base)
            self._lines[key] = strip
        return strip
