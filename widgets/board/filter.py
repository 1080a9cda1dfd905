"""The board's ``/`` filter (k9s' habit): what a query matches, and the one-line prompt.

A query is words, all of which a card must match, case-insensitively: a plain word
anywhere in "SD-12 title kind state stage version env", ``kind:bug``,
``state:failed``, ``stage:test``, ``env:prod`` or ``version:1.2`` in that field
only (a prefix of it: ``state:fail``). A whole id (``SD-2``) is that card, not
SD-20 to SD-29 as well. The prompt looks like the log pane's ``/`` and ``&``
prompts and stays on screen while a filter is on, saying how to clear it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar, NamedTuple

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static

from shipdeck.lifecycle.board_index import CardFields
from shipdeck.lifecycle.items import Item
from shipdeck.lifecycle.stages import Stage
from shipdeck.widgets.prompt import PromptInput

_ID = re.compile(r"sd-\d+")
FIELDS = ("kind", "state", "stage", "env", "version", "id")


class CardWords(NamedTuple):
    """A card's words as the filter reads them, lowered once per board version: each
    key typed tests every card, and lowering them anew cost ~65 ms a key at 20,000.
    A tuple, not a frozen dataclass: 20,000 are made at a filter's first key."""

    id: str
    title: str
    text: str  # what a plain word is looked for in
    kind: str  # the fields a ``field:value`` word looks in, by name (FIELDS)
    state: str
    stage: str
    env: str
    version: str


CardFilter = Callable[[CardWords], bool]
_STAGE_WORDS = {s: f"{s.value} {s.label.lower()}" for s in Stage}  # "release release"


def words_of(card: CardFields) -> CardWords:
    """A card's words from the index's columns (``CardBook.fields``): no item built."""
    card_id, title = card.id.lower(), card.title.lower()
    kind, state, stage = card.kind, card.state, _STAGE_WORDS[card.stage]
    env, version = (card.env or "").lower(), (card.version or "").lower()
    text = " ".join(w for w in (card_id, title, kind, state, stage, version, env) if w)
    return CardWords(card_id, title, text, kind, state, stage, env, version)


def card_words(item: Item) -> CardWords:
    return words_of(CardFields.of(item))


def _word_test(word: str) -> CardFilter:
    field, colon, value = word.partition(":")
    if colon and field in FIELDS and value:
        return lambda card: any(v.startswith(value) for v in getattr(card, field).split())
    if _ID.fullmatch(word):
        return lambda card: card.id == word or word in card.title
    return lambda card: word in card.text


def card_filter(query: str) -> CardFilter | None:
    """The predicate ``query`` means, over :func:`card_words`; None for a blank query."""
    tests = [_word_test(w) for w in query.lower().split()]
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    return lambda card: all(test(card) for test in tests)


class BoardFilter(Horizontal):
    """The ``/`` prompt under the board and, while a filter is on, how many cards it
    shows and how to clear it. Says what happens as typed, kept (Enter) or cleared
    (Escape); the board screen does the filtering."""

    # Priority: the App reads them before handing on the keys behind them, so focus is
    # back on the board by then ("/fix", Enter, j typed fast: j moves the cursor).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "keep", "Keep the filter", show=False, priority=True),
        Binding("escape", "clear", "Clear the filter", show=False, priority=True),
    ]
    _return_to: Widget | None = None  # what had the keys when the prompt opened

    class Typed(Message):
        """The query was edited: the board narrows to it as it is typed."""

        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    class Kept(Message):
        """Enter: the filter stays on, the board takes the keys again."""

        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    class Cleared(Message):
        """Escape: the filter is off, every card shows again."""

    def compose(self) -> ComposeResult:
        yield Static("/", id="board-filter-slash")
        yield PromptInput(
            id="board-filter-input", placeholder="filter: words, kind:bug, state:failed"
        )
        yield Static("", id="board-filter-note")

    @property
    def input(self) -> Input:
        return self.query_one("#board-filter-input", Input)

    @property
    def value(self) -> str:
        return self.input.value

    def open(self, query: str) -> None:
        """Show the prompt holding ``query``, the cursor at its end, and take the keys."""
        self.add_class("-on")
        prompt = self.input
        if prompt.value != query:
            prompt.value = query
        prompt.cursor_position = len(query)
        focused = self.screen.focused
        if focused is not None and focused is not prompt:
            self._return_to = focused
        # At once, not after the keys already queued (``focus()`` waits its turn):
        # "/bug" typed fast goes into the prompt, not to the board's b, u and g.
        self.screen.set_focus(prompt)

    def _give_the_keys_back(self) -> None:
        """Focus back where it was, at once: Textual hands each key to whatever has focus
        when it reads the key, and the board screen's answer to Kept or Cleared comes
        after the keys typed behind Enter or Escape, which went into the prompt."""
        back = self._return_to
        if back is not None and back.is_attached and self.screen.focused is self.input:
            self.screen.set_focus(back)

    def say(self, shown: int, total: int, *, on: bool, typing: bool) -> None:
        """What the filter shows, and the keys that keep or clear it."""
        if not on:
            note = f"{total} cards · esc closes"
        else:
            keys = "enter keeps · esc clears" if typing else "/ edits · esc clears"
            note = f"filter on: {shown} of {total} cards · {keys}"
        self.query_one("#board-filter-note", Static).update(note)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Typed(event.value))

    def action_keep(self) -> None:
        self._give_the_keys_back()
        self.post_message(self.Kept(self.value))

    def action_clear(self) -> None:
        self._give_the_keys_back()
        self.post_message(self.Cleared())
