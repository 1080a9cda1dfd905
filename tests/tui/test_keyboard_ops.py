"""Operating by keyboard (issue #11 item 3): the palette has every board action, ``:``
opens it in command mode, confirmations name versions, what a target cannot do is not
offered, the footer keeps help and quit, help lists every key.

Run on the demo repository with the real engine; the rollback test deploys two real
releases to the local target.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.command import CommandPalette
from textual.widgets import Label
from textual.widgets._footer import FooterKey

from shipdeck.lifecycle.stages import Stage
from shipdeck.project.repo import Project
from shipdeck.project.wiring import build_engine
from shipdeck.tui.app import ShipdeckApp, project_label
from shipdeck.tui.details import ItemDetailsScreen
from shipdeck.tui.dialogs import ConfirmScreen, HelpScreen
from shipdeck.tui.env_ops import can_scale
from shipdeck.tui.item_form import ItemFormScreen
from shipdeck.tui.palette import BoardCommands, Command
from shipdeck.widgets.board.columns import RULER
from shipdeck.widgets.footer import QuietFooter
from shipdeck.widgets.pane_tabs import TitleBar
from tests.helpers import initialised_repo
from tests.tui.conftest import commit
from tests.waiting import Notices, until

pytestmark = pytest.mark.slow  # Pilot on the demo repository with the real engine; real deploys

SIZE = (120, 40)


def every_command(app: ShipdeckApp) -> list[Command]:
    """What the palette can run: the board's, the selected card's and each
    environment's commands, then every other card's (what a search narrows)."""
    provider = BoardCommands(app.screen)
    selected = app.selected_item()
    out = provider._fixed(selected)
    for item in app.items.values():
        if selected is None or item.id != selected.id:
            out += provider._item(item)
    return out


def command_names(app: ShipdeckApp) -> list[str]:
    return [name for name, _run, _help in every_command(app)]


async def searched(app: ShipdeckApp, query: str) -> list[str]:
    return [str(hit.text) async for hit in BoardCommands(app.screen).search(query)]


def footer_keys(app: ShipdeckApp) -> list[tuple[str, int]]:
    """(description, right edge) of each key the board's footer shows."""
    footer = app.board.query_one(QuietFooter)
    return [(k.description, k.region.right) for k in footer.query(FooterKey)]


def deploy_two_releases(project: Project) -> None:
    """0.1.0 (SD-1) then 0.2.0 (SD-2) deployed to staging, as ``a`` would."""
    engine = build_engine(project)
    assert engine.advance("SD-1", to=Stage.DEPLOY, env="staging", approve=True).ok
    assert engine.advance("SD-2", to=Stage.CODE).ok
    (project.root / "NOTES.md").write_text("notes\n")
    commit(project.root, "add", "NOTES.md")
    commit(project.root, "commit", "-q", "-m", "SD-2: notes")
    assert engine.advance("SD-2", to=Stage.DEPLOY, env="staging", approve=True).ok


# --- the palette -------------------------------------------------------------------------


async def test_palette_has_every_board_action(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        names = command_names(app)
        for env_command in ("Restart", "Stop", "Roll back", "Deploy to"):
            assert f"{env_command} staging" in names
        assert "Follow staging logs" in names
        for verb in ("Advance", "Back", "Archive", "Re-run", "Edit"):
            assert f"{verb} SD-1" in names
        assert "Details of SD-1" in names
        assert any(n.startswith("Go to SD-1 ") for n in names)
        for board_command in ("New item", "Zoom panes", "Screenshot", "Show environments"):
            assert board_command in names
        assert not any(n.startswith("Scale") for n in names)  # local: one process
        assert not any(n.startswith("Cancel") for n in names)  # nothing runs


# Queries from the letters of the commands' words and the cards' titles, and a few
# letters that change length when lowered (the matcher lowers both sides).
QUERY_LETTERS = sorted(
    set(
        "go to cancel advance back re-run edit details of archive sd-0123456789"
        " deploy staging restart stop roll new item zoom panes show logs keys screenshot"
        " héllo wörld 発表 zap"
    )
    | {"İ", "ß", "\u0301"}
)


@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.text(st.sampled_from(QUERY_LETTERS), min_size=1, max_size=7), min_size=60))
def test_a_search_finds_what_the_matcher_finds_in_every_command(
    demo_project: Project, queries: list[str]
) -> None:
    """The palette matches a card's commands only where the card's words hold the
    query's letters in order (cheap, for 20,000 cards); that must never hide a command
    Textual's fuzzy matcher would match, nor list the selected card twice."""
    for title in ("Héllo wörld zap", "発表の準備 zap", "İstanbul straße"):
        if not any(i.title == title for i in demo_project.store.load().active()):
            demo_project.store.add(title)

    async def run() -> None:
        app = ShipdeckApp(demo_project)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            matcher = BoardCommands(app.screen).matcher
            names = command_names(app)
            assert len(names) == len(set(names))  # the selected card's commands once
            for query in queries:
                wanted = sorted(n for n in names if matcher(query).match(n) > 0)
                assert sorted(await searched(app, query)) == wanted, query

    asyncio.run(run())


async def test_a_search_lists_the_selected_card_once(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        selected = app.selected_item()
        assert selected is not None
        found = await searched(app, selected.id)
        assert sum(n.startswith(f"Go to {selected.id} ") for n in found) == 1
        assert found.count(f"Advance {selected.id}") == 1


async def test_colon_opens_the_palette_in_command_mode(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        assert app.screen._supplied_providers == [BoardCommands]  # no theme, no system commands
        await pilot.press(*"Go to SD-4", "enter")
        await pilot.pause(0.3)
        assert app.board.selected_id() == "SD-4"


async def test_screenshot_is_saved_under_shipdeck_and_named(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await pilot.press("colon", *"Screenshot", "enter")
        await until(pilot, notices.said("Saved to"))
        shots = list((demo_project.paths.dir / "screenshots").glob("*.svg"))
        assert len(shots) == 1
        assert "shipdeck" in shots[0].read_text()
        said = next(n for n in notices.messages() if "Saved to" in n)
        assert said == f"Saved to .shipdeck/screenshots/{shots[0].name}"
        assert "Screenshot" not in [c.title for c in app.get_system_commands(app.screen)]


# --- confirmations name what will happen ---------------------------------------------------


async def test_rollback_confirmation_names_both_versions(demo_project: Project) -> None:
    deploy_two_releases(demo_project)
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon", *"Restart staging", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "Restart staging? 0.2.0 stops and starts again."
        await pilot.press("n")
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "Roll staging back from 0.2.0 to 0.1.0?"
        await pilot.press("y")
        await until(pilot, lambda: app.engine.target_for("staging").status().version == "0.1.0")
        await pilot.press("R")  # and forward again: the history is the journal's
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "Roll staging back from 0.1.0 to 0.2.0?"
        await pilot.press("n")


async def test_rollback_with_nothing_to_roll_back_to_says_so(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await pilot.press("R")
        await until(pilot, notices.said("nothing to roll back"))
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("d")  # and no release to deploy: said, not asked
        await until(pilot, notices.said("no release to deploy"))
        assert not isinstance(app.screen, ConfirmScreen)


# --- what the target cannot do -------------------------------------------------------------


async def test_scale_is_not_offered_on_the_local_target(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        assert not can_scale(app.project.config, "staging")
        await pilot.press("o")
        await until(pilot, lambda: app.board.query_one("#env-pane").selected_env == "staging")
        await pilot.pause(0.2)
        shown = [d for d, _ in footer_keys(app)]
        assert "restart" in shown
        assert not any("scale" in d for d in shown)
        await pilot.press("plus")
        await until(pilot, notices.said("scaling needs target: swarm"))
        assert not isinstance(app.screen, ConfirmScreen)


# --- footer, help, title, details ----------------------------------------------------------


async def test_footer_keeps_help_and_quit_at_80_columns(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        keys = footer_keys(app)
        shown = [d for d, _ in keys]
        assert {"Help", "Quit", "Commands"} <= set(shown)
        assert "Advance" in shown
        assert all(right <= 80 for _, right in keys)  # every key whole on the screen
        assert shown.index("New") < 3  # what an empty board needs first (below)
        assert dimmed_keys(app) == ["Cancel"]  # shown, dimmed: nothing runs
        await pilot.resize_terminal(200, 40)
        await pilot.pause(0.3)
        assert len(footer_keys(app)) > len(keys)


def dimmed_keys(app: ShipdeckApp) -> list[str]:
    return [k.description for k in app.board.query(FooterKey) if k.has_class("-disabled")]


async def test_an_empty_board_says_how_to_begin_and_dims_a_cards_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in tmux on a project just made by ``shipdeck init``, at 80x24: nothing on
    the board said how to add the first item (``n`` was beyond the footer's 80 columns)
    and the footer offered Advance, Re-run... with no card to act on. Now Plan says
    ``n new item`` while it is empty, ``n`` comes second in the footer, and a card's
    keys are dimmed wherever the cursor has no card (and do nothing there)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    (tmp_path / "repo").mkdir()
    root = initialised_repo(tmp_path / "repo")
    app = ShipdeckApp(Project(root))
    card_keys = ["Advance", "Back", "Re-run", "Edit"]
    notices = Notices()
    async with app.run_test(size=(80, 24), message_hook=notices) as pilot:
        await pilot.pause(0.2)
        columns = app.board.board_columns

        def plan_line() -> str:
            return columns.render_line(RULER + 1).text[:16]

        assert "n new item" in plan_line()
        assert "New" in [d for d, _ in footer_keys(app)]
        await pilot.resize_terminal(200, 40)  # every key in the footer
        await pilot.pause(0.3)
        assert set(card_keys) <= set(dimmed_keys(app))
        await pilot.press("a", "b", "r")  # nothing to act on: no run, no move, no error
        await pilot.pause(0.2)
        await pilot.press("d")  # init found no service: says how to get an environment
        await until(pilot, notices.said("add one under environments: to deploy"))
        assert not [w for w in app.workers if w.group == "runs"]
        assert app.project.store.load().items == []
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ItemFormScreen))
        await pilot.press(*"First", "ctrl+s")
        await until(pilot, lambda: app.board.selected_id() == "SD-1", what="SD-1 selected")
        await until(pilot, lambda: not set(card_keys) & set(dimmed_keys(app)), what="lit")
        assert "new item" not in plan_line() and "SD-1" in plan_line()
        await pilot.press("l")  # Code, empty: the cursor has no card there
        await until(pilot, lambda: set(card_keys) <= set(dimmed_keys(app)), what="dimmed")
        await pilot.press("a")
        await pilot.pause(0.2)
        assert app.project.store.get("SD-1").stage is Stage.PLAN
        await pilot.press("h", "a")  # back on SD-1: a works
        await until(pilot, lambda: app.project.store.get("SD-1").stage is Stage.CODE)


async def test_help_lists_every_key_with_navigation(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        rows = {keys: what for _, section in app.screen.rows() for keys, what in section}
        assert rows["↓, j"] == "Down" and rows["↑, k"] == "Up"
        assert rows["←, h"] == "Column left" and rows["→, l"] == "Column right"
        for key in ("?", "q", ":", "^p", "a", "d", "R", "z", "+", "-", "u", "S", "y", "n, esc"):
            assert key in rows, key


def test_title_names_the_directory_only_when_it_differs(tmp_path: Path) -> None:
    from tests.tui.static_board import build

    assert project_label(Project(build(tmp_path / "hello"))) == "hello"
    assert project_label(Project(build(tmp_path / "elsewhere"))) == "hello (in elsewhere/)"


async def test_title_bar_and_details_title_read_well(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.tui.static_board import build

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    app = ShipdeckApp(Project(build(tmp_path / "hello")))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert str(app.board.query_one(TitleBar).render()).strip() == "shipdeck · hello"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ItemDetailsScreen))
        title = str(app.screen.query_one("#details-title", Label).render())
        assert title.startswith("SD-1  Dark mode")
