"""Disk side of the log pane: saving the whole log and reading the tail of a run log.

The functions do blocking I/O and are tested without an app; ``LogView`` runs them
in worker threads. Saved files use the run-log format (``<UTC time> <o|e|i> <text>``),
so a saved log opens again with ``load_file``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from shipdeck.lifecycle import atomic
from shipdeck.lifecycle.lines import Line, Stream

_CODE = {Stream.STDOUT: "o", Stream.STDERR: "e", Stream.INFO: "i"}


def _stamp(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _write(dest: Path, chunks: Iterable[bytes]) -> int:
    """Write ``chunks`` to ``dest`` atomically (``lifecycle/atomic.py``), creating its
    folder; returns the line count."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    lines = 0

    def counted() -> Iterator[bytes]:
        nonlocal lines
        for chunk in chunks:
            lines += chunk.count(b"\n")
            yield chunk

    atomic.write_chunks(dest, counted())
    return lines


def copy_sources(sources: Sequence[Path], dest: Path) -> int:
    """Concatenate the on-disk logs ``sources`` into ``dest``; returns the line count."""
    resolved = dest.resolve()
    for source in sources:
        if source.resolve() == resolved:
            raise OSError(f"{dest} is the log being shown; choose another file")

    def chunks() -> Iterator[bytes]:
        for source in sources:
            with source.open("rb") as f:
                last = b"\n"
                while block := f.read(1 << 20):
                    last = block[-1:]
                    yield block
                if last != b"\n":
                    yield b"\n"

    return _write(dest, chunks())


def write_records(records: Iterable[tuple[float, Line]], dest: Path) -> int:
    """Write ``(time, line)`` pairs to ``dest`` in run-log format; returns the line count."""

    def chunks() -> Iterator[bytes]:
        batch: list[str] = []
        for when, line in records:
            text = line.text.replace("\n", " ")
            batch.append(f"{_stamp(when)} {_CODE.get(line.stream, 'o')} {text}\n")
            if len(batch) >= 4096:
                yield "".join(batch).encode("utf-8", "replace")
                batch.clear()
        if batch:
            yield "".join(batch).encode("utf-8", "replace")

    return _write(dest, chunks())


def save_log(dest: Path, sources: Sequence[Path], records: Iterable[tuple[float, Line]]) -> int:
    """The whole log to ``dest``: the on-disk ``sources`` if any, else ``records``."""
    return copy_sources(sources, dest) if sources else write_records(records, dest)
