"""``shipdeck sync``: share the board ref through a git remote, as git-bug shares issues.

Fetch the remote's board into ``refs/shipdeck/remotes/<remote>/board``, merge it
with ours (``lifecycle.board_merge``: pure and deterministic), publish the merge
and any branch renames in one ``update-ref`` transaction, then push the board
ref without force. A push that lost a race with another clone fetches and
merges again. A kill at any point leaves the local board either before or
after the merge, never between: the next sync picks up where it stopped.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from shipdeck.backends.git import GitRepo
from shipdeck.lifecycle.board import BoardError
from shipdeck.lifecycle.board_merge import Renumbered, merge_boards
from shipdeck.lifecycle.filelock import hold
from shipdeck.lifecycle.ports import RefRaceLost, RefUpdate, VcsError
from shipdeck.lifecycle.store import BoardStore, board_files

_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
_REMOTE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_ATTEMPTS = 5
_SYNC_WAIT = 60.0  # seconds another sync of this repository may take
_STALE = 1.0  # seconds: an older git ref lock is one a killed git left


class SyncError(BoardError):
    """The board could not be synced; the message says why in git's words."""


@dataclass
class SyncReport:
    remote: str
    fetched: bool = False  # the remote had a board
    merged: bool = False  # both sides had changes: a merge commit was made
    fast_forward: bool = False  # only the remote had changes
    pushed: bool = False
    renumbered: list[Renumbered] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.merged:
            what = "merged the remote's board with ours"
        elif self.fast_forward:
            what = "took the remote's changes"
        elif self.pushed:
            what = "sent our changes"
        else:
            what = "already in step"
        return f"{self.remote}: {what}" + ("; pushed" if self.pushed and self.merged else "")


def tracking_ref(remote: str) -> str:
    return f"refs/shipdeck/remotes/{remote}/board"


def sync(store: BoardStore, remote: str = "origin") -> SyncReport:
    """Fetch, merge and push the board; see the module doc."""
    if not _REMOTE_RE.match(remote) or ".." in remote:
        raise SyncError(f"not a remote name: {remote!r}")
    git = _Git(store)
    if remote not in git.out("remote").split():
        raise SyncError(f"no git remote named {remote!r} (see `git remote -v`)")
    report = SyncReport(remote)
    store.stamp()  # an old board.yaml is imported before anything is shared
    common = store.refs.lock_path.parent
    busy = SyncError(f"{remote}: another shipdeck is syncing this repository")
    with hold(common / "shipdeck-sync.lock", _SYNC_WAIT, lambda: busy):
        _drop_stale_lock(common / f"{tracking_ref(remote)}.lock")  # a fetch killed midway
        return _sync(store, git, remote, report)


def _sync(store: BoardStore, git: _Git, remote: str, report: SyncReport) -> SyncReport:
    repo = GitRepo(store.paths.root)
    for _ in range(_ATTEMPTS):
        theirs = git.fetch(remote)
        report.fetched = theirs is not None
        with store.locked():
            ours = store.refs.head()
            if theirs is None or ours == theirs:
                pass
            elif ours is None or repo.is_ancestor(ours, theirs):
                if not store.refs.swap(theirs, ours, f"sync: fast-forward from {remote}"):
                    continue
                report.fast_forward = True
                ours = theirs
            elif not repo.is_ancestor(theirs, ours):
                try:
                    ours = _merge(store, repo, git, ours, theirs, remote, report)
                except RefRaceLost:
                    continue  # a branch or the board moved meanwhile: fetch and merge again
                except VcsError as exc:
                    raise SyncError(f"could not publish the merged board: {exc}") from None
        if ours is None or ours == theirs:
            return report
        if git.push(remote, ours):
            report.pushed = True
            return report
        # the remote moved since our fetch: fetch and merge again
    raise SyncError(f"{remote}: the remote's board kept moving; try again")


def _drop_stale_lock(lock: Path) -> None:
    """git's lock of a ref, left by a git killed while it held it (we hold the sync lock,
    so no shipdeck fetch is running; git itself holds such a lock for milliseconds)."""
    try:
        if time.time() - lock.stat().st_mtime > _STALE:
            lock.unlink(missing_ok=True)
    except OSError:
        pass


def _merge(
    store: BoardStore,
    repo: GitRepo,
    git: _Git,
    ours: str,
    theirs: str,
    remote: str,
    report: SyncReport,
) -> str:
    base = git.merge_base(ours, theirs)
    mine, yours = store.board_at(ours), store.board_at(theirs)
    past = store.board_at(base) if base else None
    merged = merge_boards(
        past.items if past else [],
        mine.items,
        yours.items,
        (mine.next_id, yours.next_id, past.next_id if past else 1),
    )
    files = board_files(merged.items.values(), merged.next_id)
    message = f"sync: merge {remote}"
    if merged.renumbered:
        message += "\n\n" + "\n".join(
            f"{r.old_id} -> {r.new_id} (the remote's {r.old_id} is another item)"
            for r in merged.renumbered
        )
    commit = store.refs.merge_commit([ours, theirs], files, message)
    updates = [RefUpdate(store.refs.ref, commit, ours)]
    current = repo.current_branch()
    later: list[Renumbered] = []
    for r in merged.renumbered:
        if not r.old_branch or not r.new_branch or r.old_branch == r.new_branch:
            continue
        sha = repo.ref_sha(f"refs/heads/{r.old_branch}")
        if sha is None:
            continue  # never created here (or already renamed)
        updates.append(RefUpdate(f"refs/heads/{r.new_branch}", sha, None))
        if r.old_branch == current:
            later.append(r)  # HEAD points at it: move HEAD first, then delete
        else:
            updates.append(RefUpdate(f"refs/heads/{r.old_branch}", None, sha))
    repo.publish(updates)  # the merged board and the renames together, or nothing
    for r in later:
        assert r.new_branch and r.old_branch
        git.out("symbolic-ref", "HEAD", f"refs/heads/{r.new_branch}")
        git.out("update-ref", "-d", f"refs/heads/{r.old_branch}")
    report.merged = True
    report.renumbered = merged.renumbered
    report.notes += [
        f"{r.old_id} is now {r.new_id}"
        + (
            f"; branch {r.old_branch} renamed {r.new_branch}"
            if r.old_branch != r.new_branch
            else ""
        )
        for r in merged.renumbered
    ]
    return commit


class _Git:
    def __init__(self, store: BoardStore) -> None:
        self.root = store.paths.root
        self.ref = store.refs.ref

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args],
            cwd=self.root,
            input=stdin,
            capture_output=True,
            text=True,
            env={**os.environ, **_ENV},
            check=False,
        )

    def out(self, *args: str) -> str:
        proc = self.run(*args)
        if proc.returncode != 0:
            raise SyncError(f"git {args[0]} failed: {_first(proc.stderr)}")
        return proc.stdout.strip()

    def fetch(self, remote: str) -> str | None:
        """The remote's board commit, fetched; None when the remote has no board yet."""
        track = tracking_ref(remote)
        proc = self.run("fetch", "--quiet", "--no-tags", remote, f"+{self.ref}:{track}")
        if proc.returncode != 0:
            if "couldn't find remote ref" in proc.stderr:
                return None
            raise SyncError(f"cannot fetch the board from {remote}: {_first(proc.stderr)}")
        return self.out("rev-parse", "--verify", f"{track}^{{commit}}")

    def push(self, remote: str, commit: str) -> bool:
        """Push without force; False when the remote moved on (fetch and merge again)."""
        proc = self.run("push", "--quiet", "--porcelain", remote, f"{commit}:{self.ref}")
        if proc.returncode == 0:
            self.run("update-ref", tracking_ref(remote), commit)
            return True
        text = proc.stdout + proc.stderr
        if any(w in text for w in ("[rejected]", "non-fast-forward", "fetch first", "stale info")):
            return False
        raise SyncError(f"cannot push the board to {remote}: {_first(proc.stderr or proc.stdout)}")

    def merge_base(self, a: str, b: str) -> str | None:
        proc = self.run("merge-base", a, b)
        return proc.stdout.strip() or None if proc.returncode == 0 else None


def _first(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " / ".join(lines[:2]) or "no output"
