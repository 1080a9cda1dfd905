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
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from lifecycle.items import Item
from lifecycle.stages import ORDER, SPANS, Stage
from widgets.present_board import card_text, column_title


class StageColumn(OptionList):
    """The cards of one stage. Enter posts :class:`StageColumn.CardChosen`."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

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
    }
    /* The same border focused or not: a border change re-lays out the whole screen. */
    StageColumn:focus { border: round $panel-lighten-2; border-title-color: $accent; }
    /* Only the column the cursor is in shows its highlight; dimmed while a pane has focus. */
    StageColumn > .option-list--option-highlighted {
        background: transparent;
        color: $foreground;
        text-style: none;
    }
    StageColumn.-current > .option-list--option-highlighted {
        background: $block-cursor-blurred-background;
    }
    StageColumn:focus > .option-list--option-highlighted {
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
        return max(12, self.scrollable_content_region.width)

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
        width = self._width()
        options: list[Option | None] = []
        for i in items:
            options += [Option(card_text(i, frame=frame, width=width), id=i.id), None]
        self.set_options(options[:-1])
        self._ids = ids
        self._cards = {i.id: i for i in items}
        self.border_title = column_title(self.stage, len(ids))
        if keep in ids:
            self.highlighted = ids.index(keep)
        elif ids:
            self.highlighted = min(self.highlighted or 0, len(ids) - 1)

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
        event.stop()
        if event.option.id:
            self.post_message(self.CardChosen(self, event.option.id))

    def on_focus(self) -> None:
        self.post_message(self.CardHighlighted(self, self.selected_id))


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
