"""Two clones share one board through a real bare remote: ``shipdeck sync``."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shipdeck.lifecycle.stages import Stage
from tests.helpers import ROOT, board_store, git, shipdeck

pytestmark = pytest.mark.slow  # real clones, remotes and shipdeck sync in subprocesses

CONFIG = "version: 1\nproject: hello\nbase_branch: main\n"


def _clone(remote: Path, path: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(remote), str(path)], check=True, capture_output=True)
    git(path, "config", "user.name", path.name)
    git(path, "config", "user.email", f"{path.name}@example.com")
    return path


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, Path, Path]:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    a = _clone(remote, tmp_path / "a")
    (a / "shipdeck.yaml").write_text(CONFIG)
    git(a, "add", "-A")
    git(a, "commit", "-qm", "shipdeck.yaml")
    git(a, "push", "-q", "origin", "main")
    b = _clone(remote, tmp_path / "b")
    return remote, a, b


def _sync(repo: Path) -> None:
    done = shipdeck("sync", cwd=repo)
    assert done.returncode == 0, done.stderr


def _board(repo: Path) -> list[dict[str, object]]:
    return [i.to_dict() for i in board_store(repo).load().items]


def test_two_clones_add_and_move_offline_then_agree(clones: tuple[Path, Path, Path]) -> None:
    _remote, a, b = clones
    sa = board_store(a)
    shared = [sa.add(f"shared {n}").id for n in range(10)]
    _sync(a)
    _sync(b)
    sb = board_store(b)
    assert [i.id for i in sb.load().items] == shared

    # Offline: 50 new items each (the same ids on both sides), the shared ten
    # moved on one side and edited on the other, SD-1 moved differently on both.
    for n in range(50):
        sa.add(f"a-{n}")
        sb.add(f"b-{n}")
    for item_id in shared:
        sa.update(item_id, lambda it: setattr(it, "stage", Stage.CODE))
        sb.update(item_id, lambda it: setattr(it, "body", "noted in b"))
    sb.update(shared[0], lambda it: setattr(it, "stage", Stage.BUILD))
    # Two of b's new items get real branches named after their (soon taken) ids.
    b_items = [i for i in sb.load().items if i.title in ("b-0", "b-1")]
    for item in b_items:
        done = shipdeck("advance", item.id, "--to", "code", cwd=b)
        assert done.returncode == 0, done.stderr
    git(b, "checkout", "-q", "main")

    _sync(a)
    _sync(b)
    _sync(a)

    board_a, board_b = _board(a), _board(b)
    assert board_a == board_b
    ids = [d["id"] for d in board_a]
    assert len(ids) == len(set(ids)) == 110
    titles = {d["title"] for d in board_a}
    assert {f"a-{n}" for n in range(50)} <= titles
    assert {f"b-{n}" for n in range(50)} <= titles
    merged = board_store(a).load()
    for item_id in shared:
        item = merged.get(item_id)
        assert item.body == "noted in b"  # b's field and a's stage both survive
        assert item.stage in (Stage.CODE, Stage.BUILD)
    # The remote's ids stayed; b's colliding items were renumbered with their branches.
    assert all(merged.get(f"SD-{n}").title == f"a-{n - 11}" for n in range(11, 61))
    for item in merged.items:
        if item.branch:
            assert item.id in item.branch
            assert git(b, "rev-parse", "--verify", "-q", f"refs/heads/{item.branch}")
    assert sum(1 for i in merged.items if i.branch) == 2


def test_sync_with_no_remote_board_pushes_and_a_fresh_clone_takes_it(
    clones: tuple[Path, Path, Path],
) -> None:
    remote, a, b = clones
    board_store(a).add("first")
    _sync(a)
    assert git(remote, "rev-parse", "refs/shipdeck/board")
    _sync(b)
    assert [d["title"] for d in _board(b)] == ["first"]
    again = shipdeck("sync", "--json", cwd=b)
    assert again.returncode == 0 and '"merged": false' in again.stdout


def test_sync_names_a_missing_remote_and_exits_1(clones: tuple[Path, Path, Path]) -> None:
    _remote, a, _b = clones
    done = shipdeck("sync", "upstream", cwd=a)
    assert done.returncode == 1
    assert "no git remote named 'upstream'" in done.stderr
    assert "Traceback" not in done.stderr


SYNCER = r"""
import sys
from pathlib import Path
from shipdeck.backends.git_board import open_board
from shipdeck.backends.git_sync import sync
store = open_board(Path(sys.argv[1]))
print("go", flush=True)
while True:
    store.add("more")
    sync(store)
"""


@pytest.mark.slow
def test_sigkill_during_sync_never_loses_an_item(clones: tuple[Path, Path, Path]) -> None:
    _remote, a, b = clones
    rng = random.Random(9)
    board_store(a).add("from a")
    _sync(a)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _ in range(30):
        before = {d["uid"] for d in _board(b)}
        proc = subprocess.Popen(
            [sys.executable, "-c", SYNCER, str(b)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"go"
        time.sleep(rng.uniform(0.0, 0.4))
        # shipdeck dies; the gits it started finish or fail on their own, as a real
        # remote's receive-pack does (killing the group here would kill the bare
        # remote's receive-pack too, mid-update, which no server suffers)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        after = {d["uid"] for d in _board(b)}  # loads: no half-written board
        assert before <= after
    _sync(b)
    _sync(a)
    assert _board(a) == _board(b)
    ids = [d["id"] for d in _board(a)]
    assert len(ids) == len(set(ids))


def test_a_fetch_lock_left_by_a_killed_git_does_not_stop_the_next_sync(
    clones: tuple[Path, Path, Path],
) -> None:
    _remote, a, b = clones
    board_store(a).add("from a")
    _sync(a)
    lock = b / ".git" / "refs" / "shipdeck" / "remotes" / "origin" / "board.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    old = time.time() - 60
    os.utime(lock, (old, old))  # a git fetch killed a minute ago
    _sync(b)
    assert [d["title"] for d in _board(b)] == ["from a"]
    assert not lock.exists()
