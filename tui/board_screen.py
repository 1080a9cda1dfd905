"""The board: eight stage columns under the span ruler, panes below.

Navigation and selection live here; the actions that touch the engine are
the app's (``tui/app.py``), so the command palette can call them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header, TabbedContent, TabPane

from lifecycle.items import Item
from lifecycle.stages import ORDER, Stage
from widgets.board import BoardColumns, StageColumn
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
    AUTO_FOCUS = "#columns"
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
        Binding("z", "zoom", "Zoom panes", show=False),
        Binding("escape", "board", "Back to the board", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="board-screen")
        self.columns: dict[Stage, StageColumn] = {s: StageColumn(s) for s in ORDER}
        self.board_columns = BoardColumns(list(self.columns.values()), id="columns")

    @property
    def shipdeck(self) -> ShipdeckApp:
        from tui.app import ShipdeckApp

        assert isinstance(self.app, ShipdeckApp)
        return self.app

    def compose(self) -> ComposeResult:
        from widgets.log_pane import LogPane

        yield Header()
        yield self.board_columns
        with TabbedContent(id="panes", initial="logs"):
            with TabPane("Logs", id="logs"):
                yield LogPane(id="log-pane")
            # The other panes mount when first shown: startup pays for the board only.
            yield TabPane("Metrics", id="metrics")
            yield TabPane("Events", id="events")
            yield TabPane("Environments", id="envs")
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

    def selected_id(self) -> str | None:
        return self.board_columns.selected_id

    def select(self, item_id: str) -> bool:
        """Put the cursor on ``item_id`` wherever it is."""
        found = self.board_columns.select(item_id)
        if found:
            self.board_columns.focus()
        return found

    def select_first(self) -> None:
        """On start: the first card of the leftmost column that has one."""
        board = self.board_columns
        first = next((c for c in self.columns.values() if c.item_ids), self.columns[Stage.PLAN])
        board.make_current(first, 0)
        board.focus()

    # --- actions --------------------------------------------------------------------

    def action_show_pane(self, pane: str) -> None:
        self.query_one("#panes", TabbedContent).active = pane
        self._focus_pane(pane, tries=20)

    def _focus_pane(self, pane: str, tries: int) -> None:
        """Focus the pane's first focusable widget, once it is mounted."""
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

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Mount a pane the first time its tab shows, before the app's handler fills it."""
        tab = event.pane
        if tab.id in PANE_WIDGETS and not tab.children:
            await tab.mount(_make_pane(tab.id))

    def action_zoom(self) -> None:
        self.toggle_class("-zoomed")

    def action_board(self) -> None:
        self.board_columns.focus()

    def on_board_columns_card_highlighted(self, event: BoardColumns.CardHighlighted) -> None:
        if event.item_id:
            self.shipdeck.item_selected(event.item_id)

    def on_board_columns_card_chosen(self, event: BoardColumns.CardChosen) -> None:
        self.shipdeck.action_details()


def _make_pane(pane: str) -> Widget:
    if pane == "metrics":
        from widgets.metrics_pane import MetricsPane

        return MetricsPane(id="metrics-pane")
    if pane == "events":
        from widgets.events_pane import EventsPane

        return EventsPane(id="events-pane")
    from widgets.env_pane import EnvironmentsPane

    return EnvironmentsPane(id="env-pane")
