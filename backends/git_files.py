"""git's own files read without a process: where a repository keeps its refs and
objects, a ref's value, a loose object; and a loose object written.

Every stage asks git a dozen small questions (which branch is checked out, where a
branch or a tag points), and each ``git rev-parse`` or ``show-ref`` is a process of
2-3 ms; a Plan -> Deploy asked 30 of them. The answers are in small files with a
fixed format, so they are read here. Only what is plain is answered: the "files"
ref store (a loose ref, then ``packed-refs``), ref names of plain characters, loose
objects. Anything else (a reftable repository, ``GIT_COMMON_DIR`` or a ref namespace
in the environment, an odd name, a packed object, a file that does not parse) is
:data:`ASK_GIT`: the caller runs git, which knows every case.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import zlib
from collections.abc import Mapping
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Final, Literal


class _Ask(Enum):
    GIT = "ask git"


ASK_GIT: Final = _Ask.GIT
"""Not answered here: run git."""

Answer = str | None | Literal[_Ask.GIT]

HEX = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # a full sha1 or sha256 id
_HEX_LINE = re.compile(rb"([0-9a-f]{40}(?:[0-9a-f]{24})?)\n?")
# Ref names of plain characters only; git's full rules (check-ref-format) are left to git.
_PLAIN = re.compile(r"[A-Za-z0-9_.+-]+(?:/[A-Za-z0-9_.+-]+)*")
# Where rev-parse looks for a short name, in its order (refs.c, ref_rev_parse_rules).
_DWIM = ("refs/{}", "refs/tags/{}", "refs/heads/{}", "refs/remotes/{}", "refs/remotes/{}/HEAD")
_PER_WORKTREE = ("refs/bisect/", "refs/worktree/", "refs/rewritten/")
_KINDS = (b"blob", b"tree", b"commit", b"tag")


def git_dirs(root: Path) -> tuple[Path, Path]:
    """(git dir, common dir) of the work tree at ``root``, from the files git keeps;
    a linked worktree's refs and objects live in the common dir. ``FileNotFoundError``
    where ``root`` has no ``.git``; ``ValueError`` where its ``.git`` file is odd."""
    dot = Path(root) / ".git"
    if dot.is_dir():
        gitdir = dot
    elif dot.is_file():
        text = dot.read_text(encoding="utf-8").strip()
        if not text.startswith("gitdir:"):
            raise ValueError(f"{dot}: not a gitdir file")
        gitdir = (Path(root) / text.split(":", 1)[1].strip()).resolve()
    else:
        raise FileNotFoundError(dot)
    return gitdir, common_dir(gitdir)


def common_dir(gitdir: Path) -> Path:
    commondir = gitdir / "commondir"
    if commondir.is_file():
        return (gitdir / commondir.read_text(encoding="utf-8").strip()).resolve()
    return gitdir


def read_loose(objects: Path, sha: str, tree_limit: int | None = None) -> tuple[str, bytes] | None:
    """A loose object's (type, data); None when it is not loose (or is damaged: git
    says what is wrong), or is a tree of more than ``tree_limit`` bytes.

    Read by hand, not through gitdb's stream: a loose object is a zlib stream of
    ``TYPE SIZE\\0DATA``, and inflating it here takes 17 us an object against
    gitdb's 47, without importing gitdb (7 ms)."""
    if not HEX.fullmatch(sha):
        return None
    try:
        with open(objects / sha[:2] / sha[2:], "rb") as f:
            raw = f.read()
        inflate = zlib.decompressobj()
        head = inflate.decompress(raw, 64)  # the header, and no more, first
        nul = head.index(b"\0")
        kind, size = head[:nul].split(b" ")
        if tree_limit is not None and kind == b"tree" and int(size) > tree_limit:
            return None
        data = head[nul + 1 :] + inflate.decompress(inflate.unconsumed_tail) + inflate.flush()
    except (OSError, ValueError, zlib.error):
        return None
    if len(data) != int(size) or kind not in _KINDS:
        return None
    return kind.decode("ascii"), data


def object_id(fmt: str, kind: str, data: bytes) -> str:
    """The id git gives ``data`` as an object of ``kind``, in a sha1 or sha256 repository."""
    return _framed(fmt, kind, data)[1]


def _framed(fmt: str, kind: str, data: bytes) -> tuple[bytes, str]:
    """``TYPE SIZE\\0DATA``, as git stores and hashes an object, and its id."""
    raw = f"{kind} {len(data)}\0".encode() + data
    return raw, (hashlib.sha256 if fmt == "sha256" else hashlib.sha1)(raw).hexdigest()


def write_loose(objects: Path, fmt: str, kind: str, data: bytes) -> str:
    """Store one object as git does a loose one (a no-op when it is there); its id.

    A zlib stream of ``TYPE SIZE\\0DATA`` at level 1 (git's ``core.looseCompression``
    default) in ``objects/xx/``, written to a temporary file in ``objects`` and renamed into
    place read-only, so a reader never sees half an object. No fsync, as git does not
    fsync loose objects by default. By hand rather than through gitdb: 100-135 us an
    object against 145-175 us (medians of interleaved runs; a board change writes five),
    and no gitdb import (8 ms) in a process that writes."""
    raw, sha = _framed(fmt, kind, data)
    folder = os.path.join(objects, sha[:2])
    path = os.path.join(folder, sha[2:])
    if os.path.exists(path):
        return sha
    # In the objects dir, not beside the object: measured 145 us against 210-270 us.
    tmp = os.path.join(objects, f"tmp_obj_{os.getpid()}_{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    try:
        try:
            view = memoryview(zlib.compress(raw, 1))
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        try:
            os.replace(tmp, path)  # the same bytes if another writer got there first
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)  # the first object of its folder
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return sha


def parse_tree(data: bytes, hash_len: int) -> dict[bytes, tuple[bytes, bytes]]:
    """A raw tree object: {name: (mode, binary id)}."""
    entries: dict[bytes, tuple[bytes, bytes]] = {}
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        mode, name = data[pos:space], data[space + 1 : nul]
        entries[name] = (mode, data[nul + 1 : nul + 1 + hash_len])
        pos = nul + 1 + hash_len
    return entries


def tree_bytes(entries: Mapping[bytes, tuple[bytes, bytes]]) -> bytes:
    """Git's tree encoding; entries sorted as git sorts them (a tree as ``name/``)."""

    def key(name: bytes) -> bytes:
        return name + b"/" if entries[name][0] == b"40000" else name

    return b"".join(
        entries[n][0] + b" " + n + b"\0" + entries[n][1] for n in sorted(entries, key=key)
    )


def trees_along(
    objects: Path, commit: str, folders: list[str]
) -> list[dict[bytes, tuple[bytes, bytes]]] | None:
    """The trees from ``commit``'s root down through ``folders`` (``["docs"]`` for
    ``docs/CHANGELOG.md``), parsed; None where git must be asked: an object that is not
    loose, or a folder on the way that is missing or not a folder."""
    found = read_loose(objects, commit)
    if found is None or found[0] != "commit" or not found[1].startswith(b"tree "):
        return None
    sha = found[1][5 : found[1].index(b"\n")].decode("ascii")
    hash_len = len(commit) // 2
    trees: list[dict[bytes, tuple[bytes, bytes]]] = []
    for folder in [None, *folders]:
        if folder is not None:
            entry = trees[-1].get(folder.encode("utf-8", "surrogateescape"))
            if entry is None or entry[0] != b"40000":
                return None
            sha = entry[1].hex()
        found = read_loose(objects, sha)
        if found is None or found[0] != "tree":
            return None
        trees.append(parse_tree(found[1], hash_len))
    return trees


class RefFiles:
    """The refs of one repository, read from ``HEAD``, loose ref files and
    ``packed-refs``; ``packed-refs`` is parsed once per change of the file."""

    def __init__(self, gitdir: Path, common: Path) -> None:
        self.gitdir = gitdir
        self.common = common
        self._packed: dict[str, str] = {}
        self._packed_stamp: tuple[int, int, int] | None = None

    @cached_property
    def objects(self) -> Path:
        return Path(os.environ.get("GIT_OBJECT_DIRECTORY") or self.common / "objects")

    def readable(self) -> bool:
        """The files ref store, as this process's git would see it."""
        if os.environ.get("GIT_COMMON_DIR") or os.environ.get("GIT_NAMESPACE"):
            return False
        return not (self.common / "reftable").exists()

    def value(self, name: str) -> Answer:
        """What the full ref ``name`` (``refs/heads/main``, ``HEAD``) points at, symbolic
        refs followed; None when it does not exist."""
        if (
            not self.readable()
            or not plain_ref_name(name)
            or not (name == "HEAD" or name.startswith("refs/"))
        ):
            return ASK_GIT
        return self._value(name, 0)

    def _value(self, name: str, depth: int) -> Answer:
        per_worktree = name == "HEAD" or name.startswith(_PER_WORKTREE)
        try:
            raw: bytes | None = ((self.gitdir if per_worktree else self.common) / name).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raw = None
        except OSError:
            return ASK_GIT  # a directory in its place, no permission: git's rules apply
        if raw is None:
            return None if per_worktree else self._packed_refs().get(name)
        line = _HEX_LINE.fullmatch(raw)
        if line:
            return line.group(1).decode("ascii")
        if raw.startswith(b"ref: ") and depth < 5:
            target = raw[5:].strip().decode("utf-8", "replace")
            if target.startswith("refs/") and plain_ref_name(target):
                return self._value(target, depth + 1)
        return ASK_GIT

    def update(self, name: str, new: str, old: str | None) -> bool | Literal[_Ask.GIT]:
        """Move the ref ``name`` from ``old`` (None: it must not exist yet) to ``new`` the
        way ``git update-ref NEW OLD`` does: ``NAME.lock`` created exclusively, the old
        value checked under it, the new one written there and renamed over the ref.
        False when the ref was not at ``old``. ASK_GIT where the lock is taken (git
        waits for it, or says why it cannot) or the ref has a reflog to append to; the
        caller knows whether the repository's config asks git for more (a reflog for
        every ref, a reference-transaction hook). An ``OSError`` writing it (a full
        disk) is raised, with the lock removed."""
        if not name.startswith("refs/") or name.startswith(_PER_WORKTREE):
            return ASK_GIT
        if not self.readable() or not plain_ref_name(name):
            return ASK_GIT
        if (self.common / "logs" / name).exists():
            return ASK_GIT
        path = self.common / name
        lock = path.with_name(path.name + ".lock")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except (FileExistsError, NotADirectoryError, FileNotFoundError):
            return ASK_GIT  # taken (git waits for it), or a file where a directory must be
        renamed = False
        try:
            with os.fdopen(fd, "wb") as f:
                if _is_symbolic(path):
                    return ASK_GIT  # git moves the ref it names, not this file
                current = self._value(name, 0)
                if current is ASK_GIT:
                    return ASK_GIT
                if current != old:
                    return False
                f.write(new.encode("ascii") + b"\n")
            os.rename(lock, path)
            renamed = True
            return True
        except IsADirectoryError:
            return ASK_GIT
        finally:
            if not renamed:  # once renamed, a lock of that name is another writer's
                lock.unlink(missing_ok=True)

    def head_branch(self) -> Answer:
        """The branch ``HEAD`` names (``main``), None when it is detached."""
        if not self.readable():
            return ASK_GIT
        try:
            raw = (self.gitdir / "HEAD").read_bytes()
        except OSError:
            return ASK_GIT
        if _HEX_LINE.fullmatch(raw):
            return None
        target = raw.removeprefix(b"ref: ").strip().decode("utf-8", "replace")
        if raw.startswith(b"ref: refs/heads/") and plain_ref_name(target):
            return target.removeprefix("refs/heads/")
        return ASK_GIT

    def commit_of(self, name: str) -> Answer:
        """The commit a short or full ref name resolves to, as ``git rev-parse --verify
        NAME^{commit}`` finds it (tags before branches); None when no ref has the name."""
        if HEX.fullmatch(name):
            return self._peeled(name)  # a commit id: if its object is here, it is one
        if not self.readable() or not plain_ref_name(name):
            return ASK_GIT
        if name == "HEAD" or name.startswith("refs/"):
            full = [name]
        else:
            if (self.gitdir / name).exists() or (self.common / name).exists():
                return ASK_GIT  # a pseudo-ref such as ORIG_HEAD: git's rules apply
            full = [rule.format(name) for rule in _DWIM]
        for ref in full:
            value = self._value(ref, 0)
            if value is None:
                continue
            if value is ASK_GIT:
                return ASK_GIT
            if ref == "HEAD" or ref.startswith("refs/heads/"):
                return value  # git writes nothing but commits there
            return self._peeled(value)
        return None

    def _peeled(self, sha: str) -> Answer:
        """The commit ``sha`` is, or a tag (or chain of tags) there points at, from
        loose objects only."""
        for _ in range(5):
            obj = read_loose(self.objects, sha)
            if obj is None:
                return ASK_GIT  # packed: git reads packs
            kind, data = obj
            if kind == "commit":
                return sha
            if kind != "tag" or not data.startswith(b"object "):
                return ASK_GIT  # a tree or a blob: git says it is not a commit
            sha = data[7 : data.index(b"\n")].decode("ascii", "replace")
        return ASK_GIT

    def commits_between(self, tip: str, base: str, limit: int = 64) -> int | None:
        """``git rev-list --count base..tip`` where history is a plain line: walked from
        ``tip`` back to ``base`` over single-parent, loose commits (0 when ``tip`` is
        behind ``base`` on such a line, or both lines are whole and share the root).
        None when it cannot be told that way: a merge, a packed or missing commit, more
        than ``limit`` steps, or a repository whose history git rewrites as it reads
        (replace refs, grafts, a shallow clone). Every commit walked before ``base`` is
        base's descendant, so none is reachable from base: the count is exact."""
        if not (HEX.fullmatch(tip) and HEX.fullmatch(base)) or self.rewritten_history():
            return None
        ahead, end = self._line(tip, base, limit)
        if end == "found":
            return len(ahead)
        behind, end_base = self._line(base, tip, limit)
        if end_base == "found":
            return 0  # tip is base's ancestor: everything tip reaches, base reaches
        if end == "root" and end_base == "root":  # whole lines: all either one reaches
            return len(set(ahead) - set(behind))
        return None

    def no_tags(self) -> bool:
        """True when the repository surely has no tag (no file under ``refs/tags``, none
        in ``packed-refs``): a first release lists nothing. False means: ask git."""
        if not self.readable():
            return False

        def unreadable(exc: OSError) -> None:
            if not isinstance(exc, FileNotFoundError):  # none at all is no tag
                raise exc

        try:
            walk = os.walk(self.common / "refs" / "tags", onerror=unreadable)
            if any(files for _dir, _subdirs, files in walk):
                return False
        except OSError:
            return False
        return not any(ref.startswith("refs/tags/") for ref in self._packed_refs())

    def author_times(self, tip: str, base: str, limit: int = 64) -> list[int] | None:
        """The author times of ``git log --format=%at base..tip`` where ``base`` is on
        ``tip``'s plain line of loose commits (see :meth:`commits_between`); None when
        it cannot be told that way."""
        if not (HEX.fullmatch(tip) and HEX.fullmatch(base)) or self.rewritten_history():
            return None
        walked, end = self._line(tip, base, limit)
        if end != "found":
            return None
        times = []
        for sha in walked:
            found = read_loose(self.objects, sha)
            head = found[1].split(b"\n\n", 1)[0] if found else b""
            author = [line for line in head.split(b"\n") if line.startswith(b"author ")]
            try:
                times.append(int(author[0].rsplit(b" ", 2)[1]))
            except (IndexError, ValueError):
                return None  # not a commit as git writes them: git says what it makes of it
        return times

    def is_ancestor(self, ancestor: str, commit: str, limit: int = 64) -> bool | None:
        """``git merge-base --is-ancestor`` on a plain line of loose commits (see
        :meth:`commits_between`); None when it cannot be told that way."""
        if not (HEX.fullmatch(ancestor) and HEX.fullmatch(commit)) or self.rewritten_history():
            return None
        end = self._line(commit, ancestor, limit)[1]
        return {"found": True, "root": False}.get(end or "")

    def _line(self, sha: str, stop: str, limit: int) -> tuple[list[str], str | None]:
        """The commits from ``sha`` back along single parents, before ``stop``: and how
        the walk ended ("found" ``stop``, reached the "root", or None: unknown)."""
        walked: list[str] = []
        for _ in range(limit + 1):
            if sha == stop:
                return walked, "found"
            obj = read_loose(self.objects, sha)
            if obj is None or obj[0] != "commit":
                return walked, None
            walked.append(sha)
            parents = [
                line[7:] for line in obj[1].split(b"\n\n", 1)[0].split(b"\n")
                if line.startswith(b"parent ")
            ]  # fmt: skip
            if not parents:
                return walked, "root"
            if len(parents) > 1:
                return walked, None  # a merge: git counts both sides
            sha = parents[0].decode("ascii")
        return walked, None

    def rewritten_history(self) -> bool:
        """Whether git reads some objects as others (replace refs, grafts) or history as
        cut (shallow): then what an object file says is not what git answers."""
        if os.environ.get("GIT_GRAFT_FILE") or os.environ.get("GIT_REPLACE_REF_BASE"):
            return True
        if any((self.common / p).exists() for p in ("shallow", "info/grafts")):
            return True
        replace = self.common / "refs" / "replace"
        if replace.is_dir() and any(replace.iterdir()):
            return True
        return any(ref.startswith("refs/replace/") for ref in self._packed_refs())

    def _packed_refs(self) -> dict[str, str]:
        path = self.common / "packed-refs"
        try:
            st = path.stat()
        except FileNotFoundError:
            self._packed, self._packed_stamp = {}, None
            return self._packed
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._packed_stamp:
            refs: dict[str, str] = {}
            with open(path, "rb") as f:
                for line in f:
                    if line[:1] in (b"#", b"^"):
                        continue  # the header; a tag's peeled id (read from the tag instead)
                    sha, _, ref = line.rstrip(b"\n").partition(b" ")
                    refs[ref.decode("utf-8", "replace")] = sha.decode("ascii", "replace")
            self._packed, self._packed_stamp = refs, stamp
        return self._packed


def _is_symbolic(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(5) == b"ref: "
    except OSError:
        return False


def plain_ref_name(name: str) -> bool:
    """A ref name this module reads as a path: plain characters, no ``..``, no
    leading ``-`` (an option to git), no component starting with a dot or ending in
    ``.lock``. Every such name passes ``git check-ref-format`` (and ``--branch``, but
    for ``HEAD``): ``tests/integration/test_git_refs.py`` asks git."""
    if not _PLAIN.fullmatch(name) or ".." in name or name.endswith(".") or name[0] == "-":
        return False
    return not any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))
