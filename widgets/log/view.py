"""The log pane's view: a Line-API widget over a bounded ring, the full log on disk.

Not ``RichLog``: that renders every line as it arrives and keeps them all. Here
``write_lines`` only queues a batch (cheap, from any thread); at most once a frame
the queue is folded into the ring (``LogModel``) and the view refreshed once, and a
line is styled only when it scrolls into view (``LinePainter``). Saving copies the
on-disk log, so the whole run is saved though memory holds the last ``ring_size``.
"""

from __future__ import annotations

import re
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

from textual import work
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from shipdeck.lifecycle.lines import Line, Stream
from shipdeck.widgets.component_style import component_style
from shipdeck.widgets.log import ansi
from shipdeck.widgets.log.clipboard import COPY_BUDGET, LineCursor, plain_line
from shipdeck.widgets.log.disk import (
    Hits,
    Opened,
    RecordReader,
    open_tail,
    read_before,
    read_window,
    search_file,
)
from shipdeck.widgets.log.files import save_log
from shipdeck.widgets.log.lines import Batch, Inbox, LogStatus, make_marker
from shipdeck.widgets.log.model import LogModel
from shipdeck.widgets.log.paint import STYLE_NAMES, LinePainter
from shipdeck.widgets.log.search import TOGGLE_BUDGET, LogSearch
from shipdeck.widgets.until_mounted import UntilMounted

FRAME = 1 / 60  # the inbox is folded into the ring at most this often
BURST_FRAME = 1 / 20  # ...and at most this often while a flood is arriving
BURST_LINES = 2_000  # a fold this big (~120k lines/s at 60 Hz) means a flood
FOLD_LIMIT = 50_000  # lines folded per frame; a faster stream skips what the ring drops
TICK_BUDGET = 0.006  # seconds of index work (filter, search, wrap) per frame
FIRST_SCREEN = 1_000  # lines of a run log shown before the rest of the ring is parsed
PAGE = 20_000  # lines of a run log paged in around a hit outside the ring
LIVE_NOTE = "searched the lines in memory only (a live log)"
FILTERED_NOTE = "searched the filtered lines in memory"


class LogView(ScrollView, can_focus=True):
    """Live log lines: follow, search, filter, wrap, timestamps, save the whole log.

    Its parts are objects it owns: the ring (``LogModel``), the painter, the search
    and filter (``LogSearch``), the line cursor (``LineCursor``); the disk side is
    functions (``files.py``, ``disk.py``) run in its workers. Keys and actions are all
    here. A run log opened with ``load_file`` is *disk-backed*: the ring's sequence
    numbers are the file's line numbers, ``/`` searches the whole file, and a hit
    outside the ring is paged in (a window of the file replaces the ring until the
    user goes back to the end).
    """

    BINDINGS = [
        Binding("f", "toggle_follow", "Follow", id="log.follow"),
        Binding("n", "next_match", "Next match", id="log.next_match"),
        Binding("N", "previous_match", "Prev match", id="log.previous_match"),
        Binding("w", "toggle_wrap", "Wrap", id="log.wrap"),
        Binding("t", "toggle_timestamps", "Timestamps", id="log.timestamps"),
        Binding("end", "scroll_end", "Follow from the end", show=False, id="log.end"),
        # y (copy), V (select) and J (JSON) are the pane's: the footer lists them after
        # search, filter and save, so they show where there is room for them.
        Binding("Y", "copy_hits", "Copy search hits", show=False, id="log.copy_hits"),
        Binding("j", "cursor(1)", "Cursor down", show=False, id="log.cursor_down"),
        Binding("k", "cursor(-1)", "Cursor up", show=False, id="log.cursor_up"),
        # With a cursor, the arrows move it too; without one they scroll as always.
        Binding("down", "cursor(1, True)", "", show=False, id="log.down"),
        Binding("up", "cursor(-1, True)", "", show=False, id="log.up"),
        Binding("escape", "drop_cursor", "Drop cursor", show=False, id="log.drop_cursor"),
    ]
    COMPONENT_CLASSES = {f"log-view--{name}" for name in STYLE_NAMES}
    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        overflow-x: auto;
        overflow-y: scroll;
        &:focus { background-tint: $foreground 5%; }
        & > .log-view--stderr { color: $text-error; }
        & > .log-view--info { color: $text-accent; }
        & > .log-view--marker { color: $accent; text-style: bold; }
        & > .log-view--timestamp { color: $text-muted; }
        & > .log-view--match { background: $warning-muted; }
        & > .log-view--match-current { background: $accent; color: $text; text-style: bold; }
        & > .log-view--note { color: $text-muted; text-style: italic; }
        & > .log-view--control { text-style: reverse; }
        & > .log-view--level-error { color: $text-error; }
        & > .log-view--level-warn { color: $text-warning; }
        & > .log-view--level-debug { color: $text-muted; }
        & > .log-view--json-key { color: $text-primary; }
        & > .log-view--json-string { color: $text-success; }
        & > .log-view--json-number { color: $text-accent; }
        & > .log-view--json-literal { color: $text-secondary; text-style: italic; }
        & > .log-view--cursor { background: $accent 45%; }
        & > .log-view--selection { background: $primary 35%; }
    }
    """

    following: var[bool] = var(True, init=False)
    wrap: var[bool] = var(False, init=False)
    show_timestamps: var[bool] = var(False, init=False)
    pretty: var[bool] = var(False, init=False)  # JSON lines indented (J)
    status: var[LogStatus] = var(LogStatus, init=False)

    class _Event(Message):
        def __init__(self, log_view: LogView) -> None:
            super().__init__()
            self.log_view = log_view
            # Sent by the view even when its parent called it (else it stops at the parent).
            self.set_sender(log_view)

        @property
        def control(self) -> LogView:
            return self.log_view

    class FollowChanged(_Event):
        """Follow mode went on or off (the user scrolled up, pressed f or end)."""

        def __init__(self, log_view: LogView, following: bool) -> None:
            super().__init__(log_view)
            self.following = following

    class SearchChanged(_Event):
        """A search was set or cleared; ``note`` says if the pattern was taken literally."""

        def __init__(self, log_view: LogView, pattern: str, matches: int, note: str) -> None:
            super().__init__(log_view)
            self.pattern, self.matches, self.note = pattern, matches, note

    class FilterChanged(SearchChanged):
        """A filter was set or cleared; ``matches`` is how many lines it shows."""

    class Saved(_Event):
        """The whole log was written to ``path`` (``lines`` lines)."""

        def __init__(self, log_view: LogView, path: Path, lines: int) -> None:
            super().__init__(log_view)
            self.path, self.lines = path, lines

    class Loaded(_Event):
        """``load_file`` finished; the file held ``lines`` records."""

        def __init__(self, log_view: LogView, path: Path, lines: int) -> None:
            super().__init__(log_view)
            self.path, self.lines = path, lines

    class SearchScanned(_Event):
        """A search of the whole run log on disk finished with ``matches`` lines."""

        def __init__(self, log_view: LogView, pattern: str, matches: int) -> None:
            super().__init__(log_view)
            self.pattern, self.matches = pattern, matches

    class SaveFailed(_Event):
        """Saving to ``path`` failed; ``error`` says why."""

        def __init__(self, log_view: LogView, path: Path, error: str) -> None:
            super().__init__(log_view)
            self.path, self.error = path, error

    class _Wake(Message, bubble=False):
        """Posted by a writer thread so the UI thread starts folding the inbox."""

    class _TailRead(Message, bubble=False):
        """The load worker read lines ``first`` onwards of a run log (the tail)."""

        def __init__(
            self,
            key: tuple[int, int],
            path: Path,
            opened: Opened,
            window: tuple[int, int],
            batches: list[Batch],
            complete: bool,
        ) -> None:
            super().__init__()
            self.key, self.path, self.opened = key, path, opened
            self.batches, self.complete = batches, complete
            self.first, self.offset = window

    class _PagedIn(Message, bubble=False):
        """A window of the run log around line ``target`` (a hit, if ``hit``) was read;
        its first line is at byte ``offset``."""

        def __init__(
            self,
            key: tuple[int, int],
            window: tuple[int, int, int],
            batches: list[Batch],
            target: int,
            hit: bool,
        ) -> None:
            super().__init__()
            self.key, self.batches, self.target, self.hit = key, batches, target, hit
            self.first, self.offset, self.after = window

    class _Filtered(Message, bubble=False):
        """The filter's scan: ``matches`` lines so far; at the end the last ones' batches."""

        def __init__(
            self, scan: int, matches: int, done: float, batches: list[Batch] | None
        ) -> None:
            super().__init__()
            self.scan, self.matches, self.done, self.batches = scan, matches, done, batches

    class _Scanned(Message, bubble=False):
        """A chunk of the run log was searched: its ``hits``; ``done`` of it so far."""

        def __init__(self, scan: int, hits: Hits, done: float, finished: bool) -> None:
            super().__init__()
            self.scan, self.hits, self.done, self.finished = scan, hits, done, finished

    def __init__(
        self,
        *,
        ring_size: int = 100_000,
        source: Path | None = None,
        max_line_chars: int = ansi.MAX_CHARS,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """``ring_size`` lines stay in memory; ``source`` is the full log on disk, if any."""
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.model = LogModel(ring_size)
        self.painter = LinePainter(max_line_chars)
        self._sources: list[Path] = [source] if source else []
        self._inbox = Inbox()
        self._ui_thread = threading.get_ident()
        # Mounted: ticks, styles and scrolling may start. Lines written before wait in
        # the inbox (any thread may write), so nothing else is held here.
        self._until_mounted: UntilMounted[None] = UntilMounted()
        self._styles_stale = False  # the theme or classes changed: restyle before painting
        self._generation = 0  # bumped by clear(), so a stale load_file writes nothing
        self._tick_due = False  # a tick is scheduled
        self._last_tick = 0.0
        self._wake_posted = False
        self._moving = False  # True while *we* scroll, so it is not taken as the user's
        self._new_since_pause = 0
        self._search = LogSearch(self.model, self.painter)
        self._cursor = LineCursor(self.model)
        # The run log behind the view (load_file): its path and size when opened.
        self._disk: Opened | None = None
        self._disk_path: Path | None = None
        self._disk_gen = 0  # bumped by each page-in or return to the tail: stale reads drop
        self._paged = False  # the ring holds a window of the file, not its tail
        self._returning = False  # ... and the tail is being read again
        self._hits: Hits | None = None  # the search's hits in the file (None: ring only)
        self._scan = 0  # the search scan in progress (bumped to cancel it)
        self._scan_lines = 0  # lines of the file that scan covers
        self._scan_done: float | None = None  # its progress while it runs
        self._jump_before: int | None = None  # Enter's jump, waiting for the scan
        self._filtered = False  # the ring holds the file's lines the filter keeps
        self._filter_total = 0  # ... of how many in the file
        self._filter_done: float | None = None  # the filter's scan, while it runs
        self._filter_scan_id = 0  # that scan (bumped to cancel it)

    # --- writing ---------------------------------------------------------------

    def write_lines(self, lines: Sequence[Line], when: float | None = None) -> None:
        """Queue a batch; it shows on the next frame. Safe from any thread, never blocks."""
        if not lines:
            return
        self._inbox.put(lines, time.time() if when is None else when)
        if threading.get_ident() == self._ui_thread:
            self._ensure_ticking()
        elif self._until_mounted.mounted and not self._wake_posted:  # else on_mount folds it
            self._wake_posted = True
            self.post_message(self._Wake())

    def add_marker(self, text: str) -> None:
        """A rule labelled ``text`` (e.g. "v0.3.0 started") after the lines queued so far."""
        self.write_lines([make_marker(text)])

    def clear(self) -> None:
        """Forget every line in memory (and queued); the on-disk log is untouched."""
        self._generation += 1
        self._inbox.clear()
        self.model.clear()
        self._disk = self._disk_path = self._hits = self._scan_done = self._jump_before = None
        self._paged = self._returning = self._filtered = False
        self._filter_done = None
        self._scan += 1
        self._filter_scan_id += 1
        self.painter.forget()
        self.painter.widest = 0
        self._search.current = None
        self._cursor.drop()
        self._new_since_pause = 0
        self._sync_view(None)

    # --- folding the inbox, at most once a frame ----------------------------------

    def on_mount(self) -> None:
        self._ui_thread = threading.get_ident()
        self._until_mounted.mount()  # is_mounted only turns True after this handler
        self._restyle()
        self._ensure_ticking()

    def _on_log_view__wake(self, _: _Wake) -> None:
        self._wake_posted = False
        self._ensure_ticking()

    def _ensure_ticking(self) -> None:
        """Fold now if the last fold was a frame ago, else schedule it a frame after that."""
        if self._tick_due or not self._until_mounted.mounted:
            return
        # While flooded, repainting 60 times a second costs the reader thread the
        # GIL; 20 folds a second still look live and let the stream through.
        frame = BURST_FRAME if self._last_fold >= BURST_LINES else FRAME
        delay = self._last_tick + frame - time.monotonic()
        if delay <= 0:
            self._scheduled_tick()
        else:
            self._tick_due = True
            self.set_timer(delay, self._scheduled_tick)

    _last_fold = 0  # lines the last fold took

    def _scheduled_tick(self) -> None:
        self._tick_due = False
        self._last_tick = time.monotonic()
        before = self.model.end
        self._tick()
        self._last_fold = self.model.end - before
        if self._inbox or not self.model.up_to_date:
            self._ensure_ticking()

    def _tick(self) -> None:
        if self._paged:  # the lines are on disk; back at the end they are read from there
            dropped = sum(len(texts) for _, texts, _ in self._inbox.take(1 << 62))
            self._new_since_pause += dropped
            if dropped:
                self._sync_view(self._anchor())
        skipped = self._inbox.skip_beyond(self.model.ring_size)
        batches = self._inbox.take(FOLD_LIMIT)
        changed = bool(batches or skipped) or not self.model.up_to_date
        anchor = self._anchor()
        if skipped:
            self.model.skip(skipped)
        if batches or skipped:
            arrived = skipped + self.model.append(batches)
            if not self.following:
                self._new_since_pause += arrived
        self.model.catch_up(TICK_BUDGET, self._width_of)
        if changed:
            self._sync_view(anchor)

    def flush(self) -> None:
        """Fold everything queued into the view now (tests; before saving the ring)."""
        anchor = self._anchor()
        self._tick()
        while self._inbox:
            self._tick()
        if not self.model.up_to_date:
            self.model.catch_up(60.0, self._width_of)
            self._sync_view(anchor)

    def _width_of(self, text: str) -> int:
        return ansi.display_width(text, max_chars=self.painter.max_line_chars)

    def _anchor(self) -> tuple[int, int] | None:
        """The line (and row in it) at the top, which stays put while paused."""
        return None if self.following else self.model.locate(round(self.scroll_y))

    def _sync_view(self, anchor: tuple[int, int] | None) -> None:
        """Size the scroll area to the view; keep the bottom, or the line the user reads."""
        if not self._until_mounted.mounted:
            return
        if self.wrap:
            width = self.scrollable_content_region.width
        else:
            width = self._prefix_width() + max(self.model.max_len, self.painter.widest)
        size = Size(width, self.model.rows)
        if size != self.virtual_size:
            self._resize_scroll_area(size)
        if self.following:
            self._scroll(y=self.max_scroll_y)
        elif anchor is not None:
            seq, row = anchor
            self._scroll(y=self.model.row_of(seq) + (row if self.model.in_view(seq) else 0))
        self.refresh()
        self._update_status()

    def _update_status(self) -> None:
        note = self._search.note
        if self._search.text and (self._disk is None or self._filtered):
            scope = FILTERED_NOTE if self._filtered else LIVE_NOTE
            note = f"{note}; {scope}" if note else scope
        status = self.model.status(
            following=self.following,
            new_since_pause=self._new_since_pause,
            search=self._search.text,
            filter=self._search.filter_text,
            note=note,
            wrap=self.wrap,
            timestamps=self.show_timestamps,
            json=self.pretty,
            searching=self._scan_done,
        )
        if self._filtered or self._filter_done is not None:
            shown = len(self.model.filter.seqs) if self.model.filter else 0
            matches = self._filter_total + max(0, shown - self._filter_kept)
            status = replace(status, filter_matches=matches, filtering=self._filter_done)
        elif self._disk is not None:
            total = max(self.model.end, self._disk.lines)
            status = replace(status, total=total, search_matches=self._hit_count())
        self.status = status

    def _resize_scroll_area(self, size: Size) -> None:
        """Set the virtual size without re-laying out the screen when it can.

        ``virtual_size`` is a layout reactive: every change re-lays out the whole
        screen, which made each card the cursor passed cost a full layout. The view's
        own size does not change, so only its scrollbars need telling; when a
        scrollbar appears or goes, that reactive asks for the layout itself.
        """
        if not self.container_size:
            self.virtual_size = size
            return
        self.set_reactive(LogView.virtual_size, size)
        self._scroll_update(size)  # scrollbar visibility (a layout if it changed) and thumbs
        self.refresh()

    def _scroll(self, x: float | None = None, y: float | None = None) -> None:
        """Scroll without it counting as the user scrolling."""
        self._moving = True
        try:
            self.scroll_to(x=x, y=y, animate=False)
        finally:
            self._moving = False

    # --- follow --------------------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._moving:
            return
        if new_value < old_value and self.following and new_value < self.max_scroll_y:
            self.following = False  # the user scrolled up: hold still and count
        elif new_value > old_value and not self.following and new_value >= self.max_scroll_y:
            if self._paged and not self._returning and self._page(up=False):
                return  # the lines after this window are read in; the end is further on
            self.following = True  # ... and back down to the end
        if new_value < old_value and new_value < 1 and self.model.first > 0:
            self._page(up=True)  # disk-backed: the lines before the ring are in the file

    def watch_following(self, following: bool) -> None:
        if following:
            self._new_since_pause = 0
            if self._paged and not self._returning:
                self._return_to_tail()
        self._sync_view(None)
        self.post_message(self.FollowChanged(self, following))

    def action_toggle_follow(self) -> None:
        self.following = not self.following

    def action_scroll_end(self) -> None:
        if self.following:
            self._sync_view(None)
        self.following = True

    # --- wrap and timestamps ---------------------------------------------------------

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap

    def action_toggle_timestamps(self) -> None:
        self.show_timestamps = not self.show_timestamps

    def watch_wrap(self) -> None:
        self._rebuild_rows(self._anchor())
        self._scroll(x=0)

    def watch_show_timestamps(self) -> None:
        self._rebuild_rows(self._anchor())

    def action_toggle_json(self) -> None:
        self.pretty = not self.pretty

    def watch_pretty(self, pretty: bool) -> None:
        anchor = self._anchor()  # found in the rows as they were
        self.model.set_pretty(pretty)
        self.painter.forget()
        self._rebuild_rows(anchor)

    def on_resize(self) -> None:
        self.painter.forget()  # markers are as wide as the view
        if self.wrap and self.model.wrap_width != self._wrap_width():
            self._rebuild_rows(self._anchor())
        elif self.following:
            self._sync_view(None)

    def watch_show_horizontal_scrollbar(self) -> None:
        if self.following:  # the scrollbar took the last row: still show the newest line
            self.call_after_refresh(self._sync_view, None)

    def _rebuild_rows(self, anchor: tuple[int, int] | None) -> None:
        self._rewrap()
        self.model.catch_up(TOGGLE_BUDGET, self._width_of)
        self._ensure_ticking()
        self._sync_view(anchor)

    def _rewrap(self) -> None:
        self.model.set_wrap(self._wrap_width() if self.wrap else None)

    def _wrap_width(self) -> int:
        return max(1, self.scrollable_content_region.width - self._prefix_width())

    def _prefix_width(self) -> int:
        return LinePainter.prefix_width(self.show_timestamps)

    # --- search and filter (the state is LogSearch's) --------------------------------

    def search(self, pattern: str) -> int:
        """Highlight ``pattern`` (regex, smart case; "" clears), go to the latest match
        above the bottom of the screen. Disk-backed, the whole run log is searched in
        a worker (the count grows as it goes; ``SearchScanned`` at the end) and the
        match is shown when the scan finds it; else the ring is searched."""
        disk = self._disk is not None and self._disk_path is not None and not self._filtered
        matches = self._search.search(pattern, self._width_of, 0.0 if disk else TOGGLE_BUDGET)
        self._ensure_ticking()
        self._scan += 1  # a scan still running is not wanted any more
        self._hits = self._scan_done = self._jump_before = None
        below = self.model.locate(round(self.scroll_y) + self.scrollable_content_region.height)
        start = below[0] if below else self.model.end
        if disk and self.model.search:
            self._start_scan(start)
        elif matches:
            self._go_to_match(backwards=True, start=start)
        self.post_message(self.SearchChanged(self, pattern, matches, self._search.note))
        self._sync_view(self._anchor())
        return matches

    def set_filter(self, pattern: str) -> int:
        """Show only lines ``pattern`` matches (markers stay); "" shows every line.

        Disk-backed, the whole run log is filtered in a worker and the ring then holds
        its last ``ring_size`` matching lines (numbered from 0, so a search there is
        the ring's); "" goes back to the file's tail."""
        if self._disk_path is not None and (self._disk is not None or self._filtered):
            return self._filter_file(pattern)
        anchor = self._anchor()
        self._search.filter(pattern)
        self._rewrap()
        self.model.catch_up(TOGGLE_BUDGET, self._width_of)
        self._ensure_ticking()
        matches = self._search.filter_matches
        self.post_message(self.FilterChanged(self, pattern, matches, self._search.note))
        self._sync_view(anchor)
        return matches

    def action_next_match(self) -> None:
        self._go_to_match(backwards=False)

    def action_previous_match(self) -> None:
        self._go_to_match(backwards=True)

    def _go_to_match(self, backwards: bool, start: int | None = None) -> None:
        if start is None:
            if self._search.current is not None:
                start = self._search.current
            else:
                top = self.model.locate(round(self.scroll_y))
                start = (top[0] - (0 if backwards else 1)) if top else self.model.end
        if self._hits is not None:  # the whole file's hits, found so far
            self._jump_before = None
            found = self._next_hit(start, backwards)
            if found is not None:
                self._show_hit(*found)
            return
        seq = self._search.step(start, backwards)
        if seq is not None:
            self._focus(seq)

    def _focus(self, seq: int) -> None:
        """Scroll so line ``seq`` (in the ring) is on screen, a third from the top."""
        row = self.model.row_of(seq)
        height = self.scrollable_content_region.height
        if not round(self.scroll_y) <= row < round(self.scroll_y) + height:
            self.following = False
            self._scroll(y=max(0, row - height // 3))
        self._scroll_to_column(seq)
        self.refresh()

    def _scroll_to_column(self, seq: int) -> None:
        """Without wrap, scroll sideways so the match is on screen."""
        if self.wrap:
            return
        column = self._search.column_of(seq)
        if column is None:
            return
        visible = self.scrollable_content_region.width - self._prefix_width()
        if not self.scroll_x <= column < self.scroll_x + visible - 1:
            self._scroll(x=max(0, column - visible // 4))

    # --- searching the run log on disk (widgets/log/disk.py) --------------------------

    def _start_scan(self, jump_before: int | None) -> None:
        """Search the whole file; show the latest hit before line ``jump_before`` (None:
        count and highlight, do not move)."""
        if self._disk is None or self._disk_path is None or self.model.search is None:
            return
        self._hits = Hits()
        self._scan_lines = self._disk.lines
        self._skip_scanned()
        self._scan_done = 0.0
        self._jump_before = jump_before
        # Ints to the worker, not ``Opened``: @work puts its arguments' repr in its name.
        size, lines = self._disk.size, self._disk.lines
        self._scan_file(self._disk_path, self.model.search.pattern, size, lines, self._scan)

    @work(thread=True, exclusive=True, group="log-search", exit_on_error=False)
    def _scan_file(
        self, path: Path, pattern: re.Pattern[str], size: int, lines: int, scan: int
    ) -> None:
        total = max(1, size)

        def progress(hits: Hits, done: int) -> None:
            self.post_message(self._Scanned(scan, hits, done / total, False))

        with suppress(OSError, ValueError):  # gone or cut short: the hits so far stand
            search_file(path, pattern, size, lines, progress, self._cancelled(scan))
        self.post_message(self._Scanned(scan, Hits(), 1.0, True))

    def _skip_scanned(self) -> None:
        """The ring's search index need not look at lines the file scan covers."""
        search = self.model.search
        if self._hits is not None and search is not None:
            search.prune(min(self._scan_lines, self.model.end))

    def _cancelled(self, scan: int) -> Callable[[], bool]:
        return lambda: self._scan != scan

    def _filter_cancelled(self, scan: int) -> Callable[[], bool]:
        return lambda: self._filter_scan_id != scan

    def _on_log_view__scanned(self, message: _Scanned) -> None:
        hits = self._hits
        if message.scan != self._scan or hits is None:
            return
        hits.add_before(message.hits)  # the scan goes from the end backwards
        self._scan_done = None if message.finished else message.done
        jump, found = self._jump_before, message.hits.lines
        if jump is not None and found:
            i = bisect_left(found, jump) - 1
            if i >= 0:
                self._jump_before = None
                self._show_hit(found[i], message.hits.offsets[i])
        if message.finished:
            if self._jump_before is not None:  # none above: the latest one (n/N wrap too)
                self._jump_before = None
                last = self._next_hit(self.model.end if not self._paged else 1 << 62, True)
                if last is not None:
                    self._show_hit(*last)
            self.post_message(self.SearchScanned(self, self._search.text, self._hit_count()))
        self._update_status()  # the hits are highlighted by pattern: no repaint needed

    def _live_hits(self) -> list[int]:
        """Hits in the ring past the part of the file the scan covered (lines that
        arrived since the file was opened)."""
        search = self.model.search
        if search is None:
            return []
        return search.seqs[bisect_left(search.seqs, self._scan_lines) :]

    def _hit_count(self) -> int:
        if self._hits is None:
            return len(self.model.search.seqs) if self.model.search else 0
        return len(self._hits) + len(self._live_hits())

    def _next_hit(self, start: int, backwards: bool) -> tuple[int, int | None] | None:
        """The hit after (or before) line ``start`` in the whole file, wrapping around,
        and its byte offset (None for a line only the ring has)."""
        if self._hits is None:
            return None
        lines = self._hits.lines.tolist() + self._live_hits()
        if not lines:
            return None
        i = bisect_left(lines, start) - 1 if backwards else bisect_right(lines, start)
        seq = lines[i % len(lines)]
        return seq, self._hits.offset_of(seq)

    def _show_hit(self, seq: int, offset: int | None) -> None:
        """Make line ``seq`` the current hit and show it; outside the ring, page the
        file around it in first."""
        model = self.model
        if model.first <= seq < model.end:
            self._search.make_current(seq)
            self._focus(seq)
            return
        if offset is None or self._disk is None or self._disk_path is None:
            return
        self.following = False
        self._paged = True  # lines arriving now are on disk: not folded into the window
        self._disk_gen += 1
        key = (self._generation, self._disk_gen)
        self._page_in(self._disk_path, seq, offset, self._disk.size, key, True)

    _ring_offset = 0  # the byte offsets of the ring's first line and of the line after
    _ring_end = 0  # its last, disk-backed
    _paging = False  # a window is being read, as the user scrolled to an edge

    def _page(self, up: bool) -> bool:
        """At the top (or bottom) of a disk-backed ring: read a window around its first
        line (or the line after its last), the line at the top staying put. False if
        there is nothing to read."""
        disk, path = self._disk, self._disk_path
        if disk is None or path is None or self._filtered or self.model.filter is not None:
            return False  # (a filter of a disk-backed view holds what it kept of the file)
        if self.model.first <= 0 if up else self.model.end >= disk.lines:
            return False  # the file's first (or last) line is in the ring
        if not self._paging:
            self._paging = self._paged = True
            self._disk_gen += 1
            key = (self._generation, self._disk_gen)
            line, at = (
                (self.model.first, self._ring_offset) if up else (self.model.end, self._ring_end)
            )
            self._page_in(path, line, at, disk.size, key, False)
        return True

    @work(thread=True, exclusive=True, group="log-page", exit_on_error=False)
    def _page_in(
        self, path: Path, seq: int, offset: int, end: int, key: tuple[int, int], hit: bool
    ) -> None:
        page = min(PAGE, self.model.ring_size)
        try:
            window = read_window(path, seq, offset, page // 2, page - page // 2, end)
        except OSError as error:
            self.app.call_from_thread(self.notify, f"could not read {path}: {error}")
            return
        batches = RecordReader().batches(window.records, time.time())
        after = window.offset + sum(len(record) + 1 for record in window.records)
        self.post_message(
            self._PagedIn(key, (window.first, window.offset, after), batches, seq, hit)
        )

    def _on_log_view__paged_in(self, message: _PagedIn) -> None:
        if message.key != (self._generation, self._disk_gen) or self._disk is None:
            return
        self._inbox.clear()  # on disk, and not part of this window
        self._paging = False
        if message.hit:
            self._cursor.drop()
        self._fill(message.first, message.batches, None if message.hit else self._anchor())
        self._ring_offset, self._ring_end = message.offset, message.after
        self._paged = self.model.end < self._disk.lines
        if message.hit and self.model.first <= message.target < self.model.end:
            self._search.make_current(message.target)
            self._focus(message.target)

    def _fill(self, first: int, batches: list[Batch], anchor: tuple[int, int] | None) -> None:
        """The ring holds ``batches``, lines ``first`` onwards of the file, and nothing else."""
        self.model.restart(first)
        self.painter.forget()
        self.model.append(batches)
        self._skip_scanned()
        self.model.catch_up(TOGGLE_BUDGET, self._width_of)
        self._ensure_ticking()
        self._sync_view(anchor)

    _filter_kept = 0  # lines the filtered ring was filled with

    def _filter_file(self, pattern: str) -> int:
        """``set_filter`` on a disk-backed view: scan the whole file for ``pattern``."""
        self._search.filter(pattern)
        self._rewrap()
        self._scan += 1  # the hits of a search are lines of the file, not of what is kept
        self._filter_scan_id += 1  # nor is a filter scan still running
        self._hits = self._scan_done = self._jump_before = None
        self.following = True
        self._disk_gen += 1  # a tail or window still being read would replace the result
        path, disk = self._disk_path, self._disk
        if not pattern or self.model.filter is None or path is None or disk is None:
            if self._filtered:  # back to the whole file, at its end
                self._filtered, self._filter_done = False, None
                self._disk_gen += 1
                self._read_tail(path or Path(), (self._generation, self._disk_gen))
            self.model.catch_up(TOGGLE_BUDGET, self._width_of)
            self.post_message(self.FilterChanged(self, pattern, 0, self._search.note))
            self._sync_view(None)
            return 0
        self._filter_done = 0.0
        rx = self.model.filter.pattern
        scan = self._filter_scan_id
        self._filter_scan(path, rx, disk.size, disk.lines, self.model.ring_size, scan)
        self.post_message(self.FilterChanged(self, pattern, 0, self._search.note))
        self._sync_view(None)
        return 0

    @work(thread=True, exclusive=True, group="log-filter", exit_on_error=False)
    def _filter_scan(
        self, path: Path, pattern: re.Pattern[str], size: int, lines: int, keep: int, scan: int
    ) -> None:
        total, found = max(1, size), Hits()

        def progress(hits: Hits, done: int) -> None:
            found.add_before(hits)
            self.post_message(self._Filtered(scan, len(found), done / total, None))

        try:
            cancelled = self._filter_cancelled(scan)
            search_file(path, pattern, size, lines, progress, cancelled, keep)
        except (OSError, ValueError) as error:
            self.app.call_from_thread(self.notify, f"could not filter {path}: {error}")
        batches = RecordReader().batches(found.records, time.time())
        self.post_message(self._Filtered(scan, len(found), 1.0, batches))

    def _on_log_view__filtered(self, message: _Filtered) -> None:
        if message.scan != self._filter_scan_id:
            return
        self._filter_total = message.matches
        if message.batches is None:
            self._filter_done = message.done
            self._update_status()
            return
        self._filter_done = None
        self._filtered = True
        self._paged = self._returning = False
        self._scan += 1  # a search started meanwhile: now over the lines kept, in memory
        self._hits = self._scan_done = self._jump_before = None
        self._inbox.clear()  # lines that arrived meanwhile are in the file, not filtered
        self._cursor.drop()
        self._search.current = None
        self._fill(0, message.batches, None)
        self._filter_kept = self.model.end
        self.model.catch_up(TOGGLE_BUDGET, self._width_of)
        self._sync_view(None)
        matches = self._filter_total
        self.post_message(self.FilterChanged(self, self._search.filter_text, matches, ""))

    def _return_to_tail(self) -> None:
        """Back at the end of a window paged in: read the file's tail again."""
        if self._disk_path is None:
            self._paged = False
            return
        self._returning = True
        self._disk_gen += 1
        self._read_tail(self._disk_path, (self._generation, self._disk_gen))

    # --- the cursor, the selection and copying (widgets/log/clipboard.py) ------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "drop_cursor":
            return self._cursor.at is not None  # otherwise escape goes on (back to the board)
        return True

    def _cursor_start(self) -> int | None:
        top, height = round(self.scroll_y), self.scrollable_content_region.height
        return self._cursor.start(top, height, self._search.current)

    def action_cursor(self, delta: int, scroll: bool = False) -> None:
        """Move the cursor ``delta`` lines (placing it first); ``scroll``: the arrows,
        which scroll when there is no cursor."""
        cursor = self._cursor
        if cursor.at is None:
            if scroll:
                (self.action_scroll_down if delta > 0 else self.action_scroll_up)()
                return
            cursor.at = self._cursor_start()
        else:
            cursor.at = self.model.step(cursor.at, delta)
        self._show_cursor()

    def action_select(self) -> None:
        cursor = self._cursor
        if cursor.mark is not None:
            cursor.mark = None
            self.refresh()
            return
        if cursor.at is None:
            cursor.at = self._cursor_start()
        cursor.mark = cursor.at
        self._show_cursor()

    def action_drop_cursor(self) -> None:
        self._cursor.drop()
        self.refresh()

    def _show_cursor(self) -> None:
        """Pause following and scroll so the cursor's line is on screen."""
        if self._cursor.at is None:
            return
        self.following = False
        first, last = self.model.span(self._cursor.at)
        top = round(self.scroll_y)
        height = self.scrollable_content_region.height
        if first < top:
            self._scroll(y=first)
        elif last >= top + height:
            self._scroll(y=min(first, last - height + 1))
        self.refresh()

    def selected(self) -> list[int]:
        """The lines ``y`` copies (sequence numbers), see widgets/log/clipboard.py."""
        top, height = round(self.scroll_y), self.scrollable_content_region.height
        return self._cursor.selected(top, height, self._search.current)

    def action_copy(self) -> None:
        seqs = self.selected()
        if self._cursor.mark is not None:
            self._cursor.mark = None
            self.refresh()
        self.copy_lines(seqs)

    def action_copy_hits(self) -> None:
        if not self.model.search:
            self.notify("Nothing to copy: no search (/ searches)", severity="warning")
            return
        self.model.catch_up(COPY_BUDGET, self._width_of)
        seqs = self.model.hits_shown()
        if self._hits is not None:  # the scanned part of the ring is in the file's hits
            first, end = self.model.first, min(self.model.end, self._scan_lines)
            lines = self._hits.lines
            ring = lines[bisect_left(lines, first) : bisect_left(lines, end)].tolist()
            seqs = [seq for seq in ring if self.model.in_view(seq)] + seqs
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
        return plain_line(self.model, seq, self.painter.max_line_chars)

    # --- the log on disk (widgets/log/files.py) ------------------------------------------

    @property
    def sources(self) -> list[Path]:
        return list(self._sources)

    def set_source(self, path: Path | None) -> None:
        """The full log on disk is at ``path`` (or nowhere): ``save`` copies it."""
        self._sources = [path] if path else []

    def add_source(self, path: Path) -> None:
        """Another on-disk log now feeds the view (a deploy's, then the release's own)."""
        self._sources.append(path)

    def load_file(self, path: Path) -> None:
        """Show the tail of the run log at ``path``, read from its end backwards (the
        last screenful first, then the rest of the ring); the view is disk-backed by
        it (search, paging) and it is the source for ``save``."""
        self.clear()  # also tells a load still reading another file to drop its lines
        self.set_source(path)
        self._disk_path = path
        self._read_tail(path, (self._generation, self._disk_gen))

    @work(thread=True, exclusive=True, group="log-load", exit_on_error=False)
    def _read_tail(self, path: Path, key: tuple[int, int]) -> None:
        ring = self.model.ring_size
        reader, now = RecordReader(), time.time()
        try:
            opened = open_tail(path, min(ring, FIRST_SCREEN))  # a screenful: shown at once
            tail = opened.tail
            batches = reader.batches(tail.records, now)
            complete = tail.first == 0 or ring <= FIRST_SCREEN
            window = (tail.first, tail.offset)
            self.post_message(self._TailRead(key, path, opened, window, batches, complete))
            if not complete:
                tail = read_before(path, tail, ring - len(tail.records))
                batches = reader.batches(tail.records, now)
                window = (tail.first, tail.offset)
                self.post_message(self._TailRead(key, path, opened, window, batches, True))
        except OSError as error:
            if self._generation == key[0]:  # cleared meanwhile: not wanted any more
                self.write_lines([Line(Stream.INFO, f"could not read {path}: {error}")])
                self.post_message(self.Loaded(self, path, 0))

    def _on_log_view__tail_read(self, message: _TailRead) -> None:
        if message.key != (self._generation, self._disk_gen):
            return
        self._fill(message.first, message.batches, self._anchor())
        self._ring_offset, self._ring_end = message.offset, message.opened.size
        self._disk = message.opened
        self._paged = self._returning = self._paging = False
        if message.complete:  # the whole tail, not only the first screenful
            self.post_message(self.Loaded(self, message.path, message.opened.lines))
            if self._search.text and self.model.search and self._hits is None:
                self._start_scan(None)  # the search goes on over this file, where it is

    def save(self, path: Path) -> None:
        """Write the whole log to ``path``: the on-disk sources, else the lines in memory."""
        self.flush()
        if self._sources:
            self._save(path, list(self._sources), [])
            return
        self._save(path, [], self.model.records())

    # A description of its own: by default Textual names a worker by the repr of its
    # arguments, on the UI thread, and 100k records took 0.6 s and 14 MB to repr.
    @work(thread=True, exclusive=True, group="log-save", exit_on_error=False, description="save")
    def _save(self, path: Path, sources: list[Path], records: list[tuple[float, Line]]) -> None:
        try:
            lines = save_log(path, sources, records)
        except OSError as error:
            self.post_message(self.SaveFailed(self, path, str(error)))
        else:
            self.post_message(self.Saved(self, path, lines))

    # --- drawing ---------------------------------------------------------------------

    def notify_style_update(self) -> None:
        """Restyle at the next paint, not now: Textual calls this before it recomputes
        the component classes, so styles read here would be the old theme's."""
        super().notify_style_update()
        self._styles_stale = True
        self.refresh()

    def _restyle(self) -> None:
        self._styles_stale = False
        if self._until_mounted.mounted:
            styles = {name: component_style(self, f"log-view--{name}") for name in STYLE_NAMES}
            self.painter.restyle(self.rich_style, styles)

    def render_line(self, y: int) -> Strip:
        if self._styles_stale:
            self._restyle()
        width = self.scrollable_content_region.width
        found = self.model.locate(round(self.scroll_y) + y)
        if found is None:
            return self.painter.blank(width)
        mark = self._cursor.mark_of(found[0])
        widest = self.painter.widest
        strip = self.painter.row(
            self.model,
            *found,
            width=width,
            scroll_x=round(self.scroll_x),
            wrap=self.wrap,
            timestamps=self.show_timestamps,
            current=self._search.current,
            console=self.app.console,
            mark=mark,
        )
        if self.painter.widest > max(widest, self.model.max_len):
            self.call_after_refresh(self._sync_view, self._anchor())  # wide characters
        return strip
