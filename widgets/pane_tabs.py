"""The tab strip over the panes, and the board's title bar: one widget each.

Textual's TabbedContent is a dozen widgets (tabs, their labels, an underline, a
pane per tab) and its Header four; each is one more node for Textual to style
and lay out before the board's first frame. These draw the same thing in one
widget apiece; the panes themselves live in a ContentSwitcher.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static


class PaneTabs(Widget):
    """Tab labels on one line, the active one marked by the line under it."""

    DEFAULT_CSS = """
    PaneTabs {
        height: 2;
        background: $surface-darken-1;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "pane-tabs--active",
        "pane-tabs--inactive",
        "pane-tabs--rule",
    }
    DEFAULT_CSS += """
    PaneTabs > .pane-tabs--active { color: $foreground; text-style: bold; }
    PaneTabs > .pane-tabs--inactive { color: $text-muted; }
    PaneTabs > .pane-tabs--rule { color: $accent; }
    """

    class Clicked(Message):
        """A tab's label was clicked: the screen shows that pane."""

        def __init__(self, pane: str) -> None:
            super().__init__()
            self.pane = pane

    def __init__(self, tabs: Sequence[tuple[str, str]], active: str, **kwargs: str) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.tabs = list(tabs)  # (pane id, label)
        self._active = active

    @property
    def active(self) -> str:
        return self._active

    @active.setter
    def active(self, pane: str) -> None:
        if pane != self._active:
            self._active = pane
            self.refresh()

    def _spans(self) -> list[tuple[str, int, int]]:
        """(pane id, first cell, width) of each label, one cell of padding around it."""
        out, x = [], 1
        for pane, label in self.tabs:
            width = len(label) + 2
            out.append((pane, x, width))
            x += width + 1
        return out

    def render_line(self, y: int) -> Strip:
        """Row 0: the labels; row 1: a rule, heavy under the active label."""
        width = self.size.width
        base = self.rich_style
        active = self.get_component_rich_style("pane-tabs--active")
        muted = self.get_component_rich_style("pane-tabs--inactive")
        rule = self.get_component_rich_style("pane-tabs--rule")
        labels = dict(self.tabs)
        segments: list[Segment] = []
        x = 0
        for pane, left, size in self._spans():
            on = pane == self._active
            if y == 0:
                segments.append(Segment(" " * (left - x), base))
                segments.append(Segment(f" {labels[pane]} ", active if on else muted))
            else:
                segments.append(Segment("─" * (left - x), muted))
                segments.append(Segment(("━" if on else "─") * size, rule if on else muted))
            x = left + size
        if x < width:
            segments.append(
                Segment((" " if y == 0 else "─") * (width - x), base if y == 0 else muted)
            )
        return Strip(segments).crop(0, width)

    def on_click(self, event: events.Click) -> None:
        for pane, x, size in self._spans():
            if x <= event.x < x + size:
                self.post_message(self.Clicked(pane))
                return


class TitleBar(Static):
    """The app's title and sub-title on one line, as Textual's Header shows them."""

    DEFAULT_CSS = """
    TitleBar {
        dock: top;
        width: 100%;
        height: 1;
        background: $panel;
        color: $foreground;
        content-align: center middle;
    }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "title", self._show)
        self.watch(self.app, "sub_title", self._show)

    def _show(self, _: object = None) -> None:
        title, sub = self.app.title, self.app.sub_title
        # Spaces end a span, never start one: SVG viewers drop a span's leading spaces.
        if sub:
            self.update(Text.assemble((f"{title} ", "bold"), f"· {sub}"))
        else:
            self.update(Text(title, style="bold"))
