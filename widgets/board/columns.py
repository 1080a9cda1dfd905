"""The board: eight stage columns of cards under the continuous-span ruler, drawn by
one Line-API widget.

One widget, not a container of eight option lists: Textual styles, lays out and
renders every widget it has, and eight OptionLists (with sixteen scrollbars and a
ruler of Statics) made up most of the time to the board's first frame. Here each
line of the screen is assembled from the visible cards' cached lines, cards are
rendered only when they come into view, and a cursor move repaints the cards it
leaves and reaches, nothing else. A column's drawn lines are kept until it is
repainted, so a repaint of one column (a running card's spinner) does not redraw the
other seven across each row. Columns are plain objects (:class:`StageColumn`) that
keep their cards, highlight and scroll position.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import ClassVar

from rich.color import Color as RichColor
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.terminal_theme import TerminalTheme
from textual import events
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from shipdeck.lifecycle.board_index import CardBook
from shipdeck.lifecycle.items import Item
from shipdeck.lifecycle.stages import ORDER, SPANS, Span, Stage
from shipdeck.widgets.board.cards import (
    NO_FACTS,
    CardFacts,
    card_height,
    card_text,
    column_title,
    more_note,
)

_NOT_DIM = Style(dim=False)
MIN_WIDTH = 14  # a column narrower than this is not readable: the board scrolls sideways
RULER = 2  # lines of span ruler above the columns
_BATCH = 64  # cards read from a CardBook in one query: a screenful and more


@cache
def _console() -> Console:
    """What Rich renders a card's Text with (made on first use: it is not cheap)."""
    return Console(width=400, color_system="truecolor", legacy_windows=False)


class StageColumn:
    """The cards of one stage, its highlighted card and how far it is scrolled."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.board: BoardColumns | None = None
        self._ids: Sequence[str] = []
        self._pos: dict[str, int] = {}  # item id -> index in _ids
        # id -> item: a dict of exactly the column's cards (set_items), or the app's
        # CardBook of the whole board, which reads a card when it is first drawn (show)
        self._cards: Mapping[str, Item] = {}
        self._running: list[str] = []  # ids of this column's cards that run
        self._facts: Mapping[str, CardFacts] = {}
        self._now: datetime | None = None  # one clock for a card's height and its text
        self._highlighted: int | None = None
        self.total: int | None = None  # the stage's cards while a filter shows fewer
        self.top = 0  # first line shown (cards and dividers counted in lines)
        self._frame = 0
        # item id -> (width, spinner frame, the card's lines): what was last drawn
        self._lines: dict[str, tuple[int, int, list[list[Segment]]]] = {}
        self._heights: dict[str, int] = {}  # item id -> lines, at _heights_width
        self._heights_width = 0
        self._starts: list[int] = []  # see layout()
        self._ends: list[int] = []
        self._layout_width = 0
        self.painted = 0  # repaints asked of the board (its drawn lines are kept until then)

    @property
    def id(self) -> str:
        return f"col-{self.stage.value}"

    @property
    def item_ids(self) -> Sequence[str]:
        return self._ids

    def index_of(self, item_id: str) -> int | None:
        return self._pos.get(item_id)

    @property
    def highlighted(self) -> int | None:
        return self._highlighted

    @highlighted.setter
    def highlighted(self, index: int | None) -> None:
        if index is not None:
            index = max(0, min(index, len(self._ids) - 1)) if self._ids else None
        if index == self._highlighted:
            return
        self._highlighted = index
        if self.board is not None:
            self.board.highlight_moved(self)

    @property
    def selected_id(self) -> str | None:
        if self._highlighted is None or not self._ids:
            return None
        return self._ids[min(self._highlighted, len(self._ids) - 1)]

    def set_items(
        self,
        items: Iterable[Item],
        frame: int = 0,
        facts: Mapping[str, CardFacts] | None = None,
        total: int | None = None,
    ) -> None:
        """Show exactly ``items`` (with what ``facts`` says of them beyond the board);
        cards that did not change keep their rendering, and a column where nothing
        changed is not repainted. ``total``: how many cards the stage has while a
        filter shows only ``items`` (the title says "Plan 3/40"); None when unfiltered."""
        items = list(items)
        old = self._cards if isinstance(self._cards, dict) else {}  # a book: all redrawn
        cards = {i.id: i for i in items}
        running = [i.id for i in items if i.running]
        runs = set(running)
        stale = [
            i.id for i in items if i.id in runs or (i is not old.get(i.id) and old.get(i.id) != i)
        ]
        self._show([i.id for i in items], cards, running, stale, frame, facts, total)

    def show(
        self,
        ids: Sequence[str],
        cards: Mapping[str, Item],
        running: Iterable[str],
        changed: Iterable[str],
        frame: int = 0,
        facts: Mapping[str, CardFacts] | None = None,
        total: int | None = None,
    ) -> None:
        """Show the cards ``ids`` of a larger ``cards`` (the app's CardBook), read only
        when drawn; ``changed``: ids whose item changed since the last call (a reload's
        delta), whose renderings are dropped. ``running``: ids that run (any column).
        ``total``: as for :meth:`set_items`, the stage's cards while a filter is on."""
        self._show(ids, cards, list(running), changed, frame, facts, total)

    def _show(
        self,
        ids: Sequence[str],
        cards: Mapping[str, Item],
        running: list[str],
        changed: Iterable[str],
        frame: int,
        facts: Mapping[str, CardFacts] | None,
        total: int | None,
    ) -> None:
        retitled = total != self.total
        self.total = total
        keep = self.selected_id
        self._frame = frame
        self._now = datetime.now(UTC)
        old_facts, self._facts = self._facts, dict(facts or {})
        moved = ids != self._ids
        if moved:
            self._ids = ids
            self._pos = {item_id: n for n, item_id in enumerate(ids)}
        if cards is not self._cards and not (
            isinstance(cards, dict) and isinstance(self._cards, dict)
        ):  # from cards given to a CardBook or back: nothing drawn before is known to hold
            self._lines.clear()
            self._heights.clear()
            moved = True
        self._cards = cards
        stale = {i for i in changed if i in self._pos}
        stale.update(i for i in self._running if i in self._pos)  # stopped running
        self._running = [i for i in running if i in self._pos]
        stale.update(self._running)
        for item_id in old_facts.keys() | self._facts.keys():
            if old_facts.get(item_id) != self._facts.get(item_id) and item_id in self._pos:
                stale.add(item_id)
        for item_id in stale:
            self._lines.pop(item_id, None)
            self._heights.pop(item_id, None)
        if moved:
            self._lines = {k: v for k, v in self._lines.items() if k in self._pos}
            self._heights = {k: v for k, v in self._heights.items() if k in self._pos}
        if keep in self._pos:
            self._highlighted = self._pos[keep]
        elif ids:
            self._highlighted = min(self._highlighted or 0, len(ids) - 1)
        else:
            self._highlighted = None
        if moved or stale:
            self._layout_width = 0  # lay the cards out again when next drawn
        if (moved or stale or retitled) and self.board is not None:
            self.board.column_changed(self, moved)

    def tick(self, frame: int) -> None:
        """Advance the spinner (and the elapsed time) of running cards only: their lines
        are repainted, not the column's (a spinner frame redrew every line of it, ten
        times a second while anything ran), unless a card's height changed ("59s" ->
        "1m00s" may wrap differently), which moves the cards below it."""
        self._frame = frame
        running = self._running
        if not running:
            return
        self._now = datetime.now(UTC)
        spans = self._spans_of(running)
        for item_id in running:
            self._lines.pop(item_id, None)
        if spans is None:
            for item_id in running:
                self._heights.pop(item_id, None)
            self._layout_width = 0
            if self.board is not None:
                self.board.column_changed(self, False)
        elif spans and self.board is not None:
            self.board.lines_changed(self, spans)

    def _spans_of(self, ids: Sequence[str]) -> list[tuple[int, int]] | None:
        """The lines (first, after-last) of these laid-out cards if none of their heights
        changed at ``_now``; None if one did. A card not laid out yet has no lines."""
        width = self._layout_width
        if not width or self._heights_width != width:
            return None
        spans = []
        for item_id in ids:
            index = self._pos.get(item_id)
            if index is None or index >= len(self._starts):
                continue  # below what was laid out: drawn fresh when it is reached
            facts = self._facts.get(item_id, NO_FACTS)
            try:
                item = self._item(item_id)
            except KeyError:  # gone from the index since the board was read: redraw all
                return None
            if self._heights.get(item_id) != card_height(item, width, facts, self._now):
                return None
            spans.append((self._starts[index], self._ends[index]))
        return spans

    def select_id(self, item_id: str) -> bool:
        index = self._pos.get(item_id)
        if index is not None:
            self.highlighted = index
            return True
        return False

    def _item(self, item_id: str) -> Item:
        """The card's item; from a CardBook, read with the next cards of the column in
        one query (the ones drawn or laid out next)."""
        cards = self._cards
        if isinstance(cards, CardBook) and not cards.cached(item_id):
            start = self._pos.get(item_id, 0)
            cards.want(self._ids[start : start + _BATCH])
        return cards[item_id]

    # --- layout of the cards, in lines ------------------------------------------------
    # A card's height is computed (card_height), not rendered, and only as far down
    # as a caller needs; a card is rendered the first time it is drawn, so the first
    # frame renders only what it shows.

    def card(self, item_id: str, width: int) -> list[list[Segment]]:
        """The card's lines as segments, cut to ``width``; rendered on first sight only."""
        item = self._item(item_id)
        frame = self._frame if item.running else 0
        cached = self._lines.get(item_id)
        if cached is not None and cached[0] == width and cached[1] == frame:
            return cached[2]
        facts = self._facts.get(item_id, NO_FACTS)
        text = card_text(item, frame=frame, width=width, facts=facts, now=self._now)
        lines = [list(line.render(_console())) for line in text.split("\n")]
        self._lines[item_id] = (width, frame, lines)
        return lines

    def layout(
        self, width: int, *, index: int | None = None, line: int | None = None
    ) -> tuple[list[int], list[int]]:
        """First and after-last lines of the cards laid out so far: at least through
        card ``index``, or until one reaches ``line`` (all of them, given neither).
        A divider line follows every card but the last. Kept between calls, so a
        repaint deep in a long column bisects instead of walking from the top."""
        if self._layout_width != width:
            self._starts, self._ends, self._layout_width = [], [], width
        starts, ends = self._starts, self._ends
        heights = self._heights if self._heights_width == width else {}
        self._heights, self._heights_width = heights, width
        while len(starts) < len(self._ids):
            if index is not None and len(starts) > index:
                break
            if line is not None and ends and ends[-1] >= line:
                break
            item_id = self._ids[len(starts)]
            height = heights.get(item_id)
            if height is None:
                facts = self._facts.get(item_id, NO_FACTS)
                item = self._item(item_id)
                height = heights[item_id] = card_height(item, width, facts, self._now)
            first = ends[-1] + 1 if ends else 0
            starts.append(first)
            ends.append(first + height)
        return starts, ends

    def reveal(self, width: int, height: int) -> None:
        """Scroll so the highlighted card is in view (all of it, when it fits), the view
        starting at a card (one cut at its head showed a title with no id above it), and
        no card above the view that would fit in empty lines below the last one: a card
        that left the column's end, or a taller terminal, scrolls the column back (the
        column had kept its scroll, "↑ 2 more" over blank lines)."""
        top = self.top
        index = self._highlighted
        if index is None or height <= 0:
            self.top = 0
        else:
            starts, ends = self.layout(width, index=index)
            if starts[index] <= self.top:
                self.top = starts[index]
            elif ends[index] > self.top + height:  # the first card from which it shows
                self.top = starts[min(bisect_left(starts, ends[index] - height), index)]
            else:  # in view; heights change (a card's commit line): still a card's start
                self.top = starts[bisect_left(starts, self.top)]
            if self.top:  # laid out only down to the view's bottom: a long column is not
                starts, ends = self.layout(width, line=self.top + height)
                if len(ends) == len(self._ids) and ends[-1] < self.top + height:
                    self.top = starts[bisect_left(starts, ends[-1] - height)]
        if self.top != top:
            self.painted += 1  # scrolled: every line it shows is another

    def line_at(self, row: int, width: int) -> tuple[str, int, int]:
        """What is on line ``row``: ("card", index, line in it), ("divider", index
        of the card above, 0) or ("end", 0, 0)."""
        starts, ends = self.layout(width, line=row)
        index = bisect_right(starts, row) - 1
        if index < 0:
            return "end", 0, 0
        if row < ends[index]:
            return "card", index, row - starts[index]
        if row == ends[index] and index < len(self._ids) - 1:
            return "divider", index, 0
        return "end", 0, 0

    def beyond(self, width: int, height: int) -> tuple[int, int]:
        """How many cards are wholly above the view, and how many start below it."""
        bottom = self.top + height
        starts, ends = self.layout(width, line=bottom)
        return bisect_right(ends, self.top), len(self._ids) - bisect_left(starts, bottom)


class BoardColumns(Widget, can_focus=True):
    """The span ruler and the eight columns, and the keys that move the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("home,g", "edge(0)", "First card", show=False),
        Binding("end,G", "edge(-1)", "Last card", show=False),
        Binding("left,h", "column(-1)", "Column left", show=False),
        Binding("right,l", "column(1)", "Column right", show=False),
        Binding("enter", "choose", "Details", show=False),
    ]

    # Colours come from the theme's variables, not from component classes: each
    # component class is one more node for Textual to style, and ten of them made
    # this widget's styling cost more than drawing it.
    DEFAULT_CSS = """
    BoardColumns { height: 1fr; background: $surface; }
    """

    class CardHighlighted(Message):
        """The card under the cursor changed (None: the current column is empty)."""

        def __init__(self, item_id: str | None) -> None:
            super().__init__()
            self.item_id = item_id

    class CardChosen(Message):
        def __init__(self, item_id: str) -> None:
            super().__init__()
            self.item_id = item_id

    def __init__(self, columns: Sequence[StageColumn], **kwargs: str) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.stage_columns = list(columns)
        for column in self.stage_columns:
            column.board = self
        self.current = self.stage_columns[0]
        self.first_shown = 0  # leftmost column on screen when they do not all fit
        # (stage, y) -> (what it was drawn with, the column's segments on line y): a
        # repaint of one column redraws its lines only, not the whole width's
        self._drawn: dict[tuple[Stage, int], tuple[tuple[object, ...], list[Segment]]] = {}

    # --- the cursor ---------------------------------------------------------------------

    @property
    def selected_id(self) -> str | None:
        return self.current.selected_id

    def make_current(self, column: StageColumn, row: int | None = None) -> None:
        if column is not self.current:
            previous, self.current = self.current, column
            self._show_column(column)
            self._refresh_column(previous)
            self._refresh_column(column)
        if row is not None and column.item_ids:
            column.highlighted = max(0, min(row, len(column.item_ids) - 1))
        self.post_message(self.CardHighlighted(column.selected_id))

    def select(self, item_id: str) -> bool:
        for column in self.stage_columns:
            index = column.index_of(item_id)
            if index is not None:
                self.make_current(column, index)
                return True
        return False

    def highlight_moved(self, column: StageColumn) -> None:
        """A column's highlight changed: keep it in view, repaint, say so if current."""
        self._reveal(column)
        self._refresh_column(column)
        if column is self.current:
            self.post_message(self.CardHighlighted(column.selected_id))

    def column_changed(self, column: StageColumn, ids_changed: bool) -> None:
        if ids_changed:
            self._reveal(column)
        self._refresh_column(column)

    def on_focus(self) -> None:
        self._refresh_column(self.current)

    def on_blur(self) -> None:
        self._refresh_column(self.current)

    def on_resize(self) -> None:
        self._show_column(self.current)
        for column in self.stage_columns:
            top = column.top
            self._reveal(column)
            if column.top != top:  # painted at the new size before it scrolled: again
                self._refresh_column(column)

    def action_cursor(self, delta: int) -> None:
        column = self.current
        if column.item_ids:
            index = column.highlighted if column.highlighted is not None else -delta
            column.highlighted = index + delta

    def action_page(self, delta: int) -> None:
        """Move by about a screenful of lines, to the card nearest that line."""
        column = self.current
        if not column.item_ids:
            return
        width, height = self._inner_size(column)
        starts, _ = column.layout(width)
        index = column.highlighted or 0
        target = starts[index] + delta * max(1, height - 1)
        nearest = min(range(len(starts)), key=lambda i: abs(starts[i] - target))
        if nearest == index:
            nearest = index + delta
        column.highlighted = nearest

    def action_edge(self, end: int) -> None:
        column = self.current
        if column.item_ids:
            column.highlighted = len(column.item_ids) - 1 if end else 0

    def action_column(self, delta: int) -> None:
        index = self.stage_columns.index(self.current)
        target = self.stage_columns[max(0, min(len(self.stage_columns) - 1, index + delta))]
        self.make_current(target, self.current.highlighted or 0)

    def action_choose(self) -> None:
        if self.selected_id:
            self.post_message(self.CardChosen(self.selected_id))

    def on_click(self, event: events.Click) -> None:
        """A click on a card makes its column current and opens it."""
        hit = self._column_at(event.x)
        if hit is None or event.y <= RULER:
            return
        column, width = hit
        what, index, _ = column.line_at(event.y - RULER - 1 + column.top, width)
        self.focus()
        if what != "card":
            self.make_current(column)
            return
        self.make_current(column, index)
        if column.selected_id:
            self.post_message(self.CardChosen(column.selected_id))

    # --- geometry -----------------------------------------------------------------------

    def _shown_count(self) -> int:
        return max(1, min(len(self.stage_columns), self.size.width // MIN_WIDTH))

    def _show_column(self, column: StageColumn) -> None:
        """Slide the window of columns so ``column`` is in it (narrow terminals)."""
        count = self._shown_count()
        index = self.stage_columns.index(column)
        first = self.first_shown
        if index < first:
            first = index
        elif index >= first + count:
            first = index - count + 1
        first = max(0, min(first, len(self.stage_columns) - count))
        if first != self.first_shown:
            self.first_shown = first
            self.refresh()

    def _columns_shown(self) -> list[tuple[StageColumn, int, int]]:
        """(column, x, outer width) of each column on screen."""
        count = self._shown_count()
        total = self.size.width
        base, extra = divmod(total, count)
        # The window is clamped here, on every use: the terminal may have grown since
        # the board slid right, and a window past the last column has nothing to show.
        first = max(0, min(self.first_shown, len(self.stage_columns) - count))
        out = []
        x = 0
        for offset in range(count):
            width = base + (1 if offset < extra else 0)
            out.append((self.stage_columns[first + offset], x, width))
            x += width
        return out

    def _inner_size(self, column: StageColumn) -> tuple[int, int]:
        """The card area of ``column``: width inside its border, height below the ruler."""
        height = max(0, self.size.height - RULER - 2)
        place = self._place_of(column)
        width = place[1] if place else self.size.width // self._shown_count()
        return max(1, width - 2), height

    def _place_of(self, column: StageColumn) -> tuple[int, int] | None:
        """(x, outer width) of ``column`` on screen; None while it is slid out of view."""
        return next(((x, w) for shown, x, w in self._columns_shown() if shown is column), None)

    def _column_at(self, x: int) -> tuple[StageColumn, int] | None:
        """The column at ``x`` and the width of its cards."""
        for column, left, width in self._columns_shown():
            if left <= x < left + width:
                return column, max(1, width - 2)
        return None

    def _reveal(self, column: StageColumn) -> None:
        if self.size.height:
            column.reveal(*self._inner_size(column))

    def lines_changed(self, column: StageColumn, spans: Iterable[tuple[int, int]]) -> None:
        """Repaint these lines of ``column``'s cards (first, after-last, in the column's
        own lines) where they are in view; the rest of the board keeps its drawn lines."""
        place = self._place_of(column)
        if place is None:
            column.painted += 1  # slid out of view: what it kept is stale when it slides back
            return
        x, width = place
        last = self.size.height - RULER - 1  # the bottom border's row
        for first, end in spans:
            top = max(first - column.top + 1, 1)  # row 0 is the top border
            bottom = min(end - column.top + 1, last)
            for row in range(top, bottom):
                self._drawn.pop((column.stage, RULER + row), None)
            if top < bottom:
                self.refresh(Region(x, RULER + top, width, bottom - top))

    def _refresh_column(self, column: StageColumn) -> None:
        """Repaint ``column``: what changes how a column looks comes through here."""
        column.painted += 1
        place = self._place_of(column)
        if place is not None:
            x, width = place
            self.refresh(Region(x, RULER, width, max(0, self.size.height - RULER)))

    # --- drawing ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y < RULER:
            return self._ruler_line(y, width)
        segments: list[Segment] = []
        board = (width, self.size.height, self.app.theme, self.has_focus)
        drawn = self._drawn
        for column, _, outer in self._columns_shown():
            key = (column.painted, outer, column is self.current, *board)
            kept = drawn.get((column.stage, y))
            if kept is None or kept[0] != key:
                kept = drawn[(column.stage, y)] = (key, self._column_line(column, y - RULER, outer))
            segments.extend(kept[1])
        return Strip(segments, width)

    _palette: tuple[str, dict[str, Style]] | None = None

    def _style(self, name: str) -> Style:
        """A style of the board's parts, made from the current theme's variables."""
        theme = self.app.theme
        if self._palette is None or self._palette[0] != theme:
            self._palette = (theme, board_palette(self.app.get_css_variables()))
        return self._palette[1][name]

    def _column_line(self, column: StageColumn, row: int, outer: int) -> list[Segment]:
        """Line ``row`` of a column box ``outer`` cells wide (border included)."""
        border = self._style("board--border")
        inner = max(1, outer - 2)
        last = self.size.height - RULER - 1
        if row == 0:
            return self._top_border(column, inner, border)
        if row >= last:
            return self._bottom_border(column, inner, border)
        what, index, offset = column.line_at(column.top + row - 1, inner)
        if what == "card":
            body = self._card_line(column, index, offset, inner)
        elif what == "divider":
            body = [Segment("─" * inner, self._style("board--divider"))]
        elif (
            row == 1 and column.stage is Stage.PLAN and column.total is None and not column.item_ids
        ):
            body = self._plan_hint(inner)
        else:
            body = [Segment(" " * inner, self._style("board--border"))]
        return [Segment("│", border), *body, Segment("│", border)]

    def _plan_hint(self, inner: int) -> list[Segment]:
        """An empty Plan says how to fill it: a board just made by ``shipdeck init`` was
        eight empty boxes, and nothing on it said how to begin. (Not under a filter:
        its bar says what it hides.)"""
        words = " n new item" if inner >= 11 else " n"
        key = self._style("board--title-current")
        muted = self._style("board--more")
        hint = [Segment(words[:2], key), Segment(words[2:], muted)]
        return Segment.adjust_line_length(hint, inner, self._style("board--border"))

    def _card_line(self, column: StageColumn, index: int, offset: int, inner: int) -> list[Segment]:
        item_id = column.item_ids[index]
        lines = column.card(item_id, inner)
        segments = lines[offset] if offset < len(lines) else []
        segments = Segment.adjust_line_length(segments, inner)  # exactly the column's width
        if column is self.current and index == column.highlighted:
            name = "board--cursor" if self.has_focus else "board--cursor-blurred"
            base = self._style(name)  # under the card's own colours, as OptionList does
            on_cursor = True
        else:
            base = self._style("base")
            on_cursor = False
        line = Segment.apply_style(segments, style=base)
        if on_cursor and base.bgcolor is not None:
            dark = self.app.current_theme.dark
            palette = self.app.ansi_theme_dark if dark else self.app.ansi_theme_light
            line = _legible(line, base, palette)
        if base.bgcolor is None:  # an ANSI theme: the terminal's own background
            # Textual dims a colour against the background's RGB, which a terminal
            # default does not have: under a modal screen, dim words crashed the app.
            return [Segment(t, s + _NOT_DIM if s and s.dim else s, c) for t, s, c in line]
        return list(line)

    def _top_border(self, column: StageColumn, inner: int, border: Style) -> list[Segment]:
        count = len(column.item_ids)
        title = column_title(column.stage, count, column.total, max(0, inner - 1))
        style = self._style("board--title-current" if column is self.current else "board--title")
        return [
            Segment("╭─", border),
            Segment(title, style),
            Segment("─" * max(0, inner - 1 - len(title)), border),
            Segment("╮", border),
        ]

    def _bottom_border(self, column: StageColumn, inner: int, border: Style) -> list[Segment]:
        """The box's bottom, saying how many cards are out of view below (or above)."""
        above, below = column.beyond(inner, max(0, self.size.height - RULER - 2))
        note = more_note(above, below, max(0, inner - 1))
        return [
            Segment("╰─", border),
            Segment(note, self._style("board--more")),
            Segment("─" * max(0, inner - 1 - len(note)), border),
            Segment("╯", border),
        ]

    def _ruler_line(self, y: int, width: int) -> Strip:
        """Row 0: Integration and Deployment; row 1: Delivery, over their columns."""
        shown = self._columns_shown()
        spans = [SPANS[1], SPANS[2]] if y == 0 else [SPANS[0]]
        classes = {
            SPANS[0].name: "board--span-cdel",
            SPANS[1].name: "board--span-ci",
            SPANS[2].name: "board--span-cdep",
        }
        # The gaps between spans are drawn in the board's own colours: with no style
        # (NO_COLOR's filter fails on None) or a null one, a terminal carried the last
        # span's background on to the end of the line.
        blank = self._style("base")
        segments: list[Segment] = []
        x = 0
        for span in spans:
            cells = [(left, w) for c, left, w in shown if c.stage in span.stages]
            if not cells:
                continue
            left = cells[0][0]
            right = cells[-1][0] + cells[-1][1]
            if left > x:
                segments.append(Segment(" " * (left - x), blank))
            label = span_label(span, {c.stage for c, _, _ in shown}, right - left)
            pad = right - left - len(label)
            style = self._style(classes[span.name])
            fill = Style(bgcolor=style.bgcolor)  # its own segment: SVG viewers keep it
            segments += [
                Segment(" " * (pad // 2), fill),
                Segment(label, style),
                Segment(" " * (pad - pad // 2), fill),
            ]
            x = right
        if x < width:
            segments.append(Segment(" " * (width - x), blank))
        return Strip(segments, width)


def span_label(span: Span, shown: set[Stage], room: int) -> str:
    """``◂ name ▸`` over a span's columns: an end that is slid out of view is ``…``,
    and a name cut to fit ends in ``…`` (it had been cut mid-word with nothing to
    say so, as "◂ Continuous Dep" over a lone Deploy column)."""
    head = "◂ " if span.first in shown else "… "
    tail = " ▸" if span.last in shown else " …"
    label = f"{head}{span.name}{tail}"
    if len(label) <= room:
        return label
    return (head + span.name)[: max(0, room - 1)] + "…" if room > 0 else ""


def board_palette(variables: dict[str, str]) -> dict[str, Style]:
    """The board's styles from a theme's CSS variables (``$surface``, ``$accent``...),
    blended over the board's background the way Textual blends them.

    Values may carry an alpha (``auto 60%``, ``ansi_default 50%``), and the ANSI
    themes use terminal colours and a ``transparent`` surface: a transparent colour
    becomes no colour at all (the terminal's own), never black."""
    surface = _parse(variables["surface"], Color(0, 0, 0, 0))

    def colour(name: str, under: Color = surface) -> Color:
        return under + _parse(variables.get(name) or "magenta", under)

    def rich(value: Color) -> RichColor | None:
        return value.rich_color if value.ansi is not None or value.a > 0 else None

    def style(fg: Color, bg: Color = surface, bold: bool = False) -> Style:
        return Style(color=rich(fg), bgcolor=rich(bg), bold=bold)

    foreground = colour("foreground")
    cursor_bg = colour("block-cursor-background")
    blurred_bg = colour("block-cursor-blurred-background")

    def faint(alpha: float, fallback: str) -> Color:
        """The foreground thinned over the surface: lines that show on a dark and a light
        theme alike (``$panel-lighten-2`` is near white on a light one). A terminal
        colour cannot be thinned: the theme's own ``fallback`` then."""
        if foreground.ansi is not None or surface.ansi is not None:
            return colour(fallback)
        return surface + foreground.with_alpha(alpha)

    out = {
        "base": style(foreground),
        "board--border": style(faint(0.22, "panel-lighten-2")),
        "board--title": style(colour("text-muted"), bold=True),
        "board--title-current": style(colour("accent"), bold=True),
        "board--divider": style(faint(0.12, "panel-lighten-1")),
        "board--more": style(colour("text-muted")),
        "board--cursor": style(colour("block-cursor-foreground", cursor_bg), cursor_bg, True),
        "board--cursor-blurred": style(foreground, blurred_bg),
    }
    for span, name in (("ci", "accent"), ("cdel", "success"), ("cdep", "warning")):
        hue = _parse(variables.get(name) or "magenta", surface)
        # A terminal colour cannot be tinted: the label keeps the board's background.
        tint = surface if hue.ansi is not None else surface + hue.with_alpha(0.15)
        out[f"board--span-{span}"] = style(hue, tint, bold=True)
    return out


def _legible(line: Iterable[Segment], base: Style, palette: TerminalTheme) -> list[Segment]:
    """The cursor card's words in the cursor's foreground where their own colour
    would not show on its background (a blue kind word on a light theme's navy cursor).
    A reversed word (a failed card's id badge) is its own background: kept.
    ``palette`` is the ANSI theme Textual turns terminal colours (``cyan``) into."""
    assert base.bgcolor is not None
    out: list[Segment] = []
    for text, style, control in line:
        colour = style.color if style is not None else None
        if (
            colour is not None
            and colour != base.color
            and _too_close(colour, base.bgcolor, palette)
        ):
            style = style + Style(color=base.color)  # type: ignore[operator]
        out.append(Segment(text, style, control))
    return out


@lru_cache(maxsize=256)
def _too_close(colour: RichColor, background: RichColor, palette: TerminalTheme) -> bool:
    """Less than a quarter of the brightness range apart: hard to read."""
    fg = Color.from_rich_color(RichColor.from_triplet(colour.get_truecolor(palette)))
    bg = Color.from_rich_color(RichColor.from_triplet(background.get_truecolor(palette, False)))
    return abs(fg.brightness - bg.brightness) < 0.25


def _parse(value: str, under: Color) -> Color:
    """A CSS variable's colour: ``#hex``, a name, ``ansi_*``, ``auto`` (contrasting
    text over ``under``), each optionally followed by an alpha percentage."""
    name, _, alpha_text = value.strip().partition(" ")
    alpha = float(alpha_text.strip().rstrip("%")) / 100 if alpha_text.strip() else 1.0
    if name == "auto":
        return under.get_contrast_text(alpha)
    parsed = Color.parse(name)
    return parsed if parsed.ansi is not None else parsed.multiply_alpha(alpha)


__all__ = ["ORDER", "BoardColumns", "StageColumn"]
