"""Keys that arrive together, as a fast typist or a paste sends them in a real
terminal (Pilot waits after each key, so these are posted at once instead).

Found in tmux: ``/`` then ``zq7needle`` typed fast zoomed the board and quit it
(the letters reached the board before the prompt existed), and a key right
behind ``q`` opened a form in the closing app, which crashed (exit 70).
"""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets import Input

from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp
from tests.waiting import until

pytestmark = pytest.mark.slow  # Pilot on the demo repository

SIZE = (120, 40)


def burst(app: ShipdeckApp, keys: str) -> None:
    names = {"/": "slash", "&": "ampersand"}
    for key in keys:
        app.post_message(events.Key(names.get(key, key), key))


async def test_what_is_typed_right_after_slash_goes_into_the_search(
    demo_project: Project,
) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("L")  # the log pane, focused
        await pilot.pause()
        burst(app, "/zq7needle")
        await until(
            pilot,
            lambda: isinstance(app.focused, Input) and app.focused.value == "zq7needle",
            what="the whole pattern in the prompt",
        )
        assert not app.board.has_class("-zoomed")  # z did not reach the board
        assert app.is_running and app.return_code is None  # nor did q


async def test_a_key_right_behind_q_does_not_crash_the_closing_app(
    demo_project: Project,
) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("L")
        await pilot.pause()
        burst(app, "qne")  # e would open the edit form
        await pilot.pause(0.5)
    assert app.return_code == 0
    assert not list(demo_project.paths.root.glob("crash-*.log"))
