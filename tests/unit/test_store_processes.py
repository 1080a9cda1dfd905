"""The board's ref across real processes: concurrent writers, and writers killed with -9
(their ``git`` children too)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shipdeck.lifecycle.store import BOARD_REF, BoardStore, encode_item, item_path
from tests.helpers import board_store, git
from tests.waiting import returns, wait_until

REPO = Path(__file__).resolve().parents[2]

ADDER = r"""
import sys, time
from pathlib import Path
from shipdeck.backends.git_board import open_board
root, name = Path(sys.argv[1]), sys.argv[2]
go = root / "go"
(root / f"ready-{name}").touch()
while not go.exists():
    time.sleep(0.001)
store = open_board(root)
print(" ".join(store.add(f"{name}-{k}").id for k in range(100)))
"""

WRITER = r"""
import sys
from pathlib import Path
from shipdeck.backends.git_board import open_board
store = open_board(Path(sys.argv[1]))
print("started", flush=True)
while True:
    with store.edit() as board:
        rev = int(board.items[0].version.rsplit(".", 1)[1]) + 1
        for item in board.items:
            item.version = f"0.0.{rev}"
        board.items[rev % len(board.items)].body = f"changed in revision {rev}\nsecond line\n"
    print(rev, flush=True)
"""


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kill reaches its git children
    )


def _head(root: Path) -> str:
    return git(root, "rev-parse", BOARD_REF)


@pytest.mark.slow
def test_two_processes_adding_at_once_lose_nothing(tmp_path: Path) -> None:
    board_store(tmp_path)  # the repository
    procs = {name: _spawn(ADDER, str(tmp_path), name) for name in ("a", "b")}

    def ready() -> bool:
        assert all(p.poll() is None for p in procs.values()), "an adder died early"
        return all((tmp_path / f"ready-{n}").exists() for n in procs)

    wait_until(ready, what="the adders to start", interval=0.005)
    (tmp_path / "go").touch()  # both start adding at the same moment
    reported: dict[str, list[str]] = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        reported[name] = out.split()

    store = board_store(tmp_path)
    board = store.load()
    ids = [item.id for item in board.items]
    assert ids == [f"SD-{n}" for n in range(1, 201)]
    assert board.next_id == 201
    assert sorted(reported["a"] + reported["b"], key=lambda i: int(i[3:])) == ids
    for name, got in reported.items():
        assert len(got) == 100
        titles = [board.get(i).title for i in got]
        assert titles == [f"{name}-{k}" for k in range(100)]  # each process's own order
    assert len({item.uid for item in board.items}) == 200
    # One commit per add, in a line (no change lost to a swap that raced), all sound.
    assert git(tmp_path, "rev-list", "--count", BOARD_REF) == "200"
    assert git(tmp_path, "rev-list", "--merges", BOARD_REF) == ""
    git(tmp_path, "fsck", "--no-dangling", "--no-progress")
    listing = git(tmp_path, "ls-tree", "-r", "--name-only", BOARD_REF).splitlines()
    assert sorted(listing) == sorted([item_path(i) for i in ids] + ["meta.json"])
    for item in board.items[::37]:
        shown = subprocess.run(
            ["git", "cat-file", "blob", f"{BOARD_REF}:{item_path(item.id)}"],
            cwd=tmp_path,
            capture_output=True,
            check=True,
        ).stdout
        assert shown == encode_item(item)  # canonical blobs


def _revision(store: BoardStore) -> int:
    board = board_store(store.paths.root).load()  # must load: a half-made commit would fail
    assert board == store.load()  # the cache agrees with a fresh read
    assert len(board.items) == 300
    versions = {item.version for item in board.items}
    assert len(versions) == 1, f"items from different writes: {sorted(map(str, versions))[:3]}"
    rev = int(next(iter(versions)).rsplit(".", 1)[1])
    if rev:
        changed = board.items[rev % 300].body
        assert changed == f"changed in revision {rev}\nsecond line\n"
    return rev


@pytest.mark.slow
def test_writer_killed_at_random_moments_never_leaves_a_partial_board(tmp_path: Path) -> None:
    store = board_store(tmp_path)
    with store.edit() as board:
        for n in range(300):
            item = board.add(f"item {n} with a title of some length", body="a body\n" * 5)
            item.version = "0.0.0"
            item.artifacts = {"image": f"sha256:{n:064x}"}
    store.load()  # a cache, which every kill leaves behind a newer head
    rng = random.Random(1234)
    rev, advanced, ref_locks = 0, 0, 0
    git_lock = store.refs.common / f"{BOARD_REF}.lock"
    for _ in range(30):
        before = _head(tmp_path)
        proc = _spawn(WRITER, str(tmp_path))
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
        time.sleep(rng.uniform(0.0, 1.0))  # an edit of 300 items takes ~0.3 s
        os.killpg(proc.pid, signal.SIGKILL)  # the writer and any git it was running
        out, _err = proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        printed = [int(x) for x in out.split()]
        last = printed[-1] if printed else rev
        now = _revision(store)
        # The last write that reported success, or the one in flight when killed.
        assert now in (last, last + 1), (rev, printed, now)
        if now == rev:
            assert _head(tmp_path) == before
        advanced += now > rev
        rev = now
        ref_locks += git_lock.exists()
    assert advanced >= 3, "the writer hardly ever got to write; the test proves little"
    # The next write works, whatever the last kill left behind (a lock it waited on for
    # good would hang it: the deadline on the call turns that into a failure).
    returns(lambda: store.update("SD-1", lambda it: setattr(it, "title", "after the storm")))
    assert not git_lock.exists()
    assert board_store(tmp_path).get("SD-1").title == "after the storm"
    assert _revision(store) == rev
    git(tmp_path, "fsck", "--no-dangling", "--no-progress")
    print(f"30 kills: {advanced} advanced the board, {ref_locks} left git's ref lock")
