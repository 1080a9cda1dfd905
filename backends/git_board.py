"""The board's ref in git's object store: ``lifecycle.store.BoardRefs`` for a repository.

Reads take loose objects from the object directory in-process (every write makes
loose objects, so a board in use reads without a process) and the rest through
``git cat-file --batch`` (packed objects, alternates, big trees). The ref
itself is read from its file, so the board's poll costs a ``stat`` and a small
read, not a process. Writes never touch a work tree or an index: blobs,
trees and the commit are written as loose objects (``git_files.write_loose``) and
the ref moves by ``git update-ref``'s compare-and-swap: its lock-file
protocol in-process (``git_files.RefFiles.update``), or git itself where the
repository asks more of a ref update (a reflog, a reference-transaction hook).
"""

from __future__ import annotations

import errno
import os
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Literal

from shipdeck.backends import git_files
from shipdeck.lifecycle import atomic
from shipdeck.lifecycle.board import Board, BoardError
from shipdeck.lifecycle.errors import StorageError
from shipdeck.lifecycle.paths import GITIGNORE, OLD_GITIGNORE_MARK, ShipdeckPaths
from shipdeck.lifecycle.store import BOARD_REF, ITEMS, META, BoardChange, BoardStore

FALLBACK_IDENT = "shipdeck <shipdeck@localhost>"
_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
_PLAIN_WRITES_KEYS = r"^core\.(logallrefupdates|hookspath)$"
# Up to this many requests are read in-process (about 20 us an object, against 3 ms
# to start cat-file and 30 us an object in it): a board write reads 2-4.
_LOOSE_READS_MAX = 64
# Trees up to this size (about 700 items) are read and walked in-process; a 20,000-item
# board's items/ tree (~1 MB) is left to cat-file, as before: git finds a name in it
# faster than Python parses it.
_TREE_PARSE_MAX = 32 * 1024
# Objects never change, so the last few read are kept: a board change reads the same
# commit and trees for each path it touches (17 reads an update, ~35 us each).
_KEPT_OBJECTS = 64
_KEPT_SIZE = 32 * 1024  # bytes: an object bigger than this is not kept
_STALE_LOCK_AGE = 1.0  # seconds: git holds a ref lock for milliseconds
# What git prints (LC_ALL=C) when the disk, not the repository, is the problem.
_STORAGE_CAUSES = {
    "no space left on device": errno.ENOSPC,
    "read-only file system": errno.EROFS,
    "disk quota exceeded": errno.EDQUOT,
}


def open_board(root: Path, *, lock_timeout: float = 30.0) -> BoardStore:
    """The board of the repository at ``root``, importing an old board.yaml once."""
    refs = GitBoardRefs(root)
    paths = ShipdeckPaths(Path(root))
    _ignore_all_of_shipdeck(refs, paths)

    def legacy() -> tuple[Board, str] | None:
        if not paths.board.is_file():
            return None
        from shipdeck.lifecycle.board import parse_board

        name = paths.display(paths.board)
        try:
            text = paths.board.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise BoardError(f"{name}: cannot read it to import: {e}") from None
        return parse_board(text, name), str(paths.board.relative_to(paths.root))

    return BoardStore(Path(root), refs, lock_timeout=lock_timeout, legacy=legacy)


def _ignore_all_of_shipdeck(refs: GitBoardRefs, paths: ShipdeckPaths) -> None:
    """An older shipdeck's .shipdeck/.gitignore kept board.yaml tracked and missed
    work/: replace it with ``*``, unless the user committed it, which is then left
    as it is and ``/.shipdeck/`` goes to the repository's own info/exclude."""
    try:
        text = paths.gitignore.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    if text == GITIGNORE or not text.startswith(OLD_GITIGNORE_MARK):
        return
    rel = str(paths.gitignore.relative_to(paths.root))
    tracked = refs._run("ls-files", "--error-unmatch", "--", rel, check=False)[0] == 0
    try:
        if not tracked:
            atomic.write_text(paths.gitignore, GITIGNORE, fsync=False)
            return
        exclude = refs.common / "info" / "exclude"
        lines = exclude.read_text(encoding="utf-8").splitlines() if exclude.exists() else []
        if "/.shipdeck/" not in lines:
            exclude.parent.mkdir(parents=True, exist_ok=True)
            with open(exclude, "a", encoding="utf-8") as f:
                f.write(("\n" if lines and lines[-1] else "") + "/.shipdeck/\n")
    except OSError:
        pass  # a read-only checkout: nothing to keep clean


def git_dirs(root: Path) -> tuple[Path, Path]:
    """(git dir, common dir) of the work tree at ``root`` (no process)."""
    try:
        return git_files.git_dirs(root)
    except ValueError as exc:
        raise BoardError(str(exc)) from None
    except FileNotFoundError:
        raise BoardError(
            f"{root} is not the top of a git repository (run `git init` there)"
        ) from None


class GitBoardRefs:
    """``refs/shipdeck/board`` of one repository."""

    def __init__(self, root: Path, ref: str = BOARD_REF) -> None:
        self.root = Path(root)
        self.ref = ref
        self.gitdir, self.common = git_dirs(self.root)
        self._kept: dict[str, tuple[str, bytes]] = {}  # sha -> a small loose object read
        self._kept_lock = threading.Lock()
        # commit -> (parent, paths it writes): the commits this process made, so what
        # changed between two of them needs no git (the open board reloads after each
        # of its engine's writes, and a diff-tree is a process on the UI thread)
        self._made: dict[str, tuple[str | None, frozenset[str]]] = {}
        self.lock_path = self.common / "shipdeck-board.lock"

    # --- processes ---------------------------------------------------------------------

    def _git(self, *args: str, stdin: bytes | None = None, check: bool = True) -> bytes:
        return self._run(*args, stdin=stdin, check=check)[1]

    def _run(self, *args: str, stdin: bytes | None = None, check: bool = True) -> tuple[int, bytes]:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.root,
            input=stdin,
            capture_output=True,
            env={**os.environ, **_ENV},
            check=False,
        )
        if check and proc.returncode != 0:
            storage = self._storage_failure(proc.stderr, self.common / "objects")
            if storage is not None:
                raise storage
            why = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise BoardError(f"{self.ref}: git {args[0]} failed: {' / '.join(why[:3])}")
        return proc.returncode, proc.stdout

    def _shown(self, path: Path) -> str:
        """``path`` as messages name it: relative to the work tree (``.git/objects``)."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def _storage_failure(self, stderr: bytes, path: Path) -> StorageError | None:
        """A git that failed for want of a writable disk, as the StorageError it is."""
        text = stderr.decode("utf-8", "replace").lower()
        for phrase, code in _STORAGE_CAUSES.items():
            if phrase in text:
                return StorageError(self._shown(path), phrase, errno=code)
        return None

    @cached_property
    def _format(self) -> str:
        return _object_format(self._git("rev-parse", "--show-object-format", check=False))

    def _learn_before_writing(self) -> None:
        """What the first write asks git (the object format, the committer, whether a ref
        may move without git), asked at once: three git processes side by side, not one
        after another (~3 ms of a process's first board change)."""
        questions = {
            "_format": ("rev-parse", "--show-object-format"),
            "_ident_name": ("var", "GIT_COMMITTER_IDENT"),
            "_plain_writes": ("config", "--get-regexp", _PLAIN_WRITES_KEYS),
        }
        asked = {
            name: subprocess.Popen(
                ["git", *args],
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, **_ENV},
            )
            for name, args in questions.items()
            if name not in self.__dict__  # a cached_property answered already
        }
        answers = {name: (proc.communicate()[0], proc.returncode) for name, proc in asked.items()}
        if "_format" in answers:
            self.__dict__["_format"] = _object_format(answers["_format"][0])
        if "_ident_name" in answers:
            self.__dict__["_ident_name"] = _ident_name(answers["_ident_name"][0])
        if "_plain_writes" in answers:
            out, code = answers["_plain_writes"]
            self.__dict__["_plain_writes"] = self._no_ref_hooks(out if code == 0 else b"")

    # --- reading -----------------------------------------------------------------------

    def head(self) -> str | None:
        value = self._refs.value(self.ref)
        if value is git_files.ASK_GIT:
            self._refuse_unreadable()
            out = self._git("rev-parse", "--verify", "-q", self.ref, check=False)
            return out.decode().strip() or None
        return value

    def _refuse_unreadable(self) -> None:
        """A ref file that is there but cannot be read (a directory in its place, no
        permission) is an error to say, where git would call the ref missing and the
        board would show empty."""
        if not self._refs.readable():
            return  # reftable, or a store this process's git reads elsewhere
        try:
            (self.common / self.ref).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as e:
            raise BoardError(f"{self.ref}: cannot read: {e}") from None

    @cached_property
    def _refs(self) -> git_files.RefFiles:
        return git_files.RefFiles(self.gitdir, self.common)

    def _batch(self, requests: list[str]) -> list[tuple[str, bytes] | None]:
        """(type, data) per request (``SHA``, ``SHA^{tree}`` or ``SHA:path``), None
        where missing. Loose objects (every board write makes them) are read here;
        what is not loose (packed, an alternate) goes to one ``git cat-file --batch``."""
        if len(requests) > _LOOSE_READS_MAX:
            return self._cat_file(requests)  # one process is cheaper than many reads here
        resolved = [self._resolve(r) for r in requests]
        pending = [i for i, r in enumerate(resolved) if r is False]
        asked = self._cat_file([requests[i] for i in pending]) if pending else []
        found = dict(zip(pending, asked, strict=True))
        return [found[i] if r is False else r for i, r in enumerate(resolved)]

    def _resolve(self, request: str) -> tuple[str, bytes] | Literal[False] | None:
        """One request from loose objects: the object, None when a tree read here
        says the path is absent, or False when an object on the way is not loose."""
        sha, sep, path = request.partition(":")
        want_tree = sha.endswith("^{tree}")
        sha = sha.removesuffix("^{tree}")
        obj = self._loose(sha, tree_limit=_TREE_PARSE_MAX)
        if obj is None:
            return False
        if not want_tree and not sep:
            return obj
        if obj[0] != "commit":
            return False  # a tag to peel, or an odd request: git knows best
        head = obj[1].split(b"\n", 1)[0]
        if not head.startswith(b"tree "):
            return False
        sha = head[5:].decode("ascii")
        for part in path.split("/") if path else ():
            # A big tree (a 20,000-item items/) is left to git, which finds one name in
            # it faster than Python parses it; its size is known before it is inflated.
            tree = self._loose(sha, tree_limit=_TREE_PARSE_MAX)
            if tree is None:
                return False
            if tree[0] != "tree":
                return None  # a path through a file: git says missing too
            entry = git_files.parse_tree(tree[1], self._hash_len).get(part.encode("utf-8"))
            if entry is None:
                return None
            sha = entry[1].hex()
        obj = self._loose(sha, tree_limit=_TREE_PARSE_MAX)
        return False if obj is None else obj

    def _loose(self, sha: str, tree_limit: int | None = None) -> tuple[str, bytes] | None:
        kept = self._kept.get(sha)
        if kept is not None:
            too_big = tree_limit is not None and kept[0] == "tree" and len(kept[1]) > tree_limit
            return None if too_big else kept  # as read_loose answers
        obj = git_files.read_loose(self._objects, sha, tree_limit)
        if obj is not None and len(obj[1]) <= _KEPT_SIZE:
            with self._kept_lock:
                self._kept[sha] = obj
                if len(self._kept) > _KEPT_OBJECTS:
                    del self._kept[next(iter(self._kept))]  # the oldest
        return obj

    @property
    def _objects(self) -> Path:
        return self._refs.objects

    def _cat_file(self, requests: list[str]) -> list[tuple[str, bytes] | None]:
        """``git cat-file --batch``: (type, data) per request, None where missing."""
        if not requests:
            return []
        out = self._git("cat-file", "--batch", stdin=("\n".join(requests) + "\n").encode())
        results: list[tuple[str, bytes] | None] = []
        pos = 0
        for _ in requests:
            end = out.index(b"\n", pos)
            header = out[pos:end].split(b" ")
            pos = end + 1
            if len(header) != 3 or header[1] == b"missing":
                results.append(None)
                continue
            size = int(header[2])
            results.append((header[1].decode(), out[pos : pos + size]))
            pos += size + 1
        return results

    def read(self, commit: str, paths: Iterable[str]) -> dict[str, bytes | None]:
        wanted = list(dict.fromkeys(paths))
        found = self._batch([f"{_sha(commit)}:{p}" for p in wanted])
        return {
            p: (r[1] if r and r[0] == "blob" else None) for p, r in zip(wanted, found, strict=True)
        }

    def read_all(self, commit: str) -> dict[str, bytes]:
        listing = self._git("ls-tree", "-r", "-z", "--full-tree", _sha(commit))
        shas: list[str] = []
        paths: list[str] = []
        for entry in listing.split(b"\0"):
            if not entry:
                continue
            info, path = entry.split(b"\t", 1)
            _mode, kind, sha = info.split(b" ")
            name = path.decode("utf-8", "replace")
            if kind == b"blob" and (name == META or name.startswith(ITEMS + "/")):
                shas.append(sha.decode())
                paths.append(name)
        blobs = self._batch(shas)
        return {p: b[1] for p, b in zip(paths, blobs, strict=True) if b is not None}

    def changed(self, old: str, new: str) -> list[str] | None:
        if not git_files.HEX.fullmatch(old):
            return None
        made = self._changed_by_us(old, new)
        if made is not None:
            return made
        code, out = self._run(
            "diff-tree", "-r", "-z", "--name-only", "--no-renames", _sha(old), _sha(new),
            check=False,
        )  # fmt: skip
        if code != 0:
            return None  # old is not in this repository (a cache from elsewhere)
        return [p.decode("utf-8", "replace") for p in out.split(b"\0") if p]

    def _changed_by_us(self, old: str, new: str) -> list[str] | None:
        """The paths written from ``old`` to ``new`` if every commit between was made here
        (a superset of git's answer: a write of the same bytes lists its path too)."""
        paths: set[str] = set()
        at: str | None = new
        for _ in range(_MADE_KEPT):
            if at == old:
                return sorted(paths)
            made = self._made.get(at) if at is not None else None
            if made is None:
                return None
            at, written = made
            paths.update(written)
        return None

    def history(self, path: str) -> list[dict[str, str]]:
        """Commits of the ref that changed ``path``, newest first (``item history``)."""
        if self.head() is None:
            return []
        fmt = "%H%x1f%aI%x1f%an%x1f%s%x1e"
        out = self._git("log", f"--format={fmt}", self.ref, "--", path).decode("utf-8", "replace")
        keys = ("commit", "time", "author", "subject")
        rows = [r.strip("\n").split("\x1f") for r in out.split("\x1e")]
        return [dict(zip(keys, r, strict=True)) for r in rows if len(r) == 4]

    # --- writing -----------------------------------------------------------------------

    def commit(self, parent: str | None, change: BoardChange) -> str:
        self._learn_before_writing()
        trees = self._trees_for(parent, change.files)
        root_sha = self._write_tree("", trees, change.files)
        ident = self._ident()
        when = f"{int(time.time())} {_tz()}"
        lines = [f"tree {root_sha}"]
        if parent:
            lines.append(f"parent {_sha(parent)}")
        lines += [f"author {ident} {when}", f"committer {ident} {when}", "", change.message]
        sha = self._store("commit", ("\n".join(lines) + "\n").encode("utf-8"))
        with self._kept_lock:
            if len(self._made) >= _MADE_KEPT:
                del self._made[next(iter(self._made))]  # the oldest
            self._made[sha] = (parent, frozenset(change.files))
        return sha

    def merge_commit(self, parents: list[str], files: Mapping[str, bytes], message: str) -> str:
        """A commit of exactly ``files`` (the whole board) with several parents (sync)."""
        self._learn_before_writing()
        change = BoardChange(dict(files), message)
        root_sha = self._write_tree("", {}, change.files)
        ident = self._ident()
        when = f"{int(time.time())} {_tz()}"
        lines = [f"tree {root_sha}", *(f"parent {_sha(p)}" for p in parents)]
        lines += [f"author {ident} {when}", f"committer {ident} {when}", "", message]
        return self._store("commit", ("\n".join(lines) + "\n").encode("utf-8"))

    def _trees_for(
        self, parent: str | None, files: Mapping[str, bytes | None]
    ) -> dict[str, dict[bytes, tuple[bytes, bytes]]]:
        """The entries of every tree the change passes through, as they are at ``parent``."""
        dirs = {""}
        for path in files:
            parts = path.split("/")[:-1]
            dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        ordered = sorted(dirs, key=len)
        if parent is None:
            return {d: {} for d in ordered}
        requests = [
            f"{_sha(parent)}^{{tree}}" if d == "" else f"{_sha(parent)}:{d}" for d in ordered
        ]
        out: dict[str, dict[bytes, tuple[bytes, bytes]]] = {}
        for d, found in zip(ordered, self._batch(requests), strict=True):
            tree = found[1] if found is not None and found[0] == "tree" else None
            out[d] = {} if tree is None else git_files.parse_tree(tree, self._hash_len)
        return out

    def _write_tree(
        self,
        prefix: str,
        trees: Mapping[str, dict[bytes, tuple[bytes, bytes]]],
        files: Mapping[str, bytes | None],
    ) -> str:
        """Write the tree at ``prefix`` with ``files`` applied (children first); its sha."""
        entries = dict(trees.get(prefix, {}))
        lead = prefix + "/" if prefix else ""
        children: set[str] = set()
        for path, data in files.items():
            if not path.startswith(lead):
                continue
            rest = path[len(lead) :]
            if "/" in rest:
                children.add(rest.split("/", 1)[0])
            elif data is None:
                entries.pop(rest.encode(), None)
            else:
                entries[rest.encode()] = (b"100644", bytes.fromhex(self._store("blob", data)))
        for child in children:
            sub = self._write_tree(lead + child, trees, files)
            if sub == self._empty_tree:
                entries.pop(child.encode(), None)
            else:
                entries[child.encode()] = (b"40000", bytes.fromhex(sub))
        return self._store("tree", git_files.tree_bytes(entries))

    @cached_property
    def _empty_tree(self) -> str:
        return git_files.object_id(self._format, "tree", b"")

    @cached_property
    def _hash_len(self) -> int:
        return 32 if self._format == "sha256" else 20

    def _store(self, kind: str, data: bytes) -> str:
        """Write one object (a no-op when it exists); its id."""
        try:
            return git_files.write_loose(self._objects, self._format, kind, data)
        except OSError as exc:  # nothing half-written is left, and nothing refers to it
            raise StorageError.wrap(exc, self._shown(self._objects)) from None

    @cached_property
    def _ident_name(self) -> str:
        return _ident_name(self._git("var", "GIT_COMMITTER_IDENT", check=False))

    def _ident(self) -> str:
        return self._ident_name

    @cached_property
    def _plain_writes(self) -> bool:
        """Whether the ref may move without git: not where git logs every ref update
        (``core.logAllRefUpdates=always``) or runs a reference-transaction hook."""
        code, out = self._run("config", "--get-regexp", _PLAIN_WRITES_KEYS, check=False)
        return self._no_ref_hooks(out if code == 0 else b"")

    def _no_ref_hooks(self, config: bytes) -> bool:
        """:attr:`_plain_writes` from ``git config --get-regexp`` of its keys."""
        hooks = self.common / "hooks"
        for line in config.decode("utf-8", "replace").splitlines():
            name, _, value = line.partition(" ")
            if name.lower() == "core.logallrefupdates" and value.strip().lower() == "always":
                return False
            if name.lower() == "core.hookspath" and value.strip():
                hooks = self.root / Path(value.strip()).expanduser()  # relative: to the top
        return not (hooks / "reference-transaction").exists()

    def swap(self, new: str, old: str | None, message: str) -> bool:
        """``git update-ref NEW OLD``: in-process, by git's lock-file protocol, where
        nothing more is asked of a ref update (a board change made a process a write);
        by git otherwise, and where the lock is taken."""
        if self._plain_writes:
            try:
                moved = self._refs.update(self.ref, _sha(new), _sha(old) if old else None)
            except OSError as exc:
                raise StorageError.wrap(exc, self._shown(self.common / self.ref)) from None
            if moved is not git_files.ASK_GIT:
                return moved
        proc = subprocess.run(
            ["git", "update-ref", "-m", f"shipdeck: {message}", self.ref, _sha(new),
             _sha(old) if old else ""],
            cwd=self.root, capture_output=True, env={**os.environ, **_ENV}, check=False,
        )  # fmt: skip
        if proc.returncode == 0:
            return True
        if self.head() != old:
            return False  # another writer won: the caller reads again and retries
        storage = self._storage_failure(proc.stderr, self.common / self.ref)
        if storage is not None:
            raise storage
        if b"cannot lock ref" in proc.stderr and self._lock_gone_after_wait():
            return self.swap(new, old, message)
        why = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise BoardError(f"{self.ref}: cannot update: {' / '.join(why[:2])}")

    def _lock_gone_after_wait(self) -> bool:
        """A ref lock in the way while we hold shipdeck's lock: a git that is finishing
        (gone in milliseconds) or one killed mid-update (stale once it is a second old)."""
        lock = self.common / f"{self.ref}.lock"
        deadline = time.monotonic() + _STALE_LOCK_AGE + 0.5
        while lock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
            self.release_lock_if_stale()
        return not lock.exists()

    def release_lock_if_stale(self) -> None:
        lock = self.common / f"{self.ref}.lock"
        try:
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            return
        if age > _STALE_LOCK_AGE:
            lock.unlink(missing_ok=True)  # a git killed mid-update; we hold shipdeck's lock


_MADE_KEPT = 256  # own commits remembered (a reload seldom spans more than a few)


def _sha(value: str) -> str:
    if not git_files.HEX.fullmatch(value):
        raise BoardError(f"not a commit id: {value!r}")
    return value


def _tz() -> str:
    offset = -time.altzone if time.localtime().tm_isdst > 0 else -time.timezone
    sign = "+" if offset >= 0 else "-"
    offset = abs(offset)
    return f"{sign}{offset // 3600:02d}{offset % 3600 // 60:02d}"


def _object_format(out: bytes) -> str:
    return out.decode("ascii", "replace").strip() or "sha1"


def _ident_name(out: bytes) -> str:
    """``Name <email>`` of ``git var GIT_COMMITTER_IDENT`` (its time is taken per commit)."""
    text = out.decode("utf-8", "replace").strip()
    ident = text.rsplit(" ", 2)[0] if text else ""
    return ident if "<" in ident else FALLBACK_IDENT
