"""The board file across real processes: concurrent writers, and writers killed with -9."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lifecycle.board import dump_board
from lifecycle.store import BoardStore

REPO = Path(__file__).resolve().parents[2]

ADDER = r"""
import sys, time
from pathlib import Path
from lifecycle.store import BoardStore
root, name = Path(sys.argv[1]), sys.argv[2]
go = root / "go"
(root / f"ready-{name}").touch()
while not go.exists():
    time.sleep(0.001)
store = BoardStore(root)
print(" ".join(store.add(f"{name}-{k}").id for k in range(100)))
"""

WRITER = r"""
import sys
from pathlib import Path
from lifecycle.store import BoardStore
store = BoardStore(Path(sys.argv[1]))
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
    )


@pytest.mark.slow
def test_two_processes_adding_at_once_lose_nothing(tmp_path: Path) -> None:
    procs = {name: _spawn(ADDER, str(tmp_path), name) for name in ("a", "b")}
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"ready-{n}").exists() for n in procs):
        assert time.monotonic() < deadline, "the adders never started"
        assert all(p.poll() is None for p in procs.values()), "an adder died early"
        time.sleep(0.005)
    (tmp_path / "go").touch()  # both start adding at the same moment
    reported: dict[str, list[str]] = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        reported[name] = out.split()

    board = BoardStore(tmp_path).load()
    ids = [item.id for item in board.items]
    assert ids == [f"SD-{n}" for n in range(1, 201)]
    assert board.next_id == 201
    assert sorted(reported["a"] + reported["b"], key=lambda i: int(i[3:])) == ids
    for name, got in reported.items():
        assert len(got) == 100
        titles = [board.get(i).title for i in got]
        assert titles == [f"{name}-{k}" for k in range(100)]  # each process's own order
    text = BoardStore(tmp_path).path.read_text(encoding="utf-8")
    assert dump_board(board) == text  # a valid, canonical file


def _revision(store: BoardStore) -> int:
    board = store.load()  # must parse: a half-written file would fail here
    assert len(board.items) == 300
    versions = {item.version for item in board.items}
    assert len(versions) == 1, f"items from different writes: {sorted(map(str, versions))[:3]}"
    rev = int(next(iter(versions)).rsplit(".", 1)[1])
    if rev:
        changed = board.items[rev % 300].body
        assert changed == f"changed in revision {rev}\nsecond line\n"
    assert store.path.read_text(encoding="utf-8") == dump_board(board)
    return rev


@pytest.mark.slow
def test_writer_killed_at_random_moments_never_leaves_a_partial_board(tmp_path: Path) -> None:
    store = BoardStore(tmp_path)
    with store.edit() as board:
        for n in range(300):
            item = board.add(f"item {n} with a title of some length", body="a body\n" * 5)
            item.version = "0.0.0"
            item.artifacts = {"image": f"sha256:{n:064x}"}
    rng = random.Random(1234)
    started = time.monotonic()
    rev, advanced, leftovers = 0, 0, 0
    for _ in range(30):
        before = store.path.read_bytes()
        proc = _spawn(WRITER, str(tmp_path))
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        out, _err = proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        printed = [int(x) for x in out.split()]
        last = printed[-1] if printed else rev
        now = _revision(store)
        # The last write that reported success, or the one in flight when killed.
        assert now in (last, last + 1), (rev, printed, now)
        if now == rev:
            assert store.path.read_bytes() == before
        advanced += now > rev
        rev = now
        leftovers += bool(list(store.path.parent.glob("*.tmp")))
    assert advanced >= 3, "the writer hardly ever got to write; the test proves little"
    assert time.monotonic() - started < 60
    store.update("SD-1", lambda it: setattr(it, "title", "after the storm"))
    assert not list(store.path.parent.glob("*.tmp"))  # leftovers cleaned by the next write
    assert _revision(store) == rev
    print(f"30 kills: {advanced} advanced the board, {leftovers} left a temp file")
