"""``/`` filters the board's cards (issue #11 item 3, k9s' habit): by id, title, kind
and state as it is typed; Enter keeps the filter, Escape clears it; the column
titles count "shown/total" and a line under the board says the filter is on.

On the demo repository: SD-1 (a feature) in Code; SD-2 (a feature), SD-3 (a bug)
and SD-4 (a chore) in Plan.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipdeck.lifecycle.items import Item, Kind, RunState, StageState
from shipdeck.lifecycle.stages import Stage
from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp
from shipdeck.widgets.board.columns import RULER
from shipdeck.widgets.board.filter import BoardFilter, card_filter, card_words

pytestmark = pytest.mark.slow  # Pilot on the demo repository, seconds a test

SIZE = (120, 40)


def shown(app: ShipdeckApp) -> set[str]:
    return {i for column in app.board.columns.values() for i in column.item_ids}


def titles(app: ShipdeckApp) -> str:
    """The column titles as drawn (the top border of each box)."""
    return app.board.board_columns.render_line(RULER).text


def note(app: ShipdeckApp) -> str:
    return str(app.board.query_one("#board-filter-note").render())


async def type_filter(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("slash", *text)
    await pilot.pause()


async def test_typing_narrows_the_board_and_escape_restores_it(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        everything = shown(app)
        assert everything == {"SD-1", "SD-2", "SD-3", "SD-4"}
        await pilot.press("slash")
        await pilot.pause()
        bar = app.board.query_one(BoardFilter)
        assert bar.display and bar.has_focus_within
        await pilot.press("S", "D", "-", "2")
        await pilot.pause()
        assert shown(app) == {"SD-2"}
        assert app.board.selected_id() == "SD-2"
        assert "Plan 1/3" in titles(app) and "Code 0/1" in titles(app)
        assert "filter on: 1 of 4 cards" in note(app) and "esc clears" in note(app)
        await pilot.press("escape")
        await pilot.pause()
        assert shown(app) == everything
        assert not bar.display and app.board.board_columns.has_focus
        assert "Plan 3 " in titles(app) and "/" not in titles(app)


async def test_a_kind_a_state_and_a_field_token(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await type_filter(pilot, "bug")
        bugs = {i.id for i in app.items.values() if i.kind is Kind.BUG}
        assert bugs and shown(app) == bugs
        await pilot.press(*["backspace"] * 3, *"kind:feat")
        await pilot.pause()
        features = {i.id for i in app.items.values() if i.kind is Kind.FEATURE}
        assert shown(app) == features
        await pilot.press(*["backspace"] * 9, *"state:pass", "space", *"code")
        await pilot.pause()
        assert shown(app) == {"SD-1"}  # every word must match
        await pilot.press("backspace", "backspace", "backspace", "backspace", *"plan")
        await pilot.pause()
        assert shown(app) == set()


async def test_enter_keeps_the_filter_and_the_keys_act_on_a_shown_card(
    demo_project: Project,
) -> None:
    app = ShipdeckApp(demo_project)
    advanced: list[str | None] = []

    def advance() -> None:  # not a real run: which card would it advance?
        item = app.selected_item()
        advanced.append(item.id if item else None)

    app.board.item_ops.advance = advance  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.board.selected_id() == "SD-2"  # the first card in Plan
        await type_filter(pilot, "kind:chore")
        await pilot.press("enter")
        await pilot.pause()
        assert app.board.board_columns.has_focus
        assert shown(app) == {"SD-4"} and app.board.selected_id() == "SD-4"
        assert "filter on: 1 of 4 cards" in note(app) and "/ edits" in note(app)
        await pilot.press("a")
        await pilot.pause()
        assert advanced == ["SD-4"]
        # The cursor leaves for a column the filter empties? It comes back to SD-4's.
        await pilot.press("slash", *["backspace"] * 10, *"SD-1", "enter")
        await pilot.pause()
        assert shown(app) == {"SD-1"} and app.board.selected_id() == "SD-1"
        assert app.board.board_columns.current.stage is Stage.CODE
        await pilot.press("a")
        await pilot.pause()
        assert advanced == ["SD-4", "SD-1"]
        # Escape on the board (the filter kept) clears it; the cursor stays put.
        await pilot.press("escape")
        await pilot.pause()
        assert len(shown(app)) == 4 and app.board.selected_id() == "SD-1"


async def test_a_filter_matching_nothing_leaves_empty_columns_and_no_card(
    demo_project: Project,
) -> None:
    app = ShipdeckApp(demo_project)
    advanced: list[str | None] = []
    app.board.item_ops.advance = lambda: advanced.append(  # type: ignore[method-assign]
        getattr(app.selected_item(), "id", None)
    )
    async with app.run_test(size=SIZE) as pilot:
        await type_filter(pilot, "nosuchcard")
        assert shown(app) == set() and app.board.selected_id() is None
        assert "Plan 0/3" in titles(app) and "Build 0 " in titles(app)
        assert "filter on: 0 of 4 cards" in note(app)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("j", "l", "end", "a")
        await pilot.pause()
        # never on a hidden card: with none under the cursor, a is dimmed and does nothing
        assert advanced == [] and app.board.check_action("advance", ()) is None
        await pilot.press("slash", "ctrl+u")  # ctrl+u: delete to the start
        await pilot.pause()
        assert len(shown(app)) == 4
        await pilot.press("escape")
        await pilot.pause()
        assert app.board.selected_id() in shown(app)


async def test_the_filter_survives_a_resize_and_a_reload(demo_project: Project) -> None:
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await type_filter(pilot, "kind:chore")
        await pilot.press("enter")
        await pilot.resize_terminal(40, 16)
        await pilot.pause()
        assert shown(app) == {"SD-4"} and app.board.selected_id() == "SD-4"
        columns = app.board.board_columns
        for y in range(columns.size.height):  # every line whole at the new width
            assert columns.render_line(y).cell_length == columns.size.width
        assert "Plan 1/3" in titles(app)
        await pilot.resize_terminal(*SIZE)
        # Cards added elsewhere (the CLI, another shipdeck) are filtered as they come in.
        demo_project.store.add("Fix the release notes", kind=Kind.BUG)
        demo_project.store.add("Tidy the scripts", kind=Kind.CHORE)
        app.reload_board()
        await pilot.pause()
        assert shown(app) == {"SD-4", "SD-6"} and "Plan 2/5" in titles(app)
        assert "filter on: 2 of 6 cards" in note(app)
        assert app.board.selected_id() == "SD-4"


def test_what_a_query_matches() -> None:
    item = Item(id="SD-12", title="Fix the Cart", kind=Kind.BUG, stage=Stage.TEST)
    item.states[Stage.TEST] = StageState(RunState.FAILED)
    item.version, item.env = "1.4.0", "staging"

    def matches(query: str) -> bool:
        keep = card_filter(query)
        assert keep is not None
        return keep(card_words(item))

    assert card_filter("  ") is None
    for query in ("sd-12", "cart", "FIX cart", "bug", "failed", "test", "1.4", "staging"):
        assert matches(query), query
    for query in ("kind:bug", "state:fail", "stage:test", "env:stag", "version:1.4", "id:sd-1"):
        assert matches(query), query
    for query in ("sd-1", "sd-120", "kind:chore", "state:passed", "cart deploy", "env:prod"):
        assert not matches(query), query
    assert matches("nokey:value") is False  # an unknown field is a plain word


# A change made elsewhere (the CLI, another shipdeck) while a filter is on: (what, which
# card of those on the board, a stage, a kind, whether the title says "zap"). Each can
# move a card into or out of what the queries below match.
CHANGES = st.lists(
    st.tuples(
        st.sampled_from(["add", "move", "retitle", "kind", "archive"]),
        st.integers(0, 40),
        st.sampled_from([Stage.PLAN, Stage.TEST, Stage.DEPLOY]),
        st.sampled_from([Kind.BUG, Kind.FEATURE]),
        st.booleans(),
    ),
    min_size=1,
    max_size=5,
)
QUERIES = st.sampled_from(["zap", "kind:bug", "stage:test", "kind:bug zap", "sd-2"])


def _change(project: Project, what: str, pick: int, stage: Stage, kind: Kind, zap: bool) -> None:
    store = project.store
    word = " zap" if zap else ""
    if what == "add":
        store.add(f"Item {pick}{word}", kind=kind)
        return
    ids = [i.id for i in store.load().active()]
    if not ids:
        return
    item_id = ids[pick % len(ids)]

    def change(item: Item) -> None:
        if what == "move":
            item.stage = stage
        elif what == "retitle":
            item.title = item.title.replace(" zap", "") + word
        elif what == "kind":
            item.kind = kind
        else:
            item.archived = True

    store.update(item_id, change)


def _expected(project: Project, query: str) -> set[str]:
    keep = card_filter(query)
    assert keep is not None
    return {i.id for i in Project(project.root).store.load().active() if keep(card_words(i))}


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=QUERIES, rounds=st.lists(CHANGES, min_size=1, max_size=3))
def test_the_filter_shows_what_it_matches_after_each_reload(
    demo_project: Project, query: str, rounds: list[list[tuple[str, int, Stage, Kind, bool]]]
) -> None:
    """The filter keeps a copy of every card and brings only the changed ones up to
    date at each reload: after any changes made elsewhere, it shows exactly the cards
    a fresh read of the whole board says match (the examples share one repository, so
    each starts from the board the ones before left)."""

    async def run() -> None:
        app = ShipdeckApp(demo_project)
        async with app.run_test(size=SIZE) as pilot:
            await type_filter(pilot, query)
            assert shown(app) == _expected(demo_project, query)
            for changes in rounds:
                for change in changes:
                    _change(demo_project, *change)
                app.reload_board()
                await pilot.pause()
                assert shown(app) == _expected(demo_project, query), changes

    asyncio.run(run())


async def test_a_paste_filters_once_for_its_last_query(demo_project: Project) -> None:
    """Keys typed faster than the board filters (a paste): each edit's message is
    handled after the next edit, and only the newest query is applied."""
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await type_filter(pilot, "")
        applied: list[str] = []
        apply = app.board.apply_filter

        def counted(query: str) -> None:
            applied.append(query)
            apply(query)

        app.board.apply_filter = counted  # type: ignore[method-assign]
        prompt = app.board.query_one(BoardFilter).input
        for n in range(1, len("kind:bug") + 1):
            prompt.value = "kind:bug"[:n]  # each posts its Changed before any is handled
        await pilot.pause()
        assert applied == ["kind:bug"]
        assert shown(app) == {"SD-3"}
