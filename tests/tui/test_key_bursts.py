"""Keys that arrive together, as a fast typist or a paste sends them in a real
terminal (Pilot waits after each key, so these are posted at once instead).

Found in tmux: ``/`` then ``zq7needle`` typed fast zoomed the board and quit it
(the letters reached the board before the prompt existed), and a key right
behind ``q`` opened a form in the closing app, which crashed (exit 70).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual import events
from textual.widgets import Input

from shipdeck.lifecycle.items import RunState
from shipdeck.lifecycle.stages import Stage
from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.dialogs import ConfirmScreen, EnvPickerScreen
from tests.tui.conftest import reconfigure
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


CONTROLS = {"enter": "\r", "escape": "\x1b", "backspace": "\x7f", "ctrl+u": "\x15"}
CONTROLS |= {"delete": "\x1b[3~", "left": None, "right": None, "home": None, "end": None}


def post_keys(app: ShipdeckApp, *keys: str) -> None:
    """Keys posted at once by name: one character is itself (``space`` is " "), longer
    names (``ctrl+u``, ``backspace``, ``left``, ``enter``) are keys that type nothing."""
    for key in keys:
        if key == "space":
            app.post_message(events.Key("space", " "))
        else:
            app.post_message(events.Key(key, CONTROLS.get(key, key)))


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


# --- any edit, typed at once into an open prompt ---------------------------------------


def edited(text: str, keys: list[str]) -> str:
    """What a line editor holds after ``keys``, the cursor starting at the end of ``text``
    (the model the prompts must match: Textual's Input bindings for these keys)."""
    cursor = len(text)
    for key in keys:
        if key == "backspace":
            text, cursor = text[: max(cursor - 1, 0)] + text[cursor:], max(cursor - 1, 0)
        elif key == "delete":
            text = text[:cursor] + text[cursor + 1 :]
        elif key == "ctrl+u":
            text, cursor = text[cursor:], 0
        elif key in ("left", "right", "home", "end"):
            moves = {"left": cursor - 1, "right": cursor + 1, "home": 0, "end": len(text)}
            cursor = min(max(moves[key], 0), len(text))
        else:
            char = " " if key == "space" else key
            text, cursor = text[:cursor] + char + text[cursor:], cursor + 1
    return text


EDIT_KEYS = st.lists(
    st.sampled_from([*"abcxyz019", "space", "backspace", "delete", "ctrl+u"])
    | st.sampled_from(["left", "right", "home", "end"]),
    max_size=14,
)
PROMPTS = st.sampled_from(["board /", "log /", "log &"])


async def burst_into_prompt(root: Path, prompt: str, start: str, keys: list[str]) -> None:
    from shipdeck.widgets.log.view import LogView

    app = ShipdeckApp(Project(root))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        on_board = prompt == "board /"
        if not on_board:
            await pilot.press("L")
            await pilot.pause()
        await pilot.press("slash" if prompt.endswith("/") else "ampersand", *start)
        await pilot.pause()
        applied: list[str] = []
        if on_board:
            apply_filter = app.board.apply_filter
            app.board.apply_filter = lambda q: (applied.append(q), apply_filter(q))[1]
        # Enter, then a key of the widget the focus goes back to: it must not be typed.
        post_keys(app, *keys, "enter", "j" if on_board else "f")
        expected = edited(start, keys)
        if on_board:
            gone = expected.strip() == ""  # Enter on a blank query clears the filter
            await until(pilot, lambda: app.board.board_columns.has_focus, what="the board")
            await pilot.pause()
            assert app.board.query_one("#board-filter-input", Input).value == expected
            assert (app.board.card_filter is None) is gone
            if not gone:
                assert applied and applied[-1] == expected
        else:
            view = app.board.query_one(LogView)
            await until(pilot, lambda: isinstance(app.focused, LogView), what="the log view")
            await pilot.pause()
            assert app.board.query_one("#log-prompt", Input).value == expected
            kept = view.status.search if prompt == "log /" else view.status.filter
            assert kept == expected


@pytest.mark.timeout(600)
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,  # the same cases each CI run: a failure reproduces
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(prompt=PROMPTS, start=st.text("abcSD-12", max_size=6), keys=EDIT_KEYS)
def test_any_edit_typed_at_once_into_an_open_prompt_is_what_enter_keeps(
    static_root: Path, prompt: str, start: str, keys: list[str]
) -> None:
    """Generated: a prompt (the board's ``/``, the log's ``/`` or ``&``) holding a
    pattern, then any run of letters, spaces, deletions and cursor moves, Enter and a
    key for what gets the focus back, all in one read. What the prompt holds and what
    its Enter kept is what a line editor would hold; the key behind Enter is not in it."""
    asyncio.run(burst_into_prompt(static_root, prompt, start, keys))


# --- keys typed behind a key whose dialog comes after some reading -------------------


async def test_enter_typed_right_behind_d_does_not_open_the_details_under_its_dialog(
    demo_project: Project,
) -> None:
    """Found in tmux: ``d`` and Enter sent at once opened the card's details screen (the
    Enter went to the board while the deploy read its facts in a thread), and the
    deploy's dialog came up over it. Nothing is released on the demo: the deploy says
    so and asks nothing; the Enter behind it is dropped, not taken by the board."""
    from shipdeck.tui.details import ItemDetailsScreen

    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        post_keys(app, "d", "enter")
        await until(
            pilot,
            lambda: any("no release to deploy" in n.message for n in app._notifications),
            what="the deploy's answer",
        )
        await pilot.pause(0.3)
        assert not any(isinstance(s, ItemDetailsScreen) for s in app.screen_stack)
        await pilot.press("enter")  # typed after the flow ended: the board's again
        await until(pilot, lambda: isinstance(app.screen, ItemDetailsScreen), what="details")


async def test_keys_typed_before_a_flows_dialog_shows_are_not_its_answer(
    demo_project: Project,
) -> None:
    """The palette's Archive, then Enter and j at once: the dialog asks (Enter would
    have pressed its focused "Archive" button, or opened the details under it) and
    the card stays until a key typed with the dialog up answers."""
    from shipdeck.tui.details import ItemDetailsScreen
    from shipdeck.tui.dialogs import ConfirmScreen

    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("h")  # Plan: SD-2 selected
        await pilot.pause()
        selected = app.board.selected_id()
        app.board.item_ops.archive()
        post_keys(app, "enter", "j")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the dialog")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ConfirmScreen)  # not answered by the Enter
        assert not any(isinstance(s, ItemDetailsScreen) for s in app.screen_stack)
        assert selected in app.items and app.board.selected_id() == selected  # no j either
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="closed")
        assert selected in app.items


async def test_a_key_typed_before_an_approval_was_asked_never_answers_it(
    demo_project: Project,
) -> None:
    """``a`` on a card whose deploy needs approval plans in a thread, then
    asks on the UI thread, its "Approve" button focused. An Enter typed behind the
    ``a`` and read once the question was up approved a deploy nobody had read (a burst
    from a slow ssh link, a paste, a busy UI thread reading its input late). A key is
    made when the terminal's input is read: one made before the question is dropped;
    one made after it answers."""
    project = reconfigure(demo_project, "    auto: true\n", "    auto: true\n    approval: true\n")
    app = ShipdeckApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")  # SD-1, in Code: Build, Test, Release, then the deploy
        assert app.board.selected_id() == "SD-1"
        typed_ahead = [events.Key("enter", "\r"), events.Key("y", "y")]  # read now...
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        for key in typed_ahead:  # ...handled only once the question is up
            app.post_message(key)
        await pilot.pause(0.3)
        assert isinstance(app.screen, ConfirmScreen), "a key typed before it answered it"
        assert app.engine.target_for("staging").status().version is None
        await pilot.press("enter")  # typed with the question on screen: Approve
        await until(pilot, lambda: app.items["SD-1"].stage is Stage.DEPLOY, what="deployed")
        await until(pilot, lambda: app.items["SD-1"].current.state is RunState.PASSED)
        assert app.engine.target_for("staging").status().version == "0.1.0"


async def test_enter_typed_right_behind_a_does_not_open_the_details_under_its_approval(
    demo_project: Project,
) -> None:
    """``a`` and Enter sent at once on a card whose deploy needs approval: the Enter
    reached the board while the advance planned in a thread, opened the card's
    details, and the question came up over them. Now what is typed behind ``a`` waits
    for its plan: a question drops it (typed before it was asked)."""
    from shipdeck.tui.details import ItemDetailsScreen

    project = reconfigure(demo_project, "    auto: true\n", "    auto: true\n    approval: true\n")
    app = ShipdeckApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")  # SD-1, in Code: its advance ends in the approved deploy
        assert app.board.selected_id() == "SD-1"
        post_keys(app, "a", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ConfirmScreen), "the Enter typed behind a answered"
        assert not any(isinstance(s, ItemDetailsScreen) for s in app.screen_stack)
        await pilot.press("escape")  # no: the stages before the deploy run, up to Release
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="closed")
        await until(pilot, lambda: app.items["SD-1"].stage is Stage.RELEASE, what="released")
        await until(pilot, lambda: app.items["SD-1"].current.state is RunState.PASSED)
        await pilot.press("enter")  # typed with nothing asking: the board's, the details
        await until(pilot, lambda: isinstance(app.screen, ItemDetailsScreen), what="details")


async def test_keys_typed_behind_an_advance_that_asks_nothing_act_after_it_planned(
    demo_project: Project,
) -> None:
    """What waits behind ``a`` is not lost when its plan asks nothing: ``/`` and a
    word typed with it open the board's filter and type the word into it."""
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")  # Plan: SD-2, whose advance makes its branch and asks nothing
        await pilot.pause()
        item = app.board.selected_id()
        assert item is not None and app.items[item].stage is Stage.PLAN
        burst(app, "a/hola")
        await until(pilot, lambda: app.items[item].stage is Stage.CODE, what="in Code")
        await until(pilot, lambda: isinstance(app.focused, Input), what="the filter's prompt")
        await until(pilot, lambda: app.focused.value == "hola", what="the word typed")


async def test_a_key_typed_before_the_environment_picker_showed_picks_nothing(
    demo_project: Project,
) -> None:
    app = ShipdeckApp(demo_project)
    picked: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        early = events.Key("enter", "\r")
        app.push_screen(EnvPickerScreen("Deploy to", [("staging", "local")]), picked.append)
        await pilot.pause()
        app.post_message(early)
        await pilot.pause(0.2)
        assert isinstance(app.screen, EnvPickerScreen) and picked == []
        await pilot.press("enter")
        await until(pilot, lambda: picked == ["staging"], what="picked")
