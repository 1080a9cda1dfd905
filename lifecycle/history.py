"""The journal's index: ``.shipdeck/state/journal.sqlite``, beside ``journal.jsonl``.

The JSONL file stays the durable record; this index only makes reading it cost
what is asked for. DORA, an item's history and the events pane would otherwise
parse every event of a journal of months (1M events: seconds and a gigabyte).

- **Incremental**: each query first indexes the complete lines appended since the
  last indexed byte offset (usually none: one ``fstat``, one 64-byte ``pread``).
- **Rebuilt** when missing, corrupt, of another schema, or when the journal is not
  the one indexed: another file (device, inode), shorter than the offset, or the
  bytes just before the offset changed (rewritten in place).
- **Concurrent**: WAL, and every catch-up is one ``BEGIN IMMEDIATE`` transaction
  that re-reads the offset first, so two processes never index the same lines and
  a reader sees the index before or after a catch-up, never half of one.
  Appenders never wait for the index: the journal's ``flock`` is held only for
  the ``fstat`` that says where the last finished append ends.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from shipdeck.lifecycle.events import (
    ALERT_CLEARED,
    ALERT_RAISED,
    DEPLOY_FAILED,
    DEPLOYED,
    ROLLED_BACK,
    Event,
)
from shipdeck.lifecycle.items import normalise_id, parse_time, utcnow

SCHEMA = 2  # 2: events_env, for what each environment runs now
CHUNK = 8 << 20  # bytes of journal read at a time while indexing
ANNOUNCE_OVER = 16 << 20  # bytes to index (~100,000 events, a second or so) worth a word
# How this process tells a person that a long indexing begins, given its size in bytes
# (the CLI: a line on a terminal's stderr, as git says "Counting objects"); None: no
# one is told (the board's events pane says "reading the journal…" itself).
announce: Callable[[int], None] | None = None
_TAIL = 64  # bytes before the offset compared on each query (a rewritten journal)
_PEEK = 1 << 16  # past the offset, more than this is surely a whole line

# What DORA reads; the partial index below holds only these, in time order, with
# the columns DORA needs (a covering index: the query never reads the raw lines).
DORA_TYPES = (DEPLOYED, DEPLOY_FAILED, ROLLED_BACK, ALERT_RAISED, ALERT_CLEARED)
_DORA_IN = "type IN ({})".format(", ".join(f"'{t}'" for t in DORA_TYPES))

# One DORA fact: (ts as epoch seconds, type, env, alert id, lead time in seconds).
DoraRow = tuple[float, str, str | None, str, float | None]

_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,  -- the line's place in the journal: pos and size bytes
    pos INTEGER NOT NULL,
    line INTEGER NOT NULL,
    ts REAL NOT NULL,
    type TEXT NOT NULL,
    item TEXT,
    env TEXT,
    alert_id TEXT,
    lead REAL,
    size INTEGER NOT NULL
);
CREATE TABLE skipped (line INTEGER PRIMARY KEY, pos INTEGER NOT NULL, reason TEXT NOT NULL)
"""
# Made after a whole journal is indexed (faster than keeping them up row by row).
_INDEXES = f"""
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE INDEX IF NOT EXISTS events_item ON events (item) WHERE item IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_type ON events (type);
CREATE INDEX IF NOT EXISTS events_env ON events (env, seq) WHERE env IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_dora ON events (ts, seq, type, env, alert_id, lead)
    WHERE {_DORA_IN}
"""


@lru_cache(maxsize=4096)
def item_key(item_id: str) -> str:
    """The form an item id is matched in (``sd-3`` and ``3`` are ``SD-3``)."""
    try:
        return normalise_id(item_id)
    except ValueError:
        return item_id


def _fields(raw: bytes | str) -> tuple[dict[str, Any], datetime]:
    """A line's JSON object and its time; ValueError says why it is no event."""
    try:
        data = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise ValueError("not an event object")
        if data.get("item") is not None and not isinstance(data["item"], str):
            raise ValueError("item is not text")
        ts = parse_time(data.get("ts")) or utcnow()
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(" ".join(str(e).split())[:120]) from None
    return data, ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def decode_line(raw: bytes | str) -> Event:
    """One journal line as an event (times in UTC); ValueError says why it is not one."""
    data, ts = _fields(raw)
    event = Event.from_dict(data)
    return replace(event, ts=ts)


def dora_row(event: Event) -> DoraRow:
    """The fields DORA uses, as the index stores them."""
    return _dora_fields(event.ts.timestamp(), event.type, event.data)


def _dora_fields(ts: float, kind: str, data: dict[str, Any]) -> DoraRow:
    env = data.get("env")
    lead = data.get("lead_time")
    number = isinstance(lead, int | float) and not isinstance(lead, bool)
    seconds = float(lead) if isinstance(lead, int | float) and number else None
    alert_id = str(data.get("alert_id", ""))
    return (ts, kind, str(env) if env else None, alert_id, seconds)


@dataclass(frozen=True)
class DoraFacts:
    """What DORA reads: the journal's first time (epoch seconds) and rows in time order."""

    first: float | None
    rows: Iterable[DoraRow]


@dataclass(frozen=True)
class Synced:
    """What a catch-up leaves: the index's generation (it changes on a rebuild), the
    lines indexed, and the bytes after the last complete line (a torn last line)."""

    generation: int
    lines: int
    rest: bytes


class HistoryIndex:
    """The SQLite index of one journal; every query is preceded by :meth:`sync`.

    One connection per instance, used under a lock, so the board's worker threads
    can share a journal. Errors are ``sqlite3.Error`` or ``OSError``: the journal
    falls back to reading the file itself on either.
    """

    def __init__(self, journal: Path, path: Path) -> None:
        self.journal = journal
        self.path = path
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None

    # --- the connection ----------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.OperationalError:
                raise  # locked, disk full, read-only: the index is sound, only not reachable now
            except sqlite3.DatabaseError:  # not a database (any more): start a new one
                self._remove()
                self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA journal_size_limit=8388608")  # no WAL left at a whole build's size
            if self._meta(db, "schema") != SCHEMA:
                db.execute("BEGIN IMMEDIATE")
                if self._meta(db, "schema") != SCHEMA:  # another process may have just made it
                    for table in ("meta", "events", "skipped"):
                        db.execute(f"DROP TABLE IF EXISTS {table}")
                    for statement in filter(str.strip, f"{_DDL};{_INDEXES}".split(";")):
                        db.execute(statement)
                    db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA,))
                    db.execute("INSERT INTO meta VALUES ('generation', 0)")
                db.execute("COMMIT")
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def _meta(db: sqlite3.Connection, key: str) -> Any:
        try:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # no such table: a new file
            return None
        return None if row is None else row[0]

    def _remove(self) -> None:
        self.close()
        for suffix in ("", "-wal", "-shm"):
            with suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # --- keeping up with the journal --------------------------------------------------

    def sync(self) -> Synced | None:
        """Index what was appended since the last query; None when there is no journal."""
        with self._lock:
            try:
                return self._sync()
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError):
                    raise  # locked, disk full, read-only: not corruption
                self._remove()  # a corrupt index: rebuilt from the journal
                return self._sync()

    def _sync(self) -> Synced | None:
        try:
            fd = os.open(self.journal, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # only for where the last finished append ends
            st = os.fstat(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
            ident, size = f"{st.st_dev}:{st.st_ino}", st.st_size
            db = self._conn()
            state = self._state(db)
            if not self._current(fd, state, ident, size) or self._appended(fd, state, size):
                db.execute("BEGIN IMMEDIATE")
                try:
                    state = self._state(db)  # another process may have indexed meanwhile
                    if not self._current(fd, state, ident, size):
                        state = self._restart(db, ident)
                    if state["offset"] < size:
                        state = self._index(db, fd, state, size)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            offset = min(int(state["offset"]), size)
            rest = os.pread(fd, size - offset, offset) if size > offset else b""
        finally:
            os.close(fd)
        return Synced(int(state["generation"]), int(state["lines"]), rest)

    @staticmethod
    def _state(db: sqlite3.Connection) -> dict[str, Any]:
        state: dict[str, Any] = {"ident": None, "offset": 0, "lines": 0, "tail": b""}
        state.update(db.execute("SELECT key, value FROM meta").fetchall())
        return state

    @staticmethod
    def _current(fd: int, state: dict[str, Any], ident: str, size: int) -> bool:
        """Whether the index is of this journal: same file, not shorter, same tail."""
        offset = int(state["offset"])
        if state["ident"] != ident or size < offset:
            return False
        tail = bytes(state["tail"])
        return os.pread(fd, len(tail), offset - len(tail)) == tail

    @staticmethod
    def _appended(fd: int, state: dict[str, Any], size: int) -> bool:
        """Whether a whole line follows the offset (not only a torn one: that one is
        read again at every query, and needs no write)."""
        offset = int(state["offset"])
        if size - offset > _PEEK:
            return True
        return size > offset and b"\n" in os.pread(fd, size - offset, offset)

    def _restart(self, db: sqlite3.Connection, ident: str) -> dict[str, Any]:
        db.execute("DELETE FROM events")
        db.execute("DELETE FROM skipped")
        db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
        for key, value in (("ident", ident), ("offset", 0), ("lines", 0), ("tail", b"")):
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        return self._state(db)

    def _index(
        self, db: sqlite3.Connection, fd: int, state: dict[str, Any], size: int
    ) -> dict[str, Any]:
        """Index the complete lines between the offset and ``size`` (in the caller's
        transaction); a last line without its newline is left for the next time."""
        offset, lines = int(state["offset"]), int(state["lines"])
        skipped: list[tuple[int, int, str]] = []
        if announce is not None and size - offset >= ANNOUNCE_OVER:
            announce(size - offset)

        def rows() -> Iterator[tuple[Any, ...]]:
            nonlocal offset, lines
            pos = offset
            pending = b""
            while pos < size:
                chunk = os.pread(fd, min(CHUNK, size - pos), pos)
                if not chunk:
                    break
                pos += len(chunk)
                data = pending + chunk
                end = data.rfind(b"\n") + 1
                pending = data[end:]
                at = offset
                for raw in data[:end].split(b"\n")[:-1]:
                    lines += 1
                    here, at = at, at + len(raw) + 1
                    if raw.strip():
                        row = self._row(raw, here, lines, skipped)
                        if row is not None:
                            yield row
                offset = at

        bulk = size - offset > CHUNK  # a whole journal, say: index the rows afterwards
        if bulk:
            names = db.execute("SELECT name FROM sqlite_master WHERE name GLOB 'events_*'")
            for (name,) in names.fetchall():
                db.execute(f"DROP INDEX {name}")
        db.executemany("INSERT INTO events VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows())
        if bulk:
            for statement in filter(str.strip, _INDEXES.split(";")):
                db.execute(statement)
        db.executemany("INSERT OR REPLACE INTO skipped VALUES (?, ?, ?)", skipped)
        tail = os.pread(fd, min(_TAIL, offset), offset - min(_TAIL, offset))
        for key, value in (("offset", offset), ("lines", lines), ("tail", tail)):
            db.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
        return self._state(db)

    @staticmethod
    def _row(
        raw: bytes, pos: int, line: int, skipped: list[tuple[int, int, str]]
    ) -> tuple[Any, ...] | None:
        try:
            data, when = _fields(raw)
        except ValueError as exc:
            skipped.append((line, pos, str(exc)))
            return None
        ts, kind, env, alert_id, lead = _dora_fields(when.timestamp(), data["type"], data)
        item = data.get("item")
        key = item_key(item) if item is not None else None
        alert = alert_id if kind in (ALERT_RAISED, ALERT_CLEARED) else None
        return (pos, line, ts, kind, key, env, alert, lead, len(raw))

    def forget_from(self, start: int) -> None:
        """The journal lost its bytes from ``start`` on (an undone append): drop their
        rows, so the lines moved back are indexed again instead of everything."""
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                state = self._state(db)
                if int(state["offset"]) > start:
                    db.execute("DELETE FROM events WHERE pos >= ?", (start,))
                    db.execute("DELETE FROM skipped WHERE pos >= ?", (start,))
                    self._rewind(db, start)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _rewind(self, db: sqlite3.Connection, start: int) -> None:
        last = db.execute(
            "SELECT MAX(pos), MAX(line) FROM (SELECT pos, line FROM events WHERE pos < ?1"
            " UNION ALL SELECT pos, line FROM skipped WHERE pos < ?1)",
            (start,),
        ).fetchone()
        pos, line = (0, 0) if last[0] is None else (int(last[0]), int(last[1]) - 1)
        with open(self.journal, "rb") as f:  # blank lines have no row: count them
            f.seek(pos)
            line += f.read(start - pos).count(b"\n")
            f.seek(start - min(_TAIL, start))
            tail = f.read(min(_TAIL, start))
        for key, value in (("offset", start), ("lines", line), ("tail", tail)):
            db.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))

    # --- queries (each after a sync) ----------------------------------------------------

    def _rows(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn().execute(sql, tuple(args)).fetchall()

    def _lines(self, sql: str, args: Iterable[Any] = ()) -> list[bytes]:
        """The journal lines whose (pos, size) ``sql`` selects, read from the journal."""
        spans = self._rows(sql, args)
        if not spans:
            return []
        with open(self.journal, "rb") as f:
            return [os.pread(f.fileno(), size, pos) for pos, size in spans]

    def events(self, since: float | None = None, types: Iterable[str] | None = None) -> list[bytes]:
        """Lines in file order, from ``since`` (inclusive), of ``types``."""
        where: list[str] = []
        args: list[Any] = []
        if since is not None:
            where.append("ts >= ?")
            args.append(since)
        if types is not None:
            wanted = sorted(types)
            where.append(f"type IN ({', '.join('?' * len(wanted))})")
            args.extend(wanted)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return self._lines(f"SELECT pos, size FROM events{clause} ORDER BY seq", args)

    def last(self, n: int) -> list[bytes]:
        """The last ``n`` lines in file order."""
        return self._lines("SELECT pos, size FROM events ORDER BY seq DESC LIMIT ?", (n,))[::-1]

    def newest(self, n: int, skip: int = 0) -> list[bytes]:
        """``n`` lines by time, newest first after ``skip`` newer ones (a page)."""
        sql = "SELECT pos, size FROM events ORDER BY ts DESC, seq DESC LIMIT ? OFFSET ?"
        return self._lines(sql, (n, skip))

    def latest_for_env(self, env: str, types: Iterable[str], n: int) -> list[bytes]:
        """The last ``n`` lines of ``types`` about ``env``, in file order: what runs
        there now is in the newest few, so the board's cards never read the rest."""
        wanted = sorted(types)
        sql = (
            "SELECT pos, size FROM events WHERE env = ? AND "
            f"type IN ({', '.join('?' * len(wanted))}) ORDER BY seq DESC LIMIT ?"
        )
        return self._lines(sql, (env, *wanted, n))[::-1]

    def for_item(self, key: str) -> list[bytes]:
        return self._lines("SELECT pos, size FROM events WHERE item = ? ORDER BY seq", (key,))

    def skipped(self, after_line: int) -> list[tuple[int, str]]:
        """Lines that are no event (line number, why), after ``after_line``."""
        sql = "SELECT line, reason FROM skipped WHERE line > ? ORDER BY line"
        return [(int(a), str(b)) for a, b in self._rows(sql, (after_line,))]

    def dora(self, until: float, since: float, env: str | None = None) -> DoraFacts:
        """What DORA needs to report on the window ``since < ts <= until`` (all of it
        from one snapshot of the index): the rows from the replay's start in time
        order, streamed from their own connection, so memory stays that of one row.

        The replay starts at the last ``deployed`` at or before ``since`` of the
        environment whose last one is earliest: a deploy ends an environment's
        incident and its failed change, so nothing before it changes what is counted
        in the window. (An alert raised before it is in no incident opened after it,
        so its ``alert.cleared`` changes nothing.) An environment with events before
        the window but no deploy there replays the whole journal.
        """
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            db.execute("BEGIN")  # one snapshot for every query below
            first = db.execute("SELECT MIN(ts) FROM events WHERE ts <= ?", (until,)).fetchone()[0]
            start = self._replay_start(db, since, env)
            cursor = db.execute(
                "SELECT ts, type, env, coalesce(alert_id, ''), lead"
                f" FROM events INDEXED BY events_dora WHERE {_DORA_IN}"
                " AND (ts, seq) >= (?, ?) AND ts <= ? ORDER BY ts, seq",
                (*(start or (float("-inf"), 0)), until),
            )
        except BaseException:
            db.close()
            raise

        def stream() -> Iterator[DoraRow]:
            try:
                yield from cursor
            finally:
                db.close()

        return DoraFacts(first, stream())

    @staticmethod
    def _replay_start(
        db: sqlite3.Connection, since: float, env: str | None
    ) -> tuple[float, int] | None:
        """Where DORA's replay may start (ts, seq); None: at the beginning."""
        only = "" if env is None else " AND env = ?"
        args: list[Any] = [] if env is None else [env]
        envs = [
            str(where)
            for (where,) in db.execute(
                f"SELECT DISTINCT env FROM events INDEXED BY events_dora WHERE {_DORA_IN}"
                f" AND env IS NOT NULL{only} AND ts <= ?",
                (*args, since),
            )
        ]
        if not envs:  # nothing before the window concerns an environment
            return (since, 2**63 - 1)
        starts = []
        for where in envs:
            last = db.execute(
                f"SELECT ts, seq FROM events INDEXED BY events_dora WHERE {_DORA_IN}"
                f" AND type = '{DEPLOYED}' AND env = ? AND ts <= ?"
                " ORDER BY ts DESC, seq DESC LIMIT 1",
                (where, since),
            ).fetchone()
            if last is None:
                return None
            starts.append((float(last[0]), int(last[1])))
        return min(starts)
