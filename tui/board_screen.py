"""The board: eight stage columns under the span ruler, panes below.

Navigation and selection live here; the actions that touch the engine are
the app's (``tui/app.py``), so the command palette can call them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import ContentSwitcher

from lifecycle.items import Item
from lifecycle.stages import ORDER, Stage
from widgets.board.columns import BoardColumns, StageColumn
from widgets.board.filter import BoardFilter, CardFilter, card_filter
from widgets.footer import QuietFooter
from widgets.pane_tabs import PaneTabs, TitleBar

if TYPE_CHECKING:
    from tui.app import ShipdeckApp
    from widgets.board.cards import CardFacts
    from widgets.ops.envs import EnvMessage

PINNED = ("command_mode", "help", "quit")  # the app's keys the footer always shows
TABS = (("logs", "Logs"), ("metrics", "Metrics"), ("events", "Events"), ("envs", "Environments"))
PANE_WIDGETS = {
    "logs": "#log-pane",
    "metrics": "#metrics-pane",
    "events": "#events-pane",
    "envs": "#env-pane",
}


class BoardScreen(Screen[None]):
    AUTO_FOCUS = "#columns"
    # In the footer's order of importance: it shows those that fit, help and quit pinned.
    BINDINGS = [
        Binding("a", "app.advance", "Advance"),
        Binding("d", "app.deploy", "Deploy"),
        Binding("R", "app.rollback", "Roll back"),
        Binding("x", "app.cancel_run", "Cancel run"),
        Binding("b", "app.back", "Back"),
        Binding("r", "app.rerun", "Re-run"),
        Binding("n", "app.new_item", "New"),
        Binding("e", "app.edit_item", "Edit"),
        Binding("enter", "app.details", "Details", show=False),
        Binding("f", "follow_card_env", "Follow env logs", show=False),
        Binding("L", "show_pane('logs')", "Logs"),
        Binding("m", "show_pane('metrics')", "Metrics"),
        Binding("v", "show_pane('events')", "Events"),
        Binding("o", "show_pane('envs')", "Envs"),
        Binding("z", "zoom", "Zoom panes", show=False),
        Binding("slash", "filter_cards", "Filter cards", show=False),
        # The environments pane scales where its target can; elsewhere these say why not
        # (no description: help lists + and - once, under the pane).
        Binding("plus,minus", "not_scalable", "", show=False),
        Binding("escape", "board", "Back to the board", show=False),
    ]

    class PaneShown(Message):
        """A pane came to the front (mounted first, if it had never been shown)."""

        def __init__(self, pane: str) -> None:
            super().__init__()
            self.pane = pane

    def __init__(self) -> None:
        super().__init__(id="board-screen")
        self.active_pane = "logs"
        self.columns: dict[Stage, StageColumn] = {s: StageColumn(s) for s in ORDER}
        self.board_columns = BoardColumns(list(self.columns.values()), id="columns")
        # What the app last showed, unfiltered: a filter narrows it, clearing restores it.
        self._items: list[Item] = []
        self._frame = 0
        self._facts: Mapping[str, CardFacts] | None = None
        self.card_filter: CardFilter | None = None  # the `/` filter's predicate, if on
        self._typing = False  # the `/` prompt has the keys

    @property
    def shipdeck(self) -> ShipdeckApp:
        from tui.app import ShipdeckApp

        assert isinstance(self.app, ShipdeckApp)
        return self.app

    def compose(self) -> ComposeResult:
        from widgets.log.pane import LogPane

        yield TitleBar(id="title")
        yield self.board_columns
        with Vertical(id="panes"):
            yield PaneTabs(TABS, "logs", id="pane-tabs")
            with ContentSwitcher(id="pane-switcher", initial="logs"):
                with Container(id="logs"):
                    yield LogPane(id="log-pane")
                # The other panes mount when first shown: startup pays for the board only.
                yield Container(id="metrics")
                yield Container(id="events")
                yield Container(id="envs")
        yield QuietFooter(pinned=PINNED)

    # --- showing the board -------------------------------------------------------

    def show_items(
        self, items: list[Item], frame: int = 0, facts: Mapping[str, CardFacts] | None = None
    ) -> None:
        """Show ``items`` in their stages' columns: those the filter keeps, if one is on."""
        self._items, self._frame, self._facts = list(items), frame, facts
        self._distribute()

    def _distribute(self) -> None:
        by_stage: dict[Stage, list[Item]] = {s: [] for s in ORDER}
        for item in self._items:
            by_stage[item.stage].append(item)
        keep = self.card_filter
        shown = 0
        for stage, column in self.columns.items():
            cards = by_stage[stage]
            if keep is None:
                column.set_items(cards, self._frame, self._facts)
                continue
            kept = [i for i in cards if keep(i)]
            shown += len(kept)
            column.set_items(kept, self._frame, self._facts, total=len(cards))
        bar = self._filter_bar()
        if bar is not None and bar.has_class("-on"):
            total = len(self._items)
            bar.say(shown, total, on=keep is not None, typing=self._typing)

    def tick(self, frame: int) -> None:
        self._frame = frame
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

    async def action_show_pane(self, pane: str) -> None:
        await self.show_pane(pane)
        self._focus_pane(pane, tries=20)

    async def show_pane(self, pane: str) -> None:
        """Bring ``pane`` to the front, mounting it the first time."""
        holder = self.query_one(f"#{pane}")
        if pane in PANE_WIDGETS and not holder.children:
            await holder.mount(_make_pane(pane))
        self.query_one("#pane-switcher", ContentSwitcher).current = pane
        self.query_one("#pane-tabs", PaneTabs).active = pane
        if pane != self.active_pane:
            self.active_pane = pane
            self.post_message(self.PaneShown(pane))

    async def on_pane_tabs_clicked(self, event: PaneTabs.Clicked) -> None:
        await self.show_pane(event.pane)

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

    def action_zoom(self) -> None:
        self.toggle_class("-zoomed")

    def action_board(self) -> None:
        """Escape: back to the board; on the board, it clears a filter that is on."""
        if self.card_filter is not None and self.board_columns.has_focus:
            self.clear_filter()
            return
        self.board_columns.focus()

    # --- the `/` filter ---------------------------------------------------------------

    def _filter_bar(self) -> BoardFilter | None:
        found = self.query("#board-filter")
        return found.first(BoardFilter) if found else None

    async def action_filter_cards(self) -> None:
        """``/``: a prompt under the board; the columns narrow as the query is typed."""
        bar = self._filter_bar()
        if bar is None:  # mounted on first use: the first frame does not style it
            bar = BoardFilter(id="board-filter")
            await self.mount(bar, after=self.board_columns)
        self.remove_class("-zoomed")  # a filter is for the board: show it
        bar.open(bar.value if self.card_filter is not None else "")
        self._typing = True
        self._distribute()  # the note now says "enter keeps"

    @on(BoardFilter.Typed)
    def _filter_typed(self, message: BoardFilter.Typed) -> None:
        self.apply_filter(message.query)

    @on(BoardFilter.Kept)
    def _filter_kept(self, message: BoardFilter.Kept) -> None:
        self.apply_filter(message.query)
        if self.card_filter is None:
            self.clear_filter()  # Enter on an empty query: no filter, no prompt
            return
        self.board_columns.focus()
        self._typing = False
        self._distribute()  # the note now says "/ edits"

    @on(BoardFilter.Cleared)
    def _filter_cleared(self) -> None:
        self.clear_filter()

    def apply_filter(self, query: str) -> None:
        """Show only the cards ``query`` matches (all of them for a blank one), the
        cursor on a card still shown."""
        self.card_filter = card_filter(query)
        self._distribute()
        self._cursor_to_a_shown_card()

    def clear_filter(self) -> None:
        """Every card again, as last shown (no reload); the prompt goes."""
        bar = self._filter_bar()
        if bar is not None:
            bar.remove_class("-on")
        self.card_filter = None
        self._typing = False
        self._distribute()
        self._cursor_to_a_shown_card()
        self.board_columns.focus()

    def _cursor_to_a_shown_card(self) -> None:
        """Keep the cursor's column if it still shows a card, else go to the nearest
        column that does. With nothing shown the app has no card selected, so the
        board's keys ask for one instead of acting on a hidden card."""
        board = self.board_columns
        columns = board.stage_columns
        here = columns.index(board.current)
        with_cards = [c for c in columns if c.item_ids]
        if not board.current.item_ids and with_cards:
            nearest = min(with_cards, key=lambda c: abs(columns.index(c) - here))
            board.make_current(nearest, nearest.highlighted or 0)
        else:
            board.make_current(board.current)  # says which card is under the cursor now
        if not with_cards:
            self.shipdeck.selected = None

    def action_not_scalable(self) -> None:
        """``+``/``-`` where the pane did not take them: its environment cannot scale."""
        pane = self.query("#env-pane")
        env = pane.first().selected_env if pane and self.active_pane == "envs" else None
        if env is None:
            self.notify("+ and - scale the environment chosen in the Environments pane (o).")
        else:
            self.shipdeck.scale_env(env, 0)  # not scalable: says why

    def on_board_columns_card_highlighted(self, event: BoardColumns.CardHighlighted) -> None:
        if event.item_id:
            self.shipdeck.item_selected(event.item_id)

    def on_board_columns_card_chosen(self, event: BoardColumns.CardChosen) -> None:
        self.shipdeck.action_details()

    # The environments pane's keys only ask; the app confirms, naming the versions.
    # (Name-based handlers: importing the pane here would load it before first paint.)

    def on_environments_pane_restart_requested(self, message: EnvMessage) -> None:
        message.stop()
        self.shipdeck.restart_env(message.env)

    def on_environments_pane_stop_requested(self, message: EnvMessage) -> None:
        message.stop()
        self.shipdeck.stop_env(message.env)

    def on_environments_pane_scale_requested(self, message: EnvMessage) -> None:
        message.stop()
        self.shipdeck.scale_env(message.env, message.delta)  # type: ignore[attr-defined]

    def on_environments_pane_env_selected(self, message: EnvMessage) -> None:
        """Enter on an environment follows its live logs (k9s' and lazydocker's habit)."""
        message.stop()
        self.shipdeck.follow_env_logs(message.env)

    def action_follow_card_env(self) -> None:
        """``f`` on a deployed card: follow the logs of the environment it went to."""
        item = self.shipdeck.items.get(self.selected_id() or "")
        if item is None or not item.env:
            self.notify("f follows a deployed card's environment; this card has none.")
            return
        if item.env not in self.shipdeck.project.config.environments:
            self.notify(f"{item.env} is no longer in shipdeck.yaml: no logs to follow.")
            return
        self.shipdeck.follow_env_logs(item.env)


def _make_pane(pane: str) -> Widget:
    if pane == "metrics":
        from widgets.ops.metrics import MetricsPane

        return MetricsPane(id="metrics-pane")
    if pane == "events":
        from widgets.ops.events import EventsPane

        return EventsPane(id="events-pane")
    from widgets.ops.envs import EnvironmentsPane

    class OperatedEnvironmentsPane(EnvironmentsPane):
        """The pane, offering ``+``/``-`` only on an environment whose target can scale."""

        def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
            if action == "scale":
                env = self.selected_env
                return env is not None and self.app.can_scale(env)  # type: ignore[attr-defined]
            return True

        def on_data_table_row_highlighted(self) -> None:
            self.refresh_bindings()  # another environment: maybe other keys

    return OperatedEnvironmentsPane(id="env-pane")
