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


@pytest.mark.parametrize("close", ["enter", "escape"])
async def test_keys_right_behind_enter_or_escape_go_to_the_board_not_the_prompt(
    demo_project: Project, close: str
) -> None:
    """Found in tmux: ``/sd``, Enter and ``j`` sent at once put "sdj" in the prompt (the
    board screen moved focus only when its Kept message came, after the j)."""
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("h")  # Plan: SD-2, SD-3, SD-4, the cursor on the first
        await pilot.pause()
        column = app.board.board_columns.current
        first = app.board.selected_id()
        assert first == column.item_ids[0] and len(column.item_ids) == 3
        burst(app, "/sd")
        app.post_message(events.Key(close, "\r" if close == "enter" else "\x1b"))
        burst(app, "j")
        await until(pilot, lambda: app.board.selected_id() != first, what="j on the board")
        await pilot.pause()  # Kept or Cleared, handled after the j
        prompt = app.board.query_one("#board-filter-input", Input)
        assert prompt.value == "sd"  # not "sdj"
        assert app.board.board_columns.has_focus
        assert app.board.selected_id() == column.item_ids[1]
        assert (app.board.card_filter is not None) is (close == "enter")


@pytest.mark.parametrize("close", ["enter", "escape"])
async def test_keys_right_behind_the_log_prompts_enter_go_to_the_log_view(
    demo_project: Project, close: str
) -> None:
    """The log pane's ``/`` prompt, the same way: "/err", Enter and n typed fast searched
    for "errn"; now n goes to the view (the next match)."""
    from shipdeck.widgets.log.view import LogView

    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("L")  # the log pane, focused
        await pilot.pause()
        burst(app, "/err")
        app.post_message(events.Key(close, "\r" if close == "enter" else "\x1b"))
        burst(app, "nN")  # the next match and the previous one, not letters of the pattern
        await until(pilot, lambda: isinstance(app.focused, LogView), what="the view focused")
        await pilot.pause()
        prompt = app.board.query_one("#log-prompt", Input)
        assert prompt.value == "err"  # not "errnN"
        view = app.board.query_one(LogView)
        assert view.status.search == ("err" if close == "enter" else "")
        assert app.is_running


def post_keys(app: ShipdeckApp, *keys: str) -> None:
    """Keys posted at once by name: one character is itself, longer names (``ctrl+u``,
    ``backspace``, ``enter``) are keys with no character of their own."""
    controls = {"enter": "\r", "escape": "\x1b", "backspace": "\x7f", "ctrl+u": "\x15"}
    for key in keys:
        app.post_message(events.Key(key, controls.get(key, key)))


# What reaches an open prompt in one read: a paste without bracketed paste, a typist
# ahead of a slow link (ssh batches keys), a script driving tmux. Found in tmux: ``&``,
# then ``ctrl+u``, "byte" and Enter sent at once, kept the filter that was there, and
# "/", then a pattern and Enter at once, searched the old pattern: Enter, a priority
# binding, read the prompt before the prompt had taken the keys typed before it.
EDITS = [
    (["b", "y", "t", "e"], "NEEDLEbyte"),
    (["ctrl+u", "b", "y", "t", "e"], "byte"),
    (["backspace", "backspace", "x"], "NEEDx"),
    (["ctrl+u", "e", "r", "r", "backspace", "o", "r"], "eror"),
]


@pytest.mark.parametrize(("keys", "expected"), EDITS)
async def test_keys_typed_into_an_open_log_prompt_right_before_enter_are_in_what_it_keeps(
    demo_project: Project, keys: list[str], expected: str
) -> None:
    from shipdeck.widgets.log.view import LogView

    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("L")
        await pilot.pause()
        await pilot.press("ampersand", *"NEEDLE")  # the prompt open, a pattern in it
        await pilot.pause()
        post_keys(app, *keys, "enter", "f")  # f, behind Enter: the view's follow key
        view = app.board.query_one(LogView)
        await until(pilot, lambda: isinstance(app.focused, LogView), what="the view focused")
        await pilot.pause()
        assert view.status.filter == expected
        assert app.board.query_one("#log-prompt", Input).value == expected  # no "f" in it


@pytest.mark.parametrize(("keys", "expected"), EDITS)
async def test_keys_typed_into_the_open_board_filter_right_before_enter_are_in_what_it_keeps(
    demo_project: Project, keys: list[str], expected: str
) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"NEEDLE")
        await pilot.pause()
        applied: list[str] = []
        apply_filter = app.board.apply_filter
        app.board.apply_filter = lambda query: (applied.append(query), apply_filter(query))[1]
        post_keys(app, *keys, "enter", "j")
        await until(pilot, lambda: app.board.board_columns.has_focus, what="the board focused")
        await pilot.pause()
        assert applied[-1] == expected  # what Enter kept
        assert app.board.query_one("#board-filter-input", Input).value == expected  # no "j"
        assert app.board.card_filter is not None
