"""Refs read from git's files (``backends/git_files.py``) give git's own answers.

Hypothesis builds repositories the way people leave them: branches and tags of the
same name, annotated tags of tags, remote-tracking refs, a detached or symbolic HEAD,
refs packed by ``git pack-refs`` or ``git gc`` and then moved again, deleted refs.
For every name asked, the answer read from the files (or, where they cannot say,
from git: ``ASK_GIT``) must be what ``git rev-parse`` / ``show-ref`` /
``symbolic-ref`` print; and the plain cases must be answered without git.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipdeck.backends import git_files
from shipdeck.backends.git import GitRepo
from shipdeck.backends.git_board import open_board
from shipdeck.backends.git_files import ASK_GIT, RefFiles
from shipdeck.lifecycle.items import Kind
from shipdeck.lifecycle.store import BoardStore
from tests.helpers import git, git_repo

pytestmark = pytest.mark.slow  # real git repositories

NAMES = ["main", "dev", "v1", "feature/x", "shared"]
ID = ["-c", "user.name=t", "-c", "user.email=t@t"]


def answer(cwd: Path, *args: str) -> str | None:
    """git's answer, None where it says there is none."""
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    return out.stdout.strip() or None if out.returncode == 0 else None


def refs_of(repo: Path) -> RefFiles:
    gitdir, common = git_files.git_dirs(repo)
    return RefFiles(gitdir, common)


def commit(repo: Path, message: str) -> str:
    git(repo, *ID, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


STEPS = st.one_of(
    st.tuples(st.just("commit"), st.just("")),
    st.tuples(st.just("branch"), st.sampled_from(NAMES)),
    st.tuples(st.just("tag"), st.sampled_from(NAMES)),
    st.tuples(st.just("annotated"), st.sampled_from(NAMES)),
    st.tuples(st.just("tag-of-tag"), st.sampled_from(NAMES)),
    st.tuples(st.just("remote"), st.sampled_from(NAMES)),
    st.tuples(st.just("checkout"), st.sampled_from(NAMES)),
    st.tuples(st.just("detach"), st.just("")),
    st.tuples(st.just("delete"), st.sampled_from(NAMES)),
    st.tuples(st.just("pack-refs"), st.just("")),
    st.tuples(st.just("gc"), st.just("")),
    st.tuples(st.just("symref"), st.sampled_from(NAMES)),
)


def play(repo: Path, step: tuple[str, str]) -> None:
    kind, name = step
    run = ["git", "-C", str(repo), *ID]
    calls = {
        "commit": [["commit", "-q", "--allow-empty", "-m", "c"]],
        "branch": [["branch", "-f", name]],
        "tag": [["tag", "-f", name]],
        "annotated": [["tag", "-f", "-a", "-m", "m", name]],
        # an annotated tag of whatever the tag (or branch) ``name`` is
        "tag-of-tag": [["tag", "-f", "-a", "-m", "m", f"{name}-of", name]],
        "remote": [["update-ref", f"refs/remotes/origin/{name}", "HEAD"]],
        "checkout": [["checkout", "-q", name]],
        "detach": [["checkout", "-q", "--detach"]],
        "delete": [["update-ref", "-d", f"refs/tags/{name}"]],
        "pack-refs": [["pack-refs", "--all"]],
        "gc": [["gc", "-q"]],
        "symref": [["symbolic-ref", f"refs/heads/{name}-link", "refs/heads/main"]],
    }[kind]
    for args in calls:
        subprocess.run([*run, *args], capture_output=True)  # refused steps are states too


def check_against_git(repo: Path) -> int:
    """Every answer git's; the number answered without git."""
    refs = refs_of(repo)
    vcs = GitRepo(repo)
    answered = 0
    # the branch's name, not --short's "heads/main" when a tag is named "main" too
    branch = (answer(repo, "symbolic-ref", "-q", "HEAD") or "").removeprefix("refs/heads/")
    head = refs.head_branch()
    assert head is ASK_GIT or head == (branch or None)
    assert vcs.current_branch() == (branch or None)
    names = [*NAMES, *(f"{n}-of" for n in NAMES), *(f"{n}-link" for n in NAMES)]
    for name in [*names, "HEAD", "origin/main", "tags/v1", "heads/dev", "nope"]:
        want = answer(repo, "rev-parse", "--verify", "-q", f"{name}^{{commit}}")
        got = refs.commit_of(name)
        if got is not ASK_GIT:
            answered += 1
            assert got == want, name
        assert vcs._commit_of(name) == want, name
    for full in [f"refs/{k}/{n}" for k in ("heads", "tags", "remotes/origin") for n in names]:
        want = answer(repo, "show-ref", "--verify", "--hash", full)
        got = refs.value(full)
        if got is not ASK_GIT:
            answered += 1
            assert got == want, full
        assert vcs.ref_sha(full) == want, full
    for name in names:
        assert vcs.branch_tip(name) == answer(
            repo, "rev-parse", "--verify", "-q", f"refs/heads/{name}"
        )
        assert vcs.tag_exists(name) == (
            answer(repo, "show-ref", "--verify", f"refs/tags/{name}") is not None
        )
    return answered


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(STEPS, min_size=1, max_size=10))
def test_refs_read_from_files_are_gits(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, str]]
) -> None:
    repo = git_repo(tmp_path_factory.mktemp("refs"))
    for step in steps:
        play(repo, step)
    assert check_against_git(repo) > 0  # HEAD at least is read from its file


def test_plain_refs_are_read_without_git_loose_and_packed(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r")
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "branch", "dev")
    git(repo, *ID, "tag", "-a", "-m", "m", "v1")
    refs = refs_of(repo)
    assert refs.head_branch() == "main"
    assert refs.commit_of("dev") == refs.commit_of("v1") == refs.commit_of(first) == first
    assert refs.value("refs/tags/v1") == git(repo, "rev-parse", "refs/tags/v1") != first
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git/refs/heads/dev").exists()
    assert refs.value("refs/heads/dev") == first  # from packed-refs
    assert refs.commit_of("v1") == first  # the tag object is still loose
    second = commit(repo, "second")
    git(repo, "branch", "-f", "dev")  # loose again, over its packed line
    assert refs.commit_of("dev") == second
    git(repo, "gc", "-q")  # the tag object packed: only git reads packs
    assert refs.commit_of("v1") is ASK_GIT
    assert GitRepo(repo)._commit_of("v1") == first
    git(repo, "branch", "a/b")  # refs/heads/a is a directory: no branch, as git says
    assert refs.value("refs/heads/a") is ASK_GIT
    assert GitRepo(repo).branch_tip("a") is None and GitRepo(repo).branch_exists("a/b")
    git(repo, "checkout", "-q", "--detach")
    assert refs.head_branch() is None
    assert refs.commit_of("HEAD") == second


def test_odd_names_and_a_linked_worktree_go_by_git(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r")
    refs = refs_of(repo)
    for odd in ("main~1", "main^", "@{-1}", "a..b", ".hidden", "x.lock", "naïve", "-x"):
        assert refs.commit_of(odd) is ASK_GIT, odd
    git(repo, "worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"))
    wt = tmp_path / "wt"
    assert refs_of(wt).head_branch() == "side"  # HEAD is the worktree's own
    assert refs_of(wt).commit_of("main") == refs.commit_of("main")  # refs are shared
    assert GitRepo(wt).current_branch() == "side"
    assert GitRepo(repo).current_branch() == "main"


def test_a_commit_count_is_kept_for_its_two_commits_only(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r")
    git(repo, "checkout", "-q", "-b", "feature")
    vcs = GitRepo(repo)
    assert vcs.commits_ahead("feature", "main") == 0
    commit(repo, "one")
    assert vcs.commits_ahead("feature", "main") == 1  # the branch moved: counted again
    commit(repo, "two")
    assert vcs.commits_ahead("feature", "main") == 2
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", "feature")
    assert vcs.commits_ahead("feature", "main") == 0  # the base moved


# --- writes: git update-ref's protocol, or git where more is asked of an update ---------

BOARD = "refs/shipdeck/board"


def board_with_items(path: Path, n: int = 2) -> tuple[Path, BoardStore]:
    repo = git_repo(path)
    store = open_board(repo)
    for i in range(n):
        store.add(f"item {i}", Kind.FEATURE)
    return repo, store


def test_a_ref_moves_only_from_where_it_was_and_leaves_no_lock(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r")
    first = git(repo, "rev-parse", "HEAD")
    second = commit(repo, "second")
    refs = refs_of(repo)
    assert refs.update("refs/x/y", first, second) is False  # it does not exist yet
    assert refs.update("refs/x/y", first, None) is True
    assert git(repo, "rev-parse", "refs/x/y") == first
    assert refs.update("refs/x/y", second, None) is False  # it exists now
    assert refs.update("refs/x/y", second, second) is False
    git(repo, "pack-refs", "--all")  # its old value now only in packed-refs
    assert refs.update("refs/x/y", second, first) is True
    assert git(repo, "rev-parse", "refs/x/y") == second
    assert git(repo, "fsck", "--no-dangling") == ""
    assert not list((repo / ".git/refs").rglob("*.lock"))
    git(repo, "symbolic-ref", "refs/x/link", "refs/x/y")
    assert refs.update("refs/x/link", first, second) is ASK_GIT  # git moves refs/x/y
    assert (repo / ".git/refs/x/link").read_text() == "ref: refs/x/y\n"
    (repo / ".git/refs/x/y.lock").write_text("")  # another writer's
    assert refs.update("refs/x/y", first, second) is ASK_GIT
    assert (repo / ".git/refs/x/y.lock").exists()  # never taken from its owner
    assert git(repo, "rev-parse", "refs/x/y") == second


def logged(repo: Path) -> int:
    out = answer(repo, "reflog", "show", "--format=%H", BOARD)
    return len(out.splitlines()) if out else 0


def test_a_board_write_goes_by_git_where_the_ref_has_a_reflog(tmp_path: Path) -> None:
    repo, store = board_with_items(tmp_path / "r")
    assert logged(repo) == 0  # git logs no refs/shipdeck ref by default
    log = repo / ".git/logs" / BOARD
    log.parent.mkdir(parents=True)
    log.write_text("")  # someone asked for one (git update-ref --create-reflog)
    store.add("logged", Kind.BUG)
    assert logged(repo) == 1
    assert "shipdeck: " in log.read_text()  # git's entry, with the change's message


def test_a_board_write_goes_by_git_where_every_update_is_logged(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r")
    git(repo, "config", "core.logAllRefUpdates", "always")
    store = open_board(repo)
    store.add("one", Kind.FEATURE)
    store.add("two", Kind.FEATURE)
    assert logged(repo) == 2


def test_a_board_write_runs_the_reference_transaction_hook(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r")
    seen = tmp_path / "seen"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    hook = hooks / "reference-transaction"
    hook.write_text(f'#!/bin/sh\n[ "$1" = committed ] && cat >> "{seen}"\nexit 0\n')
    hook.chmod(0o755)
    git(repo, "config", "core.hooksPath", str(hooks))
    open_board(repo).add("hooked", Kind.FEATURE)
    assert BOARD in seen.read_text()


def test_board_writes_from_two_processes_lose_nothing(tmp_path: Path) -> None:
    """In-process ref moves (a) and git's own (b, which has a hook to run), taking
    turns as fast as they can: every add lands once."""
    repo, _ = board_with_items(tmp_path / "r", 0)
    seen = tmp_path / "seen"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "reference-transaction").write_text(
        f'#!/bin/sh\n[ "$1" = committed ] && cat >> "{seen}"\nexit 0\n'
    )
    (hooks / "reference-transaction").chmod(0o755)
    b_env = {
        **os.environ,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.hooksPath",
        "GIT_CONFIG_VALUE_0": str(hooks),
    }
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from shipdeck.backends.git_board import open_board\n"
        "from shipdeck.lifecycle.items import Kind\n"
        "store = open_board(Path(sys.argv[1]))\n"
        "for n in range(15):\n"
        "    store.add(f'{sys.argv[2]} {n}', Kind.FEATURE)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(repo), who], env=env)
        for who, env in (("a", dict(os.environ)), ("b", b_env))
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0
    titles = sorted(i.title for i in open_board(repo).load().items)
    assert titles == sorted(f"{w} {n}" for w in ("a", "b") for n in range(15))
    assert int(git(repo, "rev-list", "--count", BOARD)) >= 30
    assert seen.read_text().count(BOARD) == 15  # b's, through git and its hook
    assert not list((repo / ".git/refs").rglob("*.lock"))


def test_a_tag_named_like_a_branch_does_not_rename_the_branch(tmp_path: Path) -> None:
    """``--short`` and ``:short`` say ``heads/trunk`` where a tag is named ``trunk``
    too: init would have written that as the base branch, and the Code cards would
    not have found their branch's head."""
    from shipdeck.cli.init_git import default_branch

    repo = git_repo(tmp_path / "r", branch="trunk")
    git(repo, "branch", "dev")
    git(repo, "branch", "feature/x")
    for name in ("trunk", "dev", "feature/x"):
        git(repo, "tag", name)
    head = git(repo, "rev-parse", "HEAD")
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "heads/trunk"  # git's own short
    assert default_branch(repo) == ("trunk", "the current branch")
    vcs = GitRepo(repo)
    assert {b: vcs.branch_tip(b) for b in ("dev", "feature/x", "trunk")} == {
        "dev": head, "feature/x": head, "trunk": head
    }  # fmt: skip
    assert vcs.current_branch() == "trunk"


def test_the_cards_read_their_branches_heads_from_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The board asks for the heads of the branches of its cards in Code every 5 s:
    answered from the ref files (loose or packed, a tag of the same name beside it)
    with no git process, and by git where the files do not say (an odd name)."""
    from shipdeck.lifecycle.items import Item
    from shipdeck.lifecycle.journal import Journal
    from shipdeck.lifecycle.stages import Stage
    from shipdeck.tui.card_facts import read_facts

    repo = git_repo(tmp_path / "r", branch="trunk")
    git(repo, "branch", "dev")
    git(repo, "branch", "feature/x")
    git(repo, "tag", "dev")
    git(repo, "pack-refs", "--all")  # dev and feature/x only in packed-refs now
    git(repo, "commit", "-q", "--allow-empty", "-m", "two")  # trunk loose, moved on
    git(repo, "branch", "ünï")
    truth = {b: git(repo, "rev-parse", f"refs/heads/{b}") for b in ("trunk", "dev", "feature/x")}
    truth["ünï"] = truth["trunk"]
    assert truth["trunk"] != truth["dev"]
    vcs, journal = GitRepo(repo), Journal(repo)

    def in_code(*branches: str) -> list[Item]:
        return [Item(f"SD-{n}", "t", stage=Stage.CODE, branch=b) for n, b in enumerate(branches, 1)]

    def heads(items: list[Item]) -> dict[str, str]:
        facts = read_facts(lambda: vcs, journal, items, {})
        return {i.branch: facts[i.id].head for i in items if i.id in facts and facts[i.id].head}

    ran: list[object] = []
    real = subprocess.run

    def counted(*args: object, **kwargs: object) -> object:
        ran.append(args[0])
        return real(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "run", counted)
    plain = ["trunk", "dev", "feature/x", "gone"]
    assert heads(in_code(*plain)) == {n: truth[n] for n in plain if n != "gone"}
    assert ran == []
    assert heads(in_code("ünï", "dev")) == {"ünï": truth["ünï"], "dev": truth["dev"]}
    assert len(ran) == 1  # git answers the odd name, the files the rest
    assert heads([]) == {}


def _git_accepts(cwd: Path, *args: str) -> bool:
    return (
        subprocess.run(["git", "check-ref-format", *args], cwd=cwd, capture_output=True).returncode
        == 0
    )


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.one_of(
        st.text(alphabet="ab-_.+/@{}~^:?*[\\ \t", min_size=1, max_size=12),
        st.sampled_from(
            [
                "HEAD",
                "main",
                "feature/SD-5-say-hola",
                "v1.0.0",
                "a/.b",
                "a..b",
                "a.lock/b",
                "a/b.lock",
                "-x",
                "a/",
                "/a",
                "a//b",
                "a.",
                "@",
                "a@{1}",
                "x/y.z+1_2",
            ]
        ),
    )
)
def test_a_plain_ref_name_is_one_git_accepts(tmp_path: Path, name: str) -> None:
    """Branch and tag names answered without ``git check-ref-format`` (a process of
    1.5 ms, three a release) must be names git itself accepts."""
    if not git_files.plain_ref_name(name):
        return
    if name != "HEAD":
        assert _git_accepts(tmp_path, "--branch", name), name
    if "/" in name:
        assert _git_accepts(tmp_path, name), name
    assert _git_accepts(tmp_path, f"refs/tags/{name}"), name


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.sampled_from(["a", "b", "merge"]), min_size=1, max_size=8))
def test_commits_ahead_walked_in_process_is_what_rev_list_counts(
    tmp_path: Path, steps: list[str]
) -> None:
    """Any history of two branches with merges: ``commits_ahead`` and ``is_ancestor``
    between any two of its commits (walked by hand where history is a line) say what
    ``git rev-list --count`` and ``git merge-base --is-ancestor`` say."""
    repo = tmp_path / f"h{len(list(tmp_path.iterdir()))}"
    git_repo(repo)
    env = ["-c", "user.name=t", "-c", "user.email=t@t"]
    git(repo, "branch", "b")
    commits = [git(repo, "rev-parse", "HEAD")]
    for n, step in enumerate(["a", *steps]):  # one commit on a line at least
        if step == "merge":
            git(repo, "checkout", "-q", "main")
            git(repo, *env, "merge", "-q", "--no-ff", "-m", f"m{n}", "b")
        else:
            git(repo, "checkout", "-q", "main" if step == "a" else "b")
            when = f"{1_700_000_000 + 1000 * n} +0000"  # author times apart
            git(repo, *env, "commit", "-q", "--allow-empty", "-m", f"c{n}", "--date", when)
        commits.append(git(repo, "rev-parse", "HEAD"))
    vcs = GitRepo(repo)
    for tip in commits:  # when work began: the oldest author time of base..tip
        for base in commits:
            stamps = [int(s) for s in git(repo, "log", "--format=%at", f"{base}..{tip}").split()]
            began = vcs.first_commit_time(tip, base)
            assert began == (datetime.fromtimestamp(min(stamps), UTC) if stamps else None)
    timed = [vcs._refs.author_times(t, b) for t in commits for b in commits]
    assert any(stamps for stamps in timed)  # some by hand
    for tip in commits:
        for base in commits:
            counted = int(git(repo, "rev-list", "--count", f"{base}..{tip}"))
            assert vcs.commits_ahead(tip, base) == counted, (tip, base)
            asked = subprocess.run(["git", "merge-base", "--is-ancestor", base, tip], cwd=repo)
            assert vcs._is_ancestor(base, tip) is (asked.returncode == 0), (base, tip)
    walked = [vcs._refs.commits_between(t, b) for t in commits for b in commits]
    assert any(w is not None and w > 0 for w in walked)  # the walk answered some by hand
    # A history git rewrites as it reads (a replace ref) is left to git.
    git(repo, "replace", "--graft", commits[-1])
    assert vcs._refs.commits_between(commits[-1], commits[0]) is None


def test_no_tags_is_said_only_when_git_has_none(tmp_path: Path) -> None:
    """A first release lists no tags without a process; any tag, loose, nested or
    packed, sends the question to git."""
    repo = git_repo(tmp_path / "r")
    vcs = GitRepo(repo)
    refs = vcs._refs
    assert refs.no_tags() and vcs.tags() == [] and vcs.find_release("SD-1", "HEAD") is None
    git(repo, "tag", "release/v1")  # nested under refs/tags/release/
    assert not refs.no_tags() and vcs.tags() == ["release/v1"]
    git(repo, "pack-refs", "--all")
    assert not list((repo / ".git" / "refs" / "tags").rglob("v1"))  # packed only now
    assert not refs.no_tags() and vcs.tags() == ["release/v1"]
    git(repo, "tag", "-d", "release/v1")
    assert refs.no_tags() and vcs.tags() == []
