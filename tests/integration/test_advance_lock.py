"""An advance runs its stages under one hold of the item's lock.

A process forked by any thread shares the parent's open descriptors until it execs,
and an ``flock`` belongs to the shared description: a lock released between two
stages stayed with such a child for as long as it took to exec, and the next stage
was refused as "already running in another shipdeck". On a loaded machine the board
stopped half of its Plan -> Deploy runs that way (its reloads start git processes
from worker threads while the engine runs the stages).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipdeck.lifecycle import filelock
from shipdeck.lifecycle.engine import ITEM_LOCK_GRACE
from shipdeck.lifecycle.items import RunState
from shipdeck.lifecycle.ports import CancelToken
from shipdeck.lifecycle.runs import EngineEvent, RunFinished
from shipdeck.lifecycle.stages import Stage
from shipdeck.project.repo import Project
from shipdeck.project.wiring import build_engine


@pytest.fixture()
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    from shipdeck.cli.demo import create

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return create(tmp_path / "demo")


@pytest.fixture()
def children() -> Iterator[list[int]]:
    """Pids forked by a test, reaped at its end whatever happened."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        os.waitpid(pid, 0)


def _fork_holding(seconds: float) -> int:
    """A child that keeps every descriptor of this process for ``seconds``, as one
    forked by another thread does until it execs (here: slowly, to be sure)."""
    pid = os.fork()
    if pid == 0:  # the child: no Python cleanup, no shared state touched
        time.sleep(seconds)
        os._exit(0)
    return pid


def test_a_child_holding_the_build_lock_does_not_stop_the_advance(
    demo: Project, children: list[int]
) -> None:
    engine = build_engine(demo)

    def fork_when_built(event: EngineEvent) -> None:
        if isinstance(event, RunFinished) and event.stage is Stage.BUILD:
            children.append(_fork_holding(2 * ITEM_LOCK_GRACE))  # beyond the grace

    engine.subscribe(fork_when_built)
    outcome = engine.advance("SD-1", to=Stage.RELEASE, cancel=CancelToken())
    assert children, "Build never finished"
    assert outcome.ok, outcome.message
    item = demo.store.get("SD-1")
    assert (item.stage, item.current.state) == (Stage.RELEASE, RunState.PASSED)


def test_a_lock_a_child_keeps_a_moment_is_waited_for(tmp_path: Path, children: list[int]) -> None:
    path = tmp_path / "locks" / "SD-1.lock"
    fd = filelock.try_lock(path)
    assert fd is not None
    children.append(_fork_holding(0.3))
    os.close(fd)  # released here, still held by the child's copy of the descriptor
    assert filelock.try_lock(path) is None  # without a grace: refused
    t0 = time.monotonic()
    again = filelock.try_lock(path, grace=5.0)
    assert again is not None  # taken once the child let go
    os.close(again)
    assert time.monotonic() - t0 < 5.0


def test_a_lock_held_beyond_the_grace_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "SD-1.lock"
    fd = filelock.try_lock(path)
    assert fd is not None
    try:
        t0 = time.monotonic()
        assert filelock.try_lock(path, grace=0.2) is None
        assert time.monotonic() - t0 >= 0.2
    finally:
        os.close(fd)
