"""The board: eight stage columns under the span ruler, panes below, and its keys.

Each key's action is here, next to the binding that names it; what the item and
environment keys do lives in :mod:`tui.item_ops` and :mod:`tui.env_ops`, which the
command palette calls too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from shipdeck.lifecycle.board_index import CardBook
from shipdeck.lifecycle.items import Item
from shipdeck.lifecycle.stages import ORDER, Stage
from shipdeck.tui.env_ops import EnvOperations
from shipdeck.tui.host import Host
from shipdeck.tui.item_ops import ItemOperations
from shipdeck.tui.pacing import FramePacer
from shipdeck.tui.panes import Panes
from shipdeck.widgets.board.columns import BoardColumns, StageColumn
from shipdeck.widgets.board.filter import (
    BoardFilter,
    CardFilter,
    CardWords,
    card_filter,
    card_words,
    words_of,
)
from shipdeck.widgets.footer import QuietFooter
from shipdeck.widgets.pane_tabs import TitleBar

if TYPE_CHECKING:
    from shipdeck.widgets.board.cards import CardFacts

PINNED = ("command_mode", "help", "quit")  # the app's keys the footer always shows
# What acts on the card under the cursor: nothing to do without one.
_CARD_ACTIONS = frozenset({"advance", "move_back", "rerun", "edit_item"})
_Card = tuple[str, CardWords]  # a card's id and its words, as the filter tests them
# The filter's copy of every card's words: the book and version it was made at, by id,
# by stage.
_Every = tuple[CardBook, int, dict[str, CardWords], dict[Stage, list[_Card]]]


class BoardScreen(Screen[None]):
    AUTO_FOCUS = "#columns"
    # In the footer's order of importance: it shows those that fit, help and quit pinned.
    BINDINGS = [
        Binding("a", "advance", "Advance"),
        Binding("n", "new_item", "New"),  # 2nd: the key an empty board needs, at 80 columns
        Binding("d", "deploy", "Deploy"),
        Binding("R", "rollback", "Roll back"),
        Binding("x", "cancel_run", "Cancel"),  # short: five keys fit at 80 columns
        Binding("b", "move_back", "Back"),
        Binding("r", "rerun", "Re-run"),
        Binding("e", "edit_item", "Edit"),
        Binding("enter", "details", "Details", show=False),
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

    def action_advance(self) -> None:
        self.item_ops.advance()

    def action_deploy(self) -> None:
        self.env_ops.deploy()

    def action_rollback(self) -> None:
        self.env_ops.rollback()

    def action_cancel_run(self) -> None:
        self.item_ops.cancel_run()

    def action_move_back(self) -> None:
        self.item_ops.back()

    def action_rerun(self) -> None:
        self.item_ops.rerun()

    def action_new_item(self) -> None:
        self.item_ops.new_item()

    def action_edit_item(self) -> None:
        self.item_ops.edit_item()

    def action_details(self) -> None:
        self.item_ops.details()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Cancel does nothing while nothing runs, and a card's keys nothing without a
        card under the cursor (an empty board, an empty column): their keys are shown
        dimmed then (None), not hidden, so the footer's keys stay where they are as runs
        start and end and the cursor crosses an empty column."""
        if action == "cancel_run":
            return True if self.shipdeck.any_run else None
        if action in _CARD_ACTIONS:
            return True if self.selected_id() is not None else None
        return True

    def __init__(self, app: Host) -> None:
        super().__init__(id="board-screen")
        self.shipdeck = app  # the app, as the board uses it (passed in: no import of it)
        self.item_ops = ItemOperations(app, self)
        self.env_ops = EnvOperations(app, self)
        self.columns: dict[Stage, StageColumn] = {s: StageColumn(s) for s in ORDER}
        self.board_columns = BoardColumns(list(self.columns.values()), id="columns")
        self.panes = Panes(id="panes")
        self.pacer = FramePacer()  # the app says when runs paint and when keys arrive
        # What the app last showed, unfiltered: a filter narrows it, clearing restores it.
        self._items: list[Item] = []
        self._book: CardBook | None = None  # or the whole board, read as it is drawn
        self._every: _Every | None = None  # the filter's copy of every card, at a version
        self._frame = 0
        self._facts: Mapping[str, CardFacts] | None = None
        self.card_filter: CardFilter | None = None  # the `/` filter's predicate, if on
        self._typing = False  # the `/` prompt has the keys
        self._no_card: bool | None = None  # no card under the cursor when last lit

    def _on_timer_update(self) -> None:
        """Textual's frame, held while a run paints and nobody types (:mod:`tui.pacing`):
        held, the frame timer keeps ticking and a later tick paints all that changed."""
        if self.pacer.due():
            super()._on_timer_update()

    @property
    def active_pane(self) -> str:
        return self.panes.active

    def compose(self) -> ComposeResult:
        yield TitleBar(id="title")
        yield self.board_columns
        yield self.panes
        yield QuietFooter(pinned=PINNED)

    # --- showing the board -------------------------------------------------------

    def show_items(
        self, items: list[Item], frame: int = 0, facts: Mapping[str, CardFacts] | None = None
    ) -> None:
        """Show ``items`` in their stages' columns: those the filter keeps, if one is on."""
        self._items, self._frame, self._facts = list(items), frame, facts
        self._book = None
        self._distribute()

    def show_book(
        self,
        book: CardBook,
        frame: int = 0,
        facts: Mapping[str, CardFacts] | None = None,
        changed: Collection[str] = (),
    ) -> None:
        """Show the board ``book`` holds; only the cards in view are read. ``changed``:
        the ids a reload found changed, whose cards are drawn again."""
        self._items, self._book, self._frame, self._facts = [], book, frame, facts
        self._distribute(changed)

    def _distribute(self, changed: Collection[str] = ()) -> None:
        book, keep = self._book, self.card_filter
        shown = 0
        if book is not None and keep is None:
            for stage, ids in book.by_stage().items():
                self.columns[stage].show(ids, book, book.running, changed, self._frame, self._facts)
        elif keep is None:
            by_stage: dict[Stage, list[Item]] = {s: [] for s in ORDER}
            for item in self._items:
                by_stage[item.stage].append(item)
            for stage, column in self.columns.items():
                column.set_items(by_stage[stage], self._frame, self._facts)
        else:
            every = self._every_card(book)
            listed = {item.id: item for item in self._items} if book is None else {}
            for stage, column in self.columns.items():
                cards = every[stage]
                kept = [card_id for card_id, words in cards if keep(words)]
                shown += len(kept)
                if book is not None:  # the kept cards read from the book as they are drawn
                    total = len(cards)
                    running = book.running
                    column.show(kept, book, running, changed, self._frame, self._facts, total)
                else:
                    kept_items = [listed[card_id] for card_id in kept]
                    column.set_items(kept_items, self._frame, self._facts, total=len(cards))
        bar = self._filter_bar()
        if bar is not None and bar.has_class("-on"):
            total = len(book) if book is not None else len(self._items)
            bar.say(shown, total, on=keep is not None, typing=self._typing)
        self._light_card_keys()  # a reload can bring the first card or take the last

    def _every_card(self, book: CardBook | None) -> dict[Stage, list[_Card]]:
        """Every card per stage with its words, for the filter, kept only while a filter
        is on (each key typed tests every card again): read from the index's columns
        (``CardBook.fields``, no item built) and lowered once, then only the cards a
        reload changed (on 20,000 cards a whole read is ~0.07 s, too long for each of a
        run's reloads while a filter is on)."""
        if book is None:  # a board shown from a list (no book): small, not kept
            listed: dict[Stage, list[_Card]] = {s: [] for s in ORDER}
            for item in self._items:
                listed[item.stage].append((item.id, card_words(item)))
            return listed
        held = self._every
        if held is not None and held[0] is book and held[1] == book.version:
            return held[3]
        words: dict[str, CardWords] = {}
        if held is not None and held[0] is book:
            changed = book.changed_since(held[1])
            if changed is not None:
                words = held[2]
                for item_id in changed:
                    words.pop(item_id, None)
        missing = [item_id for item_id in book if item_id not in words]
        if missing:
            # every card in one query the first time; a reload's few by their ids
            for card in book.fields(None if not words else missing):
                words[card.id] = words_of(card)
        every = {
            stage: [(i, words[i]) for i in ids if i in words]
            for stage, ids in book.by_stage().items()
        }
        self._every = (book, book.version, words, every)
        return every

    def tick(self, frame: int) -> None:
        self._frame = frame
        for column in self.columns.values():
            column.tick(frame)

    def selected_id(self) -> str | None:
        return self.board_columns.selected_id

    def select(self, item_id: str) -> bool:
        """Put the cursor on ``item_id`` wherever it is (and focus the board, if it is
        not focused: Textual's ``focus`` repaints the whole widget even then, and the
        cursor follows its card at every stage a run passes)."""
        board = self.board_columns
        found = board.select(item_id)
        if found and not board.has_focus:
            board.focus()
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
        self.panes.focus_pane(pane)

    async def show_pane(self, pane: str) -> None:
        """Bring ``pane`` to the front, mounting it the first time."""
        await self.panes.show(pane)

    def action_zoom(self) -> None:
        self.toggle_class("-zoomed")

    def action_board(self) -> None:
        """Escape: back to the board; on the board, it clears a filter that is on."""
        if self.card_filter is not None and self.board_columns.has_focus:
            self.clear_filter()
            return
        self.board_columns.focus()

    # --- the `/` filter ---------------------------------------------------------------

    _bar: BoardFilter | None = None  # mounted at the first ``/``, then kept

    def _filter_bar(self) -> BoardFilter | None:
        """Kept, not queried: every reload of the board asks for it (a DOM walk each)."""
        if self._bar is not None and not self._bar.is_attached:
            self._bar = None
        return self._bar

    async def action_filter_cards(self) -> None:
        """``/``: a prompt under the board; the columns narrow as the query is typed."""
        bar = self._filter_bar()
        if bar is None:  # mounted on first use: the first frame does not style it
            bar = self._bar = BoardFilter(id="board-filter")
            await self.mount(bar, after=self.board_columns)
        self.remove_class("-zoomed")  # a filter is for the board: show it
        bar.open(bar.value if self.card_filter is not None else "")
        self._typing = True
        self._distribute()  # the note now says "enter keeps"

    @on(BoardFilter.Typed)
    def _filter_typed(self, message: BoardFilter.Typed) -> None:
        bar = self._filter_bar()
        if bar is not None and bar.value != message.query:
            return  # typed on since (a paste, a fast typist): the newest query's turn comes
        if bar is not None and not bar.has_class("-on"):
            return  # typed fast, then Escape: the prompt closed before this came
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
        self._every = None  # the filter's copy of every card goes with it
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
        env = (
            getattr(pane.first(), "selected_env", None)
            if pane and self.active_pane == "envs"
            else None
        )
        if env is None:
            self.notify("+ and - scale the environment chosen in the Environments pane (o).")
        else:
            self.env_ops.scale_env(env, 0)  # not scalable: says why

    def on_board_columns_card_highlighted(self, event: BoardColumns.CardHighlighted) -> None:
        if event.item_id:
            self.shipdeck.item_selected(event.item_id)
        self._light_card_keys()

    def _light_card_keys(self) -> None:
        """A card's keys are dimmed while no card is under the cursor (check_action):
        dimmed or lit in place when that changes, not at every move or reload."""
        none = self.selected_id() is None
        if none != self._no_card:
            self._no_card = none
            self.refresh_bindings()

    def on_board_columns_card_chosen(self, event: BoardColumns.CardChosen) -> None:
        self.item_ops.details()

    def action_follow_card_env(self) -> None:
        """``f`` on a deployed card: follow the logs of the environment it went to."""
        item = self.shipdeck.items.get(self.selected_id() or "")
        if item is None or not item.env:
            self.notify("f follows a deployed card's environment; this card has none.")
            return
        if item.env not in self.shipdeck.project.config.environments:
            self.notify(f"{item.env} is no longer in shipdeck.yaml: no logs to follow.")
            return
        self.env_ops.follow_env_logs(item.env)
