"""The board: eight stage columns under the span ruler, panes below.

Navigation and selection live here; the actions that touch the engine are
the app's (``tui/app.py``), so the command palette can call them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.lazy import Lazy
from textual.screen import Screen
from textual.widgets import Header, TabbedContent, TabPane

from lifecycle.items import Item
from lifecycle.stages import ORDER, Stage
from widgets.board import SpanRuler, StageColumn
from widgets.footer import QuietFooter

if TYPE_CHECKING:
    from tui.app import ShipdeckApp

PANE_WIDGETS = {
    "logs": "#log-pane",
    "metrics": "#metrics-pane",
    "events": "#events-pane",
    "envs": "#env-pane",
}


class BoardScreen(Screen[None]):
    BINDINGS = [
        Binding("n", "app.new_item", "New"),
        Binding("e", "app.edit_item", "Edit"),
        Binding("enter", "app.details", "Details", show=False),
        Binding("a", "app.advance", "Advance"),
        Binding("b", "app.back", "Back"),
        Binding("r", "app.rerun", "Re-run"),
        Binding("x", "app.cancel_run", "Cancel"),
        Binding("d", "app.deploy", "Deploy"),
        Binding("R", "app.rollback", "Rollback"),
        Binding("L", "show_pane('logs')", "Logs"),
        Binding("m", "show_pane('metrics')", "Metrics"),
        Binding("v", "show_pane('events')", "Events"),
        Binding("o", "show_pane('envs')", "Envs", show=False),
        Binding("left,h", "column(-1)", "Column left", show=False),
        Binding("right,l", "column(1)", "Column right", show=False),
        Binding("z", "zoom", "Zoom panes", show=False),
        Binding("escape", "board", "Back to the board", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="board-screen")
        self.columns: dict[Stage, StageColumn] = {s: StageColumn(s) for s in ORDER}

    @property
    def shipdeck(self) -> ShipdeckApp:
        from tui.app import ShipdeckApp

        assert isinstance(self.app, ShipdeckApp)
        return self.app

    def compose(self) -> ComposeResult:
        from widgets.env_pane import EnvironmentsPane
        from widgets.events_pane import EventsPane
        from widgets.log_pane import LogPane
        from widgets.metrics_pane import MetricsPane

        yield Header()
        with Vertical(id="board-area"), Vertical(id="board-inner"):
            yield SpanRuler(id="spans")
            with Horizontal(id="columns"):
                yield from self.columns.values()
        with TabbedContent(id="panes", initial="logs"):
            with TabPane("Logs", id="logs"):
                yield LogPane(id="log-pane")
            # Hidden panes mount after the first paint (Lazy): startup pays for the board only.
            with TabPane("Metrics", id="metrics"):
                yield Lazy(MetricsPane(id="metrics-pane"))
            with TabPane("Events", id="events"):
                yield Lazy(EventsPane(id="events-pane"))
            with TabPane("Environments", id="envs"):
                yield Lazy(EnvironmentsPane(id="env-pane"))
        yield QuietFooter()

    # --- showing the board -------------------------------------------------------

    def show_items(self, items: list[Item], frame: int = 0) -> None:
        by_stage: dict[Stage, list[Item]] = {s: [] for s in ORDER}
        for item in items:
            by_stage[item.stage].append(item)
        for stage, column in self.columns.items():
            column.set_items(by_stage[stage], frame)

    def tick(self, frame: int) -> None:
        for column in self.columns.values():
            column.tick(frame)

    def focused_column(self) -> StageColumn | None:
        focused = self.focused
        return focused if isinstance(focused, StageColumn) else None

    def selected_id(self) -> str | None:
        column = self.focused_column() or self._last_column
        return column.selected_id if column else None

    _last_column: StageColumn | None = None

    def select(self, item_id: str) -> bool:
        """Put the cursor on ``item_id`` wherever it is."""
        for column in self.columns.values():
            if column.select_id(item_id):
                column.focus()
                self._last_column = column
                return True
        return False

    def select_first(self) -> None:
        """On start: the first card of the leftmost column that has one."""
        for column in self.columns.values():
            if column.item_ids:
                column.highlighted = 0
                column.focus()
                self._last_column = column
                return
        self.columns[Stage.PLAN].focus()

    # --- actions --------------------------------------------------------------------

    def action_column(self, delta: int) -> None:
        current = self.focused_column() or self._last_column or self.columns[Stage.PLAN]
        index = ORDER.index(current.stage)
        row = current.highlighted or 0
        target = self.columns[ORDER[max(0, min(len(ORDER) - 1, index + delta))]]
        if target.item_ids:
            target.highlighted = min(row, len(target.item_ids) - 1)
        # Scrolling (even by nothing) re-lays out the screen: only when the board is wider.
        area = self.query_one("#board-area")
        hidden = not area.region.contains_region(target.region)
        target.focus(scroll_visible=hidden)

    def action_show_pane(self, pane: str) -> None:
        self.query_one("#panes", TabbedContent).active = pane
        self._focus_pane(pane, tries=20)

    def _focus_pane(self, pane: str, tries: int) -> None:
        """Focus the pane's first focusable widget, once its Lazy wrapper has mounted it."""
        target = PANE_WIDGETS[pane]
        found = self.query(target)
        if not found:
            if tries:
                self.set_timer(0.02, lambda: self._focus_pane(pane, tries - 1))
            return
        widget = found.first()
        focusable = (
            widget
            if widget.can_focus
            else next((w for w in widget.query("*") if w.can_focus), None)
        )
        if focusable is not None:
            focusable.focus()

    def action_zoom(self) -> None:
        self.toggle_class("-zoomed")

    def action_board(self) -> None:
        if self._last_column is not None:
            self._last_column.focus()

    def on_stage_column_card_highlighted(self, event: StageColumn.CardHighlighted) -> None:
        if not event.column.has_focus:
            return  # columns refilled in the background move their own highlight
        if self._last_column is not event.column:
            if self._last_column is not None:
                self._last_column.remove_class("-current")
            event.column.add_class("-current")
        self._last_column = event.column
        if event.item_id:
            self.shipdeck.item_selected(event.item_id)

    def on_stage_column_card_chosen(self, event: StageColumn.CardChosen) -> None:
        self.shipdeck.action_details()
