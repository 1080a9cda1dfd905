"""Engine events from worker threads reach the board in order, each once, and a burst
of them is one message (``ShipdeckApp._from_engine``): each post from a thread wakes
the event loop through a socket and lets go of the GIL, which the run's thread then
waits to take back from a UI thread in a frame."""

from __future__ import annotations

import threading

import pytest

from shipdeck.lifecycle.items import RunState
from shipdeck.lifecycle.ports import Line, Stream
from shipdeck.lifecycle.runs import EngineEvent, RunFinished, RunOutput, RunStarted
from shipdeck.lifecycle.stages import Stage
from shipdeck.project.repo import Project
from shipdeck.tui.app import EngineEventsPosted, ShipdeckApp
from tests.waiting import until

pytestmark = pytest.mark.slow  # Pilot on the demo repository

THREADS, EACH = 3, 400


async def test_events_from_threads_arrive_in_order_once_each_and_bursts_are_one_message(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = ShipdeckApp(demo_project)
    seen: list[RunOutput] = []
    messages: list[EngineEventsPosted] = []

    def hook(message: object) -> None:
        if isinstance(message, EngineEventsPosted):
            messages.append(message)

    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await until(pilot, app.board.selected_id)
        monkeypatch.setattr(app.follow, "output", seen.append)
        reloads: list[int] = []
        real_reload = app.reload_board
        monkeypatch.setattr(app, "reload_board", lambda: reloads.append(1) or real_reload())

        def emit(worker: int) -> None:
            for n in range(EACH):
                line = Line(Stream.STDOUT, f"{worker}:{n}")
                app._from_engine(RunOutput(f"run-{worker}", "SD-1", (line,)))

        threads = [threading.Thread(target=emit, args=(w,)) for w in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        await until(pilot, lambda: len(seen) == THREADS * EACH)
        for worker in range(THREADS):  # each thread's events in the order it sent them
            mine = [e.lines[0].text for e in seen if e.run_id == f"run-{worker}"]
            assert mine == [f"{worker}:{n}" for n in range(EACH)]
        assert len(messages) < THREADS * EACH  # bursts joined the message still waiting
        assert reloads == []  # output alone never reads the board

        # a stage that finishes and the next that starts, in one burst: one read
        finished = RunFinished("run-0", "SD-1", Stage.BUILD, RunState.PASSED, 0.1, "")
        log = demo_project.paths.run_log("run-1")
        started = RunStarted("run-1", "SD-1", Stage.TEST, log)
        burst: list[EngineEvent] = [finished, started]
        before = len(messages)
        for event in burst:  # both before the UI thread takes the first
            app._from_engine(event)
        await until(pilot, lambda: len(messages) > before and app._engine_waiting is None)
        await pilot.pause()
        assert len(messages) == before + 1 and messages[-1].events == burst
        assert reloads == [1]
