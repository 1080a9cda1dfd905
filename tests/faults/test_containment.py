"""Nothing a step starts outlives the step, not even a process that left its group.

Two escape artists, run for real under LocalProcessRunner: a double-forked setsid()
daemon, and a Python child that moves to a group of its own with setpgid() and forks.
Both record their pids, keep the step's stdout open, and carry a tag in their
environment (so a recycled pid is not mistaken for them). After the step completes,
is cancelled, times out, or after the process running it (shipdeck) is SIGKILLed,
none of them may be left alive (zombies count as gone; they would sleep for 300 s).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from shipdeck.backends.local.runner import LocalProcessRunner
from shipdeck.lifecycle.ports import CancelToken
from tests.integration.test_process import (
    BASE_ENV,
    KILLED_SCRIPT,
    PY,
    ROOT,
    run,
    tree_of_guard,
    wait_all_gone,
)
from tests.waiting import TimedOut, returns, wait_until

pytestmark = [
    pytest.mark.slow,  # real escapees, killed with the steps and processes that started them
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="the guard is a child subreaper on Linux only"
    ),
]

TAG = "SHIPDECK_CONTAINMENT_TAG"
RUNS = "echo ready; sleep 300"  # what the step does once its escapees are recorded
ENDS = "echo done"

# ( ... & ) forks a subshell that forks again and exits at once; setsid leaves the
# session and group. The daemon records its own pid and its sleep's; the step waits
# for that file rather than for a fixed 0.2 s.
DAEMON = "( setsid sh -c '{ignore}sleep 300 & echo $$ $! > {d}/tmp; mv {d}/tmp {d}/pids; wait' & )"
SETPGID = """
import os, signal, sys, time
if sys.argv[2] == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.setpgid(0, 0)
child = os.fork()
if child == 0:
    time.sleep(300)
    os._exit(0)
with open(sys.argv[1] + "/tmp", "w") as f:
    f.write(f"{os.getpid()} {child}")
os.rename(sys.argv[1] + "/tmp", sys.argv[1] + "/pids")
time.sleep(300)
"""
KINDS = ["daemon", "setpgid"]


def step(kind: str, d: Path, then: str, *, ignore_term: bool = False) -> str:
    """A step that starts ``kind``, waits until it recorded its pids, then runs ``then``."""
    if kind == "daemon":
        start = DAEMON.format(d=d, ignore='trap "" TERM; ' if ignore_term else "")
    else:
        start = f"{PY} -c '{SETPGID}' {d} {int(ignore_term)} &"
    return f"{start}\nuntil [ -e {d}/pids ]; do sleep 0.01; done; {then}"


def recorded(d: Path) -> list[int]:
    pids = [int(pid) for pid in (d / "pids").read_text().split()]
    assert len(pids) == 2
    return pids


def tagged(pid: int, tag: str) -> psutil.Process | None:
    """The live process ``pid`` if it is one of this test's (not a zombie, not recycled)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() != psutil.STATUS_ZOMBIE and proc.environ().get(TAG) == tag:
            return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    return None


def survivors(pids: list[int], tag: str) -> list[psutil.Process]:
    procs = [proc for pid in pids if (proc := tagged(pid, tag))]
    return wait_all_gone(procs)


def all_tagged(tag: str) -> list[psutil.Process]:
    return [proc for p in psutil.process_iter() if (proc := tagged(p.pid, tag))]


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def env(tag: str) -> dict[str, str]:
    return dict(BASE_ENV, **{TAG: tag})


def once_recorded(d: Path, action: Callable[[], None]) -> threading.Thread:
    """Run ``action`` on a thread as soon as the step has recorded its pids."""

    def wait_then_act() -> None:
        with contextlib.suppress(TimedOut):  # then the test fails on what it finds
            wait_until((d / "pids").exists, what="the step to record its pids")
        action()

    thread = threading.Thread(target=wait_then_act, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("kind", KINDS)
def test_escapees_die_when_the_step_completes(
    kind: str, tmp_path: Path, env: dict[str, str], tag: str
) -> None:
    # They hold stdout open for 300 s: the step must end when its shell does, not then.
    result, sink = returns(lambda: run(step(kind, tmp_path, ENDS), env=env), what="the step")
    assert result.ok and sink.texts() == ["done"]
    assert survivors(recorded(tmp_path), tag) == []


@pytest.mark.parametrize("ignore_term", [False, True], ids=["sigterm", "sigkill-after-grace"])
@pytest.mark.parametrize("kind", KINDS)
def test_escapees_die_on_cancel(
    kind: str, ignore_term: bool, tmp_path: Path, env: dict[str, str], tag: str
) -> None:
    token = CancelToken()
    thread = once_recorded(tmp_path, token.cancel)
    result = returns(  # the step runs for 300 s unless the cancel ends it
        lambda: LocalProcessRunner(grace=0.5).run(
            step(kind, tmp_path, RUNS, ignore_term=ignore_term),
            cwd=str(ROOT),
            env=env,
            sink=lambda lines: None,
            cancel=token,
        ),
        what="the cancelled step",
    )
    thread.join()
    assert result.cancelled
    assert survivors(recorded(tmp_path), tag) == []


@pytest.mark.parametrize("kind", KINDS)
def test_escapees_die_on_timeout(kind: str, tmp_path: Path, env: dict[str, str], tag: str) -> None:
    result = LocalProcessRunner(grace=0.5).run(
        step(kind, tmp_path, RUNS, ignore_term=True),
        cwd=str(ROOT),
        env=env,
        sink=lambda lines: None,
        cancel=CancelToken(),
        timeout=2.0,
    )
    assert result.timed_out and not result.ok
    assert survivors(recorded(tmp_path), tag) == []


@pytest.mark.parametrize("ignore_term", [False, True], ids=["sigterm", "sigkill-after-grace"])
@pytest.mark.parametrize("kind", KINDS)
def test_escapees_die_when_shipdeck_is_killed(
    kind: str, ignore_term: bool, tmp_path: Path, env: dict[str, str], tag: str
) -> None:
    command = step(kind, tmp_path, RUNS, ignore_term=ignore_term)
    script = tmp_path / "fake_shipdeck.py"
    script.write_text(
        textwrap.dedent(KILLED_SCRIPT).format(root=str(ROOT), grace=1.0, command=command)
    )
    shipdeck = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert shipdeck.stdout is not None
        assert shipdeck.stdout.readline().strip() == "ready"
        pids = recorded(tmp_path)
        assert all(tagged(pid, tag) for pid in pids)
        shipdeck.kill()
        shipdeck.wait()
        assert survivors(pids, tag) == []
    finally:
        shipdeck.kill()
        shipdeck.wait()


def test_orphans_are_reparented_to_the_guard(tmp_path: Path, env: dict[str, str]) -> None:
    """The mechanism: the guard is a child subreaper, so the daemon's parent is the guard."""
    token = CancelToken()
    parents: list[int] = []
    guards: list[int] = []

    def look_then_cancel() -> None:
        guards.append(tree_of_guard(psutil.Process())[0].pid)
        daemon = psutil.Process(recorded(tmp_path)[0])
        with contextlib.suppress(TimedOut):  # until the intermediate subshell has exited
            wait_until(lambda: daemon.ppid() == guards[0], what="the daemon's reparenting")
        parents.append(daemon.ppid())
        token.cancel()

    thread = once_recorded(tmp_path, look_then_cancel)
    result, _ = run(step("daemon", tmp_path, RUNS), env=env, cancel=token)
    thread.join()
    assert result.cancelled
    assert parents == guards


def test_a_daemon_that_keeps_forking_is_taken_down(
    tmp_path: Path, env: dict[str, str], tag: str
) -> None:
    """Killing goes round after round until a scan finds nothing left."""
    forker = f"( setsid sh -c 'while :; do sleep 300 & sleep 0.005; done' & ); sleep 0.5; {ENDS}"
    result, sink = run(forker, env=env)
    assert result.ok and sink.texts() == ["done"]
    assert wait_all_gone(all_tagged(tag)) == []
