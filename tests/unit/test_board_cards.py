"""Cards are cut to their column's width by shipdeck, never wrapped by the widget."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text

from shipdeck.lifecycle.items import Item, Kind, RunState, StageState
from shipdeck.lifecycle.stages import Stage
from shipdeck.widgets.board.cards import (
    card_height,
    card_text,
    column_title,
    more_note,
    pack,
    title_lines,
)


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


@pytest.mark.slow  # a property test
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


# --- what runs now (issue #11 item 2) ------------------------------------------------

from datetime import UTC, datetime, timedelta  # noqa: E402

from shipdeck.lifecycle import events as ev  # noqa: E402
from shipdeck.lifecycle.events import env_versions  # noqa: E402
from shipdeck.lifecycle.items import TestReport  # noqa: E402
from shipdeck.tui.card_facts import card_facts  # noqa: E402
from shipdeck.widgets.board.cards import CardFacts  # noqa: E402

NOW = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)


def _event(kind: str, **data: object) -> ev.Event:
    return ev.Event(kind, None, dict(data))


def test_a_card_in_code_shows_its_branch_head_not_its_base():
    item = Item(id="SD-3", title="t", stage=Stage.CODE, sha="a" * 40, branch="feature/SD-3-t")
    facts = card_facts([item], {"feature/SD-3-t": "b" * 40}, {}, {})
    text = card_text(item, width=30, facts=facts["SD-3"]).plain
    assert "bbbbbbb" in text and "aaaaaaa" not in text


def test_a_running_card_shows_its_elapsed_time_and_operate_its_bake_left():
    started = NOW - timedelta(seconds=75)
    running = {Stage.BUILD: StageState(state=RunState.RUNNING, started_at=started)}
    item = Item(id="SD-4", title="t", stage=Stage.BUILD, states=running)
    assert "running 1m15s" in card_text(item, width=30, now=NOW).plain
    baking = {Stage.OPERATE: StageState(state=RunState.RUNNING, started_at=started)}
    item = Item(id="SD-4", title="t", stage=Stage.OPERATE, states=baking, env="staging")
    text = card_text(item, width=30, facts=CardFacts(bake=300), now=NOW).plain
    assert "baking 3m45s left" in text


def test_a_running_card_shows_its_step_of_how_many():
    started = NOW - timedelta(seconds=5)
    state = StageState(state=RunState.RUNNING, started_at=started, step="2/3 unit tests")
    item = Item(id="SD-4", title="t", stage=Stage.TEST, states={Stage.TEST: state})
    assert "running 5s 2/3" in card_text(item, width=30, now=NOW).plain
    state.state = RunState.PASSED  # a step left over from a run that ended is not shown
    assert "2/3" not in card_text(item, width=30, now=NOW).plain


def test_test_counts_show_from_test_on():
    report = TestReport(passed=12, failed=1)
    item = Item(id="SD-5", title="t", stage=Stage.RELEASE, tests=report)
    text = card_text(item, width=30).plain
    assert "12✔" in text and "1✘" in text
    assert "12✔" not in card_text(Item(id="SD-5", title="t", tests=report), width=30).plain


def test_a_release_that_no_longer_runs_says_what_runs_instead():
    deployed = {Stage.DEPLOY: StageState(state=RunState.PASSED)}
    old = Item(id="SD-6", title="t", stage=Stage.DEPLOY, states=deployed, version="0.2.0",
               env="staging")  # fmt: skip
    events = [
        _event(ev.DEPLOYED, env="staging", version="0.2.0"),
        _event(ev.ROLLED_BACK, env="staging", from_version="0.2.0", to_version="0.1.0"),
    ]
    facts = card_facts([old], {}, env_versions(events), {})
    assert "↶ to 0.1.0" in card_text(old, width=30, facts=facts["SD-6"]).plain
    events.append(_event(ev.DEPLOYED, env="staging", version="0.3.0"))
    facts = card_facts([old], {}, env_versions(events), {})
    assert "now 0.3.0" in card_text(old, width=30, facts=facts["SD-6"]).plain
    events.append(_event(ev.DEPLOYED, env="staging", version="0.2.0"))
    facts = card_facts([old], {}, env_versions(events), {})
    text = card_text(old, width=30, facts=facts["SD-6"]).plain
    assert "@staging" in text and "now" not in text and "↶" not in text
    events.append(_event(ev.STOPPED, env="staging"))
    facts = card_facts([old], {}, env_versions(events), {})
    assert "stopped" in card_text(old, width=30, facts=facts["SD-6"]).plain


def test_a_baked_card_in_operate_says_which_key_moves_it_on():
    baked = {Stage.OPERATE: StageState(state=RunState.PASSED)}
    item = Item(id="SD-7", title="t", stage=Stage.OPERATE, states=baked, env="staging")
    assert "a→Monitor" in card_text(item, width=30).plain


@pytest.mark.slow  # a property test
@settings(max_examples=200, deadline=None)
@given(
    width=st.integers(4, 40),
    seconds=st.integers(0, 200_000),
    version=st.sampled_from([None, "0.1.0", "10.20.30"]),
    now_version=st.sampled_from([None, "", "0.1.0", "0.9.0-rc.1"]),
    how=st.sampled_from([None, "deployed", "rolled back", "stopped"]),
    stage=st.sampled_from(list(Stage)),
    state=st.sampled_from(list(RunState)),
)
def test_card_height_matches_the_card_with_any_facts(
    width, seconds, version, now_version, how, stage, state
):
    started = NOW - timedelta(seconds=seconds)
    item = Item(
        id="SD-77", title="Cache the item list for thirty seconds", stage=stage,
        states={stage: StageState(state=state, started_at=started)}, version=version,
        env="staging", tests=TestReport(passed=3, failed=1), sha="c" * 40, branch="b",
    )  # fmt: skip
    facts = CardFacts(head="d" * 40, env_version=now_version, env_how=how, bake=120)
    text = card_text(item, width=width, facts=facts, now=NOW)
    assert card_height(item, width, facts, NOW) == len(text.plain.split("\n"))
    assert all(Text(line).cell_len <= max(width, 4) for line in lines_of(text))


COUNTS = st.integers(0, 10**6)


@given(st.sampled_from(list(Stage)), COUNTS, st.one_of(st.none(), COUNTS), st.integers(0, 40))
def test_a_column_title_fits_and_never_shows_a_cut_number(
    stage: Stage, count: int, total: int | None, width: int
) -> None:
    """Cut to the width, "Release 0/666" read as "Release 0/6": a number shows whole
    or not at all, and the name gives way first."""
    title = column_title(stage, count, total, width)
    assert len(title) <= width
    numbers = title.split()[-1] if title.strip() else ""
    whole = f"{count}/{total}" if total else f"{count}"
    assert numbers in ("", whole, f"{count}")
    if title.strip():
        label = title.split()[0] if len(title.split()) > 1 else ""
        assert stage.label.startswith(label.removesuffix("…"))
    if width >= len(f" {stage.label} {whole} "):
        assert title == f" {stage.label} {whole} "


@given(COUNTS, COUNTS, st.integers(0, 20))
def test_the_more_note_fits_and_never_shows_a_cut_number(
    above: int, below: int, width: int
) -> None:
    note = more_note(above, below, width)
    assert len(note) <= width
    if not (above or below):
        assert note == ""
        return
    arrow, n = ("↓", below) if below else ("↑", above)
    assert note == "" or note.strip().removeprefix(arrow).split()[0] == str(n)
    if width >= len(f" {arrow} {n} more "):
        assert note == f" {arrow} {n} more "


def test_a_filtered_title_in_a_narrow_column_shortens_the_name_first() -> None:
    assert column_title(Stage.RELEASE, 0, 666, 12) == " Rele… 0/666"
    assert column_title(Stage.RELEASE, 0, 666, 11) == " Rel… 0/666"
    assert column_title(Stage.RELEASE, 0, 666, 16) == " Release 0/666 "
    assert column_title(Stage.PLAN, 9004, None, 3) == ""
