"""The board's compact index: one SQLite row per item, what a card and a listing show.

The board on its ref keeps one JSON blob per item, and reading 20,000 of them (or a
JSON cache of all of them) costs seconds and hundreds of megabytes. What paints the
board, lists items or counts them needs far less: id, stage, the current state,
title, kind and the few facts a card's foot shows. Those live here, in
``.shipdeck/state/board-index.sqlite3``, keyed by the ref's commit and brought up
to date row by row from the paths changed since (``BoardRefs.changed``), so a
change to one item rewrites one row, never the whole file. Full items are still
read from their blobs, on demand (details, edits, the engine).

It is only a shortcut, like the JSON cache: delete it any time and it is rebuilt.
:mod:`lifecycle.store` keeps it current; this module only knows rows and summaries.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, ValuesView
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from shipdeck.lifecycle.items import (
    Item,
    Kind,
    RunState,
    StageState,
    TestReport,
    format_time,
    parse_time,
)
from shipdeck.lifecycle.stages import Stage

VERSION = "1"  # the rows' layout: an index of another layout is dropped and rebuilt
FILE = "board-index.sqlite3"  # in .shipdeck/state/: local, never committed
CHANGES_KEPT = 64  # reads whose changed ids a CardBook remembers (see changed_since)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # a summary's times: not what it is for

_COLUMNS = (
    "number",  # SD-<number>: the primary key, and the board's order
    "stage",
    "state",  # the current stage's state
    "started_at",  # the current stage's run start (a running card's clock)
    "step",  # the current stage's step ("2/3 unit tests")
    "running",  # another stage that runs, if any (Item.running looks at every stage)
    "title",
    "kind",
    "breaking",
    "archived",
    "branch",
    "sha",
    "version",
    "env",
    "passed",  # tests: NULL when the item has no report
    "failed",
    "errors",
)
# Statements one by one: executescript would commit the transaction they run in.
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS cards (number INTEGER PRIMARY KEY, {', '.join(_COLUMNS[1:])})",
    "CREATE INDEX IF NOT EXISTS cards_stage ON cards (archived, stage, number)",
)
SELECT = f"SELECT {', '.join(_COLUMNS)} FROM cards"  # a row :func:`summary` reads
# What a filter reads of a card: :func:`fields` makes a :class:`CardFields` of it.
SELECT_FIELDS = "SELECT number, stage, state, title, kind, version, env FROM cards"
_INSERT = f"INSERT OR REPLACE INTO cards VALUES ({', '.join('?' * len(_COLUMNS))})"

Row = tuple[Any, ...]


def row_of(item: Item) -> Row:
    """An item's row: what :func:`summary` rebuilds a card's item from."""
    current = item.current
    running = next(
        (
            s.value
            for s, st in item.states.items()
            if st.state is RunState.RUNNING and s != item.stage
        ),
        None,
    )
    tests = item.tests
    return (
        item.number,
        item.stage.value,
        current.state.value,
        format_time(current.started_at),
        current.step,
        running,
        item.title,
        item.kind.value,
        int(item.breaking),
        int(item.archived),
        item.branch,
        item.sha,
        item.version,
        item.env,
        tests.passed if tests else None,
        tests.failed if tests else None,
        tests.errors if tests else None,
    )


def summary(row: Row) -> Item:
    """The item as a card shows it: every field a card, the filter, the card facts and
    a listing read; no body, links, artifacts or other stages' history (read the blob
    for those: ``BoardStore.get``)."""
    (number, stage, state, started, step, running, title, kind, breaking, archived) = row[:10]
    (branch, sha, version, env, passed, failed, errors) = row[10:]
    at = Stage(stage)
    states = {at: StageState(RunState(state), parse_time(started) if started else None, step=step)}
    if running is not None:
        states[Stage(running)] = StageState(RunState.RUNNING)
    return Item(
        f"SD-{number}",
        title,
        Kind(kind),
        breaking=bool(breaking),
        stage=at,
        states=states,
        branch=branch,
        sha=sha,
        version=version,
        env=env,
        tests=None if passed is None else TestReport(passed, failed, 0, errors),
        created_at=_EPOCH,
        updated_at=_EPOCH,
        archived=bool(archived),
    )


class CardFields(NamedTuple):
    """What the board's filter reads of a card, from the index's columns alone: no item
    built (20,000 summaries take ~0.18 s, their fields ~0.02 s)."""

    id: str
    stage: Stage
    state: str  # the current stage's
    title: str
    kind: str
    version: str | None
    env: str | None

    @classmethod
    def of(cls, item: Item) -> CardFields:
        """An item's fields (a board read from its blobs, with no index)."""
        state = item.current.state.value
        return cls(item.id, item.stage, state, item.title, item.kind.value, item.version, item.env)


_STAGES = {stage.value: stage for stage in Stage}


def fields(row: Row) -> CardFields:
    """A :data:`SELECT_FIELDS` row's card fields."""
    number, stage, state, title, kind, version, env = row
    return CardFields(f"SD-{number}", _STAGES[stage], state, title, kind, version, env)


def number_of(path: str) -> int | None:
    """``items/12/SD-1234.json`` -> 1234; None for a path that is not an item's."""
    name = path.rsplit("/", 1)[-1]
    if not (path.startswith("items/") and name.startswith("SD-") and name.endswith(".json")):
        return None
    digits = name[3:-5]
    return int(digits) if digits.isdigit() else None


class BoardIndex:
    """The index file of one repository. Each thread (the board's reload worker, the
    UI, the engine) keeps a connection of its own across calls, so any thread and
    any process may use it; opening one costs ~0.5 ms (the WAL and sync pragmas),
    which the board paid on every engine event of a run, on the UI thread. A kept
    connection is dropped when the file it was opened on is gone, replaced or written
    over (a person deleted the index to rebuild it, :meth:`drop`), after a checkpoint
    and after a fork."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._kept = threading.local()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection to the file now at ``path`` (opened if need be)."""
        kept = self._kept
        con: sqlite3.Connection | None = getattr(kept, "con", None)
        if con is not None and self._where() == kept.where:
            return con
        self._forget()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=OFF")  # only a cache: rebuilt if ever lost
            con.execute("PRAGMA journal_size_limit=8388608")  # a rebuild's WAL cut back
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()  # -shm made now
        except BaseException:
            con.close()
            raise
        kept.con, kept.where = con, self._where()
        return con

    def _where(self) -> tuple[int, ...] | None:
        """What identifies the file a kept connection reads: the database's inode, size
        and time (they change only at a checkpoint, or when someone wrote over it), the
        shared-memory file's inode (deleted with the WAL: a rebuild) and the process."""
        try:
            main = self.path.stat()
            shm = os.stat(f"{self.path}-shm")
        except OSError:
            return None
        return (main.st_dev, main.st_ino, main.st_size, main.st_mtime_ns, shm.st_ino, os.getpid())

    def _forget(self) -> None:
        """Close this thread's kept connection, if any."""
        con = getattr(self._kept, "con", None)
        self._kept.con = self._kept.where = None
        if con is not None:
            con.close()

    @contextmanager
    def writing(self) -> Iterator[IndexTransaction]:
        """One write transaction (other writers wait; readers see the last commit)."""
        con = self._connection()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield IndexTransaction(con)
            except BaseException:
                with suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        except BaseException:
            self._forget()  # locked past the timeout, a bad file: a fresh one next time
            raise

    def peek(self, numbers: Sequence[int] | None, select: str = SELECT) -> list[Row] | None:
        """These rows (every active item's for None) as the index holds them now, with no
        lock taken (WAL: a writer bringing the index up to date does not hold a reader
        up); None for an index never filled or of another layout, which a writing
        transaction rebuilds."""
        if not self.path.exists():
            return None
        con = self._connection()
        try:
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("version") != VERSION or "commit" not in meta:
                return None
            return IndexTransaction(con, fresh=False).rows_of(numbers, select)
        except sqlite3.OperationalError:
            return None  # no tables yet

    def drop(self) -> None:
        """Forget the file (a corrupt one): the next read rebuilds it."""
        self._forget()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


class IndexTransaction:
    """The index inside one transaction: read its commit, change rows, query them."""

    def __init__(self, con: sqlite3.Connection, *, fresh: bool = True) -> None:
        self.con = con
        if not fresh:
            return  # a reader of an index known to be filled, in this layout
        for statement in _SCHEMA:
            con.execute(statement)
        if self._meta("version") != VERSION:
            con.execute("DROP TABLE cards")
            con.execute("DELETE FROM meta")
            for statement in _SCHEMA:
                con.execute(statement)
            self._set("version", VERSION)

    def _meta(self, key: str) -> str | None:
        found = self.con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def _set(self, key: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @property
    def commit(self) -> str | None:
        """The ref's commit the rows describe; None for an index never filled."""
        return self._meta("commit")

    @property
    def next_id(self) -> int:
        value = self._meta("next_id")
        return int(value) if value and value.isdigit() else 1

    def count(self) -> int:
        found = self.con.execute("SELECT count(*) FROM cards").fetchone()
        return int(found[0]) if found else 0

    def replace_all(self, rows: Iterable[Row], commit: str, next_id: int) -> None:
        self.con.execute("DELETE FROM cards")
        self.con.executemany(_INSERT, rows)
        self.mark(commit, next_id)

    def apply(self, rows: Iterable[Row], gone: Iterable[int]) -> None:
        self.con.executemany(_INSERT, rows)
        self.con.executemany("DELETE FROM cards WHERE number = ?", ((n,) for n in gone))

    def mark(self, commit: str, next_id: int) -> None:
        self._set("commit", commit)
        self._set("next_id", str(next_id))

    def rows(
        self, *, archived: bool = False, stage: Stage | None = None, limit: int = 0
    ) -> list[Row]:
        """Rows in id order: the active items (``archived``: every item), of one stage."""
        where, args = [], []
        if not archived:
            where.append("archived = 0")
        if stage is not None:
            where.append("stage = ?")
            args.append(stage.value)
        sql = SELECT + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY number"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self.con.execute(sql, args).fetchall()

    def rows_of(self, numbers: Sequence[int] | None, select: str = SELECT) -> list[Row]:
        """These items' rows; every active item's, in id order, for None (one query)."""
        if numbers is None:
            return self.con.execute(f"{select} WHERE archived = 0 ORDER BY number").fetchall()
        out: list[Row] = []
        for start in range(0, len(numbers), 500):  # SQLite's limit on bound values
            chunk = numbers[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            out += self.con.execute(f"{select} WHERE number IN ({marks})", chunk).fetchall()
        return out

    def board(self) -> list[tuple[int, str, bool]]:
        """(number, stage, runs) of every active item in id order: all the board needs
        to lay out its columns, with no item built."""
        sql = (
            "SELECT number, stage, running IS NOT NULL OR state = 'running' FROM cards"
            " WHERE archived = 0 ORDER BY number"
        )
        return self.con.execute(sql).fetchall()

    def page(self, *, archived: bool, stage: Stage | None, limit: int) -> tuple[list[Row], int]:
        """The first ``limit`` rows of :meth:`rows` (0: all), and how many there are."""
        rows = self.rows(archived=archived, stage=stage, limit=limit)
        if not limit or len(rows) < limit:
            return rows, len(rows)
        where = ["1"] if archived else ["archived = 0"]
        args: list[str] = []
        if stage is not None:
            where.append("stage = ?")
            args.append(stage.value)
        found = self.con.execute(f"SELECT count(*) FROM cards WHERE {' AND '.join(where)}", args)
        return rows, int(found.fetchone()[0])

    def ids_by_stage(self) -> dict[Stage, list[str]]:
        """Active ids per stage, in board order: what ``status`` prints, no item built
        (one range of the stage index each; the ids made by SQLite)."""
        sql = "SELECT 'SD-' || number FROM cards WHERE archived = 0 AND stage = ? ORDER BY number"
        return {s: [i for (i,) in self.con.execute(sql, (s.value,))] for s in Stage}


class CardBook(Mapping[str, Item]):
    """The board as the app holds it: every active card's id, stage and whether it
    runs (a few dozen bytes each), and the summaries of the cards last looked at (at
    most ``limit``), read from the index in batches when a column draws them.

    A Mapping of id to summary, so the app's ``items`` keeps its shape; iterating
    its values reads every card (the palette, a filter): on demand, in batches.
    """

    def __init__(
        self,
        load: Callable[[list[str]], dict[str, Item]],
        limit: int = 2048,
        read_fields: Callable[[list[str] | None], list[CardFields]] | None = None,
    ) -> None:
        self._load = load
        self._read_fields = read_fields
        self.limit = limit
        self.stages: dict[str, Stage] = {}  # id -> stage, in id order
        self.running: set[str] = set()
        self.version = 0  # counts the reads applied: what a copy of the cards was made at
        self._cache: OrderedDict[str, Item] = OrderedDict()
        # (version, ids changed by the apply that made it), the last few: a copy of
        # every card (the filter's) is brought up to date, not read again whole
        self._changes: deque[tuple[int, frozenset[str]]] = deque(maxlen=CHANGES_KEPT)

    def __getitem__(self, item_id: str) -> Item:
        if item_id not in self.stages:
            raise KeyError(item_id)
        found = self._cache.get(item_id)
        if found is None:
            self.want([item_id])
            found = self._cache.get(item_id)
            if found is None:
                raise KeyError(item_id)  # gone from the index since the board was read
        else:
            self._cache.move_to_end(item_id)
        return found

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.stages

    def __iter__(self) -> Iterator[str]:
        return iter(self.stages)

    def __len__(self) -> int:
        return len(self.stages)

    def cached(self, item_id: str) -> bool:
        return item_id in self._cache

    def cached_values(self) -> list[Item]:
        """The summaries held now: the cards shown and those last looked at."""
        return list(self._cache.values())

    def want(self, ids: Sequence[str]) -> None:
        """Read these cards now, in one query (those not held already)."""
        missing = [i for i in ids if i not in self._cache and i in self.stages]
        if missing:
            self._keep(self._load(missing))

    def stream(self, ids: Iterable[str]) -> Iterator[Item]:
        """Every card of ``ids``, read in batches and not kept (a filter, the palette)."""
        batch: list[str] = []
        for item_id in [*ids, None]:
            if item_id is not None:
                batch.append(item_id)
            if batch and (item_id is None or len(batch) == 500):
                held = {i: self._cache[i] for i in batch if i in self._cache}
                fresh = self._load([i for i in batch if i not in held])
                for i in batch:
                    card = held.get(i) or fresh.get(i)
                    if card is not None:
                        yield card
                batch = []

    def fields(self, ids: list[str] | None = None) -> list[CardFields]:
        """What the filter reads of these cards (every active card's for None), with no
        item built where the index answers: a filter's first key on 20,000 cards."""
        if self._read_fields is not None:
            return self._read_fields(ids)
        return [CardFields.of(card) for card in self.stream(self.stages if ids is None else ids)]

    def values(self) -> ValuesView[Item]:
        return _Values(self)

    def _keep(self, cards: Mapping[str, Item]) -> None:
        for item_id, card in cards.items():
            self._cache[item_id] = card
            self._cache.move_to_end(item_id)
        while len(self._cache) > self.limit:
            self._cache.popitem(last=False)

    def reset(self, board: Iterable[tuple[int, str, bool]]) -> None:
        """The whole board again (``IndexTransaction.board``): held summaries dropped."""
        self.version += 1
        self._changes.clear()  # what changed before is unknown: copies are read again
        self.stages = {f"SD-{n}": _STAGE[stage] for n, stage, _ in board}
        self.running = {f"SD-{n}" for n, _, runs in board if runs} if self.stages else set()
        self._cache.clear()

    def apply(self, cards: Iterable[Item], gone: Iterable[str]) -> None:
        """What changed since the board was read: changed cards replace theirs (kept in
        id order), ``gone`` leave."""
        cards, gone = list(cards), list(gone)
        self.version += 1
        self._changes.append((self.version, frozenset([c.id for c in cards] + gone)))
        for item_id in gone:
            self.stages.pop(item_id, None)
            self.running.discard(item_id)
            self._cache.pop(item_id, None)
        last = int(next(reversed(self.stages))[3:]) if self.stages else 0
        reorder = False
        for card in cards:
            if card.id not in self.stages and card.number < last:
                reorder = True  # an id below the last one came back (a sync): re-sort
            self.stages[card.id] = card.stage
            if card.running:
                self.running.add(card.id)
            else:
                self.running.discard(card.id)
            last = max(last, card.number)
        self._keep({c.id: c for c in cards})
        if reorder:
            self.stages = dict(sorted(self.stages.items(), key=lambda kv: int(kv[0][3:])))

    def changed_since(self, version: int) -> set[str] | None:
        """The ids changed (or gone) since ``version``; None when that is not known
        (the whole board was read since, or more reads than are remembered)."""
        if version == self.version:
            return set()
        if version > self.version or not self._changes or self._changes[0][0] > version + 1:
            return None
        return set().union(*(ids for at, ids in self._changes if at > version))

    def by_stage(self) -> dict[Stage, list[str]]:
        """Ids per column, in id order."""
        out: dict[Stage, list[str]] = {s: [] for s in Stage}
        for item_id, stage in self.stages.items():
            out[stage].append(item_id)
        return out


class _Values(ValuesView[Item]):
    """A book's values read in batches (not one query per card)."""

    def __init__(self, book: CardBook) -> None:
        super().__init__(book)
        self._book = book

    def __iter__(self) -> Iterator[Item]:
        return self._book.stream(list(self._book.stages))


_STAGE = {s.value: s for s in Stage}

__all__ = [
    "FILE",
    "BoardIndex",
    "CardBook",
    "IndexTransaction",
    "Row",
    "number_of",
    "row_of",
    "summary",
]
