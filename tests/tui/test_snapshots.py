"""SVG snapshots of each screen, on a board with fixed content (tests/tui/static_board.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp
from tests.tui.static_board import build
from tests.waiting import until

pytestmark = pytest.mark.slow  # SVG snapshots of the whole app, a second each

SIZE = (120, 40)


def keys(*presses: str, settle: float = 0.3):  # type: ignore[no-untyped-def]
    """Press keys, then let timers (the log pane's debounced reload) fire before the shot."""

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press(*presses)
        await pilot.pause(settle)
        await pilot.pause()

    return run


@pytest.fixture()
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ShipdeckApp:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return ShipdeckApp(Project(build(tmp_path / "hello")))


def test_board(app: ShipdeckApp, snap_compare) -> None:  # type: ignore[no-untyped-def]
    # The cursor on the failed card in Test: its run log (with ANSI colours and a
    # neutralised escape sequence) fills the log pane.
    assert snap_compare(app, run_before=keys("l", "l", "l"), terminal_size=SIZE)


def test_board_80x24(app: ShipdeckApp, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, run_before=keys(), terminal_size=(80, 24))


def test_item_details(app: ShipdeckApp, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def commits_loaded(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("l", "l", "l")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: getattr(app.screen, "commits_loaded", False))
        await pilot.pause()

    assert snap_compare(app, run_before=commits_loaded, terminal_size=SIZE)


def test_help(app: ShipdeckApp, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, run_before=keys("question_mark"), terminal_size=SIZE)


def test_new_item_form(app: ShipdeckApp, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def typed(pilot) -> None:  # type: ignore[no-untyped-def]
        # The title's cursor blinks every 0.5 s: on a loaded machine the shot came after
        # a blink and missed the cursor (CI failed on that). Blinking off, each key
        # press shows the cursor and nothing hides it again.
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.focused, Input) and app.focused.id == "title")
        app.focused.cursor_blink = False
        await keys(*"Export to CSV")(pilot)

    assert snap_compare(app, run_before=typed, terminal_size=SIZE)


def test_events(app: ShipdeckApp, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, run_before=keys("v"), terminal_size=SIZE)


def test_log_search(app: ShipdeckApp, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(
        app, run_before=keys("l", "l", "l", "L", "slash", *"fail", "enter"), terminal_size=SIZE
    )
