"""The log pane and the disk: loading a run log, saving the whole log, not the ring."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipdeck.lifecycle.runlog import RunLog
from shipdeck.widgets.log.pane import LogPane, LogStatusBar
from shipdeck.widgets.log.view import LogView
from tests.tui.host import PaneApp
from tests.tui.log_helpers import SIZE, numbered, run, screen_lines, settle
from tests.waiting import until


@pytest.mark.slow  # a Pilot test that loads and saves files
def test_save_writes_the_whole_source_not_only_the_ring(tmp_path: Path) -> None:
    source = tmp_path / "run.log"
    log = RunLog(source)
    for start in range(0, 1000, 100):
        log.write(numbered(100, start))
    log.close()
    dest = tmp_path / "saved.log"

    async def scenario() -> None:
        app = PaneApp(LogPane(ring_size=100, save_dir=tmp_path))
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.load_file(source)
            await until(pilot, lambda: any(isinstance(m, LogView.Loaded) for m in app.messages))
            await settle(pilot, view)
            assert len(view.model) == 100
            assert screen_lines(view)[-1].strip() == "line 999"
            await pilot.press("s")
            prompt = app.query_one("#log-prompt")
            assert str(prompt.value).startswith(str(tmp_path / "run-"))  # type: ignore[attr-defined]
            prompt.value = "saved.log"  # type: ignore[attr-defined]
            await pilot.press("enter")
            await until(pilot, lambda: any(isinstance(m, LogView.Saved) for m in app.messages))
            saved = next(m for m in app.messages if isinstance(m, LogView.Saved))
            assert saved.path == dest and saved.lines == 1000
            assert dest.read_text().splitlines()[0].endswith(" o line 0")
            assert "saved 1,000 lines" in str(app.query_one(LogStatusBar).render())
            # Another item's log: the note was about the last one (found in tmux).
            app.pane.load_file(tmp_path / "saved.log")
            await pilot.pause()
            assert "saved" not in str(app.query_one(LogStatusBar).render())

    run(scenario())


@pytest.mark.slow  # a Pilot test that loads and saves files
def test_loading_another_file_drops_the_first_and_a_missing_file_says_so(
    tmp_path: Path,
) -> None:
    big, small = RunLog(tmp_path / "big.log"), RunLog(tmp_path / "small.log")
    for start in range(0, 50_000, 1000):
        big.write(numbered(1000, start, word="big"))
    small.write(numbered(3, word="small"))
    big.close()
    small.close()

    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.load_file(tmp_path / "big.log")
            view.load_file(tmp_path / "small.log")
            await until(pilot, lambda: any(isinstance(m, LogView.Loaded) for m in app.messages))
            await pilot.pause(0.3)
            view.flush()
            assert [view.model.text(s) for s in range(view.model.first, view.model.end)] == [
                "small 0",
                "small 1",
                "small 2",
            ]
            view.load_file(tmp_path / "missing.log")
            await until(pilot, lambda: view.model.end > view.model.origin)
            view.flush()
            assert "could not read" in view.model.text(view.model.first)

    run(scenario())


def test_save_without_a_source_writes_the_lines_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """And does not spell them out on the UI thread: Textual names a ``@work`` worker by
    the repr of its arguments unless it is given a description, and the save's records
    took 0.6 s and 14 MB to repr at 100k lines before any writing began."""
    from shipdeck.lifecycle.lines import Line

    spelled: list[int] = []
    real = Line.__repr__

    def counted(self: Line) -> str:
        spelled.append(1)
        return real(self)

    monkeypatch.setattr(Line, "__repr__", counted)

    async def scenario() -> None:
        app = PaneApp(LogPane(ring_size=10))
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines(numbered(25))
            view.save(tmp_path / "ring.log")
            await until(pilot, lambda: any(isinstance(m, LogView.Saved) for m in app.messages))
            lines = (tmp_path / "ring.log").read_text().splitlines()
            assert len(lines) == 10 and lines[-1].endswith(" o line 24")
            assert spelled == []  # no line was turned into its repr

    run(scenario())


@pytest.mark.slow  # a Pilot test
def test_an_open_prompt_leaves_no_prompt_key_in_the_footer() -> None:
    """Its keys type into it; Textual kept "/ Search" in the footer all the same (it
    knows no character for "slash", so the Input's claim on "/" was not seen)."""

    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            app.pane.log_view.focus()
            await pilot.pause()

            def shown() -> set[str]:
                active = app.screen.active_bindings.values()
                return {b.action for _, b, enabled, _ in active if b.show and enabled}

            assert {"prompt('search')", "prompt('filter')", "prompt('save')"} <= shown()
            await pilot.press("ampersand")
            await pilot.pause()
            assert not any(action.startswith("prompt") for action in shown())
            await pilot.press("escape")
            await pilot.pause()
            assert "prompt('search')" in shown()

    run(scenario())
