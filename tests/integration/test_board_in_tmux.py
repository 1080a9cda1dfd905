"""The real board in a real terminal (tmux): keys alone take the demo's item from Code to
a healthy deploy, with `git add -A && git commit` between steps as people do, and
nothing of shipdeck's ever reaches git status."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import ROOT, git, shipdeck

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

    def wait_for(self, check: Callable[[str], bool], timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            assert time.monotonic() < deadline, f"timed out; the screen:\n{screen}"
            time.sleep(0.3)


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
    command = f"cd {repo} && PYTHONPATH={ROOT} {sys.executable} -m tui.cli; sleep 30"
    tmux("-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40", "-s", "t", command)
    try:
        tmux.wait_for(lambda s: "SD-1" in s and "Plan" in s)
        tmux("send-keys", "-t", "t", "l")  # to SD-1 in Code
        time.sleep(0.5)
        tmux("send-keys", "-t", "t", "a")  # Build, Test, Release and the auto deploy
        tmux.wait_for(lambda s: "started on staging" in s, timeout=120)
        _clean(repo)
        screen = tmux.screen()
        assert "Deploy 1" in screen
        tmux("send-keys", "-t", "t", "q")
        tmux.wait_for(lambda s: "Plan" not in s, timeout=20)
    finally:
        tmux("kill-server")
        shipdeck("stop", "staging", cwd=repo)
    item = shipdeck("item", "show", "SD-1", "--json", cwd=repo).stdout
    assert '"version": "0.1.0"' in item
    assert "v0.1.0" in git(repo, "tag").split()
    _clean(repo)
