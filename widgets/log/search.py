"""Search and filter for ``LogView``: ``/`` highlights and n/N jump, ``&`` filters.

Patterns are regexes with smart case (a capital letter makes one case-sensitive); a
pattern that is not a valid regex is searched literally and the note says so. The
indexes live in ``LogModel`` and grow with the log, a time budget at a time.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.cells import cell_len

from shipdeck.widgets.log import ansi
from shipdeck.widgets.log.model import LogModel, compile_pattern
from shipdeck.widgets.log.paint import LinePainter

TOGGLE_BUDGET = 0.25  # seconds of index work right after the user asked for a new view


class LogSearch:
    """A log view's search and filter over its model: the patterns as typed, the
    note, the current hit. The view owns one and does the scrolling and messages."""

    def __init__(self, model: LogModel, painter: LinePainter) -> None:
        self.model = model
        self.painter = painter
        self.text = ""  # the search as typed ("" none)
        self.filter_text = ""  # the filter as typed ("" none)
        self.note = ""  # why the last pattern was searched literally, if it was
        self.current: int | None = None  # the current hit (n/N), drawn apart

    def search(
        self, pattern: str, width_of: Callable[[str], int], budget: float = TOGGLE_BUDGET
    ) -> int:
        """Search ``pattern`` (regex, smart case; "" clears), no hit current yet;
        returns how many lines in memory match so far (``budget`` seconds of looking)."""
        self.text = pattern
        rx, note = compile_pattern(pattern) if pattern else (None, None)
        self.note = note or ""
        self.model.set_search(rx)
        self.model.catch_up(budget, width_of)
        self.painter.forget()
        self.current = None
        return len(self.model.search.seqs) if self.model.search else 0

    def filter(self, pattern: str) -> None:
        """Keep only lines ``pattern`` matches (markers stay); "" keeps every line.
        The model's rows are then re-wrapped and indexed by the view."""
        self.filter_text = pattern
        rx, note = compile_pattern(pattern) if pattern else (None, None)
        self.note = note or ""
        self.model.set_filter(rx)

    @property
    def filter_matches(self) -> int:
        return len(self.model.filter.seqs) if self.model.filter else 0

    def step(self, start: int, backwards: bool) -> int | None:
        """Make the next hit from line ``start`` current (both hits repainted); None:
        there is none."""
        seq = self.model.next_match(start, backwards=backwards)
        if seq is None:
            return None
        self.make_current(seq)
        return seq

    def make_current(self, seq: int) -> None:
        """Line ``seq`` is the current hit (it and the one before are repainted)."""
        if self.current is not None:
            self.painter.forget(self.current)
        self.painter.forget(seq)
        self.current = seq

    def column_of(self, seq: int) -> int | None:
        """The cell the first hit in line ``seq`` starts at, as drawn; None: no hit."""
        if not self.model.search:
            return None
        text = ansi.plain(self.model.text(seq), max_chars=self.painter.max_line_chars)
        found = self.model.search.pattern.search(text)
        return None if found is None else cell_len(text[: found.start()])
