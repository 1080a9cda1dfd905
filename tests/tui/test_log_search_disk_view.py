"""Searching a run log on disk from the log pane: `/`, a pattern and Enter show a match
far outside the ring; n/N step through hits across the file; the end returns to the tail."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipdeck.lifecycle.lines import Line, Stream
from shipdeck.lifecycle.runlog import RunLog
from shipdeck.widgets.log.pane import LogPane, LogStatusBar
from shipdeck.widgets.log.view import LogView
from tests.tui.host import PaneApp
from tests.tui.log_helpers import SIZE, numbered, out, run, screen_lines, settle
from tests.waiting import until

LINES = 5_000


class SearchApp(PaneApp):
    on_log_view_search_scanned = PaneApp._record


def write_log(path: Path, tokens: dict[int, str]) -> None:
    """``LINES`` numbered lines; line ``i`` of ``tokens`` gets that word appended."""
    log = RunLog(path)
    for start in range(0, LINES, 500):
        lines = numbered(500, start)
        for i, word in tokens.items():
            if start <= i < start + 500:
                lines[i - start] = Line(Stream.STDOUT, f"line {i} {word}")
        log.write(lines)
    log.close()


async def opened(pilot: object, app: PaneApp, path: Path) -> LogView:
    view: LogView = app.pane.log_view
    view.load_file(path)
    await until(pilot, lambda: any(isinstance(m, LogView.Loaded) for m in app.messages))
    await settle(pilot, view)  # type: ignore[arg-type]
    return view


def scanned(app: PaneApp) -> list[LogView.SearchScanned]:
    return [m for m in app.messages if isinstance(m, LogView.SearchScanned)]


@pytest.mark.slow  # a Pilot test over a run log on disk
def test_enter_shows_a_match_far_outside_the_ring_and_end_returns_to_the_tail(
    tmp_path: Path,
) -> None:
    write_log(tmp_path / "run.log", {300: "needle"})

    async def scenario() -> None:
        app = SearchApp(LogPane(ring_size=100))
        async with app.run_test(size=SIZE) as pilot:
            view = await opened(pilot, app, tmp_path / "run.log")
            assert view.model.first == LINES - 100  # the tail, numbered as in the file
            assert screen_lines(view)[-1].strip() == f"line {LINES - 1}"
            await pilot.press("slash", *"needle", "enter")
            await until(pilot, lambda: scanned(app), what="the scan to finish")
            await until(pilot, lambda: view.model.first <= 300 < view.model.end)
            await settle(pilot, view)
            assert any(line.strip() == "line 300 needle" for line in screen_lines(view))
            assert scanned(app)[-1].matches == 1
            assert view.status.search_matches == 1 and view.status.total == LINES
            assert "/needle: 1 line" in str(app.query_one(LogStatusBar).render())
            assert not view.following
            await pilot.press("end")
            await until(pilot, lambda: view.model.end == LINES)
            await settle(pilot, view)
            assert view.following
            assert screen_lines(view)[-1].strip() == f"line {LINES - 1}"

    run(scenario())


@pytest.mark.slow  # a Pilot test over a run log on disk
def test_n_and_shift_n_step_through_hits_across_the_whole_file(tmp_path: Path) -> None:
    tokens = {120: "Marker", 2_500: "marker", 4_990: "marker"}
    write_log(tmp_path / "run.log", tokens)

    async def scenario() -> None:
        app = SearchApp(LogPane(ring_size=100))
        async with app.run_test(size=SIZE) as pilot:
            view = await opened(pilot, app, tmp_path / "run.log")
            view.search("marker")  # smart case: "Marker" matches too
            await until(pilot, lambda: scanned(app), what="the scan to finish")
            await settle(pilot, view)
            assert scanned(app)[-1].matches == 3
            assert view._search.current == 4_990  # the latest, already in the ring
            seen = []
            for _ in range(3):
                await pilot.press("n")  # wraps around to the oldest first
                await until(pilot, lambda: view.model.first <= (view._search.current or 0))
                await until(pilot, lambda: view._search.current in seen_next(seen, tokens))
                await settle(pilot, view)
                current = view._search.current
                assert current is not None
                seen.append(current)
                assert any(f"line {current} " in line for line in screen_lines(view))
            assert seen == [120, 2_500, 4_990]
            await pilot.press("N")
            await until(pilot, lambda: view._search.current == 2_500)
            await settle(pilot, view)
            assert any("line 2500 marker" in line for line in screen_lines(view))

    run(scenario())


def seen_next(seen: list[int], tokens: dict[int, str]) -> list[int]:
    """The hit ``n`` should reach next, given those seen so far."""
    order = sorted(tokens)
    return [order[len(seen) % len(order)]]


@pytest.mark.slow  # a Pilot test
def test_a_live_log_searches_its_ring_and_says_so(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = SearchApp(LogPane(ring_size=100))
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines(out("alpha", "beta", "alpha again"))
            await settle(pilot, view)
            await pilot.press("slash", *"alpha", "enter")
            await settle(pilot, view)
            assert view.status.search_matches == 2
            assert "in memory only" in str(app.query_one(LogStatusBar).render())
            assert not scanned(app)

    run(scenario())


@pytest.mark.slow  # a Pilot test over a run log on disk
def test_the_filter_keeps_matching_lines_of_the_whole_file_and_empty_returns_to_the_tail(
    tmp_path: Path,
) -> None:
    write_log(tmp_path / "run.log", {10: "keep", 1_000: "keep", 4_000: "keep"})

    async def scenario() -> None:
        app = SearchApp(LogPane(ring_size=100))
        async with app.run_test(size=SIZE) as pilot:
            view = await opened(pilot, app, tmp_path / "run.log")
            await pilot.press("ampersand", *"keep", "enter")
            await until(pilot, lambda: view._filtered, what="the filter's scan")
            await settle(pilot, view)
            assert [line.strip() for line in screen_lines(view) if line.strip()] == [
                "line 10 keep",
                "line 1000 keep",
                "line 4000 keep",
            ]
            assert "&keep: 3 shown" in str(app.query_one(LogStatusBar).render())
            view.search("1000")  # within the filtered lines, in memory
            await settle(pilot, view)
            assert view.status.search_matches == 1
            assert "filtered lines" in view.status.note
            await pilot.press("ampersand", *["backspace"] * 4, "enter")
            await until(pilot, lambda: view.model.end == LINES and len(view.model) == 100)
            await settle(pilot, view)
            assert screen_lines(view)[-1].strip() == f"line {LINES - 1}"
            assert not view._filtered

    run(scenario())


@pytest.mark.slow  # a Pilot test over a run log on disk
def test_scrolling_past_the_top_or_bottom_of_the_ring_reads_the_lines_there(
    tmp_path: Path,
) -> None:
    write_log(tmp_path / "run.log", {})

    async def scenario() -> None:
        app = SearchApp(LogPane(ring_size=100))
        async with app.run_test(size=SIZE) as pilot:
            view = await opened(pilot, app, tmp_path / "run.log")
            assert view.model.first == LINES - 100
            view.scroll_to(y=0, animate=False)  # as the user would: to the top
            await until(pilot, lambda: view.model.first < LINES - 100, what="earlier lines")
            await settle(pilot, view)
            assert screen_lines(view)[0].strip() == f"line {LINES - 100}"  # stayed put
            assert view.model.first == LINES - 150 and view.model.end == LINES - 50
            view.scroll_to(y=0, animate=False)
            await until(pilot, lambda: view.model.first == LINES - 200)
            await settle(pilot, view)
            assert screen_lines(view)[0].strip() == f"line {LINES - 150}"
            view.scroll_to(y=view.max_scroll_y, animate=False)  # the window's bottom
            await until(pilot, lambda: view.model.end == LINES - 50, what="later lines")
            await settle(pilot, view)
            assert not view.following  # not yet at the end of the file
            top = view.model.locate(round(view.scroll_y))
            assert top is not None
            assert screen_lines(view)[0].strip() == f"line {top[0]}"
            view.scroll_to(y=view.max_scroll_y, animate=False)
            await until(pilot, lambda: view.model.end == LINES)
            await settle(pilot, view)
            view.scroll_to(y=view.max_scroll_y, animate=False)
            await until(pilot, lambda: view.following)
            await settle(pilot, view)
            assert screen_lines(view)[-1].strip() == f"line {LINES - 1}"

    run(scenario())
