"""Killed while indexing: the journal's index and the board's index are built by
whichever command first needs them (``shipdeck dora``, ``shipdeck item list``), on
a big project for seconds. A user's Ctrl-\\ or an OOM killer can end that command
at any moment. Whatever moment it was, the next command must answer exactly what
the journal and the board say: never a torn index, doubled rows or a stale answer.

Each test kills the real CLI at random moments (seeded; the seed is in the failure
message) while it builds or catches up, changes the project between kills, and then
compares what the index answers with what the files say read without it."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from shipdeck.backends.git_board import open_board
from shipdeck.lifecycle import dora
from shipdeck.lifecycle.items import Item, Kind
from shipdeck.lifecycle.journal import Journal, encode_event
from shipdeck.lifecycle.stages import Stage
from tests.helpers import git_repo, root_on_path
from tests.unit.test_history import T0, file_only, history

pytestmark = pytest.mark.slow  # seconds of indexing, killed and done again

CONFIG = "version: 1\nproject: bench\nbase_branch: main\nstages:\n  build: []\n  test: []\n"
ROUNDS = 8


def project(path: Path) -> Path:
    repo = git_repo(path)
    (repo / "shipdeck.yaml").write_text(CONFIG)
    return repo


def start(repo: Path, *args: str) -> subprocess.Popen[bytes]:
    env = root_on_path(os.environ)
    return subprocess.Popen(
        [sys.executable, "-m", "shipdeck", *args],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill_after(proc: subprocess.Popen[bytes], delay: float) -> bool:
    """SIGKILL ``proc`` after ``delay`` s; True if it was still running then."""
    try:
        proc.wait(delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True
    assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
    return False


def timed(repo: Path, *args: str) -> float:
    """How long ``args`` take here, on a copy of the state that is thrown away: the
    range the kills are drawn from."""
    t0 = time.monotonic()
    proc = start(repo, *args)
    assert not kill_after(proc, 120)
    return time.monotonic() - t0


def indexed(index: Path) -> tuple[int, int]:
    """Rows in the journal's index, and how many distinct lines they are."""
    with sqlite3.connect(index) as db:
        return tuple(db.execute("SELECT count(*), count(DISTINCT pos) FROM events").fetchone())


def test_killed_while_indexing_the_journal(tmp_path: Path) -> None:
    repo = project(tmp_path / "r")
    journal = Journal(repo)
    events = history(120_000, seed=3)
    journal.path.parent.mkdir(parents=True, exist_ok=True)
    journal.path.write_bytes(b"".join(encode_event(e) for e in events))
    index = journal.paths.state / "journal.sqlite"

    took = timed(repo, "dora", "--json")  # the first build, not killed: how long it takes
    index.unlink()
    for leftover in index.parent.glob("journal.sqlite-*"):
        leftover.unlink()
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    killed = 0
    more = history(ROUNDS * 20_000, seed=seed)
    for n in range(ROUNDS):
        if n % 2 == 0 and n:  # every other kill lands in a whole build, from nothing
            index.unlink(missing_ok=True)
        killed += kill_after(start(repo, "dora", "--json"), rnd.uniform(0.05, took * 0.95))
        # The next reader finds the index as the kill left it and catches up from there.
        assert Journal(repo).newest(1), f"seed {seed}, round {n}"
        assert indexed(index) == (len(events), len(events)), f"seed {seed}, round {n}"
        # 20,000 lines appended between kills (whole lines, as appenders write them):
        # the next command catches up for a while, and may be killed doing it.
        batch = [
            e.__class__(e.type, e.item, e.data, e.ts + timedelta(days=900))
            for e in more[n * 20_000 : (n + 1) * 20_000]
        ]
        with journal.path.open("ab") as f:
            f.write(b"".join(encode_event(e) for e in batch))
        events += batch

    assert killed >= ROUNDS // 2, f"seed {seed}: the commands ended before the kills"
    reader = Journal(repo)
    now = T0 + timedelta(days=2_000)
    plain = file_only(reader)
    assert dora.from_journal(reader, now).to_dict() == dora.compute(plain.read(), now).to_dict(), (
        f"seed {seed}"
    )
    assert reader.newest(50) == plain.newest(50), f"seed {seed}"
    assert reader.for_item("SD-3") == plain.for_item("SD-3"), f"seed {seed}"
    assert indexed(index) == (len(events), len(events)), f"seed {seed}: each line indexed once"


def test_killed_while_indexing_the_board(tmp_path: Path) -> None:
    repo = project(tmp_path / "r")
    count = 3_000
    store = open_board(repo)
    with store.edit() as board:
        board.items = [
            Item(f"SD-{n}", f"item {n}", kind=Kind.BUG if n % 3 else Kind.FEATURE)
            for n in range(1, count + 1)
        ]
        board.next_id = count + 1
    index = repo / ".shipdeck" / "state" / "board-index.sqlite3"
    cache = repo / ".shipdeck" / "state" / "board-cache.json"

    def forget() -> None:
        for path in (index, cache, *index.parent.glob("board-index.sqlite3-*")):
            path.unlink(missing_ok=True)

    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)

    def change(n: int) -> None:
        """Another process's moves and adds: the next command brings the index up
        to date from the paths changed."""
        writer = open_board(repo)
        for k in rnd.sample(range(1, count + 1), 5):
            writer.update(f"SD-{k}", lambda it: setattr(it, "stage", Stage.CODE))
        writer.add(f"added in round {n}")

    # How long a whole build and a catch-up take here: the ranges the kills are drawn
    # from. A catch-up is most of a build (start, read, print), but shorter: drawn
    # from the build's range, a third of the kills came after the command had ended.
    forget()
    took = timed(repo, "item", "list", "--json", "--limit", "0")
    change(-1)
    catch_up = timed(repo, "item", "list", "--json", "--limit", "0")
    forget()
    killed = 0
    for n in range(ROUNDS):
        if n % 2 == 0 and n:  # every other kill lands in a whole build, from nothing
            forget()
        limit = catch_up if n % 2 else took
        killed += kill_after(
            start(repo, "item", "list", "--json", "--limit", "0"), rnd.uniform(0.05, limit * 0.8)
        )
        change(n)  # the next command catches up, and may be killed doing it

    assert killed >= ROUNDS // 2, f"seed {seed}: the commands ended before the kills"
    env = root_on_path(os.environ)

    def listed() -> list[dict[str, object]]:
        out = subprocess.run(
            [sys.executable, "-m", "shipdeck", "item", "list", "--json", "--limit", "0"],
            cwd=repo, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return json.loads(out.stdout)  # type: ignore[no-any-return]

    after_kills = listed()
    forget()
    from_scratch = listed()
    assert after_kills == from_scratch, f"seed {seed}"
    assert len(after_kills) == count + ROUNDS + 1
    truth = {i.id: i.stage.value for i in open_board(repo).load().items}
    assert {row["id"]: row["stage"] for row in after_kills} == truth, f"seed {seed}"
