"""Cards are cut to their column's width by shipdeck, never wrapped by the widget."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text

from lifecycle.items import Item, Kind, RunState, StageState
from lifecycle.stages import Stage
from widgets.present_board import card_height, card_text, pack, title_lines


def lines_of(text: Text) -> list[str]:
    return text.plain.split("\n")


@pytest.mark.parametrize("width", [4, 8, 12, 15, 30])
def test_every_line_of_a_card_fits_its_width(width):
    item = Item(
        id="SD-1234",
        title="Supercalifragilistic rate limiting for the login endpoint, again",
        kind=Kind.FEATURE,
        breaking=True,
        stage=Stage.DEPLOY,
        states={Stage.DEPLOY: StageState(state=RunState.PASSED)},
        version="10.20.30",
        env="production-eu",
    )
    card = card_text(item, width=width)
    assert all(Text(line).cell_len <= max(width, 4) for line in lines_of(card))


def test_title_takes_at_most_two_lines_and_says_it_was_cut():
    assert title_lines("Dark mode for the dashboard", 12) == ["Dark mode", "for the das…"]
    assert title_lines("Short", 12) == ["Short"]
    assert title_lines("", 12) == [""]


def test_pack_puts_words_on_as_few_lines_as_fit_and_keeps_their_styles():
    lines = pack([Text("SD-8", "bold red"), Text("feature", "cyan"), Text("!", "red")], 12)
    assert [line.plain for line in lines] == ["SD-8 feature", "!"]
    first = lines[0]
    assert first.style == ""  # no base style leaking from the first word onto the rest
    styles = {str(span.style) for span in first.spans}
    assert styles == {"bold red", "cyan"}


def test_a_failed_card_keeps_its_version_and_env_on_lines_of_their_own():
    item = Item(
        id="SD-8",
        title="New pricing API",
        stage=Stage.DEPLOY,
        states={Stage.DEPLOY: StageState(state=RunState.FAILED)},
        version="1.0.0",
        env="staging",
    )
    assert lines_of(card_text(item, width=12)) == [
        "SD-8 feature",
        "New pricing",
        "API",
        "✘failed",
        "1.0.0",
        "@staging",
    ]


@settings(max_examples=300, deadline=None)
@given(
    title=st.text(max_size=80),
    width=st.integers(min_value=1, max_value=40),
    breaking=st.booleans(),
    kind=st.sampled_from(list(Kind)),
    stage=st.sampled_from(list(Stage)),
    state=st.sampled_from(list(RunState)),
    version=st.one_of(st.none(), st.from_regex(r"\A[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\Z")),
    env=st.one_of(st.none(), st.from_regex(r"\A[a-z][a-z0-9-]{0,20}\Z")),
)
def test_card_height_is_the_number_of_lines_card_text_gives(
    title, width, breaking, kind, stage, state, version, env
):
    item = Item(
        id="SD-42",
        title=title,
        kind=kind,
        breaking=breaking,
        stage=stage,
        states={stage: StageState(state=state)},
        version=version,
        env=env,
    )
    card = card_text(item, width=width)
    assert card_height(item, width) == len(lines_of(card))
    assert all(Text(line).cell_len <= max(width, 4) for line in lines_of(card))
