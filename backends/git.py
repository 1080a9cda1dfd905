"""The git repository behind the board, implementing ``lifecycle.ports.Vcs``.

Everything goes through the git command line, run as GitPython's ``Repo.git`` ran
it (English messages, stdin from /dev/null, one trailing newline stripped) but
without importing GitPython, whose ~60 ms import was paid by every command that
asked git anything: porcelain commands give git's own safety checks (a checkout
never silently drops work) and are safe to call from worker threads.
Mutating calls are serialised by a lock; git failures become ``VcsError``.

Releases never check anything out: ``prepare_release`` writes only objects
(merge-tree, a temporary index, commit-tree, mktag; or, where git would write nothing
but loose objects, the changelog commit and the tag by hand, the very bytes git
writes) and ``publish`` moves all refs in one ``update-ref --stdin`` transaction, so
the user's work tree, index and checked-out branch stay as they were, and a kill
leaves all or nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from shipdeck.backends import git_files
from shipdeck.lifecycle.paths import tree_path_parts
from shipdeck.lifecycle.ports import (
    DirtyWorkTree,
    FoundRelease,
    MergeConflict,
    MergeResult,
    PreparedRelease,
    RefRaceLost,
    RefUpdate,
    VcsError,
)
from shipdeck.lifecycle.versioning import latest, version_from_tag

SHIPDECK_DIR = ".shipdeck/"  # the board and journal: never counts as dirty
FALLBACK_NAME = "shipdeck"
FALLBACK_EMAIL = "shipdeck@localhost"

# Never wait on a person: no editor, no credential prompt.
_BASE_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_EDITOR": "true", "GIT_MERGE_AUTOEDIT": "no"}
# git's messages in English whatever the user's locale: errors are matched on them.
_ENGLISH = {"LANGUAGE": "C", "LC_ALL": "C"}
# Python >= 3.11.4 checks archive members; git's own archive needs only the basic checks.
_TAR_FILTER: dict[str, Any] = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
_OVERWRITE_RE = re.compile(r"following (untracked working tree )?files would be overwritten")
_CONFIG_TTL = 30.0  # seconds a user.name/user.email read is kept while no config file changes
_TEMP_PREFIX = "shipdeck-tmp-"  # prepare_release's scratch dirs in the git dir
# Config under which git writes more than loose objects for a commit (a signature,
# another encoding, fsyncs, group permissions, a second object format's map).
_GIT_WRITES_MORE = (
    "commit.gpgsign",
    "i18n.commitencoding",
    "core.fsync",
    "core.sharedrepository",
    "extensions.compatobjectformat",
)
# "Name <email> 1796435155 +0000", as git var prints an identity.
_IDENT_RE = re.compile(r"[^<>\n]*<[^<>\n]*> \d+ [+-]\d{4}")
_LOCKED_RE = re.compile(r"Unable to create '([^']+\.lock)': File exists")
_RACE_RE = re.compile(
    r"cannot lock ref '([^']+)': (?:is at (\w+) but expected (\w+)|(reference already exists)"
    r"|unable to resolve reference|reference is missing)"
)


class GitRepo:
    """One work tree; ``root`` must be its top directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._git_dir = _git_dir_of(self.root)
        self._lock = threading.RLock()
        # Refs are read from their files where that is plain (git_files says when not).
        self._refs = git_files.RefFiles(self._git_dir, git_files.common_dir(self._git_dir))
        self._ahead: dict[tuple[object, object], int] = {}  # commits_ahead by its two commits
        self._valid_branches: set[str] = set()
        self._user: tuple[tuple[object, float], tuple[str | None, str | None]] | None = None

    # --- plumbing -----------------------------------------------------------

    def _exec(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        raw: bool = False,
        data: bytes | None = None,
    ) -> tuple[int, Any, str]:
        """Run git; (exit code, stdout, stderr). stdout is bytes when ``raw``.

        ``data`` is git's whole stdin, from a file: git reads all of it even if
        this process dies meanwhile (``update-ref --stdin`` sees its ``commit``).
        """
        cmd = [_git_exe(), "-c", "core.quotepath=off", *args]
        if data is None:
            return self._execute(cmd, env, raw, None)
        with tempfile.TemporaryFile() as stdin:
            stdin.write(data)
            stdin.seek(0)
            return self._execute(cmd, env, raw, stdin)

    def _execute(
        self, cmd: list[str], env: Mapping[str, str] | None, raw: bool, stdin: Any
    ) -> tuple[int, Any, str]:
        done = subprocess.run(
            cmd,
            cwd=self.root,
            env=_environ(env),
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
        )
        out: Any = done.stdout
        if not raw:
            out = _decode(out.removesuffix(b"\n"))
        return done.returncode, out, _decode(done.stderr.removesuffix(b"\n"))

    def _run(
        self, *args: str, env: Mapping[str, str] | None = None, data: bytes | None = None
    ) -> str:
        code, out, err = self._exec(*args, env=env, data=data)
        if code != 0:
            raise VcsError(f"git {args[0]} failed: {_first_lines(err or out)}")
        return str(out)

    def _ok(self, *args: str) -> bool:
        return self._exec(*args)[0] == 0

    def _valid_ref(self, ref: str) -> bool:
        """``git check-ref-format REF``; a name of plain characters is answered here."""
        if "/" in ref and git_files.plain_ref_name(ref):  # one level needs --allow-onelevel
            return True
        return self._ok("check-ref-format", ref)

    def _resolve(self, ref: str) -> str:
        sha = self._commit_of(ref)
        if sha is None:
            raise VcsError(f"unknown git ref {ref!r} in {self.root}")
        return sha

    def _commit_of(self, ref: str) -> str | None:
        """``git rev-parse --verify REF^{commit}``, from the ref files where they say."""
        _check_ref(ref)
        sha = self._refs.commit_of(ref)
        if sha is git_files.ASK_GIT:
            return self._out_or_none("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        return sha

    def _ref_value(self, ref: str) -> str | None:
        """What the full ref name ``ref`` points at (a tag: the tag object); None if missing."""
        sha = self._refs.value(ref)
        if sha is git_files.ASK_GIT:
            return self._out_or_none("show-ref", "--verify", "--hash", ref)
        return sha

    def _identity_env(self) -> dict[str, str]:
        """Author/committer for shipdeck's own commits: the user's, else ``shipdeck``.

        Only the pieces git cannot find (repo/global config or the usual
        environment variables) are filled in, for that one command.
        """
        env: dict[str, str] = {}
        name, email = self._user_config()
        email = email or os.environ.get("EMAIL")
        for role in ("AUTHOR", "COMMITTER"):
            if not name and not os.environ.get(f"GIT_{role}_NAME"):
                env[f"GIT_{role}_NAME"] = FALLBACK_NAME
            if not email and not os.environ.get(f"GIT_{role}_EMAIL"):
                env[f"GIT_{role}_EMAIL"] = FALLBACK_EMAIL
        return env

    def _user_config(self) -> tuple[str | None, str | None]:
        """``user.name`` and ``user.email`` in one git process, asked again when a file
        git reads its config from changes, or after :data:`_CONFIG_TTL` (an included
        file): a release asks for them three times."""
        stamp = self._config_now()
        known = self._known_user(stamp)
        if known is not None:
            return known
        code, out, _ = self._exec("config", "--get-regexp", r"^user\.(name|email)$")
        user = _user_of(str(out).splitlines() if code == 0 else [], " ")
        self._user = (stamp, user)
        return user

    def _config_now(self) -> tuple[object, float]:
        return (_config_stamp(self._refs.gitdir, self._refs.common), time.monotonic())

    def _known_user(self, stamp: tuple[object, float]) -> tuple[str | None, str | None] | None:
        """The user config asked before, while no file it comes from has changed."""
        if self._user is not None:
            (files, at), user = self._user
            if files == stamp[0] and stamp[1] - at < _CONFIG_TTL:
                return user
        return None

    def _var_list(self) -> str | None:
        """``git var -l``: the config and the identities git would write, as shipdeck's
        commits get them. Its config names the user (the usual case): that one listing
        also answers :meth:`_user_config`, a ``git config`` process fewer. Else it is
        asked again with the fallback identity of :meth:`_identity_env`."""
        stamp = self._config_now()
        if self._known_user(stamp) is None:
            code, out, _ = self._exec("var", "-l")
            if code == 0:
                user = _user_of(str(out).splitlines(), "=")
                self._user = (stamp, user)
                if all(user):  # then _identity_env() adds nothing: this is its answer
                    return str(out)
        code, out, _ = self._exec("var", "-l", env=self._identity_env())
        return str(out) if code == 0 else None

    def _out_or_none(self, *args: str) -> str | None:
        code, out, _ = self._exec(*args)
        return (str(out).strip() or None) if code == 0 else None

    # --- state --------------------------------------------------------------

    def head_sha(self, ref: str = "HEAD") -> str:
        return self._resolve(ref)

    def current_branch(self) -> str | None:
        """The branch checked out, None when HEAD is detached. Not ``symbolic-ref
        --short``: with a tag of the same name that says ``heads/main``."""
        branch = self._refs.head_branch()
        if branch is git_files.ASK_GIT:
            full = self._out_or_none("symbolic-ref", "-q", "HEAD") or ""
            return full.removeprefix("refs/heads/") if full.startswith("refs/heads/") else None
        return branch

    def branch_exists(self, branch: str) -> bool:
        return self.branch_tip(branch) is not None

    def branch_tip(self, branch: str) -> str | None:
        """Whether ``branch`` exists and its commit, in one look (gate checks ask both
        before every stage)."""
        _check_ref(branch)
        return self._ref_value(f"refs/heads/{branch}")

    def dirty_files(self) -> list[str]:
        """Tracked files with uncommitted (staged or not) changes, outside ``.shipdeck/``."""
        code, out, err = self._exec(
            "status", "--porcelain=v1", "-z", "--untracked-files=no", "--ignore-submodules=dirty"
        )
        if code != 0:
            raise VcsError(f"git status failed: {_first_lines(err)}")
        files: list[str] = []
        tokens = iter(str(out).split("\0"))
        for token in tokens:
            if len(token) < 4:
                continue
            xy, path = token[:2], token[3:]
            paths = [path, next(tokens, "")] if xy[0] in "RC" else [path]
            files += [p for p in paths if p and not p.startswith(SHIPDECK_DIR)]
        return sorted(set(files))

    def _require_clean(self, doing: str) -> None:
        dirty = self.dirty_files()
        if dirty:
            raise DirtyWorkTree(
                f"cannot {doing}: uncommitted changes in {', '.join(dirty)} "
                "(commit or stash them first)",
                dirty,
            )

    def commits_ahead(self, branch: str, base: str) -> int:
        """Commits in ``base..branch``: one git process (every gate check asks); the refs
        are resolved one by one only when it fails, to say which one is unknown."""
        _check_ref(branch)
        _check_ref(base)
        ends = (self._refs.commit_of(branch), self._refs.commit_of(base))
        known = None not in ends and git_files.ASK_GIT not in ends
        if known and ends in self._ahead:
            return self._ahead[ends]  # two commits: the count between them never changes
        if known:
            assert isinstance(ends[0], str) and isinstance(ends[1], str)
            walked = self._refs.commits_between(ends[0], ends[1])  # no process on a line
            if walked is not None:
                return walked
        # counted between the commits looked up, so the count is theirs even if a ref moves
        span = f"{ends[1]}..{ends[0]}" if known else f"{base}^{{commit}}..{branch}^{{commit}}"
        code, out, err = self._exec("rev-list", "--count", span, "--")
        if code == 0:
            count = int(str(out).strip() or 0)
            if known:
                if len(self._ahead) >= 256:
                    self._ahead.clear()
                self._ahead[ends] = count
            return count
        self._resolve(branch)
        self._resolve(base)
        raise VcsError(f"git rev-list failed: {_first_lines(err or str(out))}")

    def first_commit_time(self, branch: str, base: str) -> datetime | None:
        """Author time of the oldest commit in ``base..branch`` (when work began), UTC."""
        tip, start = self._resolve(branch), self._resolve(base)
        stamps = self._refs.author_times(tip, start)
        if stamps is None:
            stamps = [int(s) for s in self._run("log", "--format=%at", f"{base}..{branch}").split()]
        return datetime.fromtimestamp(min(stamps), UTC) if stamps else None

    def log(self, base: str, branch: str, limit: int = 20) -> list[dict[str, Any]]:
        """Commits in ``base..branch``, newest first (``time`` is a UTC datetime)."""
        self._resolve(branch)
        self._resolve(base)
        fmt = "%H%x1f%h%x1f%s%x1f%an%x1f%at%x1e"
        out = self._run("log", f"--format={fmt}", f"-n{max(limit, 0)}", f"{base}..{branch}")
        keys = ("sha", "short", "subject", "author", "time")
        rows = [r.strip("\n").split("\x1f") for r in out.split("\x1e")]
        commits: list[dict[str, Any]] = [
            dict(zip(keys, r, strict=True)) for r in rows if len(r) == 5
        ]
        for c in commits:
            c["time"] = datetime.fromtimestamp(int(c["time"]), UTC)
        return commits

    def read_file(self, path: str, ref: str) -> str | None:
        sha = self._resolve(ref)
        rel = self._relative(path)
        code, out, _ = self._exec("show", f"{sha}:{rel}", raw=True)
        return bytes(out).decode("utf-8", errors="replace") if code == 0 else None

    # --- branches -------------------------------------------------------------

    def _checkout(self, *args: str) -> None:
        """``git checkout``; git's own refusal to overwrite files becomes DirtyWorkTree."""
        code, out, err = self._exec("checkout", "--quiet", *args)
        if code != 0:
            raise _checkout_error(err or str(out), "checkout")

    def _check_branch_name(self, branch: str) -> None:
        if not branch or branch.startswith("-") or "\0" in branch:
            raise VcsError(f"{branch!r} is not a valid branch name")
        if branch in self._valid_branches:
            return  # git's rules for a name do not change (no @{-N} in it: see below)
        if branch != "HEAD" and git_files.plain_ref_name(branch):
            return  # valid by every rule of git's, without asking it
        if not self._ok("check-ref-format", "--branch", branch):
            raise VcsError(f"{branch!r} is not a valid branch name")
        if "@" not in branch:  # @{-1} names whatever branch was checked out before
            self._valid_branches.add(branch)

    def ensure_branch(self, branch: str, base: str) -> str:
        """Create ``branch`` from ``base`` if missing, check it out; return its head sha."""
        with self._lock:
            self._check_branch_name(branch)
            if self.current_branch() == branch and self.branch_exists(branch):
                return self.head_sha(branch)
            exists = self.branch_exists(branch)
            if not exists:
                self._require_base(base)
            self._require_clean(f"check out {branch}")
            if exists:
                self._checkout(branch)
            else:
                self._checkout("--no-track", "-b", branch, self._resolve(base))
            return self.head_sha(branch)

    def _require_base(self, base: str) -> None:
        """``base`` resolves, made from a remote's branch if need be (:meth:`_adopt`)."""
        if self._commit_of(base) is not None or self._adopt(base):
            return
        listed = self._run("for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads")
        here = ", ".join(listed.split()[:5])
        raise VcsError(
            f"base branch {base!r} does not exist in {self.root}"
            + (f" (its branches: {here}; base_branch in shipdeck.yaml names it)" if here else
               " (a new repository needs a first commit on it)")
        )  # fmt: skip

    def _adopt(self, base: str) -> bool:
        """The local ``base`` made from the remote branch of that name, tracking it, as
        ``git switch base`` would: a clone made with ``--branch``, or one whose default
        branch was renamed, has ``origin/main`` and no ``main``. Origin's wins where
        several remotes have one; True if made."""
        listed = self._run("for-each-ref", "--format=%(refname:lstrip=2)", "refs/remotes")
        have = [r for r in listed.split() if r.partition("/")[2] == base]
        pick = f"origin/{base}" if f"origin/{base}" in have else have[0] if len(have) == 1 else None
        if pick is None or not self._valid_ref(f"refs/heads/{base}"):
            return False
        return self._ok("branch", "--quiet", "--track", base, pick)

    # --- merge ----------------------------------------------------------------

    def merge(self, branch: str, base: str, message: str) -> MergeResult:
        """Merge ``branch`` into ``base`` and leave ``base`` checked out.

        Fast-forward when base has not moved, a merge commit otherwise. On a
        conflict the merge is aborted, the previous checkout restored and
        MergeConflict names the files: nothing half-merged is left behind.
        """
        with self._lock:
            self._resolve(branch)
            if not self.branch_exists(base):
                self._require_base(base)
            if not self.branch_exists(base):
                raise VcsError(f"base {base!r} is not a local branch; cannot merge into it")
            self._require_clean(f"merge {branch} into {base}")
            original = self.current_branch() or self.head_sha("HEAD")
            if self.current_branch() != base:
                self._checkout(base)
            try:
                if self._ok("merge-base", "--is-ancestor", base, branch):
                    self._merge_or_fail(branch, "--ff-only")
                    return MergeResult(sha=self.head_sha(base), fast_forward=True)
                self._merge_or_fail(branch, "--no-ff", "--no-edit", "--no-verify", "-m", message)
                return MergeResult(sha=self.head_sha(base), fast_forward=False)
            except VcsError:
                self._restore(original)
                raise

    def _merge_or_fail(self, branch: str, *opts: str) -> None:
        code, out, err = self._exec("merge", *opts, branch, env=self._identity_env())
        if code == 0:
            return
        conflicted = self._run("diff", "--name-only", "-z", "--diff-filter=U").split("\0")
        conflicted = sorted({f for f in conflicted if f})
        if self._in_merge():
            self._abort_merge()
        if conflicted:
            raise MergeConflict(conflicted)
        raise _checkout_error(err or str(out), "merge")

    def _in_merge(self) -> bool:
        return self._ok("rev-parse", "--verify", "--quiet", "MERGE_HEAD")

    def _abort_merge(self) -> None:
        if self._exec("merge", "--abort")[0] != 0:
            self._exec("reset", "--merge")

    def _restore(self, original: str) -> None:
        """Back to where the user was; a failure here must not hide the first error."""
        with suppress(VcsError):
            if self._in_merge():
                self._abort_merge()
            if (self.current_branch() or self.head_sha("HEAD")) != original:
                self._exec("checkout", "--quiet", original)

    # --- tags -------------------------------------------------------------------

    def tags(self) -> list[str]:
        if self._refs.no_tags():
            return []  # a first release: no process to list nothing
        return [t for t in self._run("tag", "--list").splitlines() if t]

    def tag_exists(self, name: str) -> bool:
        _check_ref(name)
        return self._ref_value(f"refs/tags/{name}") is not None

    def tag(self, name: str, ref: str, message: str) -> None:
        """An annotated tag (it carries who released and when)."""
        with self._lock:
            if not self._valid_ref(f"refs/tags/{name}") or name.startswith("-"):
                raise VcsError(f"{name!r} is not a valid tag name")
            if self.tag_exists(name):
                raise VcsError(f"tag {name} already exists")
            sha = self._resolve(ref)
            self._run("tag", "-a", "-m", message, name, sha, env=self._identity_env())

    def latest_version(self, tag_template: str = "v{version}") -> str | None:
        versions = (version_from_tag(tag_template, t) for t in self.tags())
        return latest(v for v in versions if v is not None)

    # --- refs ---------------------------------------------------------------------

    def ref_sha(self, ref: str) -> str | None:
        """What the full ref name ``ref`` (``refs/heads/main``) points at; None when missing."""
        _check_full_ref(ref)
        return self._ref_value(ref)

    def is_ancestor(self, a: str, b: str) -> bool:
        """True when commit ``a`` is ``b`` or in its history."""
        return self._is_ancestor(self._resolve(a), self._resolve(b))

    def _is_ancestor(self, a: str, b: str) -> bool:
        walked = self._refs.is_ancestor(a, b)  # no process where history is a line
        if walked is not None:
            return walked
        code, out, err = self._exec("merge-base", "--is-ancestor", a, b)
        if code not in (0, 1):
            raise VcsError(f"git merge-base failed: {_first_lines(err or str(out))}")
        return code == 0

    def create_branch(self, branch: str, base: str) -> str:
        """Create ``branch`` at ``base``'s commit without checking it out; return its head.

        An existing branch is left as it is and its head returned, also when it
        appears between the check and the write (the write refuses to overwrite).
        """
        with self._lock:
            self._check_branch_name(branch)
            ref = f"refs/heads/{branch}"
            existing = self.ref_sha(ref)
            if existing is not None:
                return existing
            self._require_base(base)
            sha = self._resolve(base)
            code, out, err = self._exec(
                "update-ref", "-m", f"shipdeck: branch {branch} from {base}", ref, sha, ""
            )
            if code != 0:
                existing = self.ref_sha(ref)
                if existing is not None:
                    return existing
                raise VcsError(f"could not create {branch}: {_first_lines(err or str(out))}")
            return sha

    def checkout_if_safe(self, branch: str) -> str | None:
        """Check ``branch`` out when no local change is in the way.

        None once it is checked out (or already was); otherwise nothing changes
        and a one-line reason names the files and the command to run later.
        """
        with self._lock:
            self._check_branch_name(branch)
            if not self.branch_exists(branch):
                raise VcsError(f"branch {branch!r} does not exist")
            here = self.current_branch()
            if here == branch:
                return None
            where = here or "the detached HEAD"
            dirty = self.dirty_files()
            if dirty:
                return (
                    f"stayed on {where}: uncommitted changes in {_names(dirty)}; "
                    f"commit or stash them, then run `git switch {branch}`"
                )
            try:
                self._checkout(branch, "--")
            except DirtyWorkTree as exc:
                return (
                    f"stayed on {where}: switching would overwrite {_names(exc.files)}; "
                    f"move them away, then run `git switch {branch}`"
                )
            return None

    # --- releases: objects first, then every ref in one transaction ----------------

    def prepare_release(
        self,
        *,
        sha: str,
        base: str,
        merge_message: str,
        changelog_path: str,
        changelog_text: Callable[[str], str],
        commit_message: str,
        tag: str,
        tag_message: str,
    ) -> PreparedRelease:
        """Write a release's objects; no ref moves and no file or index is touched.

        ``sha`` is merged into ``base``'s head (fast-forward when base is behind,
        a ``git merge-tree`` merge commit otherwise, nothing when already in);
        ``changelog_text(old text)`` is committed as ``changelog_path`` on top
        (skipped when it returns the text unchanged); an annotated tag object
        points at that commit. ``publish(prepared.ref_updates())`` makes it real;
        until then the objects are unreachable and git's gc drops them in time.
        """
        with self._lock:
            tag_ref = f"refs/tags/{tag}"
            if not tag or tag.startswith("-") or not self._valid_ref(tag_ref):
                raise VcsError(f"{tag!r} is not a valid tag name")
            if self.ref_sha(tag_ref) is not None:
                raise VcsError(f"tag {tag} already exists")
            self._check_branch_name(base)
            base_old = self.ref_sha(f"refs/heads/{base}")
            if base_old is None:
                self._require_base(base)
                raise VcsError(f"base {base!r} is not a local branch; cannot release into it")
            head = self._resolve(sha)
            path = self._tree_path(changelog_path)
            merged, fast_forward = self._merge_objects(base_old, head, merge_message)
            hand = self._by_hand(merged)
            commit = self._changelog_commit(merged, path, changelog_text, commit_message, hand)
            return PreparedRelease(
                base=base,
                base_old=base_old,
                merged=merged,
                commit=commit,
                tag=tag,
                tag_object=self._tag_object(tag, commit, tag_message, hand),
                fast_forward=fast_forward,
            )

    def _by_hand(self, commit: str) -> _ByHand | None:
        """How to write a release's objects here (``git_files.write_loose``) rather than
        through five git processes (hash-object, read-tree, update-index, write-tree,
        commit-tree, mktag): where git would write nothing but the loose objects. Not
        where it signs commits (``commit.gpgSign``), writes another encoding, fsyncs,
        shares the repository with a group or keeps a second object format; then None,
        and git writes them. One ``git var -l`` says, with the author and committer
        as git makes them (config, ``GIT_AUTHOR_*`` variables, the fallback names)."""
        if not self._refs.readable():
            return None
        out = self._var_list()
        if out is None:
            return None
        idents: dict[str, str] = {}
        for line in out.splitlines():
            key, _, value = line.partition("=")
            if key in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
                idents[key] = value  # the last: after the config, which a value could fake
            elif key.lower().startswith(_GIT_WRITES_MORE):
                return None
        author, committer = idents.get("GIT_AUTHOR_IDENT"), idents.get("GIT_COMMITTER_IDENT")
        if not (
            author and committer and _IDENT_RE.fullmatch(author) and _IDENT_RE.fullmatch(committer)
        ):
            return None
        return _ByHand(self._refs.objects, len(commit) // 2, author, committer)

    def _merge_objects(self, base: str, head: str, message: str) -> tuple[str, bool]:
        """Commit ``head`` merged into commit ``base``, without a work tree: (sha, ff)."""
        if self._is_ancestor(base, head):
            return head, True
        if self._is_ancestor(head, base):
            return base, True  # already merged: nothing to add
        code, out, err = self._exec(
            "merge-tree", "--write-tree", "--no-messages", "--name-only", "-z", base, head
        )
        fields = str(out).split("\0")
        if code == 1:  # conflicts: the tree, then the conflicted paths
            raise MergeConflict(sorted({f for f in fields[1:] if f}) or ["(unnamed files)"])
        tree = fields[0].strip()
        if code != 0 or not git_files.HEX.fullmatch(tree):
            raise VcsError(f"git merge-tree failed: {_first_lines(err or str(out))}")
        merged = self._run(
            "commit-tree", tree, "-p", base, "-p", head, "-m", message, env=self._identity_env()
        )
        return merged.strip(), False

    def _changelog_commit(
        self,
        parent: str,
        path: str,
        changelog_text: Callable[[str], str],
        message: str,
        hand: _ByHand | None,
    ) -> str:
        """A commit on ``parent`` changing only ``path``; ``parent`` when nothing changes."""
        folders, name = path.split("/")[:-1], path.split("/")[-1]
        trees = None  # read by git where it reads some objects as others (replace refs)
        if not self._refs.rewritten_history():
            trees = git_files.trees_along(self._refs.objects, parent, folders)
        entry = trees[-1].get(name.encode("utf-8", "surrogateescape")) if trees else None
        if trees is not None:
            mode, blob = (entry[0].decode().zfill(6), entry[1].hex()) if entry else (None, None)
        else:
            mode, blob = self._tree_entry(parent, path)
        old = ""
        if blob is not None:
            if mode not in ("100644", "100755"):
                raise VcsError(f"{path} is not a regular file in {parent[:12]}")
            old = self._blob(blob, path).decode("utf-8", "surrogateescape")
        new = changelog_text(old)
        if new == old:
            return parent
        data = new.encode("utf-8", "surrogateescape")
        text = _commit_text(message)
        if hand is not None and trees is not None and text is not None:
            try:
                return hand.commit(parent, trees, path, mode or "100644", data, text)
            except OSError as exc:
                raise VcsError(f"could not write the release commit: {exc}") from None
        new_blob = self._run("hash-object", "-w", "--stdin", data=data).strip()
        with self._scratch_index() as env:
            self._run("read-tree", parent, env=env)
            info = f"{mode or '100644'},{new_blob},{path}"
            self._run("update-index", "--add", "--cacheinfo", info, env=env)
            tree = self._run("write-tree", env=env).strip()
        commit = self._run(
            "commit-tree", tree, "-p", parent, "-m", message, env=self._identity_env()
        )
        return commit.strip()

    def _tree_entry(self, commit: str, path: str) -> tuple[str | None, str | None]:
        """(mode, object) of ``path`` in ``commit``; (None, None) when it is not there."""
        code, out, err = self._exec(
            "ls-tree", "-z", "--full-tree", commit, "--", path, env={"GIT_LITERAL_PATHSPECS": "1"}
        )
        if code != 0:
            raise VcsError(f"git ls-tree failed: {_first_lines(err)}")
        meta, _, name = str(out).split("\0")[0].partition("\t")
        if name != path or len(meta.split()) != 3:
            return None, None
        mode, _kind, oid = meta.split()
        return mode, oid

    def _tree_path(self, path: str) -> str:
        """``path`` as a repository-relative posix path, from its text (no link followed)."""
        p = Path(path)
        if p.is_absolute():
            p = Path(os.path.realpath(p.parent)) / p.name
            try:
                p = p.relative_to(self.root)
            except ValueError:
                raise VcsError(f"{path} is outside the repository {self.root}") from None
        parts = tree_path_parts(p.as_posix())
        if parts is None:
            raise VcsError(f"{path!r} is not a file path inside the repository")
        return "/".join(parts)

    @contextmanager
    def _scratch_index(self) -> Iterator[dict[str, str]]:
        """``GIT_INDEX_FILE`` of a throwaway index in the git dir, never the user's."""
        _sweep_scratch(self._git_dir)
        work = Path(tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}{os.getpid()}-", dir=self._git_dir))
        try:
            yield {"GIT_INDEX_FILE": str(work / "index")}
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _blob(self, sha: str, path: str) -> bytes:
        if not self._refs.rewritten_history():
            found = git_files.read_loose(self._refs.objects, sha)
            if found is not None and found[0] == "blob":
                return found[1]
        code, out, err = self._exec("cat-file", "blob", sha, raw=True)
        if code != 0:
            raise VcsError(f"could not read {path}: {_first_lines(err)}")
        return bytes(out)

    def _tag_object(self, tag: str, commit: str, message: str, hand: _ByHand | None) -> str:
        """An annotated tag object (as ``git tag -a`` writes it) with no ref to it yet."""
        if hand is not None:
            tagger = hand.committer
        else:
            tagger = self._run("var", "GIT_COMMITTER_IDENT", env=self._identity_env()).strip()
        text = message if message.endswith("\n") else message + "\n"
        body = f"object {commit}\ntype commit\ntag {tag}\ntagger {tagger}\n\n{text}"
        data = body.encode("utf-8", "surrogateescape")  # as an argument would be
        if hand is not None and b"\0" not in data:  # mktag's checks hold by construction
            try:
                return hand.write("tag", data)
            except OSError as exc:
                raise VcsError(f"could not write the tag {tag}: {exc}") from None
        return self._run("mktag", data=data).strip()

    def publish(self, updates: Sequence[RefUpdate]) -> None:
        """Move every ref in ``updates`` in one ``git update-ref --stdin`` transaction.

        git locks all of them and checks each old value before it moves any:
        either all move or none. A ref not at its ``old`` value raises
        RefRaceLost (recompute and retry). A ref's lock file in the way is waited
        for, and removed once stale (a git killed mid-update leaves it behind); one
        still fresh after that is named in the VcsError.
        """
        if not updates:
            return
        lines = ["start"]
        for u in updates:
            _check_full_ref(u.ref)
            for oid in (u.new, u.old):
                if oid is not None and not git_files.HEX.fullmatch(oid):
                    raise VcsError(f"{u.ref}: {oid!r} is not a full object id")
            if u.new is None and u.old is None:
                raise VcsError(f"{u.ref}: an update needs a new or an old value")
            if u.new is None:
                lines.append(f"delete {u.ref} {u.old}")
            elif u.old is None:
                lines.append(f"create {u.ref} {u.new}")
            else:
                lines.append(f"update {u.ref} {u.new} {u.old}")
        lines += ["prepare", "commit"]
        names = ", ".join(_short_ref(u.ref) for u in updates)
        data = ("\n".join(lines) + "\n").encode()
        for attempt in range(3):
            with self._lock:
                code, out, err = self._exec(
                    "update-ref", "-m", f"shipdeck: release {names}", "--stdin", data=data
                )
            if code == 0:
                return
            lock = _LOCKED_RE.search(err or "")
            if attempt == 2 or lock is None or not _ref_lock_cleared(Path(lock.group(1))):
                raise _publish_error(err or str(out))

    def release_would_touch_checkout(self, base: str, old: str, new: str) -> str | None:
        """Why moving the checked-out ``base`` from ``old`` to ``new`` would hit local edits.

        None when ``base`` is not checked out here or git's two-way merge
        (``read-tree -m -u``, as a dry run) would succeed; else a one-line
        reason naming the files, so a caller can refuse before publishing.
        """
        with self._lock:
            move = self._checked_out_move(base, old, new)
            if move is None:
                return None
            old_sha, new_sha = move
            self._exec("update-index", "-q", "--refresh")  # a touched file is not an edit
            code, out, err = self._exec("read-tree", "-m", "-u", "-n", old_sha, new_sha)
            if code == 0:
                return None
            files = self._in_the_way(old_sha, new_sha, err)
            if files:
                return (
                    f"{base} is checked out here and the release changes files you have "
                    f"changed too: {_names(files)}; commit or stash them (or switch to "
                    "another branch), then release again"
                )
            return f"{base} is checked out here and its files cannot be updated: " + (
                _first_lines(err or str(out), 1)
            )

    def _checked_out_move(self, base: str, old: str, new: str) -> tuple[str, str] | None:
        """(old, new) as shas when ``base`` is checked out here and really moves; else None."""
        if self.current_branch() != base:
            return None
        old_sha, new_sha = self._resolve(old), self._resolve(new)
        return None if old_sha == new_sha else (old_sha, new_sha)

    def detach_head(self, sha: str, reason: str) -> None:
        """Point HEAD at ``sha`` directly (index and files untouched): the branch it was
        on can then move without the work tree seeming to undo the move."""
        with self._lock:
            self._run("update-ref", "--no-deref", "-m", f"shipdeck: {reason}", "HEAD", sha)

    def after_publish_checkout(self, base: str, old: str, new: str) -> str | None:
        """Bring a checked-out ``base`` from ``old`` to ``new`` after ``publish`` moved it.

        ``git read-tree -m -u old new``: local edits to other files are kept,
        and nothing is overwritten; None when done or ``base`` is not checked
        out here, else a one-line message with the commands that catch up.
        """
        with self._lock:
            move = self._checked_out_move(base, old, new)
            if move is None:
                return None
            old_sha, new_sha = move
            catch_up = (
                f"run `git update-ref --no-deref HEAD {old_sha} && git checkout -m {base}` "
                "(brings your changes along; conflicts get marked in the files)"
            )
            head = self.ref_sha(f"refs/heads/{base}")
            if head != new_sha:
                return (
                    f"{base} moved on to {(head or 'nothing')[:12]} after the release; this "
                    f"work tree is still at {old_sha[:12]}: {catch_up}"
                )
            self._exec("update-index", "-q", "--refresh")
            code, out, err = self._exec("read-tree", "-m", "-u", old_sha, new_sha)
            if code == 0:
                return None
            files = self._in_the_way(old_sha, new_sha, err)
            why = f"your changes to {_names(files)}" if files else _first_lines(err or str(out), 1)
            return (
                f"{base} has the release but this work tree is still at {old_sha[:12]} "
                f"({why}); nothing was overwritten. To catch up, {catch_up}"
            )

    def _in_the_way(self, old: str, new: str, stderr: str) -> list[str]:
        """Files ``old..new`` changes that are edited (or untracked) here, sorted.

        Edits are counted against ``old``, what the index and files are based on
        (after ``publish`` HEAD already says ``new``).
        """
        tokens = self._run(
            "diff", "--no-ext-diff", "--name-status", "--no-renames", "-z", old, new
        ).split("\0")
        dirty = set(self._run("diff", "--no-ext-diff", "--name-only", "-z", old).split("\0"))
        dirty.update(
            self._run("diff", "--no-ext-diff", "--cached", "--name-only", "-z", old).split("\0")
        )
        hits = {
            path
            for status, path in zip(tokens[0::2], tokens[1::2], strict=False)
            if path in dirty or (status == "A" and os.path.lexists(self.root / path))
        }
        hits.update(
            re.findall(r"^error: (?:Entry|Untracked working tree file) '([^']+)'", stderr, re.M)
        )
        return sorted(hits)

    def find_release(self, item_id: str, sha: str) -> FoundRelease | None:
        """The newest annotated tag with a ``Shipdeck-Item: <item_id>`` line containing ``sha``.

        One ``for-each-ref`` reads every tag's message; only the matching tags
        cost an ancestry check. None when the item was never released with it.
        """
        if not item_id or any(c in item_id for c in "\0\r\n"):
            raise VcsError(f"not a valid item id: {item_id!r}")
        head = self._resolve(sha)
        if self._refs.no_tags():
            return None
        fmt = (
            "%(objecttype)%00%(*objecttype)%00%(*objectname)%00%(refname:lstrip=2)%00%(contents)%00"
        )
        code, out, err = self._exec(
            "for-each-ref", "--sort=-creatordate", f"--format={fmt}", "refs/tags", raw=True
        )
        if code != 0:
            raise VcsError(f"git for-each-ref failed: {_first_lines(err)}")
        fields = bytes(out).decode("utf-8", "replace").split("\0")
        trailer = f"Shipdeck-Item: {item_id}"
        for i in range(0, len(fields) - 4, 5):
            kind, peeled_kind, commit, name, contents = fields[i : i + 5]
            if kind.lstrip("\n") != "tag" or peeled_kind != "commit":
                continue  # lightweight tags and tags of trees or tags
            if trailer not in (line.strip() for line in contents.splitlines()):
                continue
            if self._is_ancestor(head, commit):
                return FoundRelease(tag=name, commit=commit)
        return None

    def push_atomic(self, remote: str, refspecs: Sequence[str]) -> None:
        """``git push --atomic``: the remote takes every refspec or none.

        A refusal raises VcsError with git's reason for the refused refs.
        """
        _check_ref(remote)
        for spec in refspecs:
            if not spec or spec.startswith("-") or any(c.isspace() for c in spec):
                raise VcsError(f"not a valid refspec: {spec!r}")
        if not refspecs:
            return
        code, out, err = self._exec("push", "--atomic", "--porcelain", remote, *refspecs)
        refused = [
            line.split("\t")
            for line in str(out).splitlines()
            if line.startswith("!") and line.count("\t") >= 2
        ]
        if code == 0 and not refused:
            return
        first = [r for r in refused if "atomic push failed" not in r[2]] or refused
        if first:
            why = "; ".join(f"{r[1].rpartition(':')[2]} {r[2]}" for r in first)
            raise VcsError(f"push to {remote} refused, nothing was pushed: {why}")
        raise VcsError(f"git push to {remote} failed: {_first_lines(err or str(out))}")

    # --- files ------------------------------------------------------------------

    def _relative(self, path: str) -> str:
        """``path`` as a repository-relative posix path; refuses anything outside."""
        p = Path(path)
        full = (p if p.is_absolute() else self.root / p).resolve()
        try:
            rel = full.relative_to(self.root)
        except ValueError:
            raise VcsError(f"{path} is outside the repository {self.root}") from None
        if not rel.parts or rel.parts[0] == ".git":
            raise VcsError(f"{path} is not a file in the repository")
        return str(PurePosixPath(*rel.parts))

    def commit_file(self, path: str, content: str, message: str, branch: str) -> str:
        """Write ``content`` as the whole file on ``branch`` and commit just that file.

        Returns the new head sha; if the file already had exactly this content,
        nothing is committed and the current head is returned (safe to retry).
        """
        with self._lock:
            rel = self._relative(path)
            if self.current_branch() != branch:
                if not self.branch_exists(branch):
                    raise VcsError(f"branch {branch!r} does not exist")
                self._require_clean(f"check out {branch}")
                self._checkout(branch)
            target = self.root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w", encoding="utf-8", newline="") as fh:
                fh.write(content)
            self._run("add", "--", rel)
            if self._ok("diff", "--cached", "--quiet", "HEAD", "--", rel):
                return self.head_sha("HEAD")
            self._run(
                "commit", "--quiet", "--no-verify", "-m", message, "--only", "--", rel,
                env=self._identity_env(),
            )  # fmt: skip
            return self.head_sha("HEAD")

    def export(self, ref: str, dest: str) -> None:
        """Replace ``dest`` with a clean copy of ``ref``'s tree (``git archive``).

        Extracted next to ``dest`` first and renamed into place, so ``dest`` is
        either the old copy or exactly the new one, never a mix.
        """
        sha = self._resolve(ref)
        target = Path(dest).resolve()
        if target == self.root or target in self.root.parents or target == Path(target.anchor):
            raise VcsError(f"refusing to export over {target}")
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        staging, old = work / "new", work / "old"
        try:
            with self._archive(sha) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
                tar.extractall(staging, **_TAR_FILTER)
            staging.chmod(0o755)
            if target.exists():
                target.rename(old)
            try:
                staging.rename(target)
            except OSError:
                if old.exists():
                    old.rename(target)
                raise
        except (OSError, tarfile.TarError) as exc:
            raise VcsError(f"could not export {ref} to {target}: {exc}") from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)

    @contextmanager
    def _archive(self, sha: str) -> Iterator[Any]:
        """git archive's stdout; drained (or closed) before the wait so git never blocks."""
        proc = subprocess.Popen(
            [_git_exe(), "archive", "--format=tar", sha],
            cwd=self.root,
            env=_environ(None),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        with proc:
            try:
                yield proc.stdout
            except BaseException:
                proc.stdout.close()
                proc.wait()
                raise
            while proc.stdout.read(1 << 16):
                pass
            if proc.wait() != 0:
                err = _decode(proc.stderr.read())
                raise VcsError(f"git archive failed: {_first_lines(err)}")


class _ByHand:
    """Writes a release's objects as loose objects, as git writes them (see
    ``GitRepo._by_hand``): the new blob, the trees down to it, the commit."""

    def __init__(self, objects: Path, hash_len: int, author: str, committer: str) -> None:
        self.objects = objects
        self.format = "sha256" if hash_len == 32 else "sha1"
        self.author = author
        self.committer = committer

    def write(self, kind: str, data: bytes) -> str:
        return git_files.write_loose(self.objects, self.format, kind, data)

    def commit(
        self,
        parent: str,
        trees: list[dict[bytes, tuple[bytes, bytes]]],
        path: str,
        mode: str,
        data: bytes,
        message: str,
    ) -> str:
        """``parent`` with ``path`` (whose folders' trees ``trees`` are) holding ``data``."""
        names = [part.encode("utf-8", "surrogateescape") for part in path.split("/")]
        entry = (mode.lstrip("0").encode(), bytes.fromhex(self.write("blob", data)))
        for tree, name in zip(reversed(trees), reversed(names), strict=True):
            tree = dict(tree)  # the caller's stays as read
            tree[name] = entry
            entry = (b"40000", bytes.fromhex(self.write("tree", git_files.tree_bytes(tree))))
        body = (
            f"tree {entry[1].hex()}\nparent {parent}\n"
            f"author {self.author}\ncommitter {self.committer}\n\n{message}"
        )
        return self.write("commit", body.encode("utf-8"))


def _commit_text(message: str) -> str | None:
    """A commit message as ``git commit-tree -m`` stores it (a last newline added); None
    where git would change it (not UTF-8; a NUL)."""
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:
        return None
    if "\0" in message:
        return None
    return message if not message or message.endswith("\n") else message + "\n"


def _environ(extra: Mapping[str, str] | None) -> dict[str, str]:
    """What git runs with: the process's environment in English, never waiting on a person."""
    return {**os.environ, **_ENGLISH, **_BASE_ENV, **(extra or {})}


def _decode(raw: bytes) -> str:
    return raw.decode(sys.getfilesystemencoding(), "surrogateescape")


def _git_dir_of(root: Path) -> Path:
    """``root``'s git directory; VcsError unless ``root`` is the top of a work tree."""
    try:
        # --show-toplevel fails in a bare repository, after the first two have answered
        asks = ["--is-bare-repository", "--absolute-git-dir", "--show-toplevel"]
        done = subprocess.run(
            [_git_exe(), "rev-parse", *asks],
            cwd=root,
            env=_environ(None),
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
    except OSError as exc:  # no such folder (or no git: the message says where)
        raise VcsError(_not_a_repo(root)) from exc
    lines = _decode(done.stdout).splitlines()
    if lines[:1] == ["true"]:
        raise VcsError(f"{root} is a bare git repository; shipdeck needs a work tree")
    if done.returncode != 0 or len(lines) != 3 or Path(lines[2]).resolve() != root:
        raise VcsError(_not_a_repo(root))
    return Path(lines[1]).resolve()


def _top_of(folder: Path) -> Path | None:
    """The top of the work tree ``folder`` is in, if any."""
    try:
        done = subprocess.run(
            [_git_exe(), "rev-parse", "--show-toplevel"],
            cwd=folder,
            env=_environ(None),
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
    except OSError:
        return None
    top = _decode(done.stdout).strip()
    return Path(top).resolve() if done.returncode == 0 and top else None


def _not_a_repo(root: Path) -> str:
    top = _top_of(root)
    if top is None:
        return f"{root} is not a git repository (run `git init` there)"
    return f"{root} is not the top of a git repository; use {top}"


def _user_of(lines: list[str], sep: str) -> tuple[str | None, str | None]:
    """``user.name`` and ``user.email`` from config lines (``key<sep>value``): the last
    of each wins, as with ``git config --get``; an empty one is none."""
    values: dict[str, str | None] = {}
    for line in lines:
        key, _, value = line.partition(sep)
        if key.lower() in ("user.name", "user.email"):
            values[key.lower()] = value.strip() or None
    return values.get("user.name"), values.get("user.email")


def _config_stamp(gitdir: Path, common: Path) -> tuple[object, ...]:
    """What tells that git's config may have changed: the files it reads and the
    environment variables that name or add to them."""
    home = Path(os.environ.get("HOME") or "~").expanduser()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    files = [
        common / "config",
        gitdir / "config.worktree",
        Path(os.environ.get("GIT_CONFIG_GLOBAL") or home / ".gitconfig"),
        xdg / "git" / "config",
        Path(os.environ.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig"),
    ]
    stamps: list[object] = []
    for f in files:
        try:
            st = f.stat()
            stamps.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            stamps.append(None)
    stamps += sorted((k, v) for k, v in os.environ.items() if k.startswith("GIT_CONFIG"))
    return tuple(stamps)


def _git_exe() -> str:
    """git, or the one ``GIT_PYTHON_GIT_EXECUTABLE`` names (honoured as GitPython did)."""
    return os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") or "git"


def _check_ref(ref: str) -> None:
    """Refs come from config and items; one starting with '-' would be read as an option."""
    if not ref or ref.startswith("-") or any(c in ref for c in "\0\n\r"):
        raise VcsError(f"not a valid git ref: {ref!r}")


def _check_full_ref(ref: str) -> None:
    """A full ref name (``refs/...``) safe on ``update-ref --stdin``; git checks the rest."""
    if not ref.startswith("refs/") or any(c.isspace() or ord(c) < 32 or c == "\x7f" for c in ref):
        raise VcsError(f"not a full git ref name: {ref!r}")


def _short_ref(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def _names(files: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(files[:limit])
    return f"{shown} and {len(files) - limit} more" if len(files) > limit else shown or "?"


STALE_REF_LOCK = 1.0  # seconds: git holds a ref lock for milliseconds; older, it was killed


def _ref_lock_cleared(lock: Path) -> bool:
    """A ref's lock file in the way of a publish: wait while a git finishes with it, and
    remove it once it is stale (a git killed mid-update, e.g. with shipdeck's process
    group). Only ``*.lock`` files of refs are touched, and nothing is ever published
    over one: the transaction is simply run again."""
    name = lock.as_posix()
    if not name.endswith(".lock") or not ("/refs/" in name or name.endswith("/packed-refs.lock")):
        return False
    deadline = time.monotonic() + STALE_REF_LOCK + 1.0
    while time.monotonic() < deadline:
        try:
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            return True  # the git that held it finished
        if age > STALE_REF_LOCK:
            lock.unlink(missing_ok=True)
            return True
        time.sleep(0.05)
    return False


def _publish_error(stderr: str) -> VcsError:
    """update-ref's failure: a lost race, a lock file in the way, or git's own words."""
    committing = "fatal: commit:" in stderr
    outcome = "check the refs" if committing else "nothing was changed"
    lock = _LOCKED_RE.search(stderr)
    if lock:
        path = lock.group(1)
        return VcsError(
            f"cannot publish: {path} exists ({outcome}). Another git command is updating "
            "that ref, or one was killed and left its lock behind: if no git command is "
            f"running in this repository, delete {path} and try again"
        )
    race = _RACE_RE.search(stderr)
    if race and not committing:
        ref, now, expected, exists = race.groups()
        if now and expected:
            why = f"it is at {now[:12]}, not {expected[:12]}"
        elif exists:
            why = "it exists already"
        else:
            why = "it no longer exists"
        return RefRaceLost(ref, f"{ref} changed meanwhile ({why}); nothing was published")
    return VcsError(f"git update-ref failed ({outcome}): {_first_lines(stderr)}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_scratch(git_dir: Path) -> None:
    """Remove scratch dirs whose process is gone (killed before its ``finally``)."""
    with suppress(OSError):
        for entry in git_dir.iterdir():
            if not entry.name.startswith(_TEMP_PREFIX):
                continue
            pid = entry.name[len(_TEMP_PREFIX) :].partition("-")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)


def _first_lines(text: str, limit: int = 3) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " / ".join(lines[:limit]) or "no output"


def _checkout_error(stderr: str, doing: str) -> VcsError:
    """git refusing to overwrite files -> DirtyWorkTree naming them; else VcsError."""
    if not _OVERWRITE_RE.search(stderr):
        return VcsError(f"git {doing} failed: {_first_lines(stderr)}")
    files = re.findall(r"^\t(.+)$", stderr, re.MULTILINE)  # git lists them tab-indented
    what = "untracked files" if "untracked working tree" in stderr else "uncommitted changes"
    return DirtyWorkTree(
        f"cannot {doing}: {what} would be overwritten: {', '.join(files) or '?'}"
        " (commit, move or remove them first)",
        files,
    )
