"""Every key of docs/architecture.md section 6, pressed in the real app on a real demo repository.

Each test asserts the key's effect on the world (the board's ref, git, the
journal, the processes), not only on the screen.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import psutil
import pytest
from textual.command import CommandPalette
from textual.widgets import ContentSwitcher, Input, Label, TextArea

from shipdeck.lifecycle import verbs
from shipdeck.lifecycle.items import RunState
from shipdeck.lifecycle.stages import Stage
from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.details import ItemDetailsScreen
from shipdeck.tui.dialogs import ConfirmScreen, EnvPickerScreen, HelpScreen
from shipdeck.tui.item_form import ItemFormScreen
from shipdeck.widgets.ops.metrics import MetricsPane
from shipdeck.widgets.pane_tabs import PaneTabs
from tests.helpers import free_port
from tests.tui.conftest import commit, reconfigure
from tests.waiting import Notices, until

pytestmark = (
    pytest.mark.slow
)  # Pilot on the demo repository with the real engine: runs, deploys, processes

SIZE = (120, 40)


def stage_of(project: Project, item_id: str) -> tuple[Stage, RunState]:
    item = project.store.load().get(item_id)
    return item.stage, item.current.state


async def test_start_selects_first_card_of_leftmost_column(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.board.selected_id() == "SD-2"  # Plan is leftmost; SD-1 sits in Code
        await pilot.press("l")
        assert app.board.selected_id() == "SD-1"
        await pilot.press("h", "j")
        assert app.board.selected_id() == "SD-3"
        await pilot.press("k", "right")
        assert app.board.selected_id() == "SD-1"


async def test_n_adds_an_item_and_selects_it(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, ItemFormScreen)
        await pilot.press("ctrl+s")  # empty title: refused, form stays
        assert isinstance(app.screen, ItemFormScreen)
        await pilot.press(*"Add dark mode")
        await pilot.press("ctrl+s")
        # The form saves in a worker (the engine is built on first use, to journal it).
        await until(pilot, lambda: not isinstance(app.screen, ItemFormScreen), what="the save")
        board = demo_project.store.load()
        assert board.get("SD-5").title == "Add dark mode"
        await until(pilot, lambda: app.board.selected_id() == "SD-5", what="the selection")


async def test_e_edits_the_selected_item(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        assert isinstance(app.screen, ItemFormScreen)
        await pilot.press("end", *" now", "ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, ItemFormScreen), what="the save")
        assert demo_project.store.load().get("SD-2").title.endswith(" now")


def form_fields(form: ItemFormScreen) -> tuple[str, str, str]:
    heading = str(form.query_one("#heading", Label).render())
    return heading, form.query_one("#title", Input).value, form.query_one("#body", TextArea).text


async def test_the_forms_buttons_are_whole_on_screen_at_any_usual_terminal_size(
    demo_project: Project,
) -> None:
    """Seen in tmux at 80x24: the body's 8 rows pushed Save and Cancel off the dialog.
    Every height from 23 rows up, at 80, 120 and 250 columns, resized while the form is
    shown and while it is hidden: both buttons are whole inside the dialog's content,
    and the body keeps at least 3 rows (8 where there is room)."""
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=(80, 24)) as pilot:

        def check(size: tuple[int, int]) -> None:
            form = app.screen
            assert isinstance(form, ItemFormScreen), size
            inside = form.query_one(".form-dialog").content_region
            for button in ("#save", "#cancel"):
                region = form.query_one(button).region
                assert inside.contains_region(region), (size, button, region, inside)
            body = form.query_one("#body", TextArea).region.height
            assert body >= 3 and (body == 8 or size[1] < 29), (size, body)

        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ItemFormScreen))
        for width in (80, 120, 250):
            for height in range(23, 46):
                await pilot.resize_terminal(width, height)
                await pilot.pause()
                check((width, height))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ItemFormScreen))
        await pilot.resize_terminal(80, 24)  # while hidden: shown again, it fits
        await pilot.pause()
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ItemFormScreen))
        await pilot.pause()
        check((80, 24))


async def test_the_form_is_kept_and_shown_afresh_each_time(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One form, filled anew for each new or edited item. Closing it leaves the board's
    layout alone (a removed screen cost a layout and two full repaints, ~12 ms, as the
    item's first stage started); a save still running when its showing was cancelled
    does not close the next showing."""
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", *"Dark mode")
        form = app.screen
        assert isinstance(form, ItemFormScreen)
        form.query_one("#body", TextArea).focus()
        await pilot.press(*"Users asked.", "escape")
        await until(pilot, lambda: app.screen is app.board, what="the cancel")
        assert form.is_attached  # hidden, not removed

        await pilot.press("n")
        assert app.screen is form
        assert form_fields(form) == ("New item", "", "")  # nothing of the cancelled draft
        assert form.focused is form.query_one("#title", Input)
        layouts: list[bool] = []
        board_refresh = app.board.refresh

        def refresh(*regions: object, **kwargs: bool) -> object:
            layouts.append(bool(kwargs.get("layout")))
            return board_refresh(*regions, **kwargs)

        monkeypatch.setattr(app.board, "refresh", refresh)
        await pilot.press(*"Dark mode", "ctrl+s")
        await until(pilot, lambda: app.board.selected_id() == "SD-5", what="the new card")
        await pilot.pause()
        assert layouts and not any(layouts)  # repainted, never laid out again

        await pilot.press("e")
        assert app.screen is form
        assert form_fields(form) == ("Edit SD-5", "Dark mode", "")
        await pilot.press("end", *" now", "ctrl+s")
        await until(pilot, lambda: app.screen is app.board, what="the edit")
        assert demo_project.store.load().get("SD-5").title == "Dark mode now"

        # A save held up (the board lock) and cancelled; the form is opened again.
        release = threading.Event()
        add = verbs.add

        def slow_add(*args: object, **kwargs: object) -> object:
            release.wait(10)
            return add(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(verbs, "add", slow_add)
        await pilot.press("n", *"Late one", "ctrl+s", "escape")
        await until(pilot, lambda: app.screen is app.board, what="the cancel")
        await pilot.press("n", *"Next")
        release.set()
        await until(
            pilot,
            lambda: "SD-6" in {i.id for i in demo_project.store.load().items},
            what="the late save",
        )
        await pilot.pause(0.2)
        assert app.screen is form  # the late save closed nothing
        assert form_fields(form) == ("New item", "Next", "")
        assert not form.saving


async def test_enter_opens_details_with_history(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ItemDetailsScreen)
        assert app.screen.item_id == "SD-1"
        table = app.screen.query_one("#details-history")
        assert table.row_count == 1  # the Code run
        await pilot.press("escape")
        assert not isinstance(app.screen, ItemDetailsScreen)


async def test_a_advances_through_deploy_and_the_service_answers(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "a")
        await until(
            pilot,
            lambda: stage_of(demo_project, "SD-1") == (Stage.DEPLOY, RunState.PASSED),
            what=lambda: f"SD-1 in Deploy, passed (it is {stage_of(demo_project, 'SD-1')})",
        )
        assert "v0.1.0" in [t for t in demo_project.store.load().get("SD-1").artifacts.values()]
        status = app.engine.target_for("staging").status()
        assert status.healthy is True
        assert status.version == "0.1.0"
        assert app.board.selected_id() == "SD-1"  # the cursor followed the card


async def test_a_refusal_is_explained_in_the_gates_words(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await pilot.press("a")  # SD-2: Plan -> Code creates its branch
        await until(pilot, lambda: stage_of(demo_project, "SD-2") == (Stage.CODE, RunState.PASSED))
        await pilot.press("a")  # no commits on the new branch yet
        await until(pilot, notices.said("no commits ahead"))
        assert stage_of(demo_project, "SD-2")[0] is Stage.CODE


async def test_b_moves_back_one_stage(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "b")
        await pilot.pause()
        assert stage_of(demo_project, "SD-1")[0] is Stage.PLAN
        assert app.board.selected_id() == "SD-1"


async def test_r_reruns_the_current_stage(demo_project: Project) -> None:
    before = demo_project.store.load().get("SD-1").current.run_id
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "r")
        await until(
            pilot,
            lambda: (
                demo_project.store.load().get("SD-1").current.run_id != before
                and not demo_project.store.load().get("SD-1").running
            ),
        )
        assert stage_of(demo_project, "SD-1") == (Stage.CODE, RunState.PASSED)


SLOW = """\
version: 1
project: slow
stages:
  build:
    - run: "sh -c 'sleep 120 & echo $! > \\"$PIDFILE\\"; wait'"
"""


def _slow_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Project, Path]:
    """A repository whose build sleeps, with one item; the build writes its pid to a file."""
    repo = tmp_path / "slow"
    repo.mkdir()
    pidfile = tmp_path / "pid"
    monkeypatch.setenv("PIDFILE", str(pidfile))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    commit(repo, "init", "-q", "-b", "main")
    (repo / "shipdeck.yaml").write_text(SLOW)
    commit(repo, "add", "-A")
    commit(repo, "commit", "-q", "-m", "init")
    project = Project(repo)
    project.store.add("Slow build")
    return project, pidfile


async def _start_slow_build(pilot, project: Project, pidfile: Path) -> int:  # type: ignore[no-untyped-def]
    """a (Code), a commit, a (Build): returns the pid of the build's sleeping grandchild."""
    await pilot.press("a")
    # Passed, not just moved: the card is in Code while its branch is still being made,
    # and a commit then lands on main (a loaded machine widened that window past a test).
    await until(pilot, lambda: stage_of(project, "SD-1") == (Stage.CODE, RunState.PASSED))
    (project.root / "f").write_text("x")
    commit(project.root, "add", "f")
    commit(project.root, "commit", "-q", "-m", "work")
    await pilot.press("a")
    await until(
        pilot,
        lambda: pidfile.exists() and pidfile.read_text().strip() != "",
        what=lambda: f"the build's pid (SD-1 is {stage_of(project, 'SD-1')})",
    )
    return int(pidfile.read_text())


async def test_x_cancels_the_run_and_its_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, pidfile = _slow_project(tmp_path, monkeypatch)
    app = ShipdeckApp(project)
    async with app.run_test(size=SIZE) as pilot:
        pid = await _start_slow_build(pilot, project, pidfile)
        assert psutil.pid_exists(pid)
        await pilot.press("x")
        await until(pilot, lambda: stage_of(project, "SD-1") == (Stage.BUILD, RunState.CANCELLED))
        await asyncio.sleep(0.2)
        gone = not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert gone


async def test_x_lights_while_a_run_runs_and_the_footer_is_not_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The footer's keys stay where they are, the same widgets, as a run starts and
    ends: x is dimmed in place (a rebuild costs the running stage ~40 ms of the UI
    thread, and moves the keys under the person's eyes)."""
    from textual.widgets._footer import FooterKey

    project, pidfile = _slow_project(tmp_path, monkeypatch)
    app = ShipdeckApp(project)

    def keys() -> list[tuple[FooterKey, bool]]:
        return [(k, k.has_class("-disabled")) for k in app.board.query(FooterKey)]

    def cancel_lit() -> bool:
        return any(k.action == "cancel_run" and not dim for k, dim in keys())

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = [k for k, _ in keys()]
        assert not cancel_lit()
        await _start_slow_build(pilot, project, pidfile)
        await until(pilot, cancel_lit, what="x lit while the build runs")
        assert [k for k, _ in keys()] == before  # the same widgets, in the same places
        await pilot.press("x")
        await until(pilot, lambda: stage_of(project, "SD-1") == (Stage.BUILD, RunState.CANCELLED))
        await until(pilot, lambda: not cancel_lit(), what="x dimmed after the run")
        assert [k for k, _ in keys()] == before


async def test_d_deploys_and_R_rolls_back(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "a")
        await until(
            pilot,
            lambda: stage_of(demo_project, "SD-1") == (Stage.DEPLOY, RunState.PASSED),
            what=lambda: f"SD-1 in Deploy, passed (it is {stage_of(demo_project, 'SD-1')})",
        )
        # a second release from SD-2, back in Plan (the cursor followed SD-1 to Deploy)
        await pilot.press("h", "h", "h", "h", "h")
        assert app.board.selected_id() == "SD-2"
        await pilot.press("a")
        await until(pilot, lambda: stage_of(demo_project, "SD-2") == (Stage.CODE, RunState.PASSED))
        (demo_project.root / "NOTES.md").write_text("notes\n")
        commit(demo_project.root, "add", "NOTES.md")
        commit(demo_project.root, "commit", "-q", "-m", "SD-2: notes")
        await pilot.press("a")
        await until(
            pilot, lambda: stage_of(demo_project, "SD-2") == (Stage.DEPLOY, RunState.PASSED)
        )
        assert app.engine.target_for("staging").status().version == "0.2.0"
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(
            pilot,
            lambda: any(
                e.type == "rolled_back" and e.get("to_version") == "0.1.0"
                for e in demo_project.journal.read()
            ),
        )
        assert app.engine.target_for("staging").status().version == "0.1.0"
        await pilot.press("d")  # one environment: no picker; it asks, naming the version
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "Deploy SD-2's 0.2.0 to staging, replacing 0.1.0?"
        await pilot.press("y")
        await until(pilot, lambda: app.engine.target_for("staging").status().version == "0.2.0")


async def test_a_asks_for_approval_before_a_deploy_and_no_stops_at_release(
    demo_project: Project,
) -> None:
    """``a`` plans in a thread and runs at once when there is nothing to ask; a deploy to
    an environment that needs approval goes back to the UI thread and asks first."""
    project = reconfigure(demo_project, "    auto: true\n", "    auto: true\n    approval: true\n")
    app = ShipdeckApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "a")  # SD-1, in Code: Build, Test, Release, then the deploy
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert app.screen.question.startswith("staging needs approval.")
        assert stage_of(project, "SD-1") == (Stage.CODE, RunState.PASSED)  # nothing ran yet
        await pilot.press("n")
        await until(
            pilot,
            lambda: stage_of(project, "SD-1") == (Stage.RELEASE, RunState.PASSED),
            what=lambda: f"SD-1 released, not deployed (it is {stage_of(project, 'SD-1')})",
        )
        await pilot.pause(0.3)
        assert stage_of(project, "SD-1") == (Stage.RELEASE, RunState.PASSED)
        assert app.engine.target_for("staging").status().version is None

        await pilot.press("a")  # from Release the next stage is the deploy: asked again
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press("y")
        await until(pilot, lambda: stage_of(project, "SD-1") == (Stage.DEPLOY, RunState.PASSED))
        assert app.engine.target_for("staging").status().version == "0.1.0"


async def test_a_from_release_asks_which_environment_when_none_is_auto(
    demo_project: Project,
) -> None:
    second = (
        "  production:\n"
        "    target: local\n"
        '    run: "{python} -m app --port {port}"\n'
        f"    port: {free_port()}\n"
    )
    project = reconfigure(demo_project, "    auto: true\n", "")
    project = reconfigure(project, "monitor:\n", second + "monitor:\n")
    app = ShipdeckApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "a")  # no auto environment: the advance stops at Release
        await until(pilot, lambda: stage_of(project, "SD-1") == (Stage.RELEASE, RunState.PASSED))
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, EnvPickerScreen), what="the picker")
        await pilot.press("escape")  # cancelled: nothing runs
        await until(pilot, lambda: app.screen is app.board)
        await pilot.pause(0.3)
        assert stage_of(project, "SD-1") == (Stage.RELEASE, RunState.PASSED)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, EnvPickerScreen), what="the picker")
        await pilot.press("down", "enter")  # production
        await until(pilot, lambda: stage_of(project, "SD-1") == (Stage.DEPLOY, RunState.PASSED))
        assert app.engine.target_for("production").status().version == "0.1.0"
        assert app.engine.target_for("staging").status().version is None


async def test_pane_keys_show_and_focus_their_pane(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        tabs = app.board.query_one("#pane-tabs", PaneTabs)
        switcher = app.board.query_one("#pane-switcher", ContentSwitcher)
        for key, pane in (("m", "metrics"), ("v", "events"), ("o", "envs"), ("L", "logs")):
            await pilot.press(key)
            await pilot.pause()
            assert tabs.active == pane and switcher.current == pane
            assert app.focused is not None
            assert app.focused in app.board.query_one(f"#{pane}").query("*")


async def test_help_palette_and_quit(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Go to SD-4", "enter")
        await pilot.pause(0.3)
        assert app.board.selected_id() == "SD-4"
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_quit_with_a_run_in_flight_asks_and_cancels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, pidfile = _slow_project(tmp_path, monkeypatch)
    app = ShipdeckApp(project)
    async with app.run_test(size=SIZE) as pilot:
        pid = await _start_slow_build(pilot, project, pidfile)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert (
        json.loads(json.dumps(project.store.load().get("SD-1").current.state.value)) == "cancelled"
    )


async def test_metrics_sample_only_while_visible(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.worker import get_current_worker

    from shipdeck.lifecycle.sampling import Sampler

    samples: list[float] = []
    workers: list[object] = []
    real = Sampler.sample

    def counted(self: Sampler):  # type: ignore[no-untyped-def]
        samples.append(time.monotonic())
        workers.append(get_current_worker())
        return real(self)

    monkeypatch.setattr(Sampler, "sample", counted)
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        assert samples == []  # the logs pane shows: nothing is sampled
        await pilot.press("m")
        pane = app.board.query_one("#metrics-pane", MetricsPane)
        cpu = lambda: pane.host_charts["cpu"].value.plain  # noqa: E731
        await until(pilot, lambda: cpu().endswith("%"))  # the first reading is a gap
        assert len(samples) >= 2 and float(cpu().rstrip("%")) >= 0.0
        assert len(set(map(id, workers))) == 1  # one worker for the showing, not one a sample
        await pilot.press("L")
        await pilot.pause(0.2)
        seen = len(samples)
        await pilot.pause(2.5)  # longer than the demo's 2 s interval
        assert len(samples) == seen
        sampling = [w for w in app.workers if w.group == "metrics" and not w.is_finished]
        assert sampling == []  # hidden: the sampling worker ended
        await pilot.press("m")
        await until(pilot, lambda: len(samples) > seen)  # shown again: sampling again


async def test_a_in_monitor_archives_after_confirming(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.tui.static_board import build

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    project = Project(build(tmp_path / "hello"))
    app = ShipdeckApp(project)
    async with app.run_test(size=SIZE) as pilot:
        app.board.select("SD-7")  # the static board's item in Monitor
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: project.store.load().get("SD-7").archived)
        assert "SD-7" not in app.items
        assert project.journal.read(types={"item.archived"})[-1].item == "SD-7"


async def test_theme_choice_is_remembered(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.tui.static_board import build

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    project = Project(build(tmp_path / "hello"))
    app = ShipdeckApp(project)
    async with app.run_test(size=SIZE) as pilot:
        app.theme = "nord"
        await pilot.pause()
    again = ShipdeckApp(project)
    assert again.theme == "nord"


async def test_quitting_ends_the_live_log_follower(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "a")
        await until(
            pilot,
            lambda: stage_of(demo_project, "SD-1") == (Stage.DEPLOY, RunState.PASSED),
            what=lambda: f"SD-1 in Deploy, passed (it is {stage_of(demo_project, 'SD-1')})",
        )
        await until(pilot, lambda: app.follow._env_cancel is not None)  # following the service
        token = app.follow._env_cancel
    assert token.cancelled  # else the pump keeps the executor, and the process, alive


async def test_a_board_broken_while_open_is_reported_not_fatal(demo_project: Project) -> None:
    from tests.unit.test_store import hand_commit

    app = ShipdeckApp(demo_project)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await pilot.pause()
        hand_commit(demo_project.root, {"items/0/SD-1.json": b'{"id": "SD-1", "title": [oops'})
        where = "refs/shipdeck/board:items/0/SD-1.json"
        await until(pilot, notices.said(where))
        assert app.is_running
        assert "SD-1" in app.items  # the last good board stays on screen


RAW = "Zap \x1b[2J\x1b[H\x1b]52;c;cHduZWQ=\x07 \x1b]0;pwned\x07 end"


def _terminal_bytes(app: ShipdeckApp) -> str:
    """What the screen would write to a terminal now: every cell, with Textual's own
    colour and cursor sequences (a headless app writes nothing itself)."""
    return app.screen._compositor.render_update(full=True).render_segments(app.console)


def _obeyed(written: str) -> list[str]:
    """The title's sequences, as a terminal would obey them (not shown escaped)."""
    return [seq for seq in ("\x1b[2J", "\x1b]52;", "\x1b]0;pwned") if seq in written]


async def test_a_title_with_terminal_escapes_is_shown_escaped_in_the_palette_and_form(
    demo_project: Project,
) -> None:
    """Found by a stranger's hunt: a title written with escape sequences (by the CLI
    before it refused them, by another writer, a synced board) went raw to the
    terminal from the command palette's "Go to" and the edit form: the screen was
    cleared, the clipboard written (OSC 52) and the terminal retitled. Cards, the
    events pane and the details showed them escaped."""
    from shipdeck.lifecycle.items import Kind

    item = demo_project.store.add(RAW, kind=Kind.BUG)  # below verbs: as any writer can
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press(*f"Go to {item.id}")
        await pilot.pause(0.5)
        written = _terminal_bytes(app)
        assert "Zap \\x1b[2J" in written, "the hit is shown, escaped"
        assert _obeyed(written) == []
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, CommandPalette))
        app.board.select(item.id)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ItemFormScreen), what="the form")
        await pilot.pause()
        assert "\x1b" not in app.screen.query_one("#title", Input).value
        assert _obeyed(_terminal_bytes(app)) == []
