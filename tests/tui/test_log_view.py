"""Pilot and snapshot tests for the log pane (widgets/log/view.py, widgets/log/pane.py)."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from rich.style import Style

from shipdeck.lifecycle.ports import Line, Stream
from shipdeck.widgets.log import ansi
from shipdeck.widgets.log.pane import LogPane, LogStatusBar
from shipdeck.widgets.log.view import LogView
from tests.tui.host import PaneApp
from tests.tui.log_helpers import SIZE, numbered, out, run, screen_lines, settle
from tests.waiting import until


def test_lines_appear_after_a_batch() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines(numbered(3))
            await pilot.pause(0.1)  # no flush(): the frame tick folds the batch in
            assert [line.strip() for line in screen_lines(view)[:3]] == [
                "line 0",
                "line 1",
                "line 2",
            ]

    run(scenario())


def test_lines_written_from_a_thread_appear() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            writer = threading.Thread(target=lambda: view.write_lines(numbered(50)))
            writer.start()
            writer.join()
            await until(pilot, lambda: view.model.end == 50)
            await pilot.pause()
            assert screen_lines(view)[-1].strip() == "line 49"  # following: the newest shows

    run(scenario())


def test_lines_written_before_mount_appear_and_are_styled() -> None:
    async def scenario() -> None:
        pane = LogPane()
        pane.write_lines([Line(Stream.STDERR, "early")])
        threading.Thread(target=lambda: pane.write_lines(out("from a thread"))).start()
        app = PaneApp(pane)
        async with app.run_test(size=SIZE) as pilot:
            view = pane.log_view
            await until(pilot, lambda: view.model.end == 2)
            await pilot.pause()
            assert [line[1:].strip() for line in screen_lines(view)[:2]] == [
                "early",
                "from a thread",
            ]
            assert view.painter.styles["stderr"].color is not None

    run(scenario())


@pytest.mark.slow  # a Pilot test of many lines or keys
def test_ring_bound_is_respected() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane(ring_size=100))
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            for start in range(0, 1000, 100):
                view.write_lines(numbered(100, start))
            await settle(pilot, view)
            assert len(view.model) == 100
            assert view.virtual_size.height == 100
            await pilot.press("home")
            assert screen_lines(view)[0].strip() == "line 900"
            assert "100 of 1,000 lines" in str(app.query_one(LogStatusBar).render())

    run(scenario())


@pytest.mark.slow  # a Pilot test of many lines or keys
def test_follow_pauses_on_scroll_up_counts_and_resumes() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines(numbered(200))
            await settle(pilot, view)
            assert view.following and view.scroll_y == view.max_scroll_y
            await pilot.press("pageup")
            assert not view.following
            held = screen_lines(view)
            view.write_lines(numbered(30, 200))
            await settle(pilot, view)
            assert screen_lines(view) == held  # the user's place is kept
            assert view.status.new_since_pause == 30
            assert "30 new lines" in str(app.query_one(LogStatusBar).render())
            await pilot.press("f")
            assert view.following and view.scroll_y == view.max_scroll_y
            assert screen_lines(view)[-1].strip() == "line 229"
            await pilot.press("up")
            assert not view.following
            await pilot.press("end")
            assert view.following and view.status.new_since_pause == 0
            follow = [m for m in app.messages if isinstance(m, LogView.FollowChanged)]
            assert [m.following for m in follow] == [False, True, False, True]

    run(scenario())


@pytest.mark.slow  # a Pilot test of many lines or keys
def test_paused_view_stays_put_when_the_ring_drops_lines() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane(ring_size=100))
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines(numbered(100))
            await settle(pilot, view)
            await pilot.press("pageup")
            top = screen_lines(view)[0]
            view.write_lines(numbered(10, 100))
            await settle(pilot, view)
            assert screen_lines(view)[0] == top

    run(scenario())


@pytest.mark.slow  # a Pilot test of many lines or keys
def test_search_finds_matches_and_n_moves_to_the_next() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            lines = numbered(300)
            for i in (20, 150, 280):
                lines[i] = Line(Stream.STDOUT, f"line {i} needle")
            view.write_lines(lines)
            await settle(pilot, view)
            await pilot.press("slash")
            await pilot.press(*"needle", "enter")
            await pilot.pause()
            changed = [m for m in app.messages if isinstance(m, LogView.SearchChanged)]
            assert changed[-1].matches == 3
            assert any("line 280 needle" in line for line in screen_lines(view))
            await pilot.press("n")  # wraps to the first
            assert not view.following
            assert any("line 20 needle" in line for line in screen_lines(view))
            await pilot.press("n")
            assert any("line 150 needle" in line for line in screen_lines(view))
            await pilot.press("N")
            assert any("line 20 needle" in line for line in screen_lines(view))
            assert "needle: 3 lines" in str(app.query_one(LogStatusBar).render())

    run(scenario())


def test_search_highlights_matches() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines(out("a needle here", "nothing"))
            await settle(pilot, view)
            view.search("needle")
            await pilot.pause()
            segments = list(view.render_line(0))
            hit = [s for s in segments if s.text == "needle"]
            rest = [s for s in segments if s.text.startswith("a ")]
            assert hit and rest and hit[0].style != rest[0].style

    run(scenario())


def test_bad_regex_is_searched_literally_and_says_so() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines(out("call f(x", "other"))
            await settle(pilot, view)
            assert view.search("f(x") == 1
            await pilot.pause()
            assert "literally" in str(app.query_one(LogStatusBar).render())

    run(scenario())


@pytest.mark.slow  # a Pilot test of many lines or keys
def test_filter_shows_only_matching_lines_and_keeps_up() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines(numbered(100))
            await settle(pilot, view)
            await pilot.press("ampersand", *"7$", "enter")
            await pilot.pause()
            shown = [line.strip() for line in screen_lines(view) if line.strip()]
            assert shown == [f"line {i}" for i in range(7, 100, 10)]
            view.write_lines(numbered(10, 100))  # new lines are filtered as they arrive
            await settle(pilot, view)
            assert screen_lines(view)[10].strip() == "line 107"
            view.set_filter("")
            await settle(pilot, view)
            assert view.virtual_size.height == 110

    run(scenario())


@pytest.mark.slow  # a Pilot test of many lines or keys
def test_wrap_and_timestamp_toggles_change_rendering() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            width = view.scrollable_content_region.width
            view.write_lines(out("x" * 200, "short"), when=1_700_000_000.25)
            await settle(pilot, view)
            assert view.virtual_size.height == 2
            assert screen_lines(view)[1].strip() == "short"
            await pilot.press("w")
            await settle(pilot, view)
            rows = -(-200 // (width - 1))
            assert view.virtual_size.height == rows + 1
            assert screen_lines(view)[rows].strip() == "short"
            assert screen_lines(view)[1].strip() == "x" * (width - 1)
            await pilot.press("w", "t")
            await settle(pilot, view)
            assert re.match(r" \d\d:\d\d:\d\d\.250 short", screen_lines(view)[1])
            await pilot.press("t")
            assert screen_lines(view)[1].strip() == "short"

    run(scenario())


@pytest.mark.slow  # a Pilot test of many lines or keys
def test_escape_sequences_are_harmless() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines(out("\x1b]0;pwned\x07\x1b[2J\x1b[H", "\x9b2J\x1bc tail"))
            await settle(pilot, view)
            for y in range(2):
                text = "".join(segment.text for segment in view.render_line(y))
                assert not re.search(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]", text)
            assert screen_lines(view)[0].strip() == "\\x1b]0;pwned\\x07"
            assert screen_lines(view)[1].strip() == "\\x9b2J\\x1bc tail"
            svg = app.export_screenshot()
            assert "pwned" in svg and "\x1b" not in svg and "\x07" not in svg

    run(scenario())


def test_stderr_is_told_apart_from_stdout() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines([Line(Stream.STDOUT, "fine"), Line(Stream.STDERR, "broken")])
            await settle(pilot, view)
            stdout, stderr = list(view.render_line(0)), list(view.render_line(1))
            assert stdout[0].text == " " and stderr[0].text == "▌"  # gutter mark
            out_style = next(s.style for s in stdout if "fine" in s.text)
            err_style = next(s.style for s in stderr if "broken" in s.text)
            assert isinstance(err_style, Style) and err_style.color != out_style.color  # type: ignore[union-attr]

    run(scenario())


@pytest.mark.slow  # a Pilot test of many lines or keys
def test_a_theme_switch_restyles_lines_already_shown() -> None:
    """Regression: the view read its component styles when Textual announced the new
    theme, which is before Textual recomputes them, so stderr kept the old colour. The
    empty rows below the last line follow the theme too."""

    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            app.theme = "textual-dark"
            view = app.pane.log_view
            view.write_lines([Line(Stream.STDERR, "broken")])
            await settle(pilot, view)

            def stderr_colour() -> object:
                line = list(view.render_line(0))
                return next(s.style for s in line if "broken" in s.text).color  # type: ignore[union-attr]

            def expected() -> object:
                return view.get_component_rich_style("log-view--stderr").color

            def blank_background() -> object:
                # the rows below the last line are kept between frames, not restyled
                (segment,) = list(view.render_line(5))
                assert segment.text.strip() == ""
                return segment.style.bgcolor  # type: ignore[union-attr]

            dark = stderr_colour()
            assert dark == expected()
            assert blank_background() == view.rich_style.bgcolor
            dark_background = blank_background()
            app.theme = "textual-light"
            await pilot.pause()
            await pilot.pause()
            assert expected() != dark  # the themes differ here, so the test can fail
            assert stderr_colour() == expected()
            assert view.rich_style.bgcolor != dark_background
            assert blank_background() == view.rich_style.bgcolor

    run(scenario())


def test_ansi_colours_are_rendered() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines(out("\x1b[32mPASSED\x1b[0m test_one"))
            await settle(pilot, view)
            segments = list(view.render_line(0))
            passed = next(s for s in segments if s.text == "PASSED")
            rest = next(s for s in segments if "test_one" in s.text)
            assert passed.style and passed.style.color != rest.style.color  # type: ignore[union-attr]
            assert "\x1b" not in "".join(s.text for s in segments)

    run(scenario())


@pytest.mark.slow  # a Pilot test of many lines or keys
def test_a_5mb_line_renders_quickly_with_the_cap_marker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quickly because only its first ansi.MAX_CHARS characters are ever made into text
    to draw, search or measure (how quickly: benchmarks/deadlines.py)."""
    built: list[int] = []
    real_to_text = ansi.to_text

    def to_text(text: str, *args: Any, **kwargs: Any) -> Any:
        made = real_to_text(text, *args, **kwargs)
        built.append(len(made.plain))
        return made

    monkeypatch.setattr(ansi, "to_text", to_text)

    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines(out("y" * 5_000_000, "after"))
            await settle(pilot, view)
            await pilot.press("w")  # wrapping it too
            await settle(pilot, view)
            view.search("after")
            await settle(pilot, view)
            await pilot.press("w", "home", "end")
            await settle(pilot, view)
            assert screen_lines(view)[1].strip() == "after"
            view.scroll_to(x=9_990, animate=False)
            await pilot.pause()
            assert "… (5,000,000 chars)" in screen_lines(view)[0]

    run(scenario())
    assert built and max(built) == ansi.MAX_CHARS + len(" … (5,000,000 chars)")


def test_markers_render_as_a_rule() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines(out("deploying"))
            view.add_marker("v0.3.0 started")
            view.write_lines(out("listening on :8080"))
            await settle(pilot, view)
            marker = screen_lines(view)[1]
            assert re.fullmatch(r"─+ v0\.3\.0 started ─+", marker)
            assert len(marker) == view.scrollable_content_region.width
            view.set_filter("listening")  # markers stay in a filtered view
            await settle(pilot, view)
            assert screen_lines(view)[0] == marker

    run(scenario())


@pytest.mark.slow  # a Pilot test of many lines or keys
def test_escape_closes_the_prompt_and_keys_are_declared() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("slash")
            assert app.pane.has_class("-prompting")
            await pilot.press("escape")
            assert not app.pane.has_class("-prompting")
            assert app.focused is app.pane.log_view
        keys = {b.key: b.description for b in LogView.BINDINGS + LogPane.BINDINGS}  # type: ignore[union-attr]
        for key in ("f", "slash", "n", "N", "w", "t", "s", "ampersand"):
            assert keys[key]

    run(scenario())


def snapshot_setup(pane: LogPane) -> None:
    pane.write_lines(
        [
            Line(Stream.INFO, "$ pytest -q"),
            Line(Stream.STDOUT, "\x1b[32m....\x1b[0m\x1b[31mF\x1b[0m  [100%]"),
            Line(Stream.STDERR, "FAILED tests/test_api.py::test_health - assert 500 == 200"),
            Line(Stream.STDOUT, "\x1b[1;33mwarning:\x1b[0m slow test (2.1s)"),
            Line(Stream.STDOUT, "\x1b]0;pwned\x07\x1b[2J\x1b[H title change attempt"),
        ]
    )
    pane.add_marker("v0.3.0 started")
    pane.write_lines([Line(Stream.STDOUT, "listening on http://127.0.0.1:8080")])


@pytest.mark.slow  # a Pilot test of many lines or keys
def test_snapshot_log_pane(snap_compare: Any) -> None:
    assert snap_compare(PaneApp(LogPane(), snapshot_setup), terminal_size=(80, 12))
