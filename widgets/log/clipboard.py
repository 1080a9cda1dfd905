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

from shipdeck.widgets.log import ansi
from shipdeck.widgets.log.lines import MARKER
from shipdeck.widgets.log.model import LogModel

COPY_BUDGET = 5.0  # seconds the search index may take to catch up before Y copies


class LineCursor:
    """A log view's line cursor and selection, as sequence numbers over its model.
    The view owns one; its actions move it and do the scrolling."""

    def __init__(self, model: LogModel) -> None:
        self.model = model
        self.at: int | None = None  # the line under the cursor (j/k, V, y)
        self.mark: int | None = None  # where a selection (V) started

    def drop(self) -> None:
        self.at = self.mark = None

    def start(self, top: int, height: int, hit: int | None) -> int | None:
        """Where a new cursor goes on rows ``top`` to ``top + height``: the search hit
        ``hit`` if on screen, else the last line on screen."""
        model = self.model
        if hit is not None and model.in_view(hit):
            first, last = model.span(hit)
            if first < top + height and last >= top:
                return hit
        found = model.locate(top + height - 1) or model.locate(model.rows - 1)
        return found[0] if found else None

    def mark_of(self, seq: int) -> str | None:
        """How line ``seq`` is drawn: ``"cursor"``, ``"selection"`` or None."""
        if self.at is None:
            return None
        if seq == self.at:
            return "cursor"
        if self.mark is not None and min(self.mark, self.at) <= seq <= max(self.mark, self.at):
            return "selection"
        return None

    def selected(self, top: int, height: int, hit: int | None) -> list[int]:
        """The lines ``y`` copies (see the module's docstring)."""
        model = self.model
        if self.at is not None and self.mark is not None:
            low, high = sorted((self.at, self.mark))
            return model.shown_between(low, high)
        for seq in (self.at, hit):
            if seq is not None:
                near = model.nearest(seq)
                return [] if near is None else [near]
        start = self.start(top, height, hit)
        return [] if start is None else [start]


def plain_line(model: LogModel, seq: int, max_chars: int) -> str:
    """Line ``seq`` as copied: its visible text, no styles, no escapes."""
    text = model.text(seq)
    if model.kind(seq) == MARKER:
        return f"── {ansi.plain(text, max_chars=200)} ──"
    return ansi.plain(text, max_chars=max_chars)
