"""The open board redraws when the board ref moves under it: a sync, or another shipdeck."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp
from tests.helpers import board_store, git, shipdeck
from tests.waiting import until

pytestmark = pytest.mark.slow  # real clones and shipdeck sync under an open board


async def test_the_board_shows_items_a_sync_brought_in(
    demo_project: Project, tmp_path: Path
) -> None:
    root = demo_project.root
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    assert shipdeck("sync", cwd=root).returncode == 0
    teammate = tmp_path / "teammate"
    subprocess.run(["git", "clone", "-q", str(remote), str(teammate)], check=True)
    assert shipdeck("sync", cwd=teammate).returncode == 0
    new_id = board_store(teammate).add("Added by a teammate").id
    assert shipdeck("sync", cwd=teammate).returncode == 0

    app = ShipdeckApp(demo_project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert new_id not in app.items
        synced = shipdeck("sync", cwd=root)  # as a person would, in another terminal
        assert synced.returncode == 0, synced.stderr
        await until(pilot, lambda: new_id in app.items, what="the board to follow the ref")
        assert app.items[new_id].title == "Added by a teammate"
        # ...and a change made by another shipdeck on this machine, the same way.
        demo_project.store.update("SD-2", lambda it: setattr(it, "title", "Renamed elsewhere"))
        await until(
            pilot,
            lambda: app.items["SD-2"].title == "Renamed elsewhere",
            what="the board to follow the ref",
        )
