"""Pilot tests for the log view's cursor, selection and copy (y, V, Y), its JSON
toggle (J) and its level colours (widgets/log/clipboard.py, json_lines.py, paint.py)."""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any

import pytest
from rich.style import Style

from shipdeck.lifecycle.ports import Line, Stream
from shipdeck.widgets.log.json_lines import level_of, pretty_lines
from shipdeck.widgets.log.pane import LogPane, LogStatusBar
from shipdeck.widgets.log.view import LogView
from tests.tui.host import PaneApp
from tests.tui.log_helpers import SIZE, numbered, out, run, screen_lines, settle
from tests.waiting import Notices

OSC52 = re.compile(r"\x1b\]52;c;([A-Za-z0-9+/=]*)\x07")


def spy_clipboard(app: PaneApp) -> list[str]:
    """What the app is asked to copy, one entry a call (Textual's own method still runs)."""
    copied: list[str] = []
    real = app.copy_to_clipboard

    def copy(text: str) -> None:
        copied.append(text)
        real(text)

    app.copy_to_clipboard = copy  # type: ignore[method-assign]
    return copied


@pytest.mark.slow  # a Pilot test of many keys
def test_y_copies_the_last_line_on_screen_without_a_cursor() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        notices = Notices()
        async with app.run_test(size=SIZE, message_hook=notices) as pilot:
            copied = spy_clipboard(app)
            view = app.pane.log_view
            view.write_lines(numbered(100))
            await settle(pilot, view)
            await pilot.press("y")
            assert copied == ["line 99"]
            assert app.clipboard == "line 99"
            assert "copied 1 line" in notices.messages()

    run(scenario())


@pytest.mark.slow  # a Pilot test of many keys
def test_v_selects_j_k_extend_and_y_copies_exactly_those_lines() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        notices = Notices()
        async with app.run_test(size=SIZE, message_hook=notices) as pilot:
            copied = spy_clipboard(app)
            view = app.pane.log_view
            view.write_lines(numbered(100))
            await settle(pilot, view)
            await pilot.press("V")  # at the last line on screen: line 99
            assert not view.following  # a cursor holds the view still
            await pilot.press("k", "k", "k", "j")  # up to line 97
            await pilot.press("y")
            assert copied == ["line 97\nline 98\nline 99"]
            assert "copied 3 lines" in notices.messages()
            # the selection ended with y; the cursor stays, so y copies its line
            await pilot.press("up", "y")
            assert copied[-1] == "line 96"
            await pilot.press("escape", "y")  # no cursor: the last line on screen
            assert copied[-1] == "line 99"

    run(scenario())


@pytest.mark.slow  # a Pilot test of many keys
def test_selection_drawn_and_copied_text_is_plain() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            copied = spy_clipboard(app)
            view = app.pane.log_view
            view.write_lines(
                out("\x1b[31mred\x1b[0m text", "\x1b]0;title\x07\x1b[2J after", "plain")
            )
            await settle(pilot, view)
            before = [list(view.render_line(y)) for y in range(3)]
            await pilot.press("k", "k", "V", "k")  # placed on line 2, up; select up to line 0
            drawn = [list(view.render_line(y)) for y in range(3)]
            assert drawn[0] != before[0] and drawn[1] != before[1]  # cursor and selection
            assert drawn[2] == before[2]
            await pilot.press("y")
            assert copied == ["red text\n\\x1b]0;title\\x07 after"]
            assert "\x1b" not in copied[0] and "\x07" not in copied[0]

    run(scenario())


@pytest.mark.slow  # a Pilot test of many keys
def test_Y_copies_every_search_hit_the_view_shows() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        notices = Notices()
        async with app.run_test(size=SIZE, message_hook=notices) as pilot:
            copied = spy_clipboard(app)
            view = app.pane.log_view
            lines = numbered(300)
            for i in (5, 150, 280):
                lines[i] = Line(Stream.STDOUT, f"line {i} needle")
            view.write_lines(lines)
            await settle(pilot, view)
            await pilot.press("Y")  # no search yet: nothing copied, and said why
            assert copied == [] and any("no search" in n for n in notices.messages())
            view.search("needle")
            await pilot.pause()
            await pilot.press("Y")
            assert copied == ["line 5 needle\nline 150 needle\nline 280 needle"]
            assert "copied 3 lines" in notices.messages()
            view.set_filter("1")  # hits the filter hides are not copied
            await settle(pilot, view)
            await pilot.press("Y")
            assert copied[-1] == "line 150 needle"

    run(scenario())


@pytest.mark.slow  # a Pilot test of many keys
def test_a_selection_under_a_filter_copies_the_lines_shown() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            copied = spy_clipboard(app)
            view = app.pane.log_view
            view.write_lines(numbered(50))
            await settle(pilot, view)
            view.set_filter("7$")
            await settle(pilot, view)
            await pilot.press("V", "k", "k", "y")
            assert copied == ["line 27\nline 37\nline 47"]

    run(scenario())


@pytest.mark.slow  # a Pilot test of many keys
def test_osc52_reaches_the_driver() -> None:
    """Textual's headless driver writes what the app sends it; read that for OSC 52."""

    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines(out("first", "ünïcode \x1b[1mbold\x1b[0m"))
            await settle(pilot, view)
            driver: Any = app._driver
            sink = io.StringIO()
            written = driver.write
            driver.write = lambda data: (sink.write(data), written(data))
            await pilot.press("V", "k", "y")
            payloads = OSC52.findall(sink.getvalue())
            assert [base64.b64decode(p).decode() for p in payloads] == ["first\nünïcode bold"]

    run(scenario())


@pytest.mark.slow  # a Pilot test of many keys
def test_J_pretty_prints_json_lines_and_toggles_back() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            copied = spy_clipboard(app)
            view = app.pane.log_view
            record = {"level": "error", "msg": "boom", "n": 3, "ok": False}
            view.write_lines(out("before", json.dumps(record), "{not json", "after"))
            await settle(pilot, view)
            assert view.virtual_size.height == 4
            await pilot.press("J")
            await settle(pilot, view)
            assert view.virtual_size.height == 3 + 6
            shown = [line.rstrip() for line in screen_lines(view)[:9]]
            assert shown == [
                " before",
                " {",
                '   "level": "error",',
                '   "msg": "boom",',
                '   "n": 3,',
                '   "ok": false',
                " }",
                " {not json",
                " after",
            ]
            assert "json" in str(app.query_one(LogStatusBar).render())
            # keys and values coloured apart; the level's value in the error colour
            segments = list(view.render_line(2))
            key = next(s for s in segments if s.text == '"level"')
            value = next(s for s in segments if s.text == '"error"')
            assert key.style != value.style
            assert value.style.color == view.painter.styles["level-error"].color  # type: ignore[union-attr]
            # the cursor moves by line: the whole object is one line to copy
            await pilot.press("j", "k", "k", "y")  # placed on "after", then up two lines
            assert copied == [json.dumps(record)]
            await pilot.press("J")
            await settle(pilot, view)
            assert view.virtual_size.height == 4
            assert screen_lines(view)[1].strip() == json.dumps(record)

    run(scenario())


@pytest.mark.slow  # a Pilot test of many keys
def test_J_with_wrap_wraps_each_pretty_row() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            width = view.scrollable_content_region.width - 1
            record = {"msg": "x" * 100}
            view.write_lines(out(json.dumps(record), "after"))
            await settle(pilot, view)
            await pilot.press("w", "J")
            await settle(pilot, view)
            long_row = len('  "msg": "') + 100 + 1
            assert view.virtual_size.height == 1 + -(-long_row // width) + 1 + 1
            rows = [line[1:] for line in screen_lines(view)]
            assert rows[0].rstrip() == "{"
            assert rows[1] == '  "msg": "' + "x" * (width - 10)
            assert rows[-1 + view.virtual_size.height].strip() == "after"

    run(scenario())


def _style_of(view: LogView, y: int, word: str) -> Style:
    segment = next(s for s in view.render_line(y) if word in s.text)
    assert isinstance(segment.style, Style)
    return segment.style


def test_level_colours_and_lines_with_their_own_colours_keep_them() -> None:
    async def scenario() -> None:
        app = PaneApp(LogPane())
        async with app.run_test(size=SIZE) as pilot:
            view = app.pane.log_view
            view.write_lines(
                out(
                    "2024-05-01T12:00:00Z ERROR db down",
                    "2024-05-01T12:00:00Z WARN slow query",
                    "2024-05-01T12:00:00Z INFO ready",
                    "\x1b[32mok\x1b[0m ERROR but coloured by its tool",
                    '{"level":"warning","msg":"json warn"}',
                    "plain line",
                )
            )
            await settle(pilot, view)
            styles = view.painter.styles
            error, warn = styles["level-error"].color, styles["level-warn"].color
            assert error is not None and warn is not None and error != warn
            plain = _style_of(view, 5, "plain line").color
            assert _style_of(view, 0, "db down").color == error
            assert _style_of(view, 1, "slow query").color == warn
            assert _style_of(view, 2, "ready").color == plain
            assert _style_of(view, 4, "json warn").color == warn
            ansi_rest = _style_of(view, 3, "coloured by its tool").color
            assert ansi_rest not in (error, warn)

    run(scenario())


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("ERROR boom", "error"),
        ("2024-05-01 12:00:00,123 CRITICAL x", "error"),
        ("E0501 FATAL: x", "error"),
        ("error: linker failed", "error"),
        ("[warn] disk", "warn"),
        ("ts=1 level=warning msg=x", "warn"),
        ('{"ts": 1, "severity": "DEBUG"}', "debug"),
        ("I0501 INFO x", "info"),
        ("no error here", None),
        ("INFORMATION", None),
        ("\x1b[31mERROR\x1b[0m", None),
        ("x" * 100 + " ERROR", None),  # not near the start
    ],
)
def test_level_of(text: str, level: str | None) -> None:
    assert level_of(text) == level


def test_pretty_lines_only_for_json_objects() -> None:
    assert pretty_lines('{"a": [1, 2]}') == ("{", '  "a": [', "    1,", "    2", "  ]", "}")
    assert pretty_lines("[1, 2]") is None
    assert pretty_lines("{oops}") is None
    assert pretty_lines("plain") is None
    assert pretty_lines('{"s": "\\u009b2J"}') == ("{", '  "s": "\\u009b2J"', "}")


def test_new_keys_are_declared() -> None:
    ids = {b.id: b.key for b in LogView.BINDINGS + LogPane.BINDINGS}  # type: ignore[union-attr]
    assert ids["log.copy"] == "y" and ids["log.copy_hits"] == "Y"
    assert ids["log.select"] == "V" and ids["log.json"] == "J"
