"""An item titled with terminal escapes and a bidi override: everywhere the title goes
(the tag, CHANGELOG.md, the CLI, the board in a real terminal) it is harmless text."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, board_store, git, shipdeck
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

HOSTILE = (
    "pwn \x1b]52;c;cHduZWQ=\x07 \x1b]8;;http://evil.example/\x07link\x1b]8;;\x07"
    " \x1b[2J\x1b[H \x1b]0;owned title\x07 \u202egnp.exe \x9b31m"
)
RAW = ("\x1b", "\x07", "\u202e", "\x9b")

CONFIG = "version: 1\nproject: escapes\nbase_branch: main\n"


def _raw_in(text: str) -> list[str]:
    return [repr(c) for c in RAW if c in text]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "svc"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "shipdeck.yaml").write_text(CONFIG)
    (root / "app.txt").write_text("one\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    refused = shipdeck("item", "add", HOSTILE, cwd=root)  # a title is one line of text
    assert refused.returncode == 2 and "control character" in refused.stderr
    assert not _raw_in(refused.stdout + refused.stderr)
    # Written below the CLI, as an older shipdeck, another tool or a synced board can:
    # everywhere it is shown, it is still harmless text.
    item_id = board_store(root).add(HOSTILE).id
    assert shipdeck("advance", item_id, "--to", "code", cwd=root).returncode == 0
    (root / "app.txt").write_text("two\n")
    git(root, "commit", "-qam", "work")
    released = shipdeck("advance", item_id, "--to", "release", cwd=root)
    assert released.returncode == 0, released.stderr
    assert not _raw_in(released.stdout + released.stderr)
    return root


def test_tag_changelog_and_cli_show_the_title_as_text(repo: Path) -> None:
    tag = git(repo, "tag").split()[0]
    assert not _raw_in(git(repo, "show", tag))
    changelog = git(repo, "show", "main:CHANGELOG.md")
    assert "gnp.exe" in changelog and not _raw_in(changelog)
    for args in (("item", "list"), ("item", "show", "SD-1"), ("status",)):
        done = shipdeck(*args, cwd=repo)
        assert done.returncode == 0
        assert not _raw_in(done.stdout + done.stderr), args
    shown = shipdeck("item", "show", "SD-1", "--json", cwd=repo)
    assert not _raw_in(shown.stdout)
    assert json.loads(shown.stdout)["title"] == HOSTILE  # the data itself is kept exactly


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_board_in_tmux_leaves_clipboard_and_title_alone(repo: Path, tmp_path: Path) -> None:
    socket = str(tmp_path / "tmux.sock")
    tmux = ["tmux", "-S", socket]
    shell = f"cd {repo} && PYTHONPATH={ROOT} {sys.executable} -m shipdeck; sleep 60"
    subprocess.run([*tmux, "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40",
                    "-s", "t", shell], check=True)  # fmt: skip
    try:
        subprocess.run([*tmux, "set", "-g", "set-clipboard", "on"], check=True)
        subprocess.run([*tmux, "set", "-g", "allow-rename", "on"], check=True)
        screens = [""]

        def board_shown() -> bool:
            screens.append(
                subprocess.run(
                    [*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True
                ).stdout
            )
            return "SD-1" in screens[-1]

        wait_until(board_shown, what=lambda: f"the board; the screen:\n{screens[-1]}", interval=0.3)
        subprocess.run([*tmux, "send-keys", "-t", "t", "Enter"], check=True)  # details
        time.sleep(1.5)
        details = subprocess.run(
            [*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True
        ).stdout
        assert "pwn" in details
        buffers = subprocess.run([*tmux, "list-buffers"], capture_output=True, text=True).stdout
        assert buffers.strip() == "", f"something reached the clipboard: {buffers!r}"
        title = subprocess.run(
            [*tmux, "display", "-p", "-t", "t", "#{pane_title}"], capture_output=True, text=True
        ).stdout
        assert "owned" not in title
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
