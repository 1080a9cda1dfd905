"""What ``shipdeck init`` asks git: where the repository's root is, and which branch
releases merge into (its default branch)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_TIMEOUT = 10.0


def git(cwd: Path, *args: str, ceiling: Path | None = None) -> str | None:
    """git's stdout, stripped; None when git fails or is missing. With ``ceiling``, git
    never looks above it for a repository (a broken ``.git`` must not find a parent's)."""
    env = None
    if ceiling is not None:
        env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(ceiling))
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def repo_root(start: Path) -> Path | None:
    """The top of the work tree ``start`` is in; None outside one (or in a bare repository)."""
    top = git(start, "rev-parse", "--show-toplevel")
    return Path(top) if top else None


def default_branch(root: Path) -> tuple[str, str]:
    """(the branch, how it was found): origin's HEAD; else the only branch; else
    ``init.defaultBranch``, main or master when that branch exists; else the current one."""
    origin = git(root, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")
    if origin and origin.startswith("refs/remotes/origin/"):
        default = origin.removeprefix("refs/remotes/origin/")
        if git(root, "rev-parse", "--verify", "--quiet", f"refs/heads/{default}") is None:
            # a clone made with --branch: said, since the first Code makes the branch
            return default, (
                f"origin/HEAD; no local {default} yet: made from origin/{default} when needed"
            )
        return default, "origin/HEAD"
    # Full names cut by hand, not :short / --short: where a tag shares a branch's name
    # those print "heads/main", and that would become the config's base branch.
    listed = git(root, "for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads")
    branches = [b for b in (listed or "").splitlines() if b]
    head = git(root, "symbolic-ref", "--quiet", "HEAD") or ""
    current = head.removeprefix("refs/heads/") if head.startswith("refs/heads/") else None
    if len(branches) == 1:
        return branches[0], "the only branch"
    configured = git(root, "config", "--get", "init.defaultBranch")
    for name, how in ((configured, "init.defaultBranch"), ("main", "exists"), ("master", "exists")):
        if name and name in branches:
            return name, how
    remote = git(root, "for-each-ref", "--format=%(refname:lstrip=2)", "refs/remotes/origin")
    for name in ("main", "master"):
        if f"origin/{name}" in (remote or "").splitlines():
            return name, f"origin/{name} exists"
    if current:
        return current, "the current branch"
    return "main", "nothing better known"
