"""The whole run log on disk for the log pane: its tail read from the end backwards,
a window of lines paged in around any line, and a search over every line.

The ring (``LogModel``) holds the last lines only; a run log holds them all. A
finished log opens by reading backwards from its end (its size does not matter), so
its last line shows at once. The search is a memory-mapped scan with ``re`` over
bytes, from the end backwards in chunks, so the latest hits come first and progress
is reported per chunk; a hit carries its line number and byte offset, so showing it
reads a window around that offset and needs no index of every line. Free of Textual:
``LogView`` runs these in thread workers. Run logs on disk are already masked.
"""

from __future__ import annotations

import mmap
import re
from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from shipdeck.lifecycle import runlog
from shipdeck.widgets.log.lines import INFO, STDERR, STDOUT, Batch
from shipdeck.widgets.log.model import MatchIndex

BLOCK = 1 << 20  # bytes read at a time when reading backwards or forwards
CHUNK = 1 << 22  # bytes scanned between two progress reports
_KIND = {b"o ": STDOUT, b"e ": STDERR, b"i ": INFO, b"o": STDOUT, b"e": STDERR, b"i": INFO}
# A pattern the raw scan cannot read the user's way (it sees "<time> <o|e|i> " first
# and Unicode as bytes): such patterns are matched line by line, decoded.
_NOT_RAW = re.compile(r"(?<!\[)\^|\\[AZbBwWsSdD]|\(\?[<=!]")


@dataclass(frozen=True)
class Window:
    """Lines ``first`` .. ``first + len(records) - 1`` of a log, as raw records, the
    first at byte ``offset``."""

    first: int
    records: list[bytes]
    offset: int = 0


@dataclass(frozen=True)
class Opened:
    """What ``open_tail`` found: the log's size and line count then, and its tail."""

    size: int  # bytes up to the end of its last line
    lines: int  # lines in those bytes
    tail: Window


@dataclass
class Hits:
    """Lines a search found on disk (sorted), with each line's byte offset."""

    lines: array[int] = field(default_factory=lambda: array("q"))
    offsets: array[int] = field(default_factory=lambda: array("q"))
    records: list[bytes] = field(default_factory=list)  # the last hits' records, if kept

    def __len__(self) -> int:
        return len(self.lines)

    def add_before(self, other: Hits) -> None:
        """Put ``other`` (hits earlier in the file) in front: the scan goes backwards."""
        self.lines[:0] = other.lines
        self.offsets[:0] = other.offsets
        if len(self.records) == len(self.lines) - len(other.lines):  # no gap between them
            self.records[:0] = other.records

    def offset_of(self, line: int) -> int | None:
        i = bisect_left(self.lines, line)
        return self.offsets[i] if i < len(self.lines) and self.lines[i] == line else None


# --- records -------------------------------------------------------------------


class RecordReader:
    """Run-log records (``<UTC time> <o|e|i> <text>``) as the ring's batches; the
    time of a second is parsed once."""

    def __init__(self) -> None:
        self._times: dict[bytes, float] = {}

    def time(self, stamp: bytes) -> float | None:
        """Seconds since the epoch; ``...T12:00:00.123Z`` is parsed once a second."""
        if len(stamp) == 24 and stamp[19] == 46 and stamp[23] == 90:  # "." and "Z"
            second = self._second(stamp[:19])
            if second is not None and stamp[20:23].isdigit():
                return second + int(stamp[20:23]) / 1000
        try:
            when = datetime.fromisoformat(stamp.decode("ascii").replace("Z", "+00:00"))
        except (ValueError, UnicodeDecodeError):
            return None
        return when.timestamp()

    def _second(self, stamp: bytes) -> float | None:
        when = self._times.get(stamp)
        if when is None:
            try:
                parsed = datetime.fromisoformat(stamp.decode("ascii") + "+00:00")
            except (ValueError, UnicodeDecodeError):
                return None
            if len(self._times) > 4096:
                self._times.clear()
            when = self._times[stamp] = parsed.timestamp()
        return when

    def text(self, record: bytes) -> str:
        """The line's text (what the ring stores and searches)."""
        _, _, rest = record.partition(b" ")
        if rest[:2] in _KIND:
            return rest[2:].decode("utf-8", "replace")
        return record.decode("utf-8", "replace")

    def batches(self, records: list[bytes], now: float) -> list[Batch]:
        """Records as the ring stores them: ``(time, texts, kinds)`` batches, one per
        run of equal timestamps; a record that does not parse is stdout text at
        ``now`` (as ``read_run_log`` reads it)."""
        out: list[Batch] = []
        texts: list[str] = []
        kinds = bytearray()
        stamp_of_batch: bytes | None = None
        when_of_batch = now
        for record in records:
            stamp, _, rest = record.partition(b" ")
            kind = _KIND.get(rest[:2])
            if kind is None:
                stamp, kind, text = b"", STDOUT, record
            else:
                text = rest[2:]
            if stamp != stamp_of_batch:
                when = (self.time(stamp) if stamp else None) or now
                if when is now and stamp:
                    stamp, kind, text = b"", STDOUT, record
                if texts:
                    out.append((when_of_batch, texts, bytes(kinds)))
                    texts, kinds = [], bytearray()
                stamp_of_batch, when_of_batch = stamp, when
            texts.append(text.decode("utf-8", "replace"))
            kinds.append(kind)
        if texts:
            out.append((when_of_batch, texts, bytes(kinds)))
        return out


# --- reading -------------------------------------------------------------------


def read_back(f: BinaryIO, end: int, count: int) -> tuple[int, list[bytes]]:
    """:func:`lifecycle.runlog.read_back` a :data:`BLOCK` at a time."""
    return runlog.read_back(f, end, count, BLOCK)


def read_forward(f: BinaryIO, start: int, count: int, end: int) -> list[bytes]:
    """Up to ``count`` records from byte ``start`` (a line start), not past ``end``."""
    blocks: list[bytes] = []
    pos, newlines = start, 0
    while pos < end and newlines < count:
        f.seek(pos)
        block = f.read(min(BLOCK, end - pos))
        if not block:
            break
        blocks.append(block)
        pos += len(block)
        newlines += block.count(b"\n")
    data = b"".join(blocks)
    records = data.split(b"\n")
    if data.endswith(b"\n") or (pos < end and records):
        records.pop()  # empty, or a record cut by the last block
    return records[:count]


def count_lines(f: BinaryIO, end: int) -> int:
    """Newlines in the first ``end`` bytes (about 50 ms for 80 MB from the page cache)."""
    f.seek(0)
    total, left = 0, end
    while left > 0:
        block = f.read(min(BLOCK * 4, left))
        if not block:
            break
        total += block.count(b"\n")
        left -= len(block)
    return total


def open_tail(path: Path, keep: int) -> Opened:
    """The last ``keep`` lines of the log at ``path``, numbered from its first line."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        start, records = read_back(f, size, keep)
        before = count_lines(f, start)
    return Opened(size=size, lines=before + len(records), tail=Window(before, records, start))


def read_before(path: Path, window: Window, count: int) -> Window:
    """``window`` with up to ``count`` more lines in front (the rest of the tail, after
    the first screenful was shown)."""
    with path.open("rb") as f:
        start, records = read_back(f, window.offset, count)
    return Window(window.first - len(records), records + window.records, start)


def read_window(path: Path, line: int, offset: int, before: int, after: int, end: int) -> Window:
    """Up to ``before`` lines before line ``line`` (at byte ``offset``), it and up to
    ``after - 1`` after it, not past byte ``end``."""
    with path.open("rb") as f:
        start, earlier = read_back(f, offset, before)
        later = read_forward(f, offset, after, end)
    return Window(line - len(earlier), earlier + later, start)


# --- searching ------------------------------------------------------------------


def raw_pattern(pattern: re.Pattern[str]) -> tuple[re.Pattern[bytes], bool] | None:
    """A bytes regex that finds every line ``pattern`` may match, and whether to scan
    lowered bytes (smart case: a pattern with no capital letter ignores case, and
    ``re`` over lowered bytes is five times faster than ``re.IGNORECASE``). None: the
    pattern must be read line by line."""
    source = pattern.pattern
    if not source.isascii() or _NOT_RAW.search(source):
        return None
    ignore = bool(pattern.flags & re.IGNORECASE)
    lower = ignore and not any(c.isupper() for c in source)
    flags = re.MULTILINE | (re.IGNORECASE if ignore and not lower else 0)
    try:
        return re.compile(source.encode("ascii"), flags), lower
    except re.error:
        return None


Progress = Callable[[Hits, int], None]  # hits in the chunk just scanned, bytes done


def search_file(
    path: Path,
    pattern: re.Pattern[str],
    size: int,
    lines: int,
    progress: Progress,
    cancelled: Callable[[], bool],
    keep: int = 0,
) -> bool:
    """Every line of the first ``size`` bytes (``lines`` lines) of the log at
    ``path`` that ``pattern`` matches as the ring would, chunk by chunk from the end;
    ``progress`` gets each chunk's hits, with the records of the last ``keep`` hits
    of the file (the filter shows them). False if ``cancelled`` stopped it."""
    if size <= 0:
        return True
    raw = raw_pattern(pattern)
    matcher = MatchIndex(pattern, 0, keep_markers=False).matches
    reader = RecordReader()
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        size = min(size, len(mm))
        stop, after = size, 0  # newlines from ``stop`` to ``size``
        ends_open = size > 0 and mm[size - 1 : size] != b"\n"
        newlines = lines - (1 if ends_open else 0)
        while stop > 0:
            if cancelled():
                return False
            start = mm.rfind(b"\n", 0, stop - CHUNK) + 1 if stop > CHUNK else 0
            data = mm[start:stop]
            in_chunk = data.count(b"\n")
            first_line = newlines - after - in_chunk  # line number at ``start``
            chunk = _scan_chunk(data, raw, matcher, reader)
            found = Hits()
            counted, line = 0, first_line
            for at, _ in chunk:
                line += data.count(b"\n", counted, at)
                counted = at
                found.lines.append(line)
                found.offsets.append(start + at)
            if keep > 0 and chunk:
                kept = chunk[-keep:]
                found.records = [data[at:end] for at, end in kept]
                keep -= len(kept)
            after += in_chunk
            stop = start
            progress(found, size - stop)
    return True


def _scan_chunk(
    data: bytes,
    raw: tuple[re.Pattern[bytes], bool] | None,
    matcher: Callable[[int, str], bool],
    reader: RecordReader,
) -> list[tuple[int, int]]:
    """Where in ``data`` the lines that match start and end, in order."""
    found: list[tuple[int, int]] = []
    if raw is None:
        at = 0
        for record in data.split(b"\n"):
            if record and matcher(0, reader.text(record)):
                found.append((at, at + len(record)))
            at += len(record) + 1
        return found
    regex, lower = raw
    hay = data.lower() if lower else data
    pos = 0
    while (hit := regex.search(hay, pos)) is not None:
        begin = data.rfind(b"\n", 0, hit.start()) + 1
        end = data.find(b"\n", hit.start())
        end = len(data) if end < 0 else end
        if matcher(0, reader.text(data[begin:end])):
            found.append((begin, end))
        pos = end + 1  # the next line: one hit per line, and none hidden by this one
        if pos > len(data):
            break
    return found
