"""The board holds what it shows: a big board's cards are read from the index when drawn,
and a change by another process arrives as a delta, read off the UI thread."""

from __future__ import annotations

from shipdeck.lifecycle.board_index import CardBook
from shipdeck.lifecycle.items import Item
from shipdeck.lifecycle.stages import Stage
from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp
from shipdeck.widgets.board.columns import _BATCH
from tests.helpers import board_store
from tests.waiting import until

PLAN_ITEMS = 600


def _grow(project: Project) -> None:
    with project.store.edit() as board:
        start = board.next_id
        board.items += [Item(f"SD-{n}", f"Planned {n}") for n in range(start, start + PLAN_ITEMS)]
        board.next_id = start + PLAN_ITEMS


async def test_only_the_cards_in_view_are_read_and_a_change_comes_as_a_delta(
    demo_project: Project,
) -> None:
    _grow(demo_project)
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        book = app.items
        assert isinstance(book, CardBook)
        plan = app.board.columns[Stage.PLAN]
        assert len(plan.item_ids) >= PLAN_ITEMS
        held = len(book.cached_values())
        assert held <= len(Stage) * _BATCH < len(book)  # a batch a column, not the board
        last = plan.item_ids[-1]
        assert not book.cached(last)

        other = board_store(demo_project.root)  # another shipdeck, on this machine
        other.update(last, lambda it: setattr(it, "stage", Stage.CODE))
        added = other.add("Added elsewhere").id
        await until(pilot, lambda: added in app.items, what="the board to follow the ref")
        assert app.items is book  # the same book, brought up to date: not read again
        assert last in app.board.columns[Stage.CODE].item_ids
        assert last not in plan.item_ids
        assert app.items[added].title == "Added elsewhere"

        await pilot.press("end")  # the last Plan card: read when the cursor reaches it
        assert plan.selected_id == added
        assert book.cached(added)
        await pilot.press("g")  # vim's (and k9s') first and last, as home and end
        assert plan.selected_id == plan.item_ids[0]
        await pilot.press("G")
        assert plan.selected_id == added


async def test_a_card_that_moves_stage_repaints_its_two_columns_not_the_board(
    demo_project: Project,
) -> None:
    """The cursor follows a card to its next stage at every stage a run passes: on a
    focused board that repaints the two columns, not all eight (Textual's ``focus``
    repaints a whole widget even when it has focus)."""
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        columns = app.board.board_columns
        assert columns.has_focus
        item = app.board.columns[Stage.PLAN].item_ids[0]
        whole: list[object] = []
        refresh = columns.refresh

        def spy(*regions: object, **kwargs: object) -> object:
            if not regions:
                whole.append(kwargs)
            return refresh(*regions, **kwargs)  # type: ignore[arg-type]

        columns.refresh = spy  # type: ignore[method-assign]
        other = board_store(demo_project.root)  # the CLI's move, as a run's would be
        other.update(item, lambda it: setattr(it, "stage", Stage.CODE))
        await until(pilot, lambda: item in app.board.columns[Stage.CODE].item_ids, what="move")
        assert app.board.select(item)
        await pilot.pause()
        assert app.board.selected_id() == item and columns.has_focus
        assert whole == []
