"""Items: ids, slugs and the dict form the store and --json use."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipdeck.lifecycle.items import (
    Item,
    Kind,
    RunState,
    StageState,
    TestReport,
    item_number,
    normalise_id,
    slugify,
)
from shipdeck.lifecycle.stages import Stage


def test_ids_normalise_and_refuse_garbage() -> None:
    assert normalise_id("sd-12") == "SD-12"
    assert normalise_id("7") == "SD-7"
    assert item_number("SD-3") == 3
    for bad in ("SD-0", "SD-", "X-1", "SD-1; rm", "-1"):
        with pytest.raises(ValueError):
            normalise_id(bad)


def test_slugify_is_branch_safe() -> None:
    assert slugify("Add login (OAuth) !") == "add-login-oauth"
    assert slugify("$(touch /tmp/pwned); rm -rf ~") == "touch-tmp-pwned-rm-rf"
    assert slugify("日本語") == "item"
    # accents go, their letters stay; ligatures and full-width forms are spelled out
    assert slugify("Fix 🐛 in café ordering — naïve résumé") == "fix-in-cafe-ordering-naive-resume"
    assert slugify("Straße ﬁx Ｖ２") == "strasse-fix-v2"
    assert len(slugify("x" * 200)) <= 40


@given(st.text())
def test_any_title_makes_a_branch_safe_slug(title: str) -> None:
    slug = slugify(title)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug), slug
    assert len(slug) <= 40


def test_round_trip_keeps_every_field() -> None:
    t = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    item = Item(
        id="SD-4",
        title="  $(touch /tmp/pwned); rm -rf ~  ",
        kind=Kind.BUG,
        body="line1\nline2",
        breaking=True,
        stage=Stage.TEST,
        states={
            Stage.BUILD: StageState(RunState.PASSED, t, t, "r1", "abc", None),
            Stage.TEST: StageState(RunState.FAILED, t, t, "r2", "abc", "1 failed"),
        },
        branch="bug/SD-4-x",
        sha="abc",
        version=None,
        links=["release:v0.1.0"],
        tests=TestReport(3, 1, 0, 0, ["tests/test_a.py::test_b"]),
        artifacts={"image": "sha256:1"},
        created_at=t,
        updated_at=t,
    )
    data = item.to_dict()
    assert list(data)[:4] == ["id", "title", "kind", "stage"]
    assert Item.from_dict(data) == item
    assert item.states[Stage.TEST].duration == 0.0
    assert item.short_sha == "abc"


def test_item_show_gives_stage_times_in_the_seconds_it_keeps() -> None:
    """Stage times are kept to the second: ``item show`` said ``0.0s`` and ``2.0s`` for
    a 2.5 s deploy, a precision it does not have."""
    from datetime import timedelta

    from shipdeck.cli.text import item_detail

    t = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    item = Item(
        id="SD-4",
        title="x",
        kind=Kind.BUG,
        stage=Stage.DEPLOY,
        states={
            Stage.BUILD: StageState(RunState.PASSED, t, t, "r1", "abc", None),
            Stage.DEPLOY: StageState(RunState.PASSED, t, t + timedelta(seconds=125), "r2"),
        },
    )
    lines = {line.split()[0]: line.split() for line in item_detail(item).splitlines() if line}
    assert lines["build"][2] == "0s" and lines["deploy"][2:4] == ["2m", "05s"]
