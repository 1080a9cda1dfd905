"""The log pane's storage: a bounded ring of lines and the views over it.

Free of Textual, so it is tested fast and the widget only draws. Lines are addressed
by *sequence number* (0 for the first line ever written, never reused): the filter,
the search and the wrapped-row index survive the ring dropping its oldest lines, and
caches keyed by it never go stale. Indexes are built incrementally under a time
budget, so a burst of output or a toggle never stalls the UI for long.

A line is stored as its ``str`` plus a small int kind (``log_lines``), in two
deques, not as a ``Line`` tuple: strings are not tracked by the garbage collector,
so a full ring adds nothing to the full collections that would stall the event loop.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice
from time import perf_counter
from typing import TypeVar

from rich.cells import cell_len

from shipdeck.lifecycle.lines import Line, Stream
from shipdeck.widgets.log import ansi
from shipdeck.widgets.log.json_lines import pretty_lines
from shipdeck.widgets.log.lines import MARKER, STREAMS, Batch, LogStatus, Marker

T = TypeVar("T")
CHUNK = 1024  # lines indexed between two looks at the clock


def window(ring: deque[T], start: int, stop: int) -> list[T]:
    """``ring[start:stop]``, walking in from the nearer end (new lines are at the right)."""
    size = len(ring)
    if start > size - stop:
        return list(islice(reversed(ring), size - stop, size - start))[::-1]
    return list(islice(ring, start, stop))


def compile_pattern(pattern: str) -> tuple[re.Pattern[str], str | None]:
    """A regex for ``pattern`` (smart case), or the literal text and why, if it is not one."""
    flags = 0 if any(c.isupper() for c in pattern) else re.IGNORECASE
    try:
        return re.compile(pattern, flags), None
    except re.error as error:
        return re.compile(re.escape(pattern), flags), f"not a regex ({error}); searched literally"


class MatchIndex:
    """Sequence numbers of the lines ``pattern`` finds, extended as lines arrive."""

    def __init__(self, pattern: re.Pattern[str], start: int, keep_markers: bool) -> None:
        self.pattern = pattern
        self.seqs: list[int] = []
        self.scanned = start  # every line before this one has been looked at
        self.keep_markers = keep_markers

    def matches(self, kind: int, text: str) -> bool:
        if self.keep_markers and kind == MARKER:
            return True
        if len(text) > ansi.MAX_CHARS or "\x1b" in text or "\r" in text or "\t" in text:
            text = ansi.plain(text)  # match what is shown, not the escapes
        return self.pattern.search(text) is not None

    def prune(self, first: int) -> None:
        cut = bisect_left(self.seqs, first)
        if cut:
            del self.seqs[:cut]
        self.scanned = max(self.scanned, first)


class LogModel:
    """A ring of at most ``ring_size`` lines plus filter, search and wrap indexes."""

    _wrap_seq: list[int]  # the lines wrapped so far ...
    _wrap_start: list[int]  # ... and the row each starts on
    _wrap_end: int  # the row after the last
    _wrap_next: int  # the first line not wrapped yet

    def __init__(self, ring_size: int = 100_000) -> None:
        if ring_size < 1:
            raise ValueError("ring_size must be at least 1")
        self.ring_size = ring_size
        self.texts: deque[str] = deque(maxlen=ring_size)
        self.kinds: deque[int] = deque(maxlen=ring_size)
        self.end = 0  # sequence number the next line gets
        self.origin = 0  # ... and the first one got after the last clear
        self.max_len = 0  # longest text seen (characters, capped): the scroll width
        self._time_seq: list[int] = []  # one timestamp per batch, not per line
        self._time_at: list[float] = []
        self.filter: MatchIndex | None = None
        self.search: MatchIndex | None = None
        self.wrap_width: int | None = None
        self.pretty = False  # JSON objects over several rows (``log_json.pretty_lines``)
        self._reset_wrap()

    # --- lines -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def first(self) -> int:
        return self.end - len(self.texts)

    def text(self, seq: int) -> str:
        return self.texts[seq - self.first]

    def kind(self, seq: int) -> int:
        return self.kinds[seq - self.first]

    def line(self, seq: int) -> Line:
        i = seq - self.first
        kind, text = self.kinds[i], self.texts[i]
        return Marker(Stream.INFO, text) if kind == MARKER else Line(STREAMS[kind], text)

    def records(self) -> list[tuple[float, Line]]:
        """Every line in memory with its arrival time (for saving when no file has them)."""
        return [(self.time_of(seq), self.line(seq)) for seq in range(self.first, self.end)]

    def time_of(self, seq: int) -> float:
        i = bisect_right(self._time_seq, seq) - 1
        return self._time_at[i] if i >= 0 else 0.0

    def append(self, batches: Sequence[Batch]) -> int:
        """Add ``(arrival time, texts, kinds)`` batches; returns how many lines arrived.

        Batches the ring would drop at once are only counted: their lines are on disk.
        """
        room = self.ring_size
        kept = 0
        start = len(batches)
        while start > 0 and kept < room:
            start -= 1
            kept += len(batches[start][1])
        arrived = kept + sum(len(texts) for _, texts, _ in batches[:start])
        self.end += arrived - kept
        cap = ansi.MAX_CHARS + 24
        for when, texts, kinds in batches[start:]:
            if not texts:
                continue
            if len(texts) > room:
                self.end += len(texts) - room
                texts, kinds = texts[-room:], kinds[-room:]
            if not self._time_at or self._time_at[-1] != when:
                self._time_seq.append(self.end)
                self._time_at.append(when)
            self.texts.extend(texts)
            self.kinds.extend(kinds)
            self.end += len(texts)
            longest = max(map(len, texts))
            if longest > self.max_len:
                self.max_len = min(longest, cap)
        self._prune()
        return arrived

    def skip(self, count: int) -> None:
        """``count`` lines arrived that the ring will never show: at least ``ring_size``
        newer ones are on their way, so nothing in the ring now would survive either."""
        if count > 0:
            self.texts.clear()
            self.kinds.clear()
            self.end += count
            self._prune()

    def clear(self) -> None:
        """Forget every line; sequence numbers go on from where they were."""
        self.texts.clear()
        self.kinds.clear()
        self.origin = self.end
        self.max_len = 0
        self._time_seq.clear()
        self._time_at.clear()
        for index in (self.filter, self.search):
            if index:
                index.seqs.clear()
                index.scanned = self.end
        self._reset_wrap()

    def restart(self, first: int) -> None:
        """Forget every line; the next is line ``first`` of a file whose line 0 is the
        origin (the view pages a window of a run log in, numbered as in the file)."""
        self.clear()
        self.end = first
        self.origin = 0
        for index in (self.filter, self.search):
            if index:
                index.scanned = first
        self._reset_wrap()

    def _prune(self) -> None:
        first = self.first
        i = bisect_right(self._time_seq, first) - 1
        if i > 0:
            del self._time_seq[:i]
            del self._time_at[:i]
        for index in (self.filter, self.search):
            if index:
                index.prune(first)
        cut = bisect_left(self._wrap_seq, first)
        if cut:
            del self._wrap_seq[:cut]
            del self._wrap_start[:cut]
        self._wrap_next = max(self._wrap_next, first)

    def status(self, **view: object) -> LogStatus:
        """The model's counts plus the view's own state (``following``, ``wrap`` ...)."""
        return LogStatus(
            lines=len(self.texts),
            total=self.end - self.origin,
            search_matches=len(self.search.seqs) if self.search else 0,
            filter_matches=len(self.filter.seqs) if self.filter else 0,
            **view,  # type: ignore[arg-type]
        )

    # --- filter, search, wrap ----------------------------------------------

    def set_filter(self, pattern: re.Pattern[str] | None) -> None:
        self.filter = MatchIndex(pattern, self.first, keep_markers=True) if pattern else None
        self._reset_wrap()

    def set_search(self, pattern: re.Pattern[str] | None) -> None:
        self.search = MatchIndex(pattern, self.first, keep_markers=False) if pattern else None

    def set_wrap(self, width: int | None) -> None:
        self.wrap_width = max(1, width) if width is not None else None
        self._reset_wrap()

    def set_pretty(self, pretty: bool) -> None:
        self.pretty = pretty
        self._reset_wrap()

    @property
    def row_indexed(self) -> bool:
        """Whether a line may take more than one row (wrapped, or JSON pretty-printed):
        then rows are found through the row index, else a row is a line."""
        return self.wrap_width is not None or self.pretty

    def rows_of(self, text: str, width_of: Callable[[str], int]) -> int:
        """How many rows a (non-marker) line takes in the current view."""
        width = self.wrap_width
        if self.pretty:
            block = pretty_lines(text)
            if block is not None:
                if width is None:
                    return len(block)
                return sum(max(1, -(-cell_len(row) // width)) for row in block)
        if width is None:
            return 1
        return max(1, -(-width_of(text) // width))

    def _reset_wrap(self) -> None:
        self._wrap_seq = []
        self._wrap_start = []
        self._wrap_end = 0
        self._wrap_next = self.first

    @property
    def up_to_date(self) -> bool:
        """True when every index covers every line (nothing left for ``catch_up``)."""
        for index in (self.filter, self.search):
            if index and index.scanned < self.end:
                return False
        if not self.row_indexed:
            return True
        limit = self.filter.scanned if self.filter else self.end
        return self._wrap_next >= limit

    def catch_up(self, budget: float, width_of: Callable[[str], int]) -> bool:
        """Extend the indexes for about ``budget`` seconds; True when all are current."""
        deadline = perf_counter() + budget
        for index in (self.filter, self.search):
            if index and not self._scan(index, deadline):
                return False
        if self.row_indexed:
            return self._wrap(deadline, width_of)
        return True

    def _scan(self, index: MatchIndex, deadline: float) -> bool:
        while index.scanned < self.end:
            first = self.first
            start = max(index.scanned, first)
            stop = min(self.end, start + CHUNK)
            matches, found = index.matches, index.seqs
            kinds = window(self.kinds, start - first, stop - first)
            texts = window(self.texts, start - first, stop - first)
            for seq, kind, text in zip(range(start, stop), kinds, texts, strict=True):
                if matches(kind, text):
                    found.append(seq)
            index.scanned = stop
            if perf_counter() > deadline:
                return index.scanned >= self.end
        return True

    def _wrap(self, deadline: float, width_of: Callable[[str], int]) -> bool:
        rows_of = self.rows_of
        while True:
            first = self.first
            todo: Sequence[int]
            if self.filter:
                at = bisect_left(self.filter.seqs, self._wrap_next)
                todo = self.filter.seqs[at : at + CHUNK]
                kinds = [self.kinds[seq - first] for seq in todo]
                texts = [self.texts[seq - first] for seq in todo]
                limit = self.filter.scanned
            else:
                start = max(self._wrap_next, first)
                todo = range(start, min(self.end, start + CHUNK))
                kinds = window(self.kinds, start - first, start - first + len(todo))
                texts = window(self.texts, start - first, start - first + len(todo))
                limit = self.end
            if not todo:
                self._wrap_next = limit
                return True
            for seq, kind, text in zip(todo, kinds, texts, strict=True):
                rows = 1 if kind == MARKER else rows_of(text, width_of)
                self._wrap_seq.append(seq)
                self._wrap_start.append(self._wrap_end)
                self._wrap_end += rows
            self._wrap_next = todo[-1] + 1
            if perf_counter() > deadline:
                return self.up_to_date

    # --- rows on screen ----------------------------------------------------

    @property
    def rows(self) -> int:
        """How many rows the current view has (lines, filtered lines or wrapped rows)."""
        if self.row_indexed:
            return self._wrap_end - self._wrap_base
        if self.filter:
            return len(self.filter.seqs)
        return len(self.texts)

    @property
    def _wrap_base(self) -> int:
        return self._wrap_start[0] if self._wrap_start else self._wrap_end

    def locate(self, row: int) -> tuple[int, int] | None:
        """``(sequence number, row within the line)`` shown at ``row``, if any."""
        if row < 0:
            return None
        if self.row_indexed:
            target = self._wrap_base + row
            if target >= self._wrap_end:
                return None
            i = bisect_right(self._wrap_start, target) - 1
            return self._wrap_seq[i], target - self._wrap_start[i]
        if self.filter:
            seqs = self.filter.seqs
            return (seqs[row], 0) if row < len(seqs) else None
        return (self.first + row, 0) if row < len(self.texts) else None

    def row_of(self, seq: int) -> int:
        """The first row of line ``seq``, or of the next line the view shows."""
        if self.row_indexed:
            i = bisect_left(self._wrap_seq, seq)
            if i >= len(self._wrap_seq):
                return max(0, self.rows - 1)
            return self._wrap_start[i] - self._wrap_base
        if self.filter:
            return min(bisect_left(self.filter.seqs, seq), max(0, self.rows - 1))
        return min(max(0, seq - self.first), max(0, self.rows - 1))

    def in_view(self, seq: int) -> bool:
        if not self.first <= seq < self.end:
            return False
        if self.filter:
            i = bisect_left(self.filter.seqs, seq)
            return i < len(self.filter.seqs) and self.filter.seqs[i] == seq
        return True

    def next_match(self, after: int, backwards: bool = False) -> int | None:
        """The next (or previous) search hit the view shows, wrapping around the ring."""
        if not self.search or not self.search.seqs:
            return None
        seqs = self.search.seqs
        n = len(seqs)
        i = bisect_left(seqs, after) - 1 if backwards else bisect_right(seqs, after)
        for step in range(n):
            seq = seqs[(i - step) % n] if backwards else seqs[(i + step) % n]
            if self.in_view(seq):
                return seq
        return None

    # --- lines the view shows (a cursor, a selection) ------------------------

    def nearest(self, seq: int) -> int | None:
        """``seq`` if the view shows it, else the next line it shows (or the last one)."""
        if self.end == self.first:
            return None
        seq = min(max(seq, self.first), self.end - 1)
        if not self.filter:
            return seq
        seqs = self.filter.seqs
        if not seqs:
            return None
        i = bisect_left(seqs, seq)
        return seqs[min(i, len(seqs) - 1)]

    def step(self, seq: int, delta: int) -> int | None:
        """The line ``delta`` lines after (or before) ``seq`` in the view, at the ends kept."""
        seq_ = self.nearest(seq)
        if seq_ is None:
            return None
        if not self.filter:
            return min(max(seq_ + delta, self.first), self.end - 1)
        seqs = self.filter.seqs
        i = bisect_left(seqs, seq_) + delta
        return seqs[min(max(i, 0), len(seqs) - 1)]

    def span(self, seq: int) -> tuple[int, int]:
        """The first and last row of line ``seq`` in the view."""
        first = self.row_of(seq)
        if not self.row_indexed:
            return first, first
        i = bisect_left(self._wrap_seq, seq)
        if i >= len(self._wrap_seq) or self._wrap_seq[i] != seq:
            return first, first
        stop = self._wrap_start[i + 1] if i + 1 < len(self._wrap_start) else self._wrap_end
        return first, first + max(0, stop - self._wrap_start[i] - 1)

    def shown_between(self, low: int, high: int) -> list[int]:
        """The lines the view shows from ``low`` to ``high`` (both included), in order."""
        low, high = max(low, self.first), min(high, self.end - 1)
        if low > high:
            return []
        if not self.filter:
            return list(range(low, high + 1))
        seqs = self.filter.seqs
        return seqs[bisect_left(seqs, low) : bisect_right(seqs, high)]

    def hits_shown(self) -> list[int]:
        """The search hits the view shows (all of them, or those the filter keeps)."""
        if not self.search:
            return []
        return [seq for seq in self.search.seqs if self.in_view(seq)]
