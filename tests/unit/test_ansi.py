"""The sanitiser: ANSI colours survive, nothing else reaches the terminal raw."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.color import Color

from shipdeck.lifecycle.text import escape_controls
from shipdeck.widgets.log.ansi import display_width, plain, sanitize, to_text

# Every character a terminal would act on, other than printing it.
RAW_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
ALLOWED_ESCAPE = re.compile(r"\x1b\[[0-9;:]*m")

# Text built from the pieces that matter: escapes, controls, printable text.
pieces = st.sampled_from(
    [
        "\x1b",
        "[",
        "]",
        "\\",
        "0;",
        "31",
        "m",
        "H",
        "2J",
        "\x07",
        "\r",
        "\n",
        "\t",
        "\x9b",
        "\x90",
        "\x7f",
        "\u202e",
        "\u200b",
        "\ufeff",
        "8;;",
        "P",
        "_",
        "a",
        "日本",
        " ",
    ]
)
hostile = st.lists(pieces, max_size=30).map("".join) | st.text(max_size=60)


def test_plain_text_takes_the_fast_path_unchanged() -> None:
    text = to_text("hello world", "bold")
    assert text.plain == "hello world"
    assert text.style == "bold"
    assert text.spans == []


def test_sgr_colours_become_styles() -> None:
    text = to_text("\x1b[1;32mok\x1b[0m plain \x1b[38;5;196mred\x1b[39m \x1b[48;2;1;2;3mbg\x1b[m")
    assert text.plain == "ok plain red bg"
    styles = {text.plain[s.start : s.end]: s.style for s in text.spans}
    assert styles["ok"].bold and styles["ok"].color == Color.parse("color(2)")
    assert styles["red"].color == Color.from_ansi(196)
    assert styles["bg"].bgcolor == Color.from_rgb(1, 2, 3)
    assert " plain " not in styles


def test_the_title_and_clear_screen_line_is_harmless_text() -> None:
    line = "\x1b]0;pwned\x07\x1b[2J\x1b[H"
    text = to_text(line)
    assert not RAW_CONTROL.search(text.plain)
    assert text.plain == "\\x1b]0;pwned\\x07"  # OSC shown; cursor home and clear dropped
    assert sanitize(line) == "\\x1b]0;pwned\\x07"


def test_neutralised_controls_are_drawn_distinctly() -> None:
    text = to_text("a\x07b", control_style="reverse")
    assert text.plain == "a\\x07b"
    assert [(s.start, s.end, s.style) for s in text.spans] == [(1, 5, "reverse")]


def test_cursor_and_erase_sequences_are_dropped() -> None:
    assert plain("\x1b[2K\x1b[1Gbuilding\x1b[K\x1b[?25l") == "building"


def test_osc8_hyperlinks_keep_their_text() -> None:
    assert plain("see \x1b]8;;https://x.invalid\x1b\\docs\x1b]8;;\x1b\\ here") == "see docs here"


def test_c1_del_and_bidi_controls_are_shown() -> None:
    assert plain("\x9b31mx\x7fy\u202ez") == "\\x9b31mx\\x7fy\\u202ez"


def test_invisible_format_characters_are_shown_as_everywhere_else() -> None:
    # Zero-width space, word joiner and BOM: escaped in cards and the CLI, so here too.
    assert plain("a\u200bb\u2060c\ufeffd") == "a\\u200bb\\u2060c\\ufeffd"


@given(st.lists(pieces.filter(lambda p: p not in ("\r", "\t")), max_size=30).map("".join))
def test_the_pane_writes_controls_as_the_cli_and_cards_do(line: str) -> None:
    # One notation: without sequences to drop (or a \r, a tab), the pane shows
    # exactly what lifecycle/text.py's escape_controls writes.
    if "\x1b[" not in line and "\x1b]8;" not in line:
        assert plain(line) == escape_controls(line)


def test_carriage_return_keeps_what_a_terminal_would_show() -> None:
    assert plain("10%\r50%\r100%") == "100%"
    assert plain("done\r\n") == "done"
    assert plain("done\r") == "done"


def test_tabs_expand_to_cell_columns() -> None:
    assert plain("ab\tc") == "ab      c"
    assert plain("\x1b[31mab\x1b[0m\tc") == "ab      c"  # escapes take no columns
    assert plain("\x07\tc") == "\\x07    c"  # a shown control takes its columns


def test_long_lines_are_cut_and_say_how_long_they_were() -> None:
    text = to_text("x" * 5_000_000, max_chars=10_000)
    assert text.plain.startswith("x" * 10_000)
    assert text.plain.endswith("… (5,000,000 chars)")
    assert len(text.plain) < 10_100


def test_sanitize_keeps_only_sgr() -> None:
    out = sanitize("\x1b[31mred\x1b[0m \x1b[2Jgone \x1b]0;t\x07")
    assert out == "\x1b[31mred\x1b[0m gone \\x1b]0;t\\x07"


@pytest.mark.slow  # a property test
@given(hostile)
def test_nothing_raw_survives_to_text(line: str) -> None:
    assert not RAW_CONTROL.search(to_text(line).plain)


@given(hostile)
def test_sanitize_leaves_only_sgr_escapes(line: str) -> None:
    out = ALLOWED_ESCAPE.sub("", sanitize(line))
    assert not RAW_CONTROL.search(out.replace("\t", " "))


@pytest.mark.slow  # a property test
@given(hostile)
def test_display_width_matches_what_is_drawn(line: str) -> None:
    assert display_width(line) == to_text(line).cell_len
