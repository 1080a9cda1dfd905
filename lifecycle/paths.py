"""Where shipdeck keeps its files inside a repository (docs/architecture.md section 2).

One place names them so the store, the journal, the engine and ``shipdeck init``
never disagree about a path or about what git should ignore.
"""

from __future__ import annotations

import os
import re
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

DIR_NAME = ".shipdeck"
CONFIG_NAME = "shipdeck.yaml"

# Everything in .shipdeck is local: the board lives in git's object store
# (refs/shipdeck/board), so nothing here belongs in the user's commits or in
# their `git status`, even after `git add -A`.
GITIGNORE = """\
# Written by shipdeck: everything here is local (the board is refs/shipdeck/board).
*
"""
OLD_GITIGNORE_MARK = "# Written by shipdeck"  # the first line of every .gitignore we wrote

_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def tree_path_parts(path: str) -> tuple[str, ...] | None:
    """``path``'s parts as a file inside the repository (relative, posix), or None where
    it is not one: absolute, empty, through ``..`` or ``.git``, or holding a NUL. What a
    release may write into git's tree (a changelog) and a step's report may name."""
    if not path or path.startswith("/") or "\0" in path:
        return None
    parts = tuple(part for part in path.split("/") if part not in ("", "."))
    if not parts or ".." in parts or ".git" in parts:
        return None
    return parts


def shared_dir(root: Path) -> Path:
    """Where the work tree ``root`` keeps shipdeck's files: ``root/.shipdeck``, but for a
    linked work tree (``git worktree add``) the main work tree's (or, for a bare
    repository's work trees, ``shipdeck`` in its git folder). One repository has one
    set of environments, one journal and one set of releases, as it has one board (a
    ref): a service deployed from one work tree is the one every other sees running.
    A submodule's ``.git`` file names no common folder, and it keeps its own."""
    dot_git = root / ".git"
    own = root / DIR_NAME
    if not dot_git.is_file():
        return own
    try:
        text = dot_git.read_text(encoding="utf-8", errors="replace")
        if not text.startswith("gitdir:"):
            return own
        git_dir = Path(os.path.join(root, text[len("gitdir:") :].strip()))
        common = (git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    except (OSError, ValueError):
        return own
    if common.name == ".git" and common.is_dir():
        return common.parent / DIR_NAME
    return common / "shipdeck"


@dataclass(frozen=True)
class ShipdeckPaths:
    """The ``.shipdeck`` layout under one repository root (a linked work tree's is the
    main work tree's: :func:`shared_dir`)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        object.__setattr__(self, "_dir", shared_dir(self.root))

    @property
    def dir(self) -> Path:
        return self._dir  # type: ignore[attr-defined,no-any-return]

    @property
    def board(self) -> Path:
        return self.dir / "board.yaml"

    @property
    def board_lock(self) -> Path:
        return self.dir / "board.lock"

    @property
    def journal(self) -> Path:
        return self.dir / "journal.jsonl"

    @property
    def runs(self) -> Path:
        return self.dir / "runs"

    @property
    def releases(self) -> Path:
        return self.dir / "releases"

    @property
    def work(self) -> Path:
        """``work/<item-id>/<sha>/``: the tree an item's Build and Test ran in."""
        return self.dir / "work"

    @property
    def reports(self) -> Path:
        return self.dir / "reports"

    @property
    def state(self) -> Path:
        return self.dir / "state"

    @property
    def gitignore(self) -> Path:
        return self.dir / ".gitignore"

    def run_log(self, run_id: str) -> Path:
        """``runs/<run_id>.log``; the id must be a plain file name, never a path."""
        if not is_run_file_name(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        return self.runs / f"{run_id}.log"

    def display(self, path: Path) -> str:
        """``path`` relative to the root, for messages (``.shipdeck/board.yaml``)."""
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def ensure(self) -> Path:
        """Create ``.shipdeck`` (and its .gitignore if missing); never overwrite one.

        Called by every writer, so local files are ignored even before
        ``shipdeck init`` ran. An existing .gitignore is never changed here
        (``backends.git_board`` brings an older shipdeck's up to date).
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.gitignore.exists():
            # Written whole under a temporary name, then linked: a full disk leaves no
            # empty .gitignore that would stop this from ever being written. Failing
            # is not fatal (a read-only or full .shipdeck): the writer says what failed.
            tmp = self.dir / f".gitignore.{os.getpid()}.tmp"
            try:
                with open(tmp, "w", encoding="utf-8") as f:
                    f.write(GITIGNORE)
                os.link(tmp, self.gitignore)
            except OSError:
                pass
            finally:
                with suppress(OSError):
                    tmp.unlink()
        return self.dir


def is_run_file_name(run_id: str) -> bool:
    """Whether ``run_id`` can name a file in ``runs/``: a plain name, never a path."""
    return bool(_RUN_ID_RE.match(run_id)) and ".." not in run_id
