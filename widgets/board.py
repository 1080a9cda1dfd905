"""The board's columns (one per stage) and the continuous-span ruler above them.

A column is an :class:`OptionList` of cards: it renders only what is visible
(the Line API), keeps its own highlight, and scales to thousands of cards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.strip import Strip
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from lifecycle.items import Item
from lifecycle.stages import ORDER, SPANS, Stage
from widgets.present_board import card_text, column_title


class StageColumn(OptionList, can_focus=False):
    """The cards of one stage. The :class:`BoardColumns` around it owns focus and keys."""

    BINDINGS = []

    COMPONENT_CLASSES = {"stage-column--cursor", "stage-column--cursor-blurred"}

    DEFAULT_CSS = """
    StageColumn {
        width: 1fr;
        min-width: 14;
        height: 1fr;
        max-height: 100%;
        padding: 0;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        border-title-style: bold;
        scrollbar-size-vertical: 1;
        scrollbar-gutter: stable;  /* cards are laid out once, at their final width */
    }
    /* The highlight of every column is drawn as a plain card; the cursor's column
       draws its highlighted card with one of these (see ``render_line``). */
    StageColumn > .option-list--option-highlighted {
        background: transparent;
        color: $foreground;
        text-style: none;
    }
    StageColumn > .stage-column--cursor-blurred {
        background: $block-cursor-blurred-background;
    }
    StageColumn > .stage-column--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    StageColumn > .option-list--option { padding: 0 0 0 0; }
    """

    class CardHighlighted(Message):
        def __init__(self, column: StageColumn, item_id: str | None) -> None:
            super().__init__()
            self.column = column
            self.item_id = item_id

    class CardChosen(Message):
        def __init__(self, column: StageColumn, item_id: str) -> None:
            super().__init__()
            self.column = column
            self.item_id = item_id

    def __init__(self, stage: Stage) -> None:
        super().__init__(id=f"col-{stage.value}", classes="stage-column")
        self.stage = stage
        self._ids: list[str] = []
        self._cards: dict[str, Item] = {}
        self._cursor = ""  # "", or the component class the highlighted card is drawn with
        self._built_width = 0  # the width the cards were cut to
        self._frame = 0
        self.border_title = column_title(stage, 0)

    @property
    def item_ids(self) -> Sequence[str]:
        return self._ids

    @property
    def selected_id(self) -> str | None:
        if self.highlighted is None or not self._ids:
            return None
        return self._ids[min(self.highlighted, len(self._ids) - 1)]

    def _width(self) -> int:
        """The cards' width: the column's, or a guess before the first layout."""
        return self.scrollable_content_region.width or 12

    def on_resize(self) -> None:
        """Cards are cut to the column's width: cut them again when it changes."""
        if self._ids and self._width() != self._built_width:
            items = [self._cards[i] for i in self._ids]
            self._ids = []
            self.set_items(items, self._frame)

    def set_items(self, items: Iterable[Item], frame: int = 0) -> None:
        """Show exactly ``items``; cards that did not change are not re-rendered."""
        items = list(items)
        ids = [i.id for i in items]
        keep = self.selected_id
        if ids == self._ids:
            for index, item in enumerate(items):
                if self._cards.get(item.id) != item or item.running:
                    self.replace_option_prompt_at_index(index, self._render(item, frame))
                self._cards[item.id] = item
            return
        width = self._built_width = self._width()
        self._frame = frame
        options: list[Option | None] = []
        for i in items:
            options += [Option(card_text(i, frame=frame, width=width), id=i.id), None]
        self.set_options(options[:-1])
        self._ids = ids
        self._cards = {i.id: i for i in items}
        self._show_title()
        if keep in ids:
            self.highlighted = ids.index(keep)
        elif ids:
            self.highlighted = min(self.highlighted or 0, len(ids) - 1)

    def show_cursor(self, current: bool, focused: bool) -> None:
        """Draw the cursor here or not, without a CSS class change.

        A class change restyles the column and its scrollbars and can re-lay out the
        screen; this repaints the highlighted card's lines and the title only.
        """
        cursor = (
            ("stage-column--cursor" if focused else "stage-column--cursor-blurred")
            if current
            else ""
        )
        if cursor == self._cursor:
            return
        title_changes = bool(cursor) != bool(self._cursor)
        self._cursor = cursor
        if title_changes:
            self._show_title()  # repaints the whole column
        elif self.highlighted is not None and self.is_mounted:
            self._update_lines()
            line = self._index_to_line.get(self.highlighted)
            if line is not None:
                height = self._heights[self.highlighted]
                self.refresh_lines(line - self.scroll_offset.y, height)

    def _show_title(self) -> None:
        title = column_title(self.stage, len(self._ids))
        self.border_title = f"[$accent]{title}[/]" if self._cursor else title

    def render_line(self, y: int) -> Strip:
        cursor = self._cursor
        highlighted = self.highlighted
        if cursor and highlighted is not None:
            try:
                index, offset = self._lines[self.scroll_offset.y + y]
            except IndexError:
                index = -1
            if index == highlighted:
                style = self.get_visual_style("option-list--option", cursor)
                strips = self._get_option_render(self.options[index], style)
                if offset < len(strips):
                    return strips[offset]
        return super().render_line(y)

    def _render(self, item: Item, frame: int) -> object:
        return card_text(item, frame=frame, width=self._width())

    def tick(self, frame: int) -> None:
        """Advance the spinner of running cards only."""
        for index, item_id in enumerate(self._ids):
            item = self._cards[item_id]
            if item.running:
                self.replace_option_prompt_at_index(index, self._render(item, frame))

    def select_id(self, item_id: str) -> bool:
        if item_id in self._ids:
            self.highlighted = self._ids.index(item_id)
            return True
        return False

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.post_message(self.CardHighlighted(self, event.option.id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()  # a click: the board makes this column current and opens the card
        if event.option.id:
            self.post_message(self.CardChosen(self, event.option.id))


class BoardColumns(Horizontal, can_focus=True):
    """The eight columns as one focusable widget.

    Moving between columns moves where the cursor is drawn, not focus nor a CSS
    class: in Textual a focus change restyles every ancestor (``:focus-within``)
    and a class change restyles the column and its scrollbars, and either can
    re-lay out the screen, which made each column move cost a full repaint.
    """

    BINDINGS = [
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("home", "edge(0)", "First card", show=False),
        Binding("end", "edge(-1)", "Last card", show=False),
        Binding("left,h", "column(-1)", "Column left", show=False),
        Binding("right,l", "column(1)", "Column right", show=False),
        Binding("enter", "choose", "Details", show=False),
    ]

    DEFAULT_CSS = """
    BoardColumns { height: 1fr; }
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
        super().__init__(*columns, **kwargs)  # type: ignore[arg-type]
        self.stage_columns = list(columns)
        self.current = self.stage_columns[0]
        self.current.show_cursor(True, focused=False)

    @property
    def selected_id(self) -> str | None:
        return self.current.selected_id

    def make_current(self, column: StageColumn, row: int | None = None) -> None:
        if column is not self.current:
            self.current.show_cursor(False, focused=False)
            column.show_cursor(True, focused=self.has_focus)
            self.current = column
        if row is not None and column.item_ids:
            column.highlighted = max(0, min(row, len(column.item_ids) - 1))
        self.post_message(self.CardHighlighted(column.selected_id))

    def select(self, item_id: str) -> bool:
        for column in self.stage_columns:
            if item_id in column.item_ids:
                self.make_current(column, column.item_ids.index(item_id))
                return True
        return False

    def on_focus(self) -> None:
        self.current.show_cursor(True, focused=True)

    def on_blur(self) -> None:
        self.current.show_cursor(True, focused=False)

    def action_cursor(self, delta: int) -> None:
        if delta > 0:
            self.current.action_cursor_down()
        else:
            self.current.action_cursor_up()

    def action_page(self, delta: int) -> None:
        if delta > 0:
            self.current.action_page_down()
        else:
            self.current.action_page_up()

    def action_edge(self, end: int) -> None:
        if end:
            self.current.action_last()
        else:
            self.current.action_first()

    def action_column(self, delta: int) -> None:
        index = self.stage_columns.index(self.current)
        target = self.stage_columns[max(0, min(len(self.stage_columns) - 1, index + delta))]
        self.make_current(target, self.current.highlighted or 0)
        # Scroll sideways only when the board is wider than the screen (a scroll re-lays out).
        area = self.parent.parent if self.parent is not None else None  # #board-inner's area
        if area is not None and not area.region.contains_region(target.region):
            target.scroll_visible(animate=False)

    def action_choose(self) -> None:
        if self.selected_id:
            self.post_message(self.CardChosen(self.selected_id))

    def on_stage_column_card_highlighted(self, event: StageColumn.CardHighlighted) -> None:
        event.stop()
        if event.column is self.current:  # others are refilled in the background
            self.post_message(self.CardHighlighted(event.item_id))

    def on_stage_column_card_chosen(self, event: StageColumn.CardChosen) -> None:
        event.stop()  # a mouse click on a card
        self.make_current(event.column)
        self.focus()
        self.post_message(self.CardChosen(event.item_id))


class SpanRuler(Static):
    """The three continuous practices drawn over the columns they span."""

    DEFAULT_CSS = """
    SpanRuler { height: 2; width: 100%; layout: vertical; }
    SpanRuler Horizontal { height: 1; }
    SpanRuler .span { height: 1; content-align: center middle; text-style: bold; }
    SpanRuler .span-ci { color: $accent; background: $accent 15%; }
    SpanRuler .span-cdel { color: $success; background: $success 15%; }
    SpanRuler .span-cdep { color: $warning; background: $warning 15%; }
    SpanRuler .gap { height: 1; }
    """

    def compose(self) -> ComposeResult:
        n = len(ORDER)
        ci, cdel, cdep = SPANS[1], SPANS[0], SPANS[2]
        with Horizontal():
            yield _span(ci.name, len(ci.stages), "span-ci")
            yield _gap(cdep.first.position - len(ci.stages))
            yield _span(cdep.name, len(cdep.stages), "span-cdep")
        with Horizontal():
            yield _span(cdel.name, len(cdel.stages), "span-cdel")
            yield _gap(n - len(cdel.stages))


def _span(name: str, columns: int, cls: str) -> Static:
    s = Static(f"◂ {name} ▸", classes=f"span {cls}")
    s.styles.width = f"{columns}fr"
    return s


def _gap(columns: int) -> Static:
    s = Static("", classes="gap")
    s.styles.width = f"{max(columns, 0)}fr" if columns else 0
    return s
