"""A command that starts indexing a big journal says so on a terminal (the first
``dora`` on a million events takes seconds, once), and says nothing when its stderr
is a file or a pipe, nor once the index is current."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import initialised_repo, root_on_path, shipdeck

pytestmark = pytest.mark.slow  # the shipdeck command, a 17 MB journal indexed twice

NOTE = b"shipdeck: indexing the journal ("


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    initialised_repo(tmp_path)
    journal = tmp_path / ".shipdeck" / "journal.jsonl"
    with journal.open("a") as f:
        for n in range(170_000):  # ~17 MB: past history.ANNOUNCE_OVER (16 MB)
            event = {"ts": "2026-12-01T10:00:00Z", "type": "item.created", "item": f"SD-{n}"}
            f.write(json.dumps({**event, "title": "x" * 40, "kind": "feature"}) + "\n")
    assert journal.stat().st_size > 16 << 20
    return tmp_path


def dora_on_a_terminal(repo: Path) -> tuple[str, bytes]:
    """``dora --json`` with stderr on a terminal and stdout a pipe: (stdout, stderr)."""
    main, side = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "shipdeck", "dora", "--json"],
            cwd=repo,
            env=root_on_path(os.environ),
            stdout=subprocess.PIPE,
            stderr=side,
            timeout=240,
            check=True,
        )
        os.close(side)
        said = bytearray()
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: nothing more
                break
            if not chunk:
                break
            said += chunk
    finally:
        os.close(main)
    return done.stdout.decode(), bytes(said)


def report(out: str) -> dict[str, object]:
    """The JSON on stdout, without the window's ends (the time it ran)."""
    got = json.loads(out)
    assert isinstance(got, dict) and "until" in got
    return {k: v for k, v in got.items() if k not in ("since", "until")}


def test_a_long_indexing_is_announced_on_a_terminal_only(repo: Path) -> None:
    out, said = dora_on_a_terminal(repo)
    assert said.count(NOTE) == 1, said
    assert b"once: later commands read the index" in said
    again_out, again = dora_on_a_terminal(repo)  # the index is current: nothing to say
    assert NOTE not in again and report(again_out) == report(out)
    (repo / ".shipdeck" / "state" / "journal.sqlite").unlink()
    piped = shipdeck("dora", "--json", cwd=repo)  # stderr a pipe: a script's, left alone
    assert piped.returncode == 0 and piped.stderr == ""
    assert report(piped.stdout) == report(out)
