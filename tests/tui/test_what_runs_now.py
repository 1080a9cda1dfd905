"""The board shows what runs now (issue #11 item 2): a card in Code shows its branch's
head, a deployed card whose release was replaced or rolled back says so, and an
environment's live logs are one key away (Enter in the Environments pane, ``f`` on a
deployed card), at any time after its deploy.

On the demo repository; what runs on an environment comes from the journal, written
here as the engine writes it; the follow tests deploy a real release.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from textual.widgets import DataTable, OptionList, Static

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.items import Item, RunState, StageState
from shipdeck.lifecycle.stages import Stage
from shipdeck.project.repo import Project
from shipdeck.project.wiring import build_engine
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.details import ItemDetailsScreen
from shipdeck.widgets.log.pane import LogPane
from tests.waiting import until

pytestmark = pytest.mark.slow  # Pilot with real runs and a deployed service

SIZE = (120, 40)


def card(app: ShipdeckApp, stage: Stage, item_id: str) -> str:
    """The card's text as drawn (its segments at the column's width)."""
    column = app.board.columns[stage]
    return "\n".join("".join(s.text for s in line) for line in column.card(item_id, 30))


def log_texts(pane: LogPane) -> list[str]:
    model = pane.log_view.model
    return [model.text(seq) for seq in range(model.first, model.first + len(model))]


def git(root, *args: str) -> str:  # type: ignore[no-untyped-def]
    done = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)
    return done.stdout.strip()


async def test_code_card_shows_the_branch_head_and_deployed_cards_what_replaced_them(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = demo_project.root
    base = git(root, "rev-parse", "HEAD")
    git(root, "branch", "feature/SD-2-x", base)
    git(root, "checkout", "-q", "feature/SD-2-x")
    (root / "NOTES.md").write_text("a commit on the branch\n")
    git(root, "add", "NOTES.md")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "SD-2: notes")
    head = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "-")
    with demo_project.store.edit() as board:
        code = board.get("SD-2")
        code.stage, code.branch, code.sha = Stage.CODE, "feature/SD-2-x", base
        done = board.get("SD-1")
        done.stage, done.env, done.version = Stage.DEPLOY, "staging", "0.1.0"
        done.states[Stage.DEPLOY] = StageState(state=RunState.PASSED)
    journal = demo_project.journal
    journal.append(ev.Event(ev.DEPLOYED, "SD-1", {"env": "staging", "version": "0.1.0"}))
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: head[:7] in card(app, Stage.CODE, "SD-2"))
        assert base[:7] not in card(app, Stage.CODE, "SD-2")
        shown = card(app, Stage.DEPLOY, "SD-1")
        assert "@staging" in shown and "now" not in shown
        journal.append(
            ev.Event(ev.DEPLOYED, None, {"env": "staging", "version": "0.2.0"})
        )  # from the CLI, say: the board notices within its refresh
        spelled: list[str] = []  # Textual names a worker by repr(work) unless told its name
        monkeypatch.setattr(Item, "__repr__", lambda item: spelled.append(item.id) or "<item>")
        app.refresh_card_facts()
        assert spelled == []  # the cards' summaries were not spelled out on the UI thread
        monkeypatch.undo()
        await until(pilot, lambda: "now 0.2.0" in card(app, Stage.DEPLOY, "SD-1"))
        journal.append(
            ev.Event(
                ev.ROLLED_BACK,
                None,
                {"env": "staging", "from_version": "0.2.0", "to_version": "0.0.9"},
            )
        )
        app.refresh_card_facts()
        await until(pilot, lambda: "↶ to 0.0.9" in card(app, Stage.DEPLOY, "SD-1"))


async def test_enter_on_an_environment_and_f_on_a_card_follow_its_live_logs(
    demo_project: Project,
) -> None:
    engine = build_engine(demo_project)
    assert engine.advance("SD-1", to=Stage.DEPLOY, env="staging", approve=True).ok
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")  # the Environments pane
        await until(pilot, lambda: app.board.query_one("#env-pane").selected_env == "staging")
        await pilot.press("enter")
        pane = app.board.query_one(LogPane)
        await until(pilot, lambda: str(pane.border_title) == "staging (live)")
        await until(pilot, lambda: any("its last 200 lines" in t for t in log_texts(pane)))
        await until(pilot, lambda: len(log_texts(pane)) > 1)  # the service's own output
        pane.border_title = ""
        app.board.board_columns.focus()  # back on the board (f on the log view: follow)
        app.board.select("SD-1")
        await pilot.pause(0.3)  # the card's own run log loads first, as when a person moves
        await pilot.press("f")
        await until(pilot, lambda: str(pane.border_title) == "staging (live)")


async def test_the_log_pane_shows_the_card_under_the_cursor_even_with_no_runs(
    demo_project: Project,
) -> None:
    """Found in tmux: at start the log pane was empty ("0 lines"), and moving from one
    card without runs to another kept the first card's "no runs yet", as moving off a
    live log kept the environment's stream in the pane."""
    engine = build_engine(demo_project)
    assert engine.advance("SD-1", to=Stage.DEPLOY, env="staging", approve=True).ok
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.board.query_one(LogPane)

        def says(text: str) -> bool:
            return log_texts(pane) == [text] and str(pane.border_title) == text.split(":")[0]

        assert app.board.selected_id() == "SD-2"  # Plan's first card, selected at start
        await until(pilot, lambda: says("SD-2: no runs yet (press a to advance)"))
        await pilot.press("j")
        await until(pilot, lambda: says("SD-3: no runs yet (press a to advance)"))
        app.board.select("SD-1")  # in Deploy, with runs: its last run's log
        await until(pilot, lambda: str(pane.border_title).startswith("SD-1-"))
        app.board.select("SD-2")
        await until(pilot, lambda: says("SD-2: no runs yet (press a to advance)"))
        app.follow_env_logs("staging", 5)
        await until(pilot, lambda: str(pane.border_title) == "staging (live)")
        app.board.select("SD-3")
        await until(pilot, lambda: says("SD-3: no runs yet (press a to advance)"))
        await pilot.pause(0.5)  # the stream was stopped: nothing of it comes after the line
        assert says("SD-3: no runs yet (press a to advance)"), log_texts(pane)


async def test_facts_are_read_again_only_when_a_changed_card_can_have_some(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's Build, Test and Release change its card ten times and none of its facts:
    no worker reads them then. A card that enters Code with a branch, or has an
    environment, has them read again, once its run is over (a running deploy's start
    read the journal for the version its end changes). A card that had facts and can
    have none now loses them at once, with nothing read."""
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app._facts_on and "SD-1" in app.card_facts)
        reads: list[int] = []
        monkeypatch.setattr(app, "refresh_card_facts", lambda: reads.append(1))

        def move(item_id: str, stage: Stage, state: RunState = RunState.IDLE, **fields: str) -> int:
            with demo_project.store.edit() as board:
                item = board.get(item_id)
                item.stage = stage
                item.states[stage] = StageState(state=state)
                for name, value in fields.items():
                    setattr(item, name, value)
            before = len(reads)
            assert app.reload_board()
            return len(reads) - before

        for stage in (Stage.BUILD, Stage.TEST, Stage.RELEASE):
            assert move("SD-2", stage) == 0, stage  # a Plan card's run: no facts
        assert move("SD-3", Stage.CODE, RunState.RUNNING, branch="feature/SD-3-x") == 0
        assert move("SD-3", Stage.CODE, RunState.PASSED) == 1  # its branch's head, now
        assert move("SD-4", Stage.DEPLOY, RunState.RUNNING, env="staging") == 0
        assert move("SD-4", Stage.DEPLOY, RunState.PASSED) == 1  # what runs there now
        assert "SD-1" in app.card_facts
        assert move("SD-1", Stage.BUILD) == 0  # SD-1 had its branch head: it goes, unread
        assert "SD-1" not in app.card_facts


async def test_the_details_of_a_card_without_runs_say_so(demo_project: Project) -> None:
    """Found in tmux at 80x24: the details of a Plan card showed a stage history of
    headers over nothing, an empty runs box and a log of "0 lines"."""
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        assert app.board.selected_id() == "SD-2"  # in Plan: never run
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ItemDetailsScreen))
        screen = app.screen
        await pilot.pause()
        assert not screen.query_one("#details-history", DataTable).display
        assert "none yet" in str(screen.query_one("#details-no-history", Static).render())
        runs = screen.query_one("#details-runs", OptionList)
        assert runs.option_count == 1 and runs.get_option_at_index(0).disabled
        assert "no runs yet" in str(runs.get_option_at_index(0).prompt)
        await until(
            pilot, lambda: any("no runs yet" in t for t in log_texts(screen.query_one(LogPane)))
        )
        await pilot.press("escape", "l", "enter")  # SD-1 in Code has a run: no notes
        await until(
            pilot, lambda: isinstance(app.screen, ItemDetailsScreen) and app.screen is not screen
        )
        await pilot.pause()
        assert app.screen.query_one("#details-history", DataTable).display
        assert not app.screen.query("#details-no-history")
        assert not app.screen.query_one("#details-runs", OptionList).get_option_at_index(0).disabled


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_details_history_shows_when_and_how_long_without_scrolling(
    demo_project: Project, size: tuple[int, int]
) -> None:
    """Found in tmux at 80x24: the halves of the details cut the stage history after its
    state, the start time (a 20-character UTC stamp) and the duration behind a
    scrollbar. Local ``MM-DD HH:MM:SS`` as the events pane shows, and the facts' side
    wider under 100 columns, leave stage, state, start and duration in view."""
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=size) as pilot:
        await pilot.press("l", "enter")  # SD-1 in Code: one run
        await until(pilot, lambda: isinstance(app.screen, ItemDetailsScreen))
        await pilot.pause()
        screen = app.screen
        assert screen.has_class("-narrow") is (size[0] < 100)
        table = screen.query_one("#details-history", DataTable)
        labels = [str(c.label) for c in table.ordered_columns]
        assert labels[:4] == ["stage", "state", "started", "took"]
        start = str(table.get_row_at(0)[2])
        assert len(start) == len("12-06 13:23:48") and start[2] == "-" and start[8] == ":"
        needed = sum(c.get_render_width(table) for c in table.ordered_columns[:4])
        assert needed <= table.scrollable_content_region.width, (needed, table.size)
        # The run beside it says the same, one line each: "code     12-06 13:23:48".
        runs = screen.query_one("#details-runs", OptionList)
        first = runs.get_option_at_index(0)
        assert str(first.prompt) == f"✔ code     {start}" and str(first.id).startswith("SD-1-code-")


async def test_the_details_runs_say_which_failed(demo_project: Project, tmp_path: Path) -> None:
    """Found in tmux: a Test run that failed (a missing module) and its re-run that
    passed were listed alike, "test  12-07 21:17:53", so the log to read for the
    failure was a guess. Each run is marked with how it ended, from the journal."""
    root = demo_project.root
    installed = tmp_path / "installed"  # what the test needs, outside the repository
    (root / "tests" / "test_needs.py").write_text(
        "import pathlib, unittest\n\n\nclass Needs(unittest.TestCase):\n"
        "    def test_installed(self):\n"
        f"        self.assertTrue(pathlib.Path({str(installed)!r}).exists())\n"
    )
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "SD-1: a test that needs more"], cwd=root, check=True)
    engine = build_engine(demo_project)
    assert not engine.advance("SD-1", to=Stage.TEST).ok  # Build passes, Test fails
    installed.touch()  # installed, as a person would, and Test run again
    assert engine.run_stage("SD-1").ok
    app = ShipdeckApp(Project(root))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.board.select("SD-1")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ItemDetailsScreen))
        await pilot.pause()
        runs = app.screen.query_one("#details-runs", OptionList)
        marks = [str(runs.get_option_at_index(n).prompt)[:6] for n in range(runs.option_count)]
        assert marks == ["✔ test", "✘ test", "✔ buil", "✔ code"], marks


async def test_the_environments_pane_reads_the_statuses_when_a_deploy_ends(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen in tmux: "staging restarted (0.1.0)", and the pane beside the notice still
    said "stopped" until its next poll, up to 3 s later. With the poll ten minutes
    away, only the deploy's end can bring the new status."""
    from shipdeck.tui import panes
    from shipdeck.widgets.ops.envs import EnvironmentsPane

    monkeypatch.setattr(panes, "ENV_POLL_SECONDS", 600.0)
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        await until(pilot, lambda: bool(app.board.query(EnvironmentsPane)))
        pane = app.board.query_one(EnvironmentsPane)

        def state() -> str:
            status = pane.statuses.get("staging")
            return "" if status is None else str(status.state)

        await until(pilot, lambda: state() != "", what="the first read")
        before = state()
        app.board.select("SD-1")  # in Code: a deploys it to staging (auto)
        await pilot.press("a")
        await until(pilot, lambda: state() not in ("", before), timeout=30, what=state)
        assert "running" in state()  # the fixture stops it


async def test_the_details_commits_ahead_are_masked(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a stranger's hunt: a commit subject with a secret in it showed in the
    details' "Commits ahead of base" as written (escaped, but not masked)."""
    from tests.tui.conftest import commit, reconfigure

    secret = "hunter2-SECRET-9f8e7d"
    monkeypatch.setenv("API_TOKEN", secret)
    project = reconfigure(
        demo_project, "    auto: true\n", "    auto: true\n    secrets: [API_TOKEN]\n"
    )
    here = subprocess.run(
        ["git", "branch", "--show-current"], cwd=project.root, capture_output=True, text=True
    ).stdout.strip()
    assert here == project.store.get("SD-1").branch  # the demo is on SD-1's branch
    commit(project.root, "commit", "-q", "--allow-empty", "-m", f"SD-1: token {secret} here")
    app = ShipdeckApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "enter")  # SD-1, in Code
        await until(pilot, lambda: isinstance(app.screen, ItemDetailsScreen), what="details")
        await until(pilot, lambda: getattr(app.screen, "commits_loaded", False), what="commits")
        shown = str(app.screen.query_one("#details-commits", Static).render())
        assert "SD-1: token *** here" in shown and secret not in shown
