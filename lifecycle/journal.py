"""The append-only event journal: ``.shipdeck/journal.jsonl``, one JSON event a line.

DORA metrics, item history and the events pane are computed from it, so an
append must never be lost or interleaved with another process's: each event is
one ``write()`` of the whole line on an ``O_APPEND`` descriptor, under a brief
``flock`` so an appender can see whether the last line was left torn by a killed
writer (and end it first). A line that cannot be read (torn, a bad hand edit) is
skipped with a :class:`JournalWarning`, never fatal.

Reads go through the index beside it (``lifecycle/history.py``), so they cost
what they return; where the index cannot be used (an unwritable ``.shipdeck/state``)
the file itself is parsed, as before the index existed.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import warnings
from collections.abc import Callable, Iterable
from contextlib import suppress
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from shipdeck.lifecycle.errors import ShipdeckError, StorageError
from shipdeck.lifecycle.events import Event
from shipdeck.lifecycle.history import DoraFacts, HistoryIndex, decode_line, dora_row, item_key
from shipdeck.lifecycle.items import format_time
from shipdeck.lifecycle.paths import ShipdeckPaths

_RESERVED = frozenset({"ts", "type", "item"})
_T = TypeVar("_T")


class JournalWarning(ShipdeckError, UserWarning):
    """A journal line was skipped; the message names ``journal.jsonl:<line>``."""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot journal a {type(value).__name__}: {value!r}")


def encode_event(event: Event) -> bytes:
    """The event as one compact JSON line, newline included."""
    clash = _RESERVED & event.data.keys()
    if clash:
        raise ValueError(f"event data may not use the reserved keys {sorted(clash)}")
    raw = event.to_dict()
    opts: dict[str, Any] = {"separators": (",", ":"), "default": _json_default}
    try:
        return (json.dumps(raw, ensure_ascii=False, **opts) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: let JSON escape it instead
        return (json.dumps(raw, ensure_ascii=True, **opts) + "\n").encode("ascii")


def _decoded(lines: list[bytes]) -> list[Event]:
    """Indexed lines as events. One that no longer decodes was undone by another
    process since the index was checked; it is gone from the journal, so from here."""
    events = []
    for line in lines:
        with suppress(ValueError):
            events.append(decode_line(line))
    return events


class Journal:
    """Appends events and reads them back, re-parsing only what was added since.

    Reads are incremental (the index, or without one the byte offset of the last
    complete line parsed), so a UI can call :meth:`tail` every second on a journal
    of months.
    """

    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        self.paths = ShipdeckPaths(Path(root))
        self.path = self.paths.journal
        self.name = self.paths.display(self.path)
        self.fsync = fsync
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._events: list[Event] = []
        self._offset = 0  # bytes of complete lines already parsed
        self._lines = 0  # how many complete lines that was
        self._ident: tuple[int, int] | None = None
        index = HistoryIndex(self.path, self.paths.state / "journal.sqlite")
        self._index: HistoryIndex | None = index
        self._warned = (-1, 0)  # (index generation, line): skipped lines already warned of
        # Masks secrets in every string of an event before it is written (set by
        # the engine from the configured secrets); what is returned is the masked one.
        self.scrub: Callable[[Any], Any] | None = None

    def append(self, event: Event) -> Event:
        """Write ``event`` as one line, flushed to the OS (and fsynced if asked).

        Raises :class:`StorageError` naming the journal when it cannot be written
        (read-only, disk full), and then leaves no part of the line behind.
        """
        return self.append_undoable(event)[0][0]

    def append_undoable(self, *events: Event) -> tuple[list[Event], Callable[[], None]]:
        """Write ``events`` in one ``write()``; also returns how to take them out again.

        For a change whose event must land with it or not at all (a board change):
        the journal is written first, as it is the write most likely to fail, and the
        undo (which only shrinks the file, so it works on a full disk) is called if
        the change then fails.
        """
        if self.scrub is not None:
            events = tuple(Event(e.type, e.item, self.scrub(e.data), e.ts) for e in events)
        data = b"".join(encode_event(e) for e in events)
        with self._write_lock:
            try:
                self.paths.ensure()
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
            except OSError as exc:
                raise StorageError.wrap(exc, self.name) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # only to see a finished last line; brief
                start = os.fstat(fd).st_size
                if start and os.pread(fd, 1, start - 1) != b"\n":
                    data = b"\n" + data  # end a torn line so ours stays readable
                view = memoryview(data)
                try:
                    while view:  # one write() on a regular file; the loop is for disk-full
                        view = view[os.write(fd, view) :]
                    if self.fsync:
                        os.fsync(fd)
                except OSError as exc:
                    with suppress(OSError):
                        os.ftruncate(fd, start)  # no torn line of ours left behind
                    raise StorageError.wrap(exc, self.name) from None
            finally:
                os.close(fd)
        return list(events), lambda: self._undo(start, data)

    def _undo(self, start: int, data: bytes) -> None:
        """Take out the bytes an :meth:`append_undoable` wrote at ``start``, keeping any
        line another process appended after them (all appends hold the same flock)."""
        with self._write_lock:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)  # no O_APPEND: pwrite in place
            except OSError as exc:
                raise StorageError.wrap(exc, self.name) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                size = os.fstat(fd).st_size
                end = start + len(data)
                if size < end or os.pread(fd, len(data), start) != data:
                    return  # truncated or replaced meanwhile: ours is not there any more
                rest = os.pread(fd, size - end, end) if size > end else b""
                if rest:
                    os.pwrite(fd, rest, start)  # moves lines back: never needs more space
                os.ftruncate(fd, start + len(rest))
            except OSError as exc:
                raise StorageError.wrap(exc, self.name) from None
            finally:
                os.close(fd)
        with self._read_lock:
            self._reset(None)
            if self._index is not None:  # else the next query sees the change and rebuilds
                with suppress(sqlite3.Error, OSError):
                    self._index.forget_from(start)

    def read(
        self, since: datetime | None = None, types: Iterable[str] | None = None
    ) -> list[Event]:
        """Events in file order, optionally from ``since`` (inclusive) and of ``types``."""
        if since is not None:
            since = since if since.tzinfo else since.replace(tzinfo=UTC)
        wanted = None if types is None else {types} if isinstance(types, str) else set(types)
        start = None if since is None else since.timestamp()
        found = self._indexed(lambda index: index.events(start, wanted))
        events = self._refresh() if found is None else found
        if since is not None:
            events = [e for e in events if e.ts >= since]
        if wanted is not None:
            events = [e for e in events if e.type in wanted]
        return events

    def tail(self, n: int) -> list[Event]:
        """The last ``n`` events."""
        if n <= 0:
            return []
        found = self._indexed(lambda index: index.last(n))
        return (self._refresh() if found is None else found)[-n:]

    def for_item(self, item_id: str) -> list[Event]:
        """An item's history, oldest first."""
        wanted = item_key(item_id)
        found = self._indexed(lambda index: index.for_item(wanted))
        events = self._refresh() if found is None else found
        return [e for e in events if e.item is not None and item_key(e.item) == wanted]

    def latest_for_envs(self, envs: Iterable[str], types: Iterable[str], n: int = 4) -> list[Event]:
        """The last ``n`` events of ``types`` about each of ``envs``, environment by
        environment, each in file order (a card's "what runs there now" without
        decoding every deploy ever journaled)."""
        wanted = set(types)
        found: list[Event] = []
        whole: list[Event] | None = None  # the file, read once if the index cannot serve
        for env in sorted(set(envs)):
            got = self._indexed(partial(HistoryIndex.latest_for_env, env=env, types=wanted, n=n))
            if got is None:
                whole = self.read(types=wanted) if whole is None else whole
                found.extend([e for e in whole if e.data.get("env") == env][-n:])
            else:
                found.extend(e for e in got if e.data.get("env") == env and e.type in wanted)
        return found

    def newest(self, n: int, skip: int = 0) -> list[Event]:
        """A page of the timeline: the ``n`` newest events after the ``skip`` newest, by
        time, oldest first, ties in journal order (what the events pane shows, without
        reading the rest)."""
        if n <= 0:
            return []
        with self._read_lock:
            found = self._with_index(lambda index: index.newest(n, skip))
        if found is None:
            events = self._refresh()
            ranked = sorted(range(len(events)), key=lambda i: (events[i].ts, i), reverse=True)
            return [events[i] for i in reversed(ranked[skip : skip + n])]
        raws, torn = found
        page = _decoded(raws)  # newest first
        if torn is not None and skip == 0:  # the last line in the file: newest of its time
            page = sorted([torn, *page], key=lambda e: e.ts, reverse=True)[:n]
        return page[::-1]

    def dora_facts(self, until: datetime, since: datetime, env: str | None = None) -> DoraFacts:
        """What DORA reads to report on ``since < ts <= until`` (see ``HistoryIndex.dora``)."""
        cutoff = until.timestamp()
        with self._read_lock:
            found = self._with_index(lambda index: index.dora(cutoff, since.timestamp(), env))
        if found is None:
            events = [e for e in self._refresh() if e.ts <= until]
        else:
            facts, torn = found
            if torn is None or torn.ts > until:
                return facts
            # A last line without its newline, yet whole: DORA from the events instead.
            events = [e for e in self._refresh() if e.ts <= until]
        events.sort(key=lambda e: e.ts)
        first = events[0].ts.timestamp() if events else None
        return DoraFacts(first, [dora_row(e) for e in events])

    def _indexed(self, query: Callable[[HistoryIndex], list[bytes]]) -> list[Event] | None:
        """The events ``query`` finds in the index, then a torn last line's, if it is
        one; None when the index cannot be used (read the file instead)."""
        with self._read_lock:
            found = self._with_index(query)
        if found is None:
            return None
        raws, torn = found
        events = _decoded(raws)
        return [*events, torn] if torn is not None else events

    def _with_index(self, query: Callable[[HistoryIndex], _T]) -> tuple[_T, Event | None] | None:
        index = self._index
        if index is None:
            return None
        try:
            synced = index.sync()
            if synced is None:
                return None  # no journal: reading the file says so without an index
            result = query(index)
            generation, line = self._warned
            if generation != synced.generation:
                line = 0
            skipped = index.skipped(line)
        except (sqlite3.Error, OSError):
            index.close()
            self._index = None  # this instance reads the file from now on
            return None
        for line, reason in skipped:
            warnings.warn(
                f"{self.name}:{line}: skipped an undecodable line ({reason})", JournalWarning, 4
            )
        self._warned = (synced.generation, skipped[-1][0] if skipped else line)
        torn = self._decode(synced.rest, synced.lines + 1, "a torn last line")
        return result, torn

    def _refresh(self) -> list[Event]:
        with self._read_lock:
            try:
                f = open(self.path, "rb")  # noqa: SIM115 - closed just below
            except FileNotFoundError:
                self._reset(None)
                return []
            with f:
                fcntl.flock(f.fileno(), fcntl.LOCK_SH)  # no append half-done while we read
                st = os.fstat(f.fileno())
                if (st.st_dev, st.st_ino) != self._ident or st.st_size < self._offset:
                    self._reset((st.st_dev, st.st_ino))  # replaced or truncated: start over
                f.seek(self._offset)
                chunk = f.read()
            end = chunk.rfind(b"\n") + 1
            for raw in chunk[:end].split(b"\n")[:-1]:
                self._lines += 1
                event = self._decode(raw, self._lines, "an undecodable line")
                if event is not None:
                    self._events.append(event)
            self._offset += end
            events = list(self._events)
            # A last line without its newline: torn by a kill, or being written now.
            last = self._decode(chunk[end:], self._lines + 1, "a torn last line")
        if last is not None:
            events.append(last)
        return events

    def _reset(self, ident: tuple[int, int] | None) -> None:
        self._events, self._offset, self._lines, self._ident = [], 0, 0, ident

    def _decode(self, raw: bytes, line: int, what: str) -> Event | None:
        if not raw.strip():
            return None
        try:
            return decode_line(raw)
        except ValueError as e:
            warnings.warn(f"{self.name}:{line}: skipped {what} ({e})", JournalWarning, 3)
            return None
