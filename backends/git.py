"""The git repository behind the board (GitPython), implementing ``lifecycle.ports.Vcs``.

Everything goes through the git command line (``Repo.git``) rather than
GitPython's object layer: porcelain commands give git's own safety checks
(a checkout never silently drops work) and are safe to call from worker threads.
Mutating calls are serialised by a lock; git failures become ``VcsError``.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import git

from lifecycle.ports import DirtyWorkTree, MergeConflict, MergeResult, VcsError
from lifecycle.versioning import latest, version_from_tag

SHIPDECK_DIR = ".shipdeck/"  # the board and journal: never counts as dirty
FALLBACK_NAME = "shipdeck"
FALLBACK_EMAIL = "shipdeck@localhost"

# Never wait on a person: no editor, no credential prompt.
_BASE_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_EDITOR": "true", "GIT_MERGE_AUTOEDIT": "no"}
# Python >= 3.11.4 checks archive members; git's own archive needs only the basic checks.
_TAR_FILTER: dict[str, Any] = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
_OVERWRITE_RE = re.compile(r"following (untracked working tree )?files would be overwritten")


class GitRepo:
    """One work tree; ``root`` must be its top directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        try:
            repo = git.Repo(self.root)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise VcsError(_not_a_repo(self.root)) from exc
        if repo.bare or repo.working_tree_dir is None:
            raise VcsError(f"{self.root} is a bare git repository; shipdeck needs a work tree")
        self._git = repo.git
        self._lock = threading.RLock()

    # --- plumbing -----------------------------------------------------------

    def _exec(
        self, *args: str, env: Mapping[str, str] | None = None, raw: bool = False
    ) -> tuple[int, Any, str]:
        """Run git; (exit code, stdout, stderr). stdout is bytes when ``raw``."""
        cmd = [_git_exe(), "-c", "core.quotepath=off", *args]
        code, out, err = self._git.execute(
            cmd,
            with_extended_output=True,
            with_exceptions=False,
            env={**_BASE_ENV, **(env or {})},
            stdout_as_string=not raw,
            strip_newline_in_stdout=not raw,
        )
        return int(code or 0), out, str(err)

    def _run(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        code, out, err = self._exec(*args, env=env)
        if code != 0:
            raise VcsError(f"git {args[0]} failed: {_first_lines(err or out)}")
        return str(out)

    def _ok(self, *args: str) -> bool:
        return self._exec(*args)[0] == 0

    def _resolve(self, ref: str) -> str:
        _check_ref(ref)
        sha = self._out_or_none("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if sha is None:
            raise VcsError(f"unknown git ref {ref!r} in {self.root}")
        return sha

    def _identity_env(self) -> dict[str, str]:
        """Author/committer for shipdeck's own commits: the user's, else ``shipdeck``.

        Only the pieces git cannot find (repo/global config or the usual
        environment variables) are filled in, for that one command.
        """
        env: dict[str, str] = {}
        name = self._config("user.name")
        email = self._config("user.email") or os.environ.get("EMAIL")
        for role in ("AUTHOR", "COMMITTER"):
            if not name and not os.environ.get(f"GIT_{role}_NAME"):
                env[f"GIT_{role}_NAME"] = FALLBACK_NAME
            if not email and not os.environ.get(f"GIT_{role}_EMAIL"):
                env[f"GIT_{role}_EMAIL"] = FALLBACK_EMAIL
        return env

    def _config(self, key: str) -> str | None:
        return self._out_or_none("config", "--get", key)

    def _out_or_none(self, *args: str) -> str | None:
        code, out, _ = self._exec(*args)
        return (str(out).strip() or None) if code == 0 else None

    # --- state --------------------------------------------------------------

    def head_sha(self, ref: str = "HEAD") -> str:
        return self._resolve(ref)

    def current_branch(self) -> str | None:
        return self._out_or_none("symbolic-ref", "--short", "-q", "HEAD")

    def branch_exists(self, branch: str) -> bool:
        _check_ref(branch)
        return self._ok("show-ref", "--verify", "--quiet", f"refs/heads/{branch}")

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
        self._resolve(branch)
        self._resolve(base)
        return int(self._run("rev-list", "--count", f"{base}..{branch}").strip() or 0)

    def first_commit_time(self, branch: str, base: str) -> datetime | None:
        """Author time of the oldest commit in ``base..branch`` (when work began), UTC."""
        self._resolve(branch)
        self._resolve(base)
        out = self._run("log", "--format=%at", f"{base}..{branch}")
        stamps = [int(s) for s in out.split()]
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

    def ensure_branch(self, branch: str, base: str) -> str:
        """Create ``branch`` from ``base`` if missing, check it out; return its head sha."""
        with self._lock:
            if not self._ok("check-ref-format", "--branch", branch) or branch.startswith("-"):
                raise VcsError(f"{branch!r} is not a valid branch name")
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
        _check_ref(base)
        if not self._ok("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}"):
            raise VcsError(
                f"base branch {base!r} does not exist in {self.root}"
                " (a new repository needs a first commit on it)"
            )

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
        return [t for t in self._run("tag", "--list").splitlines() if t]

    def tag_exists(self, name: str) -> bool:
        _check_ref(name)
        return self._ok("show-ref", "--verify", "--quiet", f"refs/tags/{name}")

    def tag(self, name: str, ref: str, message: str) -> None:
        """An annotated tag (it carries who released and when)."""
        with self._lock:
            if not self._ok("check-ref-format", f"refs/tags/{name}") or name.startswith("-"):
                raise VcsError(f"{name!r} is not a valid tag name")
            if self.tag_exists(name):
                raise VcsError(f"tag {name} already exists")
            sha = self._resolve(ref)
            self._run("tag", "-a", "-m", message, name, sha, env=self._identity_env())

    def latest_version(self, tag_template: str = "v{version}") -> str | None:
        versions = (version_from_tag(tag_template, t) for t in self.tags())
        return latest(v for v in versions if v is not None)

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
        proc = self._git.execute([_git_exe(), "archive", "--format=tar", sha], as_process=True)
        try:
            yield proc.stdout
        except BaseException:
            proc.stdout.close()
            with suppress(git.GitCommandError):
                proc.wait()
            raise
        while proc.stdout.read(1 << 16):
            pass
        try:
            proc.wait()
        except git.GitCommandError as exc:
            raise VcsError(f"git archive failed: {_first_lines(str(exc.stderr))}") from exc


def _not_a_repo(root: Path) -> str:
    try:
        top = git.Repo(root, search_parent_directories=True).working_tree_dir
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return f"{root} is not a git repository (run `git init` there)"
    return f"{root} is not the top of a git repository; use {top}"


def _git_exe() -> str:
    return str(git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git")


def _check_ref(ref: str) -> None:
    """Refs come from config and items; one starting with '-' would be read as an option."""
    if not ref or ref.startswith("-") or any(c in ref for c in "\0\n\r"):
        raise VcsError(f"not a valid git ref: {ref!r}")


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
