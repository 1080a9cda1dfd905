"""Board persistence: ``.shipdeck/board.yaml``, written atomically under a lock.

Every write happens inside an inter-process lock and starts by reloading the
file, so two shipdeck processes (a board and a CLI, say) never lose each
other's changes. Every write path loads and validates first, so a file this
version cannot read is refused (:class:`BoardError`) and never overwritten.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lifecycle.board import (
    SCHEMA,
    Board,
    BoardError,
    ItemNotFound,
    Stamp,
    board_from_data,
    check_title,
    dump_board,
    parse_board,
    parse_board_data,
)
from lifecycle.items import Item, Kind, utcnow
from lifecycle.paths import ShipdeckPaths

__all__ = [
    "SCHEMA",
    "Board",
    "BoardError",
    "BoardLocked",
    "BoardStore",
    "ItemNotFound",
    "Stamp",
    "dump_board",
    "parse_board",
]

_TMP_PREFIX, _TMP_SUFFIX = ".board.yaml.", ".tmp"
_CACHE = "board-cache.json"  # in .shipdeck/state/: local, never committed


class BoardLocked(BoardError):
    """Another process held the board lock for longer than the timeout."""


def _stamp_of(st: os.stat_result) -> Stamp:
    return Stamp(st.st_mtime_ns, st.st_size, st.st_ino)


_held = threading.local()  # lock files this thread holds: edit() is not re-entrant


class BoardStore:
    """Reads and edits one repository's board file.

    ``load()`` needs no lock: writers replace the file atomically, so a reader
    sees the old or the new file, never a mix. ``edit()`` is the only way to
    write: lock, reload from disk, let the caller change the board, write.
    """

    def __init__(self, root: Path, *, lock_timeout: float = 30.0, fsync: bool = True) -> None:
        self.paths = ShipdeckPaths(Path(root))
        self.path = self.paths.board
        self.lock_path = self.paths.board_lock
        self.name = self.paths.display(self.path)
        self.lock_timeout = lock_timeout
        self.fsync = fsync

    def stamp(self) -> Stamp | None:
        """The file's current :class:`Stamp`; None when there is no file."""
        try:
            return _stamp_of(os.stat(self.path))
        except FileNotFoundError:
            return None

    def changed_since(self, stamp: Stamp | None) -> bool:
        """True if the file changed after ``stamp`` (say ``board.stamp``): time to reload."""
        return self.stamp() != stamp

    def load(self) -> Board:
        """The board on disk; an empty board if there is no file. Creates nothing."""
        return self._read()[0]

    @contextmanager
    def edit(self) -> Iterator[Board]:
        """Lock, reload, yield the board, then write it if the block did not raise."""
        held: set[str] = _held.__dict__.setdefault("paths", set())
        key = str(self.lock_path.absolute())
        if key in held:
            raise RuntimeError("BoardStore.edit() is not re-entrant; use the board you have")
        self.paths.ensure()
        held.add(key)
        try:
            with self._locked():
                self._remove_temp_files()
                board, old_text = self._read()
                yield board
                text = dump_board(board, self.name)
                if text != old_text:
                    self._write(text)
                board.stamp = self.stamp()
        finally:
            held.discard(key)

    def add(
        self,
        title: str,
        kind: Kind = Kind.FEATURE,
        body: str = "",
        breaking: bool = False,
        links: Iterable[str] = (),
    ) -> Item:
        """Create a Plan item and save it; returns it with its new id."""
        check_title(title)
        with self.edit() as board:
            return board.add(title, kind=kind, body=body, breaking=breaking, links=links)

    def update(self, item_id: str, fn: Callable[[Item], object]) -> Item:
        """Apply ``fn`` to the freshly loaded item, stamp ``updated_at``, save."""
        with self.edit() as board:
            item = board.get(item_id)
            fn(item)
            item.updated_at = utcnow()
            return item

    def _read(self) -> tuple[Board, str | None]:
        try:
            with open(self.path, "rb") as f:
                stamp = _stamp_of(os.fstat(f.fileno()))
                data = f.read()
        except FileNotFoundError:
            return Board(), None
        except OSError as e:
            raise BoardError(f"{self.name}: cannot read: {e.strerror or e}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BoardError(f"{self.name}: not UTF-8 text (byte {e.start})") from None
        board = self._parse(data, text)
        board.stamp = stamp
        return board, text

    # A parsed copy of the file's data, as JSON, keyed by the hash of its bytes:
    # reading JSON is ~10x faster than YAML and needs no PyYAML import, which is
    # what the board's first paint waits for. The YAML file stays the only truth:
    # any other byte in it, and it is parsed (and checked) again.

    def _parse(self, data: bytes, text: str) -> Board:
        digest = hashlib.sha256(data).hexdigest()
        cache = self.paths.state / _CACHE
        try:
            cached = json.loads(cache.read_bytes())
            if cached.get("sha256") == digest:
                return board_from_data(cached["data"], self.name)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, BoardError):
            pass  # no cache, an old one, or a damaged one: the file decides
        board, raw = parse_board_data(text, self.name)
        self._remember(cache, digest, raw)
        return board

    def _remember(self, cache: Path, digest: str, raw: object) -> None:
        try:
            encoded = json.dumps({"sha256": digest, "data": raw})
            if json.loads(encoded)["data"] != raw:
                return  # YAML that JSON cannot hold as it is (dates, number keys)
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f"{_CACHE}.{os.getpid()}.{secrets.token_hex(3)}{_TMP_SUFFIX}")
            tmp.write_text(encoded)
            tmp.replace(cache)
        except (OSError, TypeError, ValueError):
            pass  # only a shortcut: a read-only checkout works without it

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """flock on board.lock, polled so a stuck process gives an error, not a hang."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            deadline = time.monotonic() + self.lock_timeout
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise BoardLocked(
                            f"{self.name}: another shipdeck process has held the lock "
                            f"for over {self.lock_timeout:g}s"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.02)
            yield
        finally:
            os.close(fd)  # closing releases the flock; the lock file itself stays

    def _remove_temp_files(self) -> None:
        """Temp files left by a killed writer; safe to delete while we hold the lock."""
        for tmp in self.paths.dir.glob(f"{_TMP_PREFIX}*{_TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)

    def _write(self, text: str) -> None:
        """Temp file, fsync, rename over, fsync the directory: old or new, never half."""
        data = text.encode("utf-8")
        tmp = self.paths.dir / f"{_TMP_PREFIX}{os.getpid()}.{secrets.token_hex(4)}{_TMP_SUFFIX}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise BoardError(f"{self.name}: cannot write: {e.strerror or e}") from None
        if self.fsync:
            dfd = os.open(self.paths.dir, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
