"""Search and filter for ``LogView``: ``/`` highlights and n/N jump, ``&`` filters.

Patterns are regexes with smart case (a capital letter makes one case-sensitive); a
pattern that is not a valid regex is searched literally and the note says so. The
indexes live in ``LogModel`` and grow with the log, a time budget at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.cells import cell_len

from widgets.log import ansi
from widgets.log.model import compile_pattern

if TYPE_CHECKING:
    from textual.geometry import Region

    from widgets.log.model import LogModel
    from widgets.log.paint import LinePainter

TOGGLE_BUDGET = 0.25  # seconds of index work right after the user asked for a new view


class LogSearch:
    """The search and filter half of ``LogView``: a mixin over the view's own state."""

    if TYPE_CHECKING:
        model: LogModel
        painter: LinePainter
        following: bool
        wrap: bool
        scroll_x: float
        scroll_y: float
        scrollable_content_region: Region
        _note: str
        _search_text: str
        _filter_text: str
        _current_match: int | None
        SearchChanged: Any
        FilterChanged: Any

        def post_message(self, message: Any) -> bool: ...
        def refresh(self, *args: Any, **kwargs: Any) -> Any: ...
        def _anchor(self) -> tuple[int, int] | None: ...
        def _sync_view(self, anchor: tuple[int, int] | None) -> None: ...
        def _scroll(self, x: float | None = None, y: float | None = None) -> None: ...
        def _rewrap(self) -> None: ...
        def _ensure_ticking(self) -> None: ...
        def _width_of(self, text: str) -> int: ...
        def _prefix_width(self) -> int: ...

    def search(self, pattern: str) -> int:
        """Highlight ``pattern`` (regex, smart case; "" clears), go to the latest match."""
        self._search_text = pattern
        rx, note = compile_pattern(pattern) if pattern else (None, None)
        self._note = note or ""
        self.model.set_search(rx)
        self.model.catch_up(TOGGLE_BUDGET, self._width_of)
        self._ensure_ticking()
        self.painter.forget()
        self._current_match = None
        matches = len(self.model.search.seqs) if self.model.search else 0
        if matches:
            below = self.model.locate(round(self.scroll_y) + self.scrollable_content_region.height)
            self._go_to_match(backwards=True, start=below[0] if below else self.model.end)
        self.post_message(self.SearchChanged(self, pattern, matches, self._note))
        self._sync_view(self._anchor())
        return matches

    def set_filter(self, pattern: str) -> int:
        """Show only lines ``pattern`` matches (markers stay); "" shows every line."""
        self._filter_text = pattern
        rx, note = compile_pattern(pattern) if pattern else (None, None)
        self._note = note or ""
        anchor = self._anchor()
        self.model.set_filter(rx)
        self._rewrap()
        self.model.catch_up(TOGGLE_BUDGET, self._width_of)
        self._ensure_ticking()
        matches = len(self.model.filter.seqs) if self.model.filter else 0
        self.post_message(self.FilterChanged(self, pattern, matches, self._note))
        self._sync_view(anchor)
        return matches

    def action_next_match(self) -> None:
        self._go_to_match(backwards=False)

    def action_previous_match(self) -> None:
        self._go_to_match(backwards=True)

    def _go_to_match(self, backwards: bool, start: int | None = None) -> None:
        if start is None:
            if self._current_match is not None:
                start = self._current_match
            else:
                top = self.model.locate(round(self.scroll_y))
                start = (top[0] - (0 if backwards else 1)) if top else self.model.end
        seq = self.model.next_match(start, backwards=backwards)
        if seq is None:
            return
        if self._current_match is not None:
            self.painter.forget(self._current_match)
        self.painter.forget(seq)
        self._current_match = seq
        row = self.model.row_of(seq)
        height = self.scrollable_content_region.height
        if not round(self.scroll_y) <= row < round(self.scroll_y) + height:
            self.following = False
            self._scroll(y=max(0, row - height // 3))
        self._scroll_to_column(seq)
        self.refresh()

    def _scroll_to_column(self, seq: int) -> None:
        """Without wrap, scroll sideways so the match is on screen."""
        if self.wrap or not self.model.search:
            return
        text = ansi.plain(self.model.text(seq), max_chars=self.painter.max_line_chars)
        found = self.model.search.pattern.search(text)
        if found is None:
            return
        column = cell_len(text[: found.start()])
        visible = self.scrollable_content_region.width - self._prefix_width()
        if not self.scroll_x <= column < self.scroll_x + visible - 1:
            self._scroll(x=max(0, column - visible // 4))
