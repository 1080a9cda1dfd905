"""The full output of one stage run, on disk, with secrets masked.

Every line is stored as ``<time> <stream> <text>`` so a reader can show
timestamps, tell stderr from stdout and search the whole run, while the UI
keeps only a bounded ring in memory. Readers split records on ``\n`` alone (a
``\r`` inside a line is text) and read a tail backwards from the end, so a huge
log costs what is shown of it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, NamedTuple

from shipdeck.lifecycle.lines import Line, Stream
from shipdeck.lifecycle.masking import SecretMasker

_CODE = {Stream.STDOUT: "o", Stream.STDERR: "e", Stream.INFO: "i"}
_STREAM = {v: k for k, v in _CODE.items()}
BLOCK = 1 << 20  # bytes read at a time
BATCH = 4096  # lines handed on at a time when streaming a whole log


class LogRecord(NamedTuple):
    time: datetime
    stream: Stream
    text: str


class RunLog:
    """Appends masked batches to ``runs/<run-id>.log``; thread-safe."""

    def __init__(self, path: Path, masker: SecretMasker | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._masker = masker
        self._file = path.open("a", encoding="utf-8", errors="replace")
        self._lock = threading.Lock()

    def write(self, lines: Sequence[Line]) -> list[Line]:
        """Mask ``lines``, append them, and return the masked lines for display."""
        masked = self._masker.mask_lines(lines) if self._masker else list(lines)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        text = "".join(
            f"{stamp} {_CODE[line.stream]} {line.text.replace(chr(10), ' ')}\n" for line in masked
        )
        with self._lock:
            if not self._file.closed:
                self._file.write(text)
                self._file.flush()
        return masked

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _split(raw: str) -> tuple[str, Stream, str] | None:
    """A record's time stamp (unparsed), stream and text; None when it has no stream."""
    stamp, _, rest = raw.partition(" ")
    code, _, text = rest.partition(" ")
    stream = _STREAM.get(code)
    return None if stream is None else (stamp, stream, text)


def read_run_log(path: Path) -> Iterator[LogRecord]:
    """The records of a run log; a line that does not parse is kept as stdout text."""
    with path.open(encoding="utf-8", errors="replace", newline="\n") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            parts = _split(raw)
            when = None if parts is None else _time(parts[0])
            if parts is None or when is None:
                yield LogRecord(datetime.now(UTC), Stream.STDOUT, raw)
            else:
                yield LogRecord(when, parts[1], parts[2])


def _time(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def record_line(raw: str) -> Line:
    """A record's stream and text, its time left unparsed (printing needs neither the
    time nor its cost); a line that does not parse is stdout text, as in
    :func:`read_run_log`."""
    parts = _split(raw)
    if parts is None or not parts[0].endswith("Z"):
        return Line(Stream.STDOUT, raw)
    return Line(parts[1], parts[2])


def _lines(records: list[bytes]) -> list[Line]:
    return [record_line(r.decode("utf-8", "replace")) for r in records]


def read_back(f: BinaryIO, end: int, count: int, block: int = BLOCK) -> tuple[int, list[bytes]]:
    """The ``count`` records before byte ``end`` (a line start, or the end of the
    file) and the offset of the first, read backwards ``block`` bytes at a time."""
    if count <= 0 or end <= 0:
        return end, []
    blocks: list[bytes] = []
    pos, newlines = end, 0
    while pos > 0 and newlines <= count:
        step = min(block, pos)
        pos -= step
        f.seek(pos)
        chunk = f.read(step)
        blocks.append(chunk)
        newlines += chunk.count(b"\n")
    data = b"".join(reversed(blocks))
    records = data.split(b"\n")
    if data.endswith(b"\n"):
        records.pop()  # after the last newline: nothing
    if pos > 0:
        records.pop(0)  # may have started before the first block
    records = records[-count:]
    return end - sum(len(r) + 1 for r in records) + (0 if data.endswith(b"\n") else 1), records


def complete_end(f: BinaryIO) -> int:
    """The offset just after the last complete line (a line still being written is
    left for the next read)."""
    pos = f.seek(0, os.SEEK_END)
    while pos > 0:
        step = min(BLOCK, pos)
        pos -= step
        f.seek(pos)
        cut = f.read(step).rfind(b"\n")
        if cut >= 0:
            return pos + cut + 1
    return 0


def tail_lines(f: BinaryIO, end: int, count: int) -> list[Line]:
    """The last ``count`` lines before byte ``end``, read backwards from it."""
    return _lines(read_back(f, end, count, BLOCK)[1])


def lines_between(f: BinaryIO, start: int, end: int) -> Iterator[list[Line]]:
    """The lines from byte ``start`` (a line start) to byte ``end``, in batches as they
    are read: a whole log is streamed, never held. A last line without its newline
    (``end`` inside it) comes last."""
    f.seek(start)
    left, rest = end - start, b""
    while left > 0:
        chunk = f.read(min(BLOCK, left))
        if not chunk:
            break
        left -= len(chunk)
        records = (rest + chunk).split(b"\n")
        rest = records.pop()
        for at in range(0, len(records), BATCH):
            yield _lines(records[at : at + BATCH])
    if rest:
        yield _lines([rest])
