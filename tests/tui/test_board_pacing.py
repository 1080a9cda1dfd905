"""While a run paints and nobody types, the board paints at most ``RUN_FPS`` frames a
second (``tui/pacing.py``); a key's frame is painted at once. On the real app: a
card left running on the board (as a run in another shipdeck leaves it), output
streaming into the log pane, a key pressed in the middle."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from shipdeck.lifecycle.items import RunState, StageState
from shipdeck.lifecycle.ports import Line, Stream
from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.pacing import RUN_FRAME_S, SLACK_S
from shipdeck.widgets.log.pane import LogPane
from tests.waiting import until

pytestmark = pytest.mark.slow  # Pilot on the demo repository


async def test_a_running_card_paces_the_boards_frames_and_a_key_is_painted_at_once(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=(120, 40)) as pilot:
        board = app.board
        first = await until(pilot, board.selected_id)
        await until(pilot, lambda: app._facts_on)  # start's recovery done: it ends stale runs
        assert not board.pacer.running
        with demo_project.store.edit() as stored:
            item = stored.get(first)
            item.states[item.stage] = StageState(RunState.RUNNING, datetime.now(UTC))
        app.reload_board()
        assert board.pacer.running  # the app tells the pacer as it reads the board

        paints: list[float] = []
        decisions: list[tuple[str, bool]] = []
        refresh, due, touched = board._compositor_refresh, board.pacer.due, board.pacer.touched

        def painted() -> None:
            paints.append(time.monotonic())
            refresh()

        def decided() -> bool:
            yes = due()
            decisions.append(("tick", yes))
            return yes

        def typed() -> None:
            decisions.append(("key", True))
            touched()

        monkeypatch.setattr(board, "_compositor_refresh", painted)
        monkeypatch.setattr(board.pacer, "due", decided)
        monkeypatch.setattr(board.pacer, "touched", typed)

        view = board.query_one(LogPane).log_view
        start = time.monotonic()
        for n in range(100):  # a batch of output every 5 ms, for half a second or more
            view.write_lines([Line(Stream.STDOUT, f"building {n}")])
            await asyncio.sleep(0.005)
        elapsed = time.monotonic() - start
        # Unpaced, Textual paints up to 60 frames a second of this (~30 here).
        assert 3 <= len(paints) <= elapsed / (RUN_FRAME_S - SLACK_S) + 2, (len(paints), elapsed)
        assert any(not yes for _, yes in decisions)  # frames were held

        decisions.clear()
        await pilot.press("right")  # the cursor moves while the run paints
        await until(pilot, lambda: any(kind == "tick" for kind, _ in decisions))
        key = next(n for n, (kind, _) in enumerate(decisions) if kind == "key")
        first_tick = next(yes for kind, yes in decisions[key:] if kind == "tick")
        assert first_tick  # the key's frame was not held
        assert board.selected_id() != first

        with demo_project.store.edit() as stored:
            item = stored.get(first)
            item.states[item.stage] = StageState(RunState.PASSED, datetime.now(UTC))
        app.reload_board()
        assert not board.pacer.running  # nothing runs: every frame at once again
