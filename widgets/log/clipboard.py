"""A line cursor, a line selection and copying for ``LogView``, as lazygit/vim do it.

- ``j``/``k`` put a cursor on the last line on screen (or the current search hit),
  then move it a line at a time; with a cursor, the arrows move it too (without
  one they scroll). Placing or moving the cursor pauses following (``f`` or
  ``end`` resumes, the cursor stays); ``escape`` drops the cursor.
- ``V`` starts a selection at the cursor (placing the cursor first if there is
  none); moving the cursor extends it; ``V`` again ends it.
- ``y`` copies the selection, or without one the line under the cursor, or the
  current search hit, or else the last line on screen; the selection then ends.
- ``Y`` copies every search hit the view shows (those the filter keeps).

Copies go through ``App.copy_to_clipboard`` (OSC 52 to the terminal) as plain text:
no colours, controls shown as on screen (``\\x1b``), a line longer than the pane's cap
cut there with its note, a release marker as ``── label ──``, one line per line
(the original text, also when JSON lines are pretty-printed), no timestamps.
A notice says how many lines went.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from widgets.log import ansi
from widgets.log.lines import MARKER

if TYPE_CHECKING:
    from textual.app import App
    from textual.geometry import Region

    from widgets.log.model import LogModel
    from widgets.log.paint import LinePainter

COPY_BUDGET = 5.0  # seconds the search index may take to catch up before Y copies


class LogCopy:
    """The cursor and copy half of ``LogView``: a mixin over the view's own state."""

    if TYPE_CHECKING:
        model: LogModel
        painter: LinePainter
        following: bool
        scroll_y: float
        scrollable_content_region: Region
        _current_match: int | None
        _cursor: int | None
        _mark: int | None

        app: App[Any]

        def refresh(self, *args: Any, **kwargs: Any) -> Any: ...
        def notify(self, message: str, **kwargs: Any) -> None: ...
        def _scroll(self, x: float | None = None, y: float | None = None) -> None: ...
        def _width_of(self, text: str) -> int: ...
        def action_scroll_down(self) -> None: ...
        def action_scroll_up(self) -> None: ...

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "drop_cursor":
            return self._cursor is not None  # otherwise escape goes on (back to the board)
        return True

    # --- the cursor and the selection -------------------------------------------------

    def _cursor_start(self) -> int | None:
        """Where a new cursor goes: the current search hit if on screen, else the last
        line on screen."""
        top = round(self.scroll_y)
        height = self.scrollable_content_region.height
        hit = self._current_match
        if hit is not None and self.model.in_view(hit):
            first, last = self.model.span(hit)
            if first < top + height and last >= top:
                return hit
        found = self.model.locate(top + height - 1) or self.model.locate(self.model.rows - 1)
        return found[0] if found else None

    def action_cursor(self, delta: int, scroll: bool = False) -> None:
        """Move the cursor ``delta`` lines (placing it first); ``scroll``: the arrows,
        which scroll when there is no cursor."""
        if self._cursor is None:
            if scroll:
                (self.action_scroll_down if delta > 0 else self.action_scroll_up)()
                return
            self._cursor = self._cursor_start()
        else:
            self._cursor = self.model.step(self._cursor, delta)
        self._show_cursor()

    def action_select(self) -> None:
        if self._mark is not None:
            self._mark = None
            self.refresh()
            return
        if self._cursor is None:
            self._cursor = self._cursor_start()
        self._mark = self._cursor
        self._show_cursor()

    def action_drop_cursor(self) -> None:
        self._cursor = self._mark = None
        self.refresh()

    def _show_cursor(self) -> None:
        """Pause following and scroll so the cursor's line is on screen."""
        if self._cursor is None:
            return
        self.following = False
        first, last = self.model.span(self._cursor)
        top = round(self.scroll_y)
        height = self.scrollable_content_region.height
        if first < top:
            self._scroll(y=first)
        elif last >= top + height:
            self._scroll(y=min(first, last - height + 1))
        self.refresh()

    # --- copying ------------------------------------------------------------------------

    def selected(self) -> list[int]:
        """The lines ``y`` copies (sequence numbers), see the module's docstring."""
        model = self.model
        if self._cursor is not None and self._mark is not None:
            low, high = sorted((self._cursor, self._mark))
            return model.shown_between(low, high)
        for seq in (self._cursor, self._current_match):
            if seq is not None:
                near = model.nearest(seq)
                return [] if near is None else [near]
        start = self._cursor_start()
        return [] if start is None else [start]

    def action_copy(self) -> None:
        seqs = self.selected()
        if self._mark is not None:
            self._mark = None
            self.refresh()
        self.copy_lines(seqs)

    def action_copy_hits(self) -> None:
        if not self.model.search:
            self.notify("Nothing to copy: no search (/ searches)", severity="warning")
            return
        self.model.catch_up(COPY_BUDGET, self._width_of)
        seqs = self.model.hits_shown()
        if not seqs:
            self.notify("Nothing to copy: the search found no lines", severity="warning")
            return
        self.copy_lines(seqs)

    def copy_lines(self, seqs: list[int]) -> str:
        """Put lines ``seqs`` on the clipboard as plain text; returns the text."""
        model = self.model
        texts = [self.plain_line(seq) for seq in seqs if model.first <= seq < model.end]
        if not texts:
            self.notify("Nothing to copy", severity="warning")
            return ""
        text = "\n".join(texts)
        self.app.copy_to_clipboard(text)
        self.notify(f"copied {len(texts):,} line{'' if len(texts) == 1 else 's'}")
        return text

    def plain_line(self, seq: int) -> str:
        """Line ``seq`` as copied: its visible text, no styles, no escapes."""
        text = self.model.text(seq)
        if self.model.kind(seq) == MARKER:
            return f"── {ansi.plain(text, max_chars=200)} ──"
        return ansi.plain(text, max_chars=self.painter.max_line_chars)
