"""The board on ``refs/shipdeck/board``, through the real command line: the one-time
import of an old ``.shipdeck/board.yaml``, a work tree that stays clean, and one
commit per change, by the repository's own user."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from shipdeck.lifecycle.board import Board, dump_board
from shipdeck.lifecycle.items import Item, Kind
from shipdeck.lifecycle.stages import Stage
from tests.helpers import git, git_repo, shipdeck

pytestmark = pytest.mark.slow  # real git and the shipdeck command in subprocesses

CONFIG = "version: 1\nproject: hello\nbase_branch: main\nstages:\n  build: []\n  test: []\n"

# What .shipdeck/.gitignore held when the board was .shipdeck/board.yaml.
OLD_GITIGNORE = """\
# Written by shipdeck: local state. board.yaml is meant to be committed.
runs/
journal.jsonl
releases/
reports/
*.lock
*.tmp
state/
"""

OLD_ITEMS = [
    ("SD-1", "Return the service version on /", Kind.FEATURE, Stage.PLAN),
    ("SD-2", "Crash when the cart is empty", Kind.BUG, Stage.CODE),
    ("SD-4", "Upgrade the HTTP client", Kind.CHORE, Stage.TEST),
    ("SD-5", "Rate-limit the login form", Kind.FEATURE, Stage.RELEASE),
    ("SD-7", "Health check reports uptime", Kind.BUG, Stage.MONITOR),
]


def status(repo: Path) -> list[str]:
    return git(repo, "status", "--porcelain", "--untracked-files=all").splitlines()


def run_ok(*args: str, cwd: Path) -> tuple[str, str]:
    result = shipdeck(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr


def old_repo(path: Path, *, track_gitignore: bool) -> Path:
    """A repository as an older shipdeck left it: board.yaml (5 items) committed."""
    repo = git_repo(path)
    (repo / "shipdeck.yaml").write_text(CONFIG)
    (repo / ".shipdeck").mkdir()
    t0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    items = [
        Item(i, title, kind=kind, stage=stage, created_at=t0, updated_at=t0)
        for i, title, kind, stage in OLD_ITEMS
    ]
    (repo / ".shipdeck" / "board.yaml").write_text(dump_board(Board(next_id=8, items=items)))
    (repo / ".shipdeck" / ".gitignore").write_text(OLD_GITIGNORE)
    (repo / ".shipdeck" / "journal.jsonl").write_text("")  # local state, ignored
    git(repo, "add", "shipdeck.yaml", ".shipdeck/board.yaml")
    if track_gitignore:
        git(repo, "add", ".shipdeck/.gitignore")
    git(repo, "commit", "-q", "-m", "shipdeck board")
    return repo


def test_an_old_board_yaml_is_imported_once_and_the_checkout_is_untouched(
    tmp_path: Path,
) -> None:
    repo = old_repo(tmp_path / "repo", track_gitignore=False)
    board_yaml = (repo / ".shipdeck" / "board.yaml").read_bytes()
    head, index = git(repo, "rev-parse", "HEAD"), git(repo, "ls-files", "-s")
    before = status(repo)
    assert before == ["?? .shipdeck/.gitignore"]

    out, err = run_ok("item", "list", cwd=repo)
    rows = [line.split(None, 4) for line in out.splitlines()[1:]]
    assert [(r[0], r[1]) for r in rows] == [(i, s.value) for i, _t, _k, s in OLD_ITEMS]
    for (_id, title, _kind, _stage), line in zip(OLD_ITEMS, out.splitlines()[1:], strict=True):
        assert line.endswith(title)
    notices = [line for line in err.splitlines() if "imported" in line]
    assert len(notices) == 1, err
    assert notices[0].startswith("shipdeck: imported .shipdeck/board.yaml (5 items) into ")
    assert "refs/shipdeck/board" in notices[0]
    assert "git rm --cached -q .shipdeck/board.yaml" in notices[0]

    log = git(repo, "log", "--format=%s", "refs/shipdeck/board").splitlines()
    assert log == ["board: import .shipdeck/board.yaml (5 items)"]
    listing = git(repo, "ls-tree", "-r", "--name-only", "refs/shipdeck/board").splitlines()
    assert sorted(listing) == sorted(["meta.json", *(f"items/0/{i}.json" for i, *_ in OLD_ITEMS)])

    # The user's branch, index and files are as they were; only the now ignored
    # .gitignore left the status (shipdeck's own, brought up to date).
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "ls-files", "-s") == index
    assert git(repo, "diff", "--cached", "--name-only") == ""
    assert (repo / ".shipdeck" / "board.yaml").read_bytes() == board_yaml
    after = status(repo)
    assert set(after) <= set(before), after

    again_out, again_err = run_ok("item", "list", cwd=repo)
    assert again_out == out
    assert "imported" not in again_err
    assert git(repo, "rev-list", "--count", "refs/shipdeck/board") == "1"

    # The next item continues the old numbering; the file is not read again.
    (repo / ".shipdeck" / "board.yaml").write_text("schema: 1\nitems: [no longer read\n")
    added, err = run_ok("item", "add", "After the import", cwd=repo)
    assert added.strip() == "SD-8"
    assert "imported" not in err


def test_the_import_leaves_a_tracked_old_gitignore_alone(tmp_path: Path) -> None:
    repo = old_repo(tmp_path / "repo", track_gitignore=True)
    before = status(repo)
    assert before == []
    run_ok("item", "list", cwd=repo)
    run_ok("item", "add", "After the import", cwd=repo)  # the cache, the journal: local
    assert status(repo) == before
    assert (repo / ".shipdeck" / ".gitignore").read_text() == OLD_GITIGNORE  # committed: kept


def test_the_import_runs_in_every_board_command_and_once(tmp_path: Path) -> None:
    repo = old_repo(tmp_path / "repo", track_gitignore=False)
    _out, err = run_ok("item", "show", "SD-4", cwd=repo)
    assert err.count("imported .shipdeck/board.yaml") == 1
    _out, err = run_ok("status", cwd=repo)
    assert "imported" not in err
    assert git(repo, "rev-list", "--count", "refs/shipdeck/board") == "1"


def test_a_broken_board_yaml_is_refused_naming_its_line_and_nothing_is_imported(
    tmp_path: Path,
) -> None:
    repo = old_repo(tmp_path / "repo", track_gitignore=False)
    (repo / ".shipdeck" / "board.yaml").write_text("schema: 1\nnext_id: 2\nitems: [oops\n")
    result = shipdeck("item", "list", cwd=repo)
    assert result.returncode == 2
    assert result.stderr.startswith(".shipdeck/board.yaml:")
    assert result.stderr.split(":")[1].isdigit()
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not (repo / ".git" / "refs" / "shipdeck").exists()
    assert "refs/shipdeck" not in git(repo, "for-each-ref")


def test_the_work_tree_stays_clean_and_nothing_reaches_the_users_commits(
    tmp_path: Path,
) -> None:
    repo = git_repo(tmp_path / "repo")
    (repo / "shipdeck.yaml").write_text(CONFIG)
    git(repo, "add", "shipdeck.yaml")
    git(repo, "commit", "-q", "-m", "shipdeck.yaml")
    assert not (repo / ".shipdeck").exists()

    assert run_ok("item", "add", "First", cwd=repo)[0].strip() == "SD-1"
    assert status(repo) == []
    assert run_ok("item", "add", "Second", "--kind", "bug", cwd=repo)[0].strip() == "SD-2"
    out, _err = run_ok("item", "move", "SD-1", "code", "--force", cwd=repo)
    assert out.startswith("SD-1 moved plan -> code")
    run_ok("item", "list", cwd=repo)
    run_ok("item", "archive", "SD-2", cwd=repo)
    assert (repo / ".shipdeck").is_dir()  # the journal and the cache live there
    assert status(repo) == []
    ignored = git(repo, "status", "--porcelain", "--ignored=matching").splitlines()
    assert ignored and all(line.startswith("!! .shipdeck/") for line in ignored), ignored

    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", "x")
    assert git(repo, "ls-files", ".shipdeck") == ""
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == ""
    assert git(repo, "log", "--format=%s", "main").splitlines() == ["x", "shipdeck.yaml", "first"]


def test_each_change_is_one_commit_by_the_repositorys_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(key, raising=False)  # the repository's config, not tests' env
    repo = git_repo(tmp_path / "repo")
    git(repo, "config", "user.name", "Ada Lovelace")
    git(repo, "config", "user.email", "ada@example.com")
    (repo / "shipdeck.yaml").write_text(CONFIG)

    run_ok("item", "add", "Return the version", cwd=repo)
    run_ok("item", "add", "Fix the rate limiter", "--kind", "bug", cwd=repo)
    run_ok("item", "move", "SD-1", "code", "--force", cwd=repo)
    run_ok("item", "move", "SD-2", "code", "--force", cwd=repo)
    run_ok("item", "archive", "SD-2", cwd=repo)

    log = git(repo, "log", "refs/shipdeck/board", "--format=%an %ae|%cn %ce|%s").splitlines()
    assert log == [
        "Ada Lovelace ada@example.com|Ada Lovelace ada@example.com|SD-2: archived",
        "Ada Lovelace ada@example.com|Ada Lovelace ada@example.com|SD-2: plan -> code",
        "Ada Lovelace ada@example.com|Ada Lovelace ada@example.com|SD-1: plan -> code",
        'Ada Lovelace ada@example.com|Ada Lovelace ada@example.com|SD-2: add bug "Fix the'
        ' rate limiter"',
        'Ada Lovelace ada@example.com|Ada Lovelace ada@example.com|SD-1: add feature "Return'
        ' the version"',
    ]
    assert git(repo, "log", "refs/shipdeck/board", "--format=%an %s", "-1", "--skip=2") == (
        "Ada Lovelace SD-1: plan -> code"
    )
    # Each commit changes the one item it names (and meta.json for an add).
    changed = git(repo, "show", "--name-only", "--format=", "refs/shipdeck/board~2")
    assert changed.splitlines() == ["items/0/SD-1.json"]
    added = git(repo, "show", "--name-only", "--format=", "refs/shipdeck/board~3")
    assert sorted(added.splitlines()) == ["items/0/SD-2.json", "meta.json"]
    assert git(repo, "rev-list", "--merges", "refs/shipdeck/board") == ""


def test_without_a_user_name_the_commits_are_shipdecks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no global identity either
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("EMAIL", "")
    repo = git_repo(tmp_path / "repo")
    git(repo, "config", "user.useConfigOnly", "true")  # git refuses to guess a name
    (repo / "shipdeck.yaml").write_text(CONFIG)
    run_ok("item", "add", "x", cwd=repo)
    assert git(repo, "log", "-1", "--format=%an <%ae>", "refs/shipdeck/board") == (
        "shipdeck <shipdeck@localhost>"
    )


@pytest.mark.parametrize("bad", ["blob", "empty-tree", "missing"])
def test_a_ref_that_is_no_board_is_refused_and_never_written_over(tmp_path: Path, bad: str) -> None:
    """It was read as an empty board, and the next `item add` wrote SD-1 over every item."""
    repo = git_repo(tmp_path / "r")
    (repo / "shipdeck.yaml").write_text(CONFIG)
    (repo / ".shipdeck").mkdir()
    for title in ("one", "two", "three"):
        run_ok("item", "add", title, cwd=repo)
    good = git(repo, "rev-parse", "refs/shipdeck/board")
    if bad == "blob":
        wrong = git(repo, "rev-parse", f"{good}:meta.json")
    elif bad == "empty-tree":
        empty = git(repo, "hash-object", "-t", "tree", "-w", "/dev/null")
        wrong = git(repo, "commit-tree", empty, "-p", good, "-m", "not a board")
    else:
        wrong = "0123456789abcdef0123456789abcdef01234567"
    ref = repo / ".git" / "refs" / "shipdeck" / "board"
    ref.write_text(wrong + "\n")
    for args in (["item", "add", "four"], ["item", "move", "SD-1", "code"]):
        result = shipdeck(*args, cwd=repo)
        assert result.returncode != 0, (args, result.stdout)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert ref.read_text().strip() == wrong  # nothing was written over it
    ref.write_text(good + "\n")
    listed = run_ok("item", "list", cwd=repo)[0]
    assert all(f"SD-{n}" in listed for n in (1, 2, 3)) and "SD-4" not in listed
