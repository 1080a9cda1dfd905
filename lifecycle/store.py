"""Board persistence: one file per item on a commit chain, behind :class:`BoardRefs`.

The board is not a file in the work tree (a file differs from branch to branch,
and every ``git add -A`` drags it into the user's commits). It is a chain of
commits on its own ref, ``refs/shipdeck/board``, with this tree::

    meta.json                  {"schema": 2, "next_id": N}
    items/<n // 100>/SD-n.json one item, as Item.to_dict() in JSON

so two changes to different items never touch the same file, and a change
writes three small trees and one blob whatever the board's size. Every change
is one commit published with a compare-and-swap of the ref; a writer that lost
the race reads the new head and applies its change again. A lock file beside
the ref makes shipdeck's own writers take turns, so the swap rarely fails.

This module holds the model side (what a change is, how blobs read and write,
the cache); :class:`BoardRefs` is the port the git backend
(``backends.git_board``) implements. Reading the whole board goes through a
JSON cache keyed by the ref's commit and brought up to date from the commits
since, so opening the board reads only what changed. What paints the board and
lists items reads less still: the index of :mod:`lifecycle.board_index` (a row per
item of what a card shows, kept current row by row), through :meth:`BoardStore.cards`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shipdeck.lifecycle import atomic
from shipdeck.lifecycle.board import (
    Board,
    BoardError,
    ItemNotFound,
    check_title,
    item_from_data,
    refuse_newer,
)
from shipdeck.lifecycle.board_index import FILE as INDEX_FILE
from shipdeck.lifecycle.board_index import (
    SELECT,
    SELECT_FIELDS,
    BoardIndex,
    CardBook,
    CardFields,
    IndexTransaction,
    Row,
    fields,
    number_of,
    row_of,
    summary,
)
from shipdeck.lifecycle.filelock import hold
from shipdeck.lifecycle.items import Item, Kind, item_number, new_uid, normalise_id, utcnow
from shipdeck.lifecycle.paths import ShipdeckPaths
from shipdeck.lifecycle.stages import Stage

__all__ = [
    "BOARD_REF",
    "SCHEMA",
    "Board",
    "BoardChange",
    "BoardError",
    "BoardLocked",
    "BoardRefs",
    "BoardStore",
    "CardsRead",
    "ItemNotFound",
    "WriteAhead",
    "item_path",
]

SCHEMA = 2  # the ref's layout; schema 1 was .shipdeck/board.yaml
BOARD_REF = "refs/shipdeck/board"
META = "meta.json"
ITEMS = "items"
MAX_BLOB = 1 << 20  # an item larger than 1 MiB is not one shipdeck wrote
_CACHE = "board-cache.json"  # in .shipdeck/state/: local, never committed
_RETRIES = 50


class BoardLocked(BoardError):
    """Another process held the board lock for longer than the timeout."""


def item_path(item_id: str) -> str:
    """``items/12/SD-1234.json``: a hundred items a folder keeps every tree small."""
    n = item_number(item_id)
    return f"{ITEMS}/{n // 100}/SD-{n}.json"


def encode_item(item: Item, scrub: Callable[[Any], Any] | None = None) -> bytes:
    """The item's blob; refuses (BoardError) an item the next read would refuse."""
    data = item.to_dict()
    if scrub is not None:
        data = scrub(data)
    item_from_data(data, f"{BOARD_REF}:{item_path(item.id)}")
    return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def encode_meta(next_id: int) -> bytes:
    return (json.dumps({"schema": SCHEMA, "next_id": next_id}, indent=1) + "\n").encode()


def decode_blob(data: bytes, where: str) -> Any:
    """A blob's JSON: bounded in size (a board may come from a remote) and nesting."""
    if len(data) > MAX_BLOB:
        raise BoardError(f"{where}: {len(data)} bytes, larger than an item can be")
    try:
        return json.loads(data)
    except RecursionError:
        raise BoardError(f"{where}: nested too deeply") from None
    except ValueError as e:
        raise BoardError(f"{where}: not JSON: {e}") from None


def decode_meta(data: bytes | None, where: str) -> int:
    """``next_id`` from meta.json; refuses a board from a newer shipdeck."""
    if data is None:
        return 1
    meta = decode_blob(data, where)
    if not isinstance(meta, dict):
        raise BoardError(f"{where}: expected an object with schema and next_id")
    schema = meta.get("schema")
    refuse_newer(schema, SCHEMA, where)
    next_id = meta.get("next_id")
    if schema != SCHEMA or not isinstance(next_id, int) or isinstance(next_id, bool):
        raise BoardError(f"{where}: expected schema {SCHEMA} and a whole next_id")
    return max(next_id, 1)


def decode_item(data: bytes, path: str, where: str) -> Item:
    """One item blob, checked as strictly as a hand-edited file, and at the path of its id."""
    item = item_from_data(decode_blob(data, where), where)
    if item_path(item.id) != path:
        raise BoardError(f"{where}: holds {item.id}, which belongs at {item_path(item.id)}")
    return item


@dataclass(frozen=True)
class BoardChange:
    """Files to write (bytes) or delete (None) in the board's tree, and why."""

    files: Mapping[str, bytes | None]
    message: str


class BoardRefs(Protocol):
    """The git side of the board: a ref, its commits' trees, and a compare-and-swap."""

    ref: str
    lock_path: Path

    def head(self) -> str | None:
        """The ref's commit now; None before the first change. Cheap: polled by the board."""
        ...

    def read(self, commit: str, paths: Iterable[str]) -> dict[str, bytes | None]:
        """These files at ``commit`` (None for a file that is not there)."""
        ...

    def read_all(self, commit: str) -> dict[str, bytes]:
        """Every file under ``items/`` at ``commit``, and meta.json."""
        ...

    def changed(self, old: str, new: str) -> list[str] | None:
        """Paths that differ between two commits; None if ``old`` is not known here."""
        ...

    def commit(self, parent: str | None, change: BoardChange) -> str:
        """Write a commit of ``parent``'s tree with ``change`` applied; moves no ref."""
        ...

    def merge_commit(self, parents: list[str], files: Mapping[str, bytes], message: str) -> str:
        """A commit of exactly ``files`` (a whole board) with several parents."""
        ...

    def swap(self, new: str, old: str | None, message: str) -> bool:
        """Point the ref at ``new`` if it still points at ``old``; False if it moved."""
        ...

    def release_lock_if_stale(self) -> None:
        """Remove git's own lock of the ref left by a killed git (we hold our lock)."""
        ...


@dataclass(frozen=True)
class CardsRead:
    """What the board shows, read from the index (:mod:`lifecycle.board_index`).

    ``full``: ``board`` is every active item's (number, stage, runs), the summaries
    are read when drawn (:class:`CardBook`); otherwise ``cards`` are the summaries of
    the items changed since ``since``, and ``gone`` the ids that left the board
    (archived or deleted)."""

    stamp: str | None
    since: str | None = None
    board: list[tuple[int, str, bool]] = field(default_factory=list)
    cards: list[Item] = field(default_factory=list)
    gone: frozenset[str] = frozenset()
    full: bool = True


def follow(
    book: CardBook | None, read: CardsRead, fresh: Callable[[], CardBook]
) -> tuple[CardBook, frozenset[str]]:
    """The book to show after ``read`` and the ids it changed: a ``fresh()`` one for a
    whole board (every card drawn afresh; no ids), else ``book`` with the changes
    applied. How the open board takes a read; a test follows a board the same way."""
    if read.full or book is None:
        book = fresh()
        book.reset(read.board)
        return book, frozenset()
    book.apply(read.cards, read.gone)
    return book, frozenset({c.id for c in read.cards} | read.gone)


WriteAhead = Callable[[Item], Callable[[], None]]
"""Journals a board change before its swap: called under the board lock with the item
as it will be saved; returns the undo, called if the swap then fails. A change is
not made at all when the journal cannot be written (the journal is the write most
likely to fail, on a read-only ``.shipdeck`` or a full disk)."""


def _nothing() -> None:
    pass


_held = threading.local()  # lock files this thread holds: edit() is not re-entrant


class BoardStore:
    """Reads and changes one repository's board.

    ``load()`` needs no lock: a commit is immutable, so a reader sees one
    whole board. Writes (``add``, ``update``, ``edit``) take the board lock,
    read the head, change what they change, and swap the ref.
    """

    def __init__(
        self,
        root: Path,
        refs: BoardRefs,
        *,
        lock_timeout: float = 30.0,
        legacy: Callable[[], tuple[Board, str] | None] | None = None,
    ) -> None:
        self.paths = ShipdeckPaths(Path(root))
        self.refs = refs
        # The index's connections are kept per thread: one object for the store's life.
        self._board_index = BoardIndex(self.paths.state / INDEX_FILE)
        self.name = refs.ref
        self.lock_timeout = lock_timeout
        self._legacy = legacy  # a board.yaml to import once, when the ref is new
        self.notices: list[str] = []
        # Masks secrets in every string an item carries before it is written (the
        # engine sets it from the configured secrets): nothing reaches the ref unmasked.
        self.scrub: Callable[[Any], Any] | None = None

    # --- reading ---------------------------------------------------------------------

    def stamp(self) -> str | None:
        """The board's version: the ref's commit (None before the first change)."""
        head = self.refs.head()
        if head is None and self._legacy is not None:
            self._import_legacy()
            head = self.refs.head()
        return head

    def _head(self) -> str | None:
        """The head under the lock (the import, if any, ran before it was taken)."""
        return self.refs.head()

    def changed_since(self, stamp: str | None) -> bool:
        """True if the board changed after ``stamp`` (``board.stamp``): time to reload."""
        return self.stamp() != stamp

    def load(self) -> Board:
        """The whole board at the ref's head; an empty board before the first change."""
        head = self.stamp()
        board = Board() if head is None else self._board_at(head)
        board.stamp = head
        return board

    # --- the index: what paints the board and lists items ---------------------------

    def cards(self, known: str | None = None) -> CardsRead:
        """The board as the app holds it (:class:`CardBook`): every active item's id and
        stage, or (given the stamp the caller shows) the summaries of what changed since."""
        head = self.stamp()
        try:
            with self._index(head) as index:
                if known is not None and known == head:
                    return CardsRead(head, known, full=False)
                paths = self.refs.changed(known, head) if known and head else None
                numbers = [n for n in map(number_of, paths or ()) if n is not None]
                if paths is None or len(numbers) > max(64, index.count() // 4):
                    return CardsRead(head, known, board=index.board())
                found = {r[0]: summary(r) for r in index.rows_of(numbers)}
                cards = sorted((i for i in found.values() if not i.archived), key=_number)
                gone = {f"SD-{n}" for n in numbers if n not in found or found[n].archived}
                return CardsRead(head, known, cards=cards, gone=frozenset(gone), full=False)
        except (sqlite3.Error, OSError):
            active = self._board_or_empty(head).active()
            board = [(i.number, i.stage.value, i.running) for i in active]
            return CardsRead(head, known, board=board)

    def check_readable(self) -> None:
        """BoardError now if the board cannot be read (before a screen opens); brings the
        index to the ref's head on the way, reading no item it does not have to."""
        head = self.stamp()
        try:
            with self._index(head):
                pass
        except (sqlite3.Error, OSError):
            self._board_or_empty(head)

    def cards_of(self, ids: Sequence[str]) -> dict[str, Item]:
        """Summaries of these items (those still on the board), for a :class:`CardBook`."""
        rows = self._index_rows([item_number(i) for i in ids], SELECT)
        if rows is not None:
            return {f"SD-{r[0]}": summary(r) for r in rows}
        wanted = set(ids)
        return {i.id: i for i in self._board_or_empty(self.refs.head()).items if i.id in wanted}

    def fields_of(self, ids: Sequence[str] | None) -> list[CardFields]:
        """What the filter reads of these items (every active one's for None), for a
        :class:`CardBook`: the index's columns, no item built."""
        rows = self._index_rows(
            None if ids is None else [item_number(i) for i in ids], SELECT_FIELDS
        )
        if rows is not None:
            return [fields(r) for r in rows]
        items = self._board_or_empty(self.refs.head()).items
        wanted = None if ids is None else set(ids)
        return [
            CardFields.of(i)
            for i in items
            if (not i.archived if wanted is None else i.id in wanted)
        ]

    def _index_rows(self, numbers: Sequence[int] | None, select: str) -> list[Row] | None:
        """The index's rows as they are (at or past the stamp the caller was given), or
        brought to the ref's head; None when the index cannot be read (the caller reads
        the board)."""
        try:
            rows = self._board_index.peek(numbers, select)
        except sqlite3.Error:
            rows = None
        if rows is not None:
            return rows
        try:
            with self._index(self.refs.head()) as index:
                return index.rows_of(numbers, select)
        except (sqlite3.Error, OSError):
            return None

    def book(self) -> CardBook:
        """An empty :class:`CardBook` that reads its cards from this store's index."""
        return CardBook(self.cards_of, read_fields=self.fields_of)

    def ids_by_stage(self) -> dict[Stage, list[str]]:
        """Active ids per stage, in id order, from the index (``status``)."""
        head = self.stamp()
        try:
            with self._index(head) as index:
                return index.ids_by_stage()
        except (sqlite3.Error, OSError):
            by_stage = self._board_or_empty(head).by_stage()
            return {s: [i.id for i in by_stage.get(s, [])] for s in Stage}

    def card_page(
        self, *, archived: bool = False, stage: Stage | None = None, limit: int = 0
    ) -> tuple[list[Item], int]:
        """The first ``limit`` items (0: all) as cards, in id order, and how many there
        are: active ones (``archived``: every one), of one stage (``item list``)."""
        head = self.stamp()
        try:
            with self._index(head) as index:
                rows, total = index.page(archived=archived, stage=stage, limit=limit)
                return [summary(r) for r in rows], total
        except (sqlite3.Error, OSError):
            board = self._board_or_empty(head)
            items = [
                i
                for i in (board.items if archived else board.active())
                if stage is None or i.stage is stage
            ]
            return (items[:limit] if limit else items), len(items)

    def get_many(self, ids: Sequence[str]) -> list[Item]:
        """These items in full, read from their blobs in one batch (no whole-board read);
        those not on the board are left out."""
        head = self.stamp()
        paths = [item_path(i) for i in ids]
        files = self._read_at(head, paths)
        decode_meta(files.get(META), self._where(META))
        return [
            decode_item(data, path, self._where(path))
            for path in paths
            if (data := files.get(path)) is not None
        ]

    def _board_or_empty(self, head: str | None) -> Board:
        return Board() if head is None else self._board_at(head)

    @contextmanager
    def _index(self, head: str | None) -> Iterator[IndexTransaction]:
        """The index in a write transaction, brought to ``head`` first (checked under the
        index's lock: another process may have just done it). A corrupt file is
        dropped, so the next read rebuilds it; this one falls back to the blobs."""
        index = self._board_index
        try:
            with index.writing() as tx:
                self._bring_up_to_date(tx, head)
                yield tx
        except sqlite3.OperationalError:
            raise  # locked past the timeout, a read-only disk: the file is fine
        except sqlite3.DatabaseError:
            with suppress(OSError):
                index.drop()
            raise

    def _bring_up_to_date(self, tx: IndexTransaction, head: str | None) -> None:
        """The rows at ``head``: one per changed path, or all again after a big change."""
        if head is None:
            if tx.commit != "":
                tx.replace_all((), "", 1)
            return
        old = tx.commit
        if old == head:
            return
        paths = self.refs.changed(old, head) if old else None
        if paths is None or len(paths) > max(64, tx.count() // 4):
            board = self._board_at(head)  # through the JSON cache when it is near
            tx.replace_all(map(row_of, board.items), head, board.next_id)
            return
        fresh = self.refs.read(head, paths)
        rows, gone = [], []
        next_id = tx.next_id
        for path, data in fresh.items():
            number = number_of(path)
            if path == META:
                next_id = decode_meta(data, self._where(META))
            elif number is not None and data is None:
                gone.append(number)
            elif number is not None and data is not None:
                rows.append(row_of(decode_item(data, path, self._where(path))))
        tx.apply(rows, gone)
        tx.mark(head, next_id)

    def get(self, item_id: str) -> Item:
        """One item, read from its own blob (no whole-board load)."""
        return self._item_at(self.stamp(), normalise_id(item_id))

    def board_at(self, commit: str) -> Board:
        """The whole board at any commit of the ref's history (sync merges from three)."""
        files = self.refs.read_all(commit)
        self._require_board(commit, files)
        board = _board(self._decode_all(files), decode_meta(files.get(META), self._where(META)))
        board.stamp = commit
        return board

    def _where(self, path: str) -> str:
        return f"{self.name}:{path}"

    def _board_at(self, head: str) -> Board:
        cached = self._cached(head)
        if cached is not None:
            return cached
        files = self.refs.read_all(head)
        self._require_board(head, files)
        return self._remember(head, self._decode_all(files), files.get(META))

    def _require_board(self, commit: str, files: Mapping[str, bytes | None]) -> None:
        """Every board commit holds meta.json: one without it is a missing object or not
        a board, and reading it as empty would let the next write drop every item."""
        if files.get(META) is None:
            raise BoardError(f"{self.name}: {commit[:12]} cannot be read as a board")

    def _decode_all(self, files: Mapping[str, bytes]) -> dict[str, Item]:
        items: dict[str, Item] = {}
        for path, data in files.items():
            if path.startswith(ITEMS + "/"):
                items[path] = decode_item(data, path, self._where(path))
        return items

    # The cache: {"commit", "next_id", "items": {path: to_dict()}}. Brought up to
    # date from the paths changed since its commit, so a reload after one change
    # reads one blob. It is only a shortcut: delete it any time.

    def _cache_file(self) -> Path:
        return self.paths.state / _CACHE

    def _cached(self, head: str) -> Board | None:
        try:
            cached = json.loads(self._cache_file().read_bytes())
            commit, next_id, raw = cached["commit"], cached["next_id"], cached["items"]
            if not isinstance(commit, str) or type(next_id) is not int or next_id < 1:
                return None  # not a cache this shipdeck wrote
            # Written by this store from items it checked strictly, keyed by the commit
            # they came from: read back without checking each field again.
            items = {p: Item.from_dict(d) for p, d in raw.items()}
            if any(not p.endswith(f"/{i.id}.json") for p, i in items.items()):
                return None  # an item under another's path: not a cache this shipdeck wrote
        except (OSError, ValueError, KeyError, TypeError, AttributeError, BoardError):
            return None
        if commit == head:
            return _board(items, next_id)
        paths = self.refs.changed(commit, head)
        if paths is None or len(paths) > max(64, len(items) // 4):
            return None  # unknown commit or a big change: a full read is as cheap
        fresh = self.refs.read(head, paths)
        for path, data in fresh.items():
            if path.startswith(ITEMS + "/"):
                if data is None:
                    items.pop(path, None)
                else:
                    items[path] = decode_item(data, path, self._where(path))
        meta = fresh.get(META) if META in fresh else None
        return self._remember(head, items, meta, next_id if META not in fresh else None)

    def _remember(
        self,
        head: str,
        items: dict[str, Item],
        meta: bytes | None,
        next_id: int | None = None,
    ) -> Board:
        if next_id is None:
            next_id = decode_meta(meta, self._where(META))
        board = _board(items, next_id)
        cache = self._cache_file()
        try:
            encoded = json.dumps(
                {
                    "commit": head,
                    "next_id": board.next_id,
                    "items": {p: i.to_dict() for p, i in items.items()},
                },
                ensure_ascii=False,
            )
            self.paths.ensure()
            cache.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return board  # only a shortcut: a read-only checkout works without it
        with suppress(OSError):  # a full disk: skipped, and no half-written file left behind
            atomic.write_text(cache, encoded, fsync=False)  # only a cache: no fsync
        return board

    # --- writing ---------------------------------------------------------------------

    def add(
        self,
        title: str,
        kind: Kind = Kind.FEATURE,
        body: str = "",
        breaking: bool = False,
        links: Iterable[str] = (),
        *,
        write_ahead: WriteAhead | None = None,
    ) -> Item:
        """Create a Plan item and save it; returns it with its new id.

        ``write_ahead`` journals the change (see :data:`WriteAhead`)."""
        check_title(title)
        links = list(links)

        def change(head: str | None) -> tuple[BoardChange, Item]:
            next_id = decode_meta(self._read_at(head, [META])[META], self._where(META))
            item = Item(
                id=f"SD-{next_id}",
                title=title,
                kind=Kind(kind),
                body=body,
                breaking=breaking,
                links=links,
                uid=new_uid(),
            )
            if self.scrub is not None:  # the item as kept: what `item add` prints, too
                item = Item.from_dict(self.scrub(item.to_dict()))
            if head is not None and self.refs.read(head, [item_path(item.id)])[item_path(item.id)]:
                raise BoardError(f"{self._where(META)}: next_id {next_id} is already taken")
            files_out = {
                item_path(item.id): encode_item(item),  # masked above, once
                META: encode_meta(next_id + 1),
            }
            return BoardChange(files_out, f"{item.id}: add {kind_of(item)}"), item

        return self._commit_change(change, write_ahead)

    def update(
        self,
        item_id: str,
        fn: Callable[[Item], object],
        *,
        write_ahead: WriteAhead | None = None,
    ) -> Item:
        """Apply ``fn`` to the freshly read item, stamp ``updated_at``, save.

        ``write_ahead`` journals the change (see :data:`WriteAhead`)."""
        wanted = normalise_id(item_id)
        path = item_path(wanted)

        def change(head: str | None) -> tuple[BoardChange, Item]:
            item = self._item_at(head, wanted)
            before = item.to_dict()
            fn(item)
            after = item.to_dict()
            if after == before:
                return BoardChange({}, ""), item
            item.updated_at = utcnow()
            if item.id != wanted:
                raise ValueError(f"an update cannot change the id of {wanted}")
            check_title(item.title)
            return BoardChange(
                {path: encode_item(item, self.scrub)}, describe(wanted, before, after)
            ), item

        return self._commit_change(change, write_ahead)

    @contextmanager
    def edit(self) -> Iterator[Board]:
        """The whole board to change at will; what changed is written in one commit.

        For changes across many items (imports, benchmarks, tests); one item's
        change is cheaper through :meth:`update`.
        """
        self.stamp()  # a board.yaml is imported before the lock is taken
        with self._locked():
            head = self._head()
            board = Board() if head is None else self._board_at(head)
            before = {i.id: i.to_dict() for i in board.items}
            loaded_next = board.next_id
            yield board
            board.check()
            files: dict[str, bytes | None] = {}
            for item in board.items:
                if not item.uid:
                    item.uid = new_uid()
                if before.get(item.id) != item.to_dict():
                    files[item_path(item.id)] = encode_item(item, self.scrub)
            for gone in before.keys() - {i.id for i in board.items}:
                files[item_path(gone)] = None
            next_id = max(board.next_id, *(i.number + 1 for i in board.items), 1)
            if files or next_id != loaded_next or head is None:
                files[META] = encode_meta(next_id)
            board.next_id = next_id
            if files:
                what = f"{len(files) - (META in files)} item(s)"
                new = self.refs.commit(head, BoardChange(files, f"board: edit {what}"))
                if not self.refs.swap(new, head, f"board: edit {what}"):
                    raise BoardError(f"{self.name}: changed by another writer during an edit")
                head = new
            board.stamp = head

    def _commit_change(
        self,
        change: Callable[[str | None], tuple[BoardChange, Item]],
        write_ahead: WriteAhead | None = None,
    ) -> Item:
        """Lock, then read-change-swap until the swap lands (another writer may win one).

        The order makes a change and its journal event land together or not at all:
        the objects first (unreferenced if anything after fails), then the event, then
        the swap, which is undone in the journal if it does not land.
        """
        self.stamp()  # a board.yaml is imported before the lock is taken
        with self._locked():
            for _ in range(_RETRIES):
                head = self._head()
                edit, item = change(head)
                if not edit.files:
                    if write_ahead is not None:
                        write_ahead(item)  # nothing to change; the event still tells of it
                    return item
                new = self.refs.commit(head, edit)
                undo = write_ahead(item) if write_ahead is not None else _nothing
                try:
                    swapped = self.refs.swap(new, head, edit.message)
                except BaseException:
                    with suppress(OSError):
                        undo()  # the swap's own error is the one to report
                    raise
                if swapped:
                    return item
                undo()  # lost the race: the event is written again with the next try
            raise BoardLocked(f"{self.name}: other writers kept changing it; try again")

    def prepare(self, item_id: str, fn: Callable[[Item], object]) -> tuple[str, str | None, Item]:
        """A commit that applies ``fn`` to one item, for the caller to publish with other
        refs in one transaction: (new commit, the head it replaces, the changed item)."""
        head = self._head()
        item = self._item_at(head, normalise_id(item_id))
        before = item.to_dict()
        fn(item)
        item.updated_at = utcnow()
        path = item_path(item.id)
        change = BoardChange(
            {path: encode_item(item, self.scrub)}, describe(item.id, before, item.to_dict())
        )
        return self.refs.commit(head, change), head, item

    def _read_at(self, head: str | None, paths: list[str]) -> dict[str, bytes | None]:
        """``paths`` at ``head`` for a change; BoardError when ``head`` is no readable board.

        Every board commit holds meta.json, so a head without it is a missing object or
        not a board: treating it as empty would write a one-item board over every item.
        """
        if head is None:
            return dict.fromkeys(paths)
        files = self.refs.read(head, [*paths, META])
        self._require_board(head, files)
        return files

    def _item_at(self, head: str | None, item_id: str) -> Item:
        """The item at ``head``, from a board this shipdeck can read (meta.json checked)."""
        path = item_path(item_id)
        files = self._read_at(head, [path, META])
        decode_meta(files.get(META), self._where(META))
        data = files.get(path)
        if data is None:
            raise ItemNotFound(f"no item {item_id}")
        return decode_item(data, path, self._where(path))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """The board lock, for a caller that publishes a :meth:`prepare` d commit itself."""
        with self._locked():
            yield

    @contextmanager
    def _locked(self) -> Iterator[None]:
        held: set[str] = _held.__dict__.setdefault("paths", set())
        key = str(self.refs.lock_path)
        if key in held:
            raise RuntimeError("the board lock is not re-entrant; use the board you have")
        held.add(key)
        try:
            with hold(self.refs.lock_path, self.lock_timeout, self._locked_out):
                self.refs.release_lock_if_stale()
                yield
        finally:
            held.discard(key)

    def _locked_out(self) -> BoardError:
        return BoardLocked(
            f"{self.name}: another shipdeck process has held the board lock "
            f"for over {self.lock_timeout:g}s"
        )

    # --- the board.yaml of shipdeck before the ref -------------------------------------

    def _import_legacy(self) -> None:
        """Import ``.shipdeck/board.yaml`` into the ref once, with nothing lost."""
        assert self._legacy is not None
        found = self._legacy()
        self._legacy = None
        if found is None:
            return
        board, name = found
        with self._locked():
            if self.refs.head() is not None:
                return  # another process imported it first
            for item in board.items:
                item.uid = item.uid or legacy_uid(item)
            next_id = max(board.next_id, *(i.number + 1 for i in board.items), 1)
            files: dict[str, bytes | None] = dict(board_files(board.items, next_id))
            message = f"board: import {name} ({len(board.items)} items)"
            new = self.refs.commit(None, BoardChange(files, message))
            if not self.refs.swap(new, None, message):
                return
        self.notices.append(
            f"imported {name} ({len(board.items)} items) into {self.name}; the file is no"
            f" longer read: remove it with `git rm --cached -q {name}; rm {name}`"
            " (or just `rm` it if it was never committed)"
        )


def _number(item: Item) -> int:
    return int(item.id[3:])


def board_files(items: Iterable[Item], next_id: int) -> dict[str, bytes]:
    """The whole tree of a board: every item's blob and meta.json."""
    files = {item_path(i.id): encode_item(i) for i in items}
    files[META] = encode_meta(next_id)
    return files


def _board(items: Mapping[str, Item], next_id: int) -> Board:
    """A board of items read from the ref (ids normalised ``SD-n``: no regex per item)."""
    ordered = sorted(items.values(), key=lambda i: int(i.id[3:]))
    top = int(ordered[-1].id[3:]) if ordered else 0
    return Board(next_id=max(next_id, top + 1), items=ordered)


def kind_of(item: Item) -> str:
    return f"{item.kind.value} {json.dumps(item.title, ensure_ascii=True)[:72]}"


def describe(item_id: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """The commit message of one item's change: ``SD-5: plan -> code``, else the fields."""
    if before.get("stage") != after.get("stage"):
        return f"{item_id}: {before.get('stage')} -> {after.get('stage')}"
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    keys = [k for k in keys if k != "updated_at"] or keys
    return f"{item_id}: {', '.join(keys)}"


def legacy_uid(item: Item) -> str:
    """A uid for an item imported from board.yaml: the same in every clone that imports
    the same file, so two clones' imports merge as the same items."""
    seed = f"{item.id}\0{item.created_at.isoformat()}\0{item.title}"
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:16]
