"""The real board in a real terminal (tmux): keys alone take the demo's item from Code to
a healthy deploy, with `git add -A && git commit` between steps as people do, and
nothing of shipdeck's ever reaches git status."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import ROOT, git, shipdeck
from tests.waiting import DEADLINE, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Tmux:
    def __init__(self, socket: Path) -> None:
        self.base = ["tmux", "-S", str(socket)]

    def __call__(self, *args: str) -> str:
        done = subprocess.run([*self.base, *args], capture_output=True, text=True)
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "t")

    def screen_when(self, check: Callable[[str], bool], timeout: float = DEADLINE) -> str:
        """The screen, once ``check`` holds for it."""
        screens = [""]

        def shown() -> bool:
            screens.append(self.screen())
            return check(screens[-1])

        wait_until(
            shown, timeout, what=lambda: f"the screen; it shows:\n{screens[-1]}", interval=0.3
        )
        return screens[-1]


def _clean(repo: Path) -> None:
    git(repo, "add", "-A")
    staged = git(repo, "diff", "--cached", "--name-only")
    assert ".shipdeck" not in staged
    if staged:
        git(repo, "commit", "-qm", "a step")
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "ls-files", ".shipdeck") == ""


def test_code_to_deploy_from_the_board_in_tmux(tmp_path: Path) -> None:
    assert shipdeck("demo", "demo", "--no-open", "--no-docker", cwd=tmp_path).returncode == 0
    repo = tmp_path / "demo"
    _clean(repo)
    tmux = Tmux(tmp_path / "tmux.sock")
    command = f"cd {repo} && PYTHONPATH={ROOT} {sys.executable} -m shipdeck; sleep 30"
    tmux("-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40", "-s", "t", command)
    try:
        tmux.screen_when(lambda s: "SD-1" in s and "Plan" in s)
        tmux("send-keys", "-t", "t", "l")  # to SD-1 in Code
        time.sleep(0.5)
        tmux("send-keys", "-t", "t", "a")  # Build, Test, Release and the auto deploy
        tmux.screen_when(lambda s: "started on staging" in s, timeout=120)
        _clean(repo)
        screen = tmux.screen()
        assert "Deploy 1" in screen
        tmux("send-keys", "-t", "t", "q")
        tmux.screen_when(lambda s: "Plan" not in s)
    finally:
        tmux("kill-server")
        shipdeck("stop", "staging", cwd=repo)
    item = shipdeck("item", "show", "SD-1", "--json", cwd=repo).stdout
    assert '"version": "0.1.0"' in item
    assert "v0.1.0" in git(repo, "tag").split()
    _clean(repo)


def _all_past_plan(tmp_path: Path) -> Path:
    """The demo with every item moved out of Plan: the normal state of a real project
    after its first releases, where the board once crashed at start."""
    assert shipdeck("demo", "demo", "--no-open", "--no-docker", cwd=tmp_path).returncode == 0
    repo = tmp_path / "demo"
    listed = shipdeck("item", "list", "--json", cwd=repo).stdout
    import json

    for item in json.loads(listed):
        if item["stage"] == "plan":
            args = ("item", "move", item["id"], "code", "--force", "--reason", "t")
            moved = shipdeck(*args, cwd=repo)
            assert moved.returncode == 0, moved.stderr
    return repo


GREYS_256 = {0, 7, 8, 15, 16, 59, 102, 145, 188, 231, *range(232, 256)}  # the cube's too


def _hues(screen: str) -> set[str]:
    """The colours on screen that are not greys (256-colour or truecolor SGR codes)."""
    import re

    found = set()
    for n in re.findall(r"[34]8;5;(\d+)", screen):
        if int(n) not in GREYS_256:
            found.add(n)
    for r, g, b in re.findall(r"[34]8;2;(\d+);(\d+);(\d+)", screen):
        if not r == g == b:
            found.add(f"{r},{g},{b}")
    return found


def test_a_board_with_nothing_in_plan_opens_resizes_and_draws_without_colour(
    tmp_path: Path,
) -> None:
    """Issue #11's tmux check: opens at 120x40; slid right and resized to 80x24 and
    250x60 it keeps drawing; NO_COLOR=1 draws it in monochrome."""
    repo = _all_past_plan(tmp_path)
    for no_color in (False, True):
        tmux = Tmux(tmp_path / f"tmux-{no_color}.sock")  # a server of its own each time
        env = "NO_COLOR=1 " if no_color else ""
        # COLUMNS/LINES (pytest exports them) would pin the app's size against resizes
        run = f"env -u COLUMNS -u LINES {env}PYTHONPATH={ROOT} {sys.executable} -m shipdeck"
        command = f"cd {repo} && {run}; sleep 30"
        tmux("-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40", "-s", "t", command)
        try:
            tmux.screen_when(lambda s: "Plan 0" in s and "Monitor" in s)
            for _ in range(12):  # slid right, to Monitor (extra presses stay there)
                tmux("send-keys", "-t", "t", "l")
                time.sleep(0.3)
            for cols, rows in ((80, 24), (250, 60), (120, 40)):
                tmux("resize-window", "-t", "t", "-x", str(cols), "-y", str(rows))
                # the window of columns slides to keep the cursor's (Monitor's) in view
                screen = tmux.screen_when(lambda s: "╭─ Monitor" in s and "Quit" in s)
                assert "Traceback" not in screen
                assert len(screen.splitlines()[0]) <= cols
            hues = _hues(tmux("capture-pane", "-p", "-e", "-t", "t"))
            assert bool(hues) is not no_color, f"NO_COLOR draws in greys only: {hues}"
            tmux("send-keys", "-t", "t", "q")
            tmux.screen_when(lambda s: "Monitor" not in s)
        finally:
            tmux("kill-server")


def _busiest_thread_wakeups(pid: int, seconds: float) -> float:
    """The most times a second any thread of ``pid`` was scheduled, over ``seconds``."""

    def counts() -> dict[str, int]:
        found = {}
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, IndexError, ValueError):  # a thread that ended
                found[task.name] = int((task / "schedstat").read_text().split()[2])
        return found

    before = counts()
    time.sleep(seconds)
    after = counts()
    return max((after[t] - before[t] for t in after if t in before), default=0) / seconds


@pytest.mark.skipif(not Path("/proc/self/schedstat").exists(), reason="no /proc schedstat")
def test_the_idle_board_polls_nothing_and_escape_alone_still_acts(tmp_path: Path) -> None:
    """Textual's input thread wakes ten times a second to look for a lone Escape and
    its exit flag; shipdeck's driver (tui/driver.py) sleeps until a key. Measured
    against Textual's own driver in the same run, so the check tells them apart; and
    the things that timeout was for still work: Escape alone closes the help, q quits."""
    assert shipdeck("demo", "demo", "--no-open", "--no-docker", cwd=tmp_path).returncode == 0
    repo = tmp_path / "demo"
    import psutil

    rates = {}
    for driver in ("", "TEXTUAL_DRIVER=textual.drivers.linux_driver:LinuxDriver "):
        tmux = Tmux(tmp_path / f"tmux-{len(driver)}.sock")
        run = f"env -u COLUMNS -u LINES {driver}PYTHONPATH={ROOT} {sys.executable} -m shipdeck"
        command = f"cd {repo} && {run}; sleep 30"
        tmux("-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40", "-s", "t", command)
        try:
            tmux.screen_when(lambda s: "SD-1" in s and "Plan" in s)
            shell = psutil.Process(int(tmux("display", "-p", "-t", "t", "#{pane_pid}")))
            (board,) = [p for p in shell.children() if "shipdeck" in " ".join(p.cmdline())]
            time.sleep(1.0)  # past the first paint's work
            rates[driver or "shipdeck"] = _busiest_thread_wakeups(board.pid, 3.0)
            tmux("send-keys", "-t", "t", "?")
            tmux.screen_when(lambda s: "escape or ? closes" in s)
            tmux("send-keys", "-t", "t", "Escape")  # alone: only the parser's timeout ends it
            tmux.screen_when(lambda s: "SD-1" in s and "? closes" not in s, timeout=5)
            tmux("send-keys", "-t", "t", "q")
            board.wait(timeout=10)  # the input thread, asleep, is woken to exit
        finally:
            tmux("kill-server")
    ours = rates.pop("shipdeck")
    assert rates and min(rates.values()) >= 8, f"Textual's driver polls: {rates}"
    assert ours < 5, f"a thread of the idle board wakes {ours:.1f} times a second"
