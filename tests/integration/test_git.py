"""GitRepo against real repositories made in tmp dirs with the git command line."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shipdeck.backends.git import GitRepo
from shipdeck.lifecycle.ports import DirtyWorkTree, MergeConflict, Vcs, VcsError

pytestmark = pytest.mark.slow  # real git repositories

T0 = 1_700_000_000  # a fixed commit time, so times can be asserted exactly


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git config leaks in (signing, hooks, identities, default branch)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "EMAIL",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
    ):
        monkeypatch.delenv(var, raising=False)


def git(root: Path, *args: str, when: int | None = None) -> str:
    env = dict(os.environ)
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    done = subprocess.run(
        ["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit(root: Path, name: str, content: str, msg: str | None = None, when: int | None = None):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    git(root, "add", "--", name)
    git(root, "commit", "-q", "-m", msg or f"change {name}", when=when)
    return git(root, "rev-parse", "HEAD")


def make_repo(root: Path, identity: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    if identity:
        git(root, "config", "user.name", "Test User")
        git(root, "config", "user.email", "test@example.com")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "repo")
    commit(root, "README.md", "hello\n", "initial")
    return root


def status(root: Path) -> str:
    return git(root, "status", "--porcelain", "--untracked-files=all")


# --- opening ----------------------------------------------------------------------


def test_not_a_repository_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(VcsError, match="not a git repository") as err:
        GitRepo(tmp_path)
    assert str(tmp_path.resolve()) in str(err.value)
    with pytest.raises(VcsError, match="not a git repository"):
        GitRepo(tmp_path / "missing")


def test_subdirectory_points_to_the_top(repo: Path) -> None:
    (repo / "sub").mkdir()
    with pytest.raises(VcsError, match="not the top of a git repository") as err:
        GitRepo(repo / "sub")
    assert str(err.value).endswith(str(repo.resolve()))


def test_implements_the_protocol(repo: Path) -> None:
    assert isinstance(GitRepo(repo), Vcs)


# --- branches ---------------------------------------------------------------------


def test_ensure_branch_creates_from_base_and_checks_out(repo: Path) -> None:
    base_sha = git(repo, "rev-parse", "main")
    vcs = GitRepo(repo)
    assert not vcs.branch_exists("feature/SD-1-x")
    sha = vcs.ensure_branch("feature/SD-1-x", "main")
    assert sha == base_sha
    assert vcs.branch_exists("feature/SD-1-x")
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "feature/SD-1-x"
    assert vcs.current_branch() == "feature/SD-1-x"
    assert vcs.commits_ahead("feature/SD-1-x", "main") == 0
    assert vcs.branch_tip("feature/SD-1-x") == base_sha


def test_branch_tip_is_the_branchs_commit_and_never_a_tag_of_that_name(repo: Path) -> None:
    vcs = GitRepo(repo)
    assert vcs.branch_tip("feature/SD-1-x") is None
    git(repo, "tag", "feature/SD-1-x")  # a tag of the name is no branch
    assert vcs.branch_tip("feature/SD-1-x") is None
    vcs.ensure_branch("feature/SD-1-x", "main")
    (repo / "x.txt").write_text("x\n")
    git(repo, "add", "x.txt")
    git(repo, "commit", "-q", "-m", "x")
    tip = vcs.branch_tip("feature/SD-1-x")
    assert tip == git(repo, "rev-parse", "refs/heads/feature/SD-1-x")
    assert tip != git(repo, "rev-parse", "refs/tags/feature/SD-1-x")
    assert vcs.commits_ahead(tip, "main") == 1


def test_ensure_branch_checks_out_an_existing_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature/SD-2-y")
    tip = commit(repo, "y.txt", "y\n")
    git(repo, "checkout", "-q", "main")
    vcs = GitRepo(repo)
    assert vcs.ensure_branch("feature/SD-2-y", "main") == tip
    assert vcs.current_branch() == "feature/SD-2-y"
    assert (repo / "y.txt").exists()


def test_commits_ahead_head_sha_log_and_first_commit_time(repo: Path) -> None:
    vcs = GitRepo(repo)
    vcs.ensure_branch("bug/SD-3-z", "main")
    commit(repo, "a.txt", "a\n", "first change", when=T0)
    last = commit(repo, "b.txt", "b\n", "second change", when=T0 + 60)
    assert vcs.commits_ahead("bug/SD-3-z", "main") == 2
    assert vcs.head_sha("bug/SD-3-z") == last
    assert vcs.first_commit_time("bug/SD-3-z", "main") == datetime.fromtimestamp(T0, UTC)
    assert vcs.first_commit_time("main", "main") is None
    log = vcs.log("main", "bug/SD-3-z")
    assert [c["subject"] for c in log] == ["second change", "first change"]
    assert log[0]["sha"] == last and last.startswith(log[0]["short"])
    assert log[0]["author"] == "Test User"
    assert log[0]["time"] == datetime.fromtimestamp(T0 + 60, UTC)
    assert len(vcs.log("main", "bug/SD-3-z", limit=1)) == 1


def test_unknown_ref_is_a_clear_error(repo: Path) -> None:
    vcs = GitRepo(repo)
    with pytest.raises(VcsError, match="nope"):
        vcs.commits_ahead("nope", "main")
    with pytest.raises(VcsError):
        vcs.head_sha("--all")


def test_ensure_branch_refuses_dirty_tree_naming_the_file(repo: Path) -> None:
    (repo / "README.md").write_text("edited but not committed\n")
    vcs = GitRepo(repo)
    with pytest.raises(DirtyWorkTree, match=r"README\.md") as err:
        vcs.ensure_branch("feature/SD-1-x", "main")
    assert err.value.files == ["README.md"]
    assert vcs.current_branch() == "main"
    assert not vcs.branch_exists("feature/SD-1-x")
    assert (repo / "README.md").read_text() == "edited but not committed\n"


def test_staged_changes_are_dirty_too(repo: Path) -> None:
    commit(repo, "other.txt", "1\n")
    (repo / "other.txt").write_text("2\n")
    git(repo, "add", "other.txt")
    with pytest.raises(DirtyWorkTree, match=r"other\.txt"):
        GitRepo(repo).ensure_branch("feature/SD-1-x", "main")


def test_shipdeck_dir_and_untracked_files_do_not_block(repo: Path) -> None:
    # An older shipdeck's board.yaml was committed; until the user removes it after
    # its import into refs/shipdeck/board, it is tracked (and may differ).
    commit(repo, ".shipdeck/board.yaml", "schema: 1\n")
    (repo / ".shipdeck" / "board.yaml").write_text("schema: 1\nitems: []\n")  # tracked, changed
    (repo / ".shipdeck" / "journal.jsonl").write_text("{}\n")  # untracked
    (repo / "notes.txt").write_text("scratch\n")  # untracked elsewhere
    vcs = GitRepo(repo)
    assert vcs.dirty_files() == []
    vcs.ensure_branch("feature/SD-1-x", "main")
    assert vcs.current_branch() == "feature/SD-1-x"
    assert (repo / ".shipdeck" / "board.yaml").read_text() == "schema: 1\nitems: []\n"
    assert (repo / "notes.txt").exists()


def test_untracked_file_that_would_be_overwritten_is_named(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature/SD-1-x")
    commit(repo, "new.txt", "from branch\n")
    git(repo, "checkout", "-q", "main")
    (repo / "new.txt").write_text("mine, untracked\n")
    vcs = GitRepo(repo)
    with pytest.raises(DirtyWorkTree, match=r"new\.txt") as err:
        vcs.ensure_branch("feature/SD-1-x", "main")
    assert err.value.files == ["new.txt"]
    assert vcs.current_branch() == "main"
    assert (repo / "new.txt").read_text() == "mine, untracked\n"


def test_base_missing_in_a_new_repository(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "empty")
    vcs = GitRepo(root)
    assert vcs.current_branch() == "main"
    with pytest.raises(VcsError, match=r"base branch 'main' does not exist.*first commit"):
        vcs.ensure_branch("feature/SD-1-x", "main")
    assert vcs.latest_version() is None
    assert vcs.tags() == []


def test_invalid_branch_name(repo: Path) -> None:
    with pytest.raises(VcsError, match="not a valid branch name"):
        GitRepo(repo).ensure_branch("bad..name", "main")


# --- merge --------------------------------------------------------------------------


def test_fast_forward_merge(repo: Path) -> None:
    vcs = GitRepo(repo)
    vcs.ensure_branch("feature/SD-1-x", "main")
    tip = commit(repo, "x.txt", "x\n")
    result = vcs.merge("feature/SD-1-x", "main", "Merge SD-1")
    assert result.fast_forward is True
    assert result.sha == tip == git(repo, "rev-parse", "main")
    assert vcs.current_branch() == "main"
    assert (repo / "x.txt").exists()


def test_merge_commit_when_base_moved(repo: Path) -> None:
    vcs = GitRepo(repo)
    vcs.ensure_branch("feature/SD-1-x", "main")
    tip = commit(repo, "x.txt", "x\n")
    git(repo, "checkout", "-q", "main")
    base_tip = commit(repo, "other.txt", "o\n")
    git(repo, "checkout", "-q", "feature/SD-1-x")  # merging from the item branch works
    result = vcs.merge("feature/SD-1-x", "main", "Merge SD-1: x")
    assert result.fast_forward is False
    assert result.sha == git(repo, "rev-parse", "main")
    parents = git(repo, "log", "-1", "--format=%P", "main").split()
    assert parents == [base_tip, tip]
    assert git(repo, "log", "-1", "--format=%s", "main") == "Merge SD-1: x"
    assert vcs.current_branch() == "main"
    assert (repo / "x.txt").exists() and (repo / "other.txt").exists()
    assert status(repo) == ""


def test_conflict_names_files_and_leaves_nothing_behind(repo: Path) -> None:
    vcs = GitRepo(repo)
    vcs.ensure_branch("feature/SD-1-x", "main")
    branch_tip = commit(repo, "README.md", "branch version\n")
    git(repo, "checkout", "-q", "main")
    main_tip = commit(repo, "README.md", "main version\n")
    git(repo, "checkout", "-q", "feature/SD-1-x")
    with pytest.raises(MergeConflict) as err:
        vcs.merge("feature/SD-1-x", "main", "Merge SD-1")
    assert err.value.files == ["README.md"]
    assert "README.md" in str(err.value)
    assert vcs.current_branch() == "feature/SD-1-x"  # back where the user was
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    assert status(repo) == ""
    assert (repo / "README.md").read_text() == "branch version\n"
    assert git(repo, "rev-parse", "main") == main_tip
    assert git(repo, "rev-parse", "feature/SD-1-x") == branch_tip


def test_merge_refuses_dirty_tree(repo: Path) -> None:
    vcs = GitRepo(repo)
    vcs.ensure_branch("feature/SD-1-x", "main")
    commit(repo, "x.txt", "x\n")
    (repo / "x.txt").write_text("uncommitted\n")
    with pytest.raises(DirtyWorkTree, match=r"x\.txt"):
        vcs.merge("feature/SD-1-x", "main", "Merge SD-1")
    assert vcs.current_branch() == "feature/SD-1-x"
    assert vcs.commits_ahead("feature/SD-1-x", "main") == 1


def test_merge_refuses_to_overwrite_an_untracked_file(repo: Path) -> None:
    vcs = GitRepo(repo)
    vcs.ensure_branch("feature/SD-1-x", "main")
    commit(repo, "x.txt", "from branch\n")
    git(repo, "checkout", "-q", "main")
    base_tip = git(repo, "rev-parse", "main")
    (repo / "x.txt").write_text("mine, untracked\n")
    with pytest.raises(DirtyWorkTree, match=r"x\.txt") as err:
        vcs.merge("feature/SD-1-x", "main", "Merge SD-1")
    assert err.value.files == ["x.txt"]
    assert git(repo, "rev-parse", "main") == base_tip
    assert (repo / "x.txt").read_text() == "mine, untracked\n"
    assert not (repo / ".git" / "MERGE_HEAD").exists()


# --- tags, changelog, export ----------------------------------------------------------


def test_tags_and_latest_version(repo: Path) -> None:
    vcs = GitRepo(repo)
    assert vcs.latest_version() is None
    sha = vcs.head_sha("main")
    vcs.tag("v0.2.0", "main", "Release 0.2.0")
    vcs.tag("v0.10.0", "main", "Release 0.10.0")
    git(repo, "tag", "v9.9.9-rc1")  # not a plain semver: ignored
    git(repo, "tag", "other-1.0.0")
    assert vcs.tag_exists("v0.10.0") and not vcs.tag_exists("v0.3.0")
    assert set(vcs.tags()) == {"v0.2.0", "v0.10.0", "v9.9.9-rc1", "other-1.0.0"}
    assert vcs.latest_version() == "0.10.0"
    assert vcs.latest_version("other-{version}") == "1.0.0"
    assert git(repo, "cat-file", "-t", "v0.2.0") == "tag"  # annotated
    assert git(repo, "rev-parse", "v0.2.0^{commit}") == sha
    with pytest.raises(VcsError, match="already exists"):
        vcs.tag("v0.2.0", "main", "again")


def test_commit_file_writes_changelog_on_branch(repo: Path) -> None:
    vcs = GitRepo(repo)
    vcs.ensure_branch("feature/SD-1-x", "main")  # not on main: commit_file switches
    before = vcs.head_sha("main")
    (repo / "scratch.txt").write_text("untracked, must not be committed\n")
    sha = vcs.commit_file("CHANGELOG.md", "# Changelog\n\n## [0.1.0]\n", "Changelog 0.1.0", "main")
    assert vcs.current_branch() == "main"
    assert sha == git(repo, "rev-parse", "main") != before
    assert git(repo, "log", "-1", "--format=%s") == "Changelog 0.1.0"
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == "CHANGELOG.md"
    assert git(repo, "show", "HEAD:CHANGELOG.md") == "# Changelog\n\n## [0.1.0]"
    assert vcs.read_file("CHANGELOG.md", "main") == "# Changelog\n\n## [0.1.0]\n"
    assert vcs.read_file("nothing.md", "main") is None
    # Same content again: nothing new to commit, same sha.
    assert vcs.commit_file("CHANGELOG.md", "# Changelog\n\n## [0.1.0]\n", "again", "main") == sha
    sha2 = vcs.commit_file("CHANGELOG.md", "# Changelog\n\n## [0.2.0]\n", "Changelog 0.2.0", "main")
    assert sha2 != sha
    assert vcs.read_file("CHANGELOG.md", sha) == "# Changelog\n\n## [0.1.0]\n"
    with pytest.raises(VcsError, match="outside the repository"):
        vcs.commit_file("../escape.md", "x", "no", "main")


def test_identity_falls_back_to_shipdeck(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "anon", identity=False)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Setup",
        "GIT_AUTHOR_EMAIL": "s@x",
        "GIT_COMMITTER_NAME": "Setup",
        "GIT_COMMITTER_EMAIL": "s@x",
    }
    (root / "a.txt").write_text("a\n")
    subprocess.run(["git", "add", "a.txt"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=root, env=env, check=True)
    vcs = GitRepo(root)
    vcs.commit_file("CHANGELOG.md", "# Changelog\n", "Changelog", "main")
    assert git(root, "log", "-1", "--format=%an <%ae>|%cn <%ce>") == (
        "shipdeck <shipdeck@localhost>|shipdeck <shipdeck@localhost>"
    )
    vcs.tag("v0.1.0", "main", "Release 0.1.0")
    assert "shipdeck <shipdeck@localhost>" in git(root, "cat-file", "-p", "v0.1.0")
    # Nothing was written to the repository's config.
    assert subprocess.run(["git", "config", "user.name"], cwd=root).returncode == 1


def test_identity_from_repo_config_is_used(repo: Path) -> None:
    GitRepo(repo).commit_file("CHANGELOG.md", "# Changelog\n", "Changelog", "main")
    assert git(repo, "log", "-1", "--format=%an <%ae>") == "Test User <test@example.com>"


def test_export_is_exactly_the_tagged_tree(repo: Path, tmp_path: Path) -> None:
    commit(repo, "app/main.py", "print('v1')\n")
    (repo / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(repo / "run.sh", 0o755)
    git(repo, "add", "run.sh")
    git(repo, "commit", "-qm", "script")
    vcs = GitRepo(repo)
    vcs.tag("v0.1.0", "HEAD", "Release 0.1.0")
    commit(repo, "later.txt", "not released\n")
    commit(repo, "app/main.py", "print('v2')\n")
    (repo / "untracked.txt").write_text("never exported\n")

    dest = tmp_path / "releases" / "0.1.0"
    vcs.export("v0.1.0", str(dest))
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == ["README.md", "app/main.py", "run.sh"]
    assert (dest / "app" / "main.py").read_text() == "print('v1')\n"
    assert os.access(dest / "run.sh", os.X_OK)
    assert not (dest / ".git").exists()

    # Exporting again over a stale copy leaves exactly the tree, nothing extra.
    (dest / "stale.txt").write_text("left over\n")
    vcs.export("v0.1.0", str(dest))
    assert not (dest / "stale.txt").exists()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["0.1.0"]  # no temp dirs left


def test_export_refuses_the_repository_itself(repo: Path) -> None:
    with pytest.raises(VcsError, match="refusing"):
        GitRepo(repo).export("HEAD", str(repo))
    assert (repo / ".git").is_dir()
