"""Releases without a checkout: prepare_release writes objects, publish moves refs atomically.

All against real repositories made in tmp dirs with the git command line; the
user's work tree, index and checked-out branch must come out byte-identical.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from shipdeck.backends.git import GitRepo
from shipdeck.lifecycle.ports import (
    FoundRelease,
    MergeConflict,
    PreparedRelease,
    RefRaceLost,
    RefUpdate,
    Vcs,
    VcsError,
)
from tests.helpers import ROOT
from tests.integration.test_git import T0, commit, git, isolated_git, make_repo, status
from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # real git, and processes killed mid-release

__all__ = ["isolated_git"]  # the autouse fixture: no user or system git config leaks in

CHANGELOG = "# Changelog\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """``master`` by default, some history, a foreign annotated and a lightweight tag."""
    root = make_repo(tmp_path / "repo")
    git(root, "symbolic-ref", "HEAD", "refs/heads/master")
    commit(root, "README.md", "hello\n", "initial", when=T0)
    commit(root, "CHANGELOG.md", CHANGELOG, "changelog", when=T0 + 10)
    commit(root, "app/main.py", "print('v0')\n", "app", when=T0 + 20)
    git(root, "tag", "-a", "-m", "someone else's release", "v0.1.0")
    git(root, "tag", "light")
    return root


def feature(root: Path, name: str = "feature/SD-1-x", files: dict[str, str] | None = None) -> str:
    """A branch off master with one commit; back on master afterwards. Returns its tip."""
    git(root, "checkout", "-q", "-b", name, "master")
    for path, content in (files or {"x.txt": "x\n"}).items():
        p = root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
        git(root, "add", "--", path)
    git(root, "commit", "-q", "-m", f"work on {name}")
    git(root, "checkout", "-q", "master")
    return git(root, "rev-parse", name)


def prepare(vcs: GitRepo, sha: str, tag: str = "v1.0.0", item: str = "SD-1") -> PreparedRelease:
    return vcs.prepare_release(
        sha=sha,
        base="master",
        merge_message=f"Merge {item}",
        changelog_path="CHANGELOG.md",
        changelog_text=lambda old: old + f"\n## {tag}\n- {item}\n",
        commit_message=f"Changelog {tag}",
        tag=tag,
        tag_message=f"Release {tag}\n\nShipdeck-Item: {item}\n",
    )


def refs(root: Path) -> str:
    return git(root, "show-ref", "--head")


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file of the work tree and of the user's index, HEAD and status."""
    files = {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
    git_dir = root / ".git"
    files[".git/index"] = hashlib.sha256((git_dir / "index").read_bytes()).hexdigest()
    files[".git/HEAD"] = (git_dir / "HEAD").read_text()
    return files


def scratch_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in (root / ".git").glob("shipdeck-tmp-*"))


def test_implements_the_protocol(repo: Path) -> None:
    assert isinstance(GitRepo(repo), Vcs)


# --- the user's work is never touched ------------------------------------------------


def test_release_leaves_the_users_dirty_branch_alone(repo: Path) -> None:
    tip = feature(repo)
    git(repo, "checkout", "-q", "-b", "wip", "master")
    (repo / "README.md").write_text("half-done edit\n")  # unstaged
    (repo / "app" / "main.py").write_text("print('staged')\n")
    git(repo, "add", "app/main.py")  # staged
    (repo / "notes.txt").write_text("untracked scratch\n")
    before, before_status, before_refs = snapshot(repo), status(repo), refs(repo)
    base_old = git(repo, "rev-parse", "master")
    vcs = GitRepo(repo)

    prepared = prepare(vcs, tip)
    assert refs(repo) == before_refs  # objects only: no ref moved yet
    assert vcs.release_would_touch_checkout("master", base_old, prepared.commit) is None
    vcs.publish(prepared.ref_updates())
    assert vcs.after_publish_checkout("master", base_old, prepared.commit) is None

    assert snapshot(repo) == before  # every file, the index and HEAD byte-identical
    assert status(repo) == before_status
    assert vcs.current_branch() == "wip"
    assert prepared.fast_forward and prepared.merged == tip and prepared.base_old == base_old
    assert git(repo, "rev-parse", "master") == prepared.commit
    assert git(repo, "rev-parse", "master^") == tip
    assert git(repo, "rev-parse", "refs/tags/v1.0.0") == prepared.tag_object
    assert git(repo, "rev-parse", "v1.0.0^{commit}") == prepared.commit
    assert git(repo, "show", "master:CHANGELOG.md") == (CHANGELOG + "\n## v1.0.0\n- SD-1").strip()
    assert git(repo, "show", "--name-only", "--format=", "master") == "CHANGELOG.md"
    assert git(repo, "log", "-1", "--format=%s|%an <%ae>", "master") == (
        "Changelog v1.0.0|Test User <test@example.com>"
    )
    tag = git(repo, "cat-file", "-p", "v1.0.0")
    assert "tagger Test User <test@example.com>" in tag
    assert tag.endswith("Release v1.0.0\n\nShipdeck-Item: SD-1")
    assert "shipdeck: release master, v1.0.0" in git(repo, "reflog", "-1", "master")
    assert scratch_dirs(repo) == []
    assert git(repo, "fsck", "--no-dangling") == ""


def test_merge_commit_when_base_moved(repo: Path) -> None:
    tip = feature(repo)
    base_old = commit(repo, "other.txt", "o\n", "base moved on")
    git(repo, "checkout", "-q", "feature/SD-1-x")
    before = snapshot(repo)
    vcs = GitRepo(repo)

    prepared = prepare(vcs, tip)
    vcs.publish(prepared.ref_updates())

    assert snapshot(repo) == before and vcs.current_branch() == "feature/SD-1-x"
    assert not prepared.fast_forward
    assert git(repo, "log", "-1", "--format=%P", prepared.merged).split() == [base_old, tip]
    assert git(repo, "log", "-1", "--format=%s", prepared.merged) == "Merge SD-1"
    assert git(repo, "rev-parse", "master^") == prepared.merged
    files = git(repo, "ls-tree", "-r", "--name-only", "master").splitlines()
    assert {"x.txt", "other.txt", "CHANGELOG.md", "README.md"} <= set(files)
    assert git(repo, "rev-parse", "v1.0.0^{commit}") == git(repo, "rev-parse", "master")


def test_conflict_names_files_and_moves_nothing(repo: Path) -> None:
    tip = feature(repo, files={"README.md": "branch version\n", "y.txt": "y\n"})
    commit(repo, "README.md", "master version\n")
    git(repo, "checkout", "-q", "feature/SD-1-x")
    before, before_refs = snapshot(repo), refs(repo)
    vcs = GitRepo(repo)
    with pytest.raises(MergeConflict) as err:
        prepare(vcs, tip)
    assert err.value.files == ["README.md"]
    assert refs(repo) == before_refs
    assert snapshot(repo) == before
    assert scratch_dirs(repo) == []
    assert not (repo / ".git" / "MERGE_HEAD").exists()


def test_already_merged_and_unchanged_changelog_add_nothing(repo: Path) -> None:
    vcs = GitRepo(repo)
    base = git(repo, "rev-parse", "master")
    prepared = vcs.prepare_release(
        sha="master~1",
        base="master",
        merge_message="unused",
        changelog_path="CHANGELOG.md",
        changelog_text=lambda old: old,
        commit_message="unused",
        tag="v1.0.0",
        tag_message="Release\n\nShipdeck-Item: SD-7",
    )
    assert prepared.merged == prepared.commit == base and prepared.fast_forward
    vcs.publish(prepared.ref_updates())
    assert git(repo, "rev-parse", "master") == base == git(repo, "rev-parse", "v1.0.0^{commit}")


def test_prepare_refuses_bad_input(repo: Path) -> None:
    vcs = GitRepo(repo)
    tip = feature(repo)
    with pytest.raises(VcsError, match="already exists"):
        prepare(vcs, tip, tag="v0.1.0")
    with pytest.raises(VcsError, match="not a valid tag name"):
        prepare(vcs, tip, tag="bad..tag")
    with pytest.raises(VcsError, match="nope"):
        prepare(vcs, "nope")
    for bad in ("../x.md", ".git/config", "/elsewhere/CHANGELOG.md"):
        with pytest.raises(VcsError):
            vcs.prepare_release(
                sha=tip,
                base="master",
                merge_message="m",
                changelog_path=bad,
                changelog_text=lambda old: old + "x",
                commit_message="c",
                tag="v9.0.0",
                tag_message="t",
            )


def test_changelog_in_a_new_subdirectory(repo: Path) -> None:
    vcs = GitRepo(repo)
    prepared = vcs.prepare_release(
        sha=feature(repo),
        base="master",
        merge_message="m",
        changelog_path=str(repo / "docs" / "CHANGES.md"),  # absolute works too
        changelog_text=lambda old: old + "- first\n",
        commit_message="Changes",
        tag="v1.0.0",
        tag_message="t",
    )
    assert git(repo, "show", f"{prepared.commit}:docs/CHANGES.md") == "- first"
    assert not (repo / "docs").exists()


# --- the checked-out base --------------------------------------------------------------


def test_checked_out_clean_base_follows_the_release(repo: Path) -> None:
    tip = feature(repo, files={"x.txt": "x\n", "app/main.py": "print('v1')\n"})
    (repo / "README.md").write_text("unrelated local edit\n")  # kept across the update
    vcs = GitRepo(repo)
    base_old = git(repo, "rev-parse", "master")
    prepared = prepare(vcs, tip)
    assert vcs.release_would_touch_checkout("master", base_old, prepared.commit) is None
    vcs.publish(prepared.ref_updates())
    assert vcs.after_publish_checkout("master", base_old, prepared.commit) is None
    assert vcs.current_branch() == "master"
    assert (repo / "x.txt").read_text() == "x\n"
    assert (repo / "app" / "main.py").read_text() == "print('v1')\n"
    assert "- SD-1" in (repo / "CHANGELOG.md").read_text()
    assert (repo / "README.md").read_text() == "unrelated local edit\n"
    assert git(repo, "diff", "--cached", "--name-only") == ""
    assert git(repo, "diff", "--name-only") == "README.md"


def test_overlapping_edit_on_the_checked_out_base_is_predicted(repo: Path) -> None:
    tip = feature(repo, files={"app/main.py": "print('v1')\n", "new.txt": "from the branch\n"})
    (repo / "app" / "main.py").write_text("print('my edit')\n")
    (repo / "new.txt").write_text("mine, untracked\n")
    before = snapshot(repo)
    vcs = GitRepo(repo)
    base_old = git(repo, "rev-parse", "master")
    prepared = prepare(vcs, tip)
    reason = vcs.release_would_touch_checkout("master", base_old, prepared.commit)
    assert reason is not None and "\n" not in reason
    assert "app/main.py" in reason and "new.txt" in reason and "CHANGELOG.md" not in reason
    assert snapshot(repo) == before  # the dry run changed nothing
    # Another branch checked out: nothing to predict.
    assert vcs.release_would_touch_checkout("other", base_old, prepared.commit) is None


def test_after_publish_checkout_explains_how_to_catch_up(repo: Path) -> None:
    """Published anyway (an edit came in after the check): files untouched, the advice works."""
    lines = [f"line {i}\n" for i in range(8)]
    commit(repo, "lib.py", "".join(lines))
    tip = feature(repo, files={"lib.py": "".join([*lines[:-1], "released\n"])})
    vcs = GitRepo(repo)
    base_old = git(repo, "rev-parse", "master")
    prepared = prepare(vcs, tip)
    vcs.publish(prepared.ref_updates())
    (repo / "lib.py").write_text("".join(["mine\n", *lines[1:]]))
    message = vcs.after_publish_checkout("master", base_old, prepared.commit)
    assert message is not None and "\n" not in message
    assert "your changes to lib.py)" in message  # only the overlap, not the whole release
    assert (repo / "lib.py").read_text() == "".join(["mine\n", *lines[1:]])
    command = message.split("`")[1]
    assert command == f"git update-ref --no-deref HEAD {base_old} && git checkout -m master"
    subprocess.run(command, shell=True, cwd=repo, check=True, capture_output=True)
    assert vcs.current_branch() == "master"
    assert (repo / "lib.py").read_text() == "".join(["mine\n", *lines[1:-1], "released\n"])
    assert "- SD-1" in (repo / "CHANGELOG.md").read_text()
    assert git(repo, "diff", "--cached", "--name-only") == ""
    assert git(repo, "diff", "--name-only") == "lib.py"


# --- publish: all refs or none -----------------------------------------------------------


def test_lost_race_publishes_nothing_and_a_retry_works(repo: Path) -> None:
    tip = feature(repo)
    vcs = GitRepo(repo)
    prepared = prepare(vcs, tip)
    moved = commit(repo, "late.txt", "someone was faster\n")
    with pytest.raises(RefRaceLost) as err:
        vcs.publish(prepared.ref_updates())
    assert err.value.ref == "refs/heads/master"
    assert "refs/heads/master" in str(err.value)
    assert not vcs.tag_exists("v1.0.0")  # the tag would have been fine alone: not created
    assert git(repo, "rev-parse", "master") == moved

    again = prepare(vcs, tip)
    assert again.base_old == moved and not again.fast_forward
    vcs.publish(again.ref_updates())
    assert git(repo, "rev-parse", "v1.0.0^{commit}") == git(repo, "rev-parse", "master")


def test_tag_created_meanwhile_is_a_lost_race(repo: Path) -> None:
    vcs = GitRepo(repo)
    prepared = prepare(vcs, feature(repo))
    git(repo, "tag", "v1.0.0", "master")
    before = refs(repo)
    with pytest.raises(RefRaceLost, match="exists already") as err:
        vcs.publish(prepared.ref_updates())
    assert err.value.ref == "refs/tags/v1.0.0"
    assert refs(repo) == before


def test_a_lock_held_by_a_live_git_is_reported_clearly(repo: Path) -> None:
    """A lock another git keeps fresh is never removed: the publish fails, naming it."""
    vcs = GitRepo(repo)
    prepared = prepare(vcs, feature(repo))
    lock = repo / ".git" / "refs" / "heads" / "master.lock"
    lock.write_text("")
    held = threading.Event()

    def keep_fresh() -> None:  # as a git would that is slow to finish with it
        while not held.wait(0.1):
            os.utime(lock)

    toucher = threading.Thread(target=keep_fresh)
    toucher.start()
    before = refs(repo)
    try:
        with pytest.raises(VcsError) as err:
            vcs.publish(prepared.ref_updates())
    finally:
        held.set()
        toucher.join()
    assert not isinstance(err.value, RefRaceLost)
    message = str(err.value)
    assert str(lock) in message and "delete" in message and "nothing was changed" in message
    assert "\n" not in message
    assert refs(repo) == before and lock.exists()
    lock.unlink()
    vcs.publish(prepared.ref_updates())
    assert git(repo, "rev-parse", "master") == prepared.commit


def test_a_lock_left_by_a_killed_git_is_cleared_and_the_release_published(repo: Path) -> None:
    """Found by the SIGKILL test: a kill of shipdeck's process group mid-publish left
    refs/heads/main.lock behind, and every retry failed until a person deleted it."""
    vcs = GitRepo(repo)
    prepared = prepare(vcs, feature(repo))
    lock = repo / ".git" / "refs" / "heads" / "master.lock"
    lock.write_text("")
    old = time.time() - 30
    os.utime(lock, (old, old))
    vcs.publish(prepared.ref_updates())
    assert git(repo, "rev-parse", "master") == prepared.commit
    assert not lock.exists()


def test_publish_creates_updates_and_deletes_together(repo: Path) -> None:
    vcs = GitRepo(repo)
    head = git(repo, "rev-parse", "master")
    parent = git(repo, "rev-parse", "master^")
    vcs.publish([RefUpdate("refs/heads/a", head, None), RefUpdate("refs/heads/b", parent, None)])
    vcs.publish(
        [
            RefUpdate("refs/heads/a", None, head),
            RefUpdate("refs/heads/b", head, parent),
            RefUpdate("refs/heads/c", parent, None),
        ]
    )
    assert vcs.ref_sha("refs/heads/a") is None
    assert vcs.ref_sha("refs/heads/b") == head and vcs.ref_sha("refs/heads/c") == parent
    with pytest.raises(RefRaceLost):  # c exists already, so b does not move either
        vcs.publish(
            [RefUpdate("refs/heads/b", parent, head), RefUpdate("refs/heads/c", head, None)]
        )
    assert vcs.ref_sha("refs/heads/b") == head
    for bad in (
        RefUpdate("refs/heads/x y", head, None),
        RefUpdate("heads/x", head, None),
        RefUpdate("refs/heads/x", "HEAD", None),
        RefUpdate("refs/heads/x", None, None),
    ):
        with pytest.raises(VcsError):
            vcs.publish([bad])
    vcs.publish([])


# Imports once, then forks one releasing child per line on stdin and prints its pid:
# a kill can land anywhere in a release without paying python's start-up each time.
CHILDREN = r"""
import os, signal, subprocess, sys, time, traceback
from shipdeck.backends.git import GitRepo

root, errors = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the killed children


def git(*args):
    done = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def release_forever():
    vcs = GitRepo(root)
    while True:
        n = 1 + max((int(t[4:]) for t in vcs.tags() if t.startswith("rel-")), default=0)
        # Odd: a fast-forward; even: a branch off master~1, so a real merge commit.
        fork = vcs.head_sha("master") if n % 2 else vcs.head_sha("master~1")
        work = git("commit-tree", fork + "^{tree}", "-p", fork, "-m", f"work {n}")
        prepared = vcs.prepare_release(
            sha=work,
            base="master",
            merge_message=f"Merge work {n}",
            changelog_path="CHANGELOG.md",
            changelog_text=lambda old: f"- release {n}\n" + old,
            commit_message=f"Changelog {n}",
            tag=f"rel-{n}",
            tag_message=f"Release {n}\n\nShipdeck-Item: SD-{n}",
        )
        vcs.publish(prepared.ref_updates())


for _line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)  # its own group: the test waits for its git processes too
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        try:
            release_forever()
        except BaseException:
            with open(errors, "a") as fh:
                fh.write(traceback.format_exc())
            time.sleep(3600)  # keep the pid until the test kills it
        os._exit(1)
    os.setpgid(pid, pid)
    print(pid, flush=True)
"""


def group_alive(pgid: int) -> bool:
    """A live process of the group is left (git outlives the killed python)."""
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (OSError, psutil.Error):
            continue
    return False


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_all_or_nothing(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "-b", "wip")
    (repo / "README.md").write_text("the user's own edit\n")
    (repo / "notes.txt").write_text("untracked\n")
    user = snapshot(repo)
    script, errors = tmp_path / "release_loop.py", tmp_path / "errors.txt"
    script.write_text(CHILDREN)
    rng = random.Random(20240501)
    initial = git(repo, "rev-parse", "master")
    progress = []
    forker = subprocess.Popen(
        [sys.executable, str(script), str(repo), str(errors)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
    )
    assert forker.stdin is not None and forker.stdout is not None
    try:
        for _ in range(30):
            forker.stdin.write(b"go\n")
            forker.stdin.flush()
            pid = int(forker.stdout.readline())
            time.sleep(rng.uniform(0, 0.3))
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda pid=pid: not group_alive(pid), what=f"process group {pid} to end")
            assert not errors.exists(), errors.read_text()  # it never failed by itself

            released = sorted(int(t[4:]) for t in GitRepo(repo).tags() if t.startswith("rel-"))
            progress.append(len(released))
            assert released == list(range(1, len(released) + 1))
            master = git(repo, "rev-parse", "master")
            if released:  # the newest tag and master moved together ...
                assert git(repo, "rev-parse", f"rel-{released[-1]}^{{commit}}") == master
            else:
                assert master == initial
            # ... and master has exactly one changelog line per tag: no base without its tag.
            lines = git(repo, "show", "master:CHANGELOG.md").splitlines()
            assert lines[: len(released)] == [f"- release {n}" for n in reversed(released)]
            assert lines[len(released) :] == CHANGELOG.splitlines()
            assert not list((repo / ".git").rglob("*.lock"))
    finally:
        forker.kill()
        forker.communicate()

    print("releases after each kill:", progress)
    assert progress[-1] > 0  # releases did happen between the kills
    assert snapshot(repo) == user and GitRepo(repo).current_branch() == "wip"
    # Scratch dirs of killed processes are swept by the next prepare.
    prepare(GitRepo(repo), git(repo, "rev-parse", "master"), tag="v9.0.0")
    assert scratch_dirs(repo) == []
    assert subprocess.run(["git", "fsck", "--no-dangling"], cwd=repo).returncode == 0


# --- finding a release, pushing it --------------------------------------------------------


def test_find_release_by_trailer(repo: Path) -> None:
    vcs = GitRepo(repo)
    tip = feature(repo)
    assert vcs.find_release("SD-1", tip) is None
    # Someone else's tag with the same trailer on an older commit: it does not contain tip.
    git(repo, "tag", "-a", "-m", "old\n\nShipdeck-Item: SD-1", "v0.0.9", "master~1")
    git(repo, "tag", "-a", "-m", "mentions Shipdeck-Item: SD-1 inline", "v0.0.8", "master")
    assert vcs.find_release("SD-1", tip) is None
    prepared = prepare(vcs, tip)
    vcs.publish(prepared.ref_updates())
    found = vcs.find_release("SD-1", tip)
    assert found == FoundRelease(tag="v1.0.0", commit=prepared.commit)
    assert vcs.find_release("SD-1", prepared.merged) == found
    assert vcs.find_release("SD-12", tip) is None
    assert vcs.find_release("SD", tip) is None


@pytest.fixture
def remote(repo: Path, tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "master")
    return bare


def test_push_atomic_sends_base_and_tag_together(repo: Path, remote: Path) -> None:
    vcs = GitRepo(repo)
    prepared = prepare(vcs, feature(repo))
    vcs.publish(prepared.ref_updates())
    vcs.push_atomic("origin", ["refs/heads/master:refs/heads/master", "refs/tags/v1.0.0"])
    assert git(remote, "rev-parse", "master") == prepared.commit
    assert git(remote, "rev-parse", "refs/tags/v1.0.0") == prepared.tag_object


def test_push_atomic_refused_ref_sends_nothing(repo: Path, remote: Path) -> None:
    vcs = GitRepo(repo)
    remote_master = git(remote, "rev-parse", "master")
    git(remote, "update-ref", "refs/tags/v1.0.0", git(remote, "rev-parse", "master~1"))
    prepared = prepare(vcs, feature(repo))
    vcs.publish(prepared.ref_updates())
    with pytest.raises(
        VcsError, match=r"refs/tags/v1\.0\.0 \[rejected\] \(already exists\)"
    ) as err:
        vcs.push_atomic("origin", ["refs/heads/master:refs/heads/master", "refs/tags/v1.0.0"])
    assert "nothing was pushed" in str(err.value)
    assert git(remote, "rev-parse", "master") == remote_master
    with pytest.raises(VcsError):
        vcs.push_atomic("--upload-pack=x", ["master"])


# --- branches without a checkout ------------------------------------------------------------


def test_create_branch_does_not_check_out(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "wip")
    (repo / "README.md").write_text("dirty\n")
    before = snapshot(repo)
    vcs = GitRepo(repo)
    base = git(repo, "rev-parse", "master")
    assert vcs.create_branch("feature/SD-2-y", "master") == base
    assert git(repo, "rev-parse", "feature/SD-2-y") == base
    assert snapshot(repo) == before and vcs.current_branch() == "wip"
    assert "shipdeck: branch feature/SD-2-y from master" in git(
        repo, "reflog", "-1", "feature/SD-2-y"
    )
    moved = commit(repo, "README.md", "on wip\n")
    assert vcs.create_branch("feature/SD-2-y", "wip") == base  # exists: left alone
    assert vcs.create_branch("feature/SD-3-z", "wip") == moved
    with pytest.raises(VcsError, match="not a valid branch name"):
        vcs.create_branch("bad..name", "master")
    with pytest.raises(VcsError, match="does not exist"):
        vcs.create_branch("feature/SD-4", "nope")


def test_checkout_if_safe(repo: Path) -> None:
    vcs = GitRepo(repo)
    vcs.create_branch("feature/SD-2-y", "master")
    (repo / "README.md").write_text("dirty\n")
    reason = vcs.checkout_if_safe("feature/SD-2-y")
    assert reason is not None and "\n" not in reason
    assert "README.md" in reason and "`git switch feature/SD-2-y`" in reason
    assert vcs.current_branch() == "master"
    git(repo, "checkout", "--", "README.md")
    assert vcs.checkout_if_safe("feature/SD-2-y") is None
    assert vcs.current_branch() == "feature/SD-2-y"
    assert vcs.checkout_if_safe("feature/SD-2-y") is None
    # An untracked file in the way of the switch: refused, nothing lost.
    feature(repo, "feature/SD-5", files={"in-the-way.txt": "branch\n"})
    git(repo, "checkout", "-q", "feature/SD-2-y")
    (repo / "in-the-way.txt").write_text("mine\n")
    reason = vcs.checkout_if_safe("feature/SD-5")
    assert reason is not None and "in-the-way.txt" in reason and "git switch" in reason
    assert (repo / "in-the-way.txt").read_text() == "mine\n"
    with pytest.raises(VcsError, match="does not exist"):
        vcs.checkout_if_safe("nope")


def test_ref_sha_and_is_ancestor(repo: Path) -> None:
    vcs = GitRepo(repo)
    head = git(repo, "rev-parse", "master")
    assert vcs.ref_sha("refs/heads/master") == head
    assert vcs.ref_sha("refs/tags/v0.1.0") == git(repo, "rev-parse", "refs/tags/v0.1.0") != head
    assert vcs.ref_sha("refs/heads/nope") is None
    with pytest.raises(VcsError):
        vcs.ref_sha("master")
    assert vcs.is_ancestor("master~1", "master") and vcs.is_ancestor("master", "master")
    assert not vcs.is_ancestor("master", "master~1")
    with pytest.raises(VcsError):
        vcs.is_ancestor("nope", "master")
