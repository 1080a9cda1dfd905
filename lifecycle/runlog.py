"""The full output of one stage run, on disk, with secrets masked.

Every line is stored as ``<time> <stream> <text>`` so a reader can show
timestamps, tell stderr from stdout and search the whole run, while the UI
keeps only a bounded ring in memory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from shipdeck.lifecycle.lines import Line, Stream
from shipdeck.lifecycle.masking import SecretMasker

_CODE = {Stream.STDOUT: "o", Stream.STDERR: "e", Stream.INFO: "i"}
_STREAM = {v: k for k, v in _CODE.items()}


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


def read_run_log(path: Path) -> Iterator[LogRecord]:
    """The records of a run log; a line that does not parse is kept as stdout text."""
    with path.open(encoding="utf-8", errors="replace") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            stamp, _, rest = raw.partition(" ")
            code, _, text = rest.partition(" ")
            try:
                when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
                stream = _STREAM[code]
            except (ValueError, KeyError):
                yield LogRecord(datetime.now(UTC), Stream.STDOUT, raw)
                continue
            yield LogRecord(when, stream, text)
