"""The open board shows what other processes did to it (issue #15's incremental
reloads, seen on the screen): after whatever the CLI and other boards write, in any
order and terminal size, with or without a ``/`` filter on, every column shows the
cards git has in that stage, and each card in view is drawn from its item as it is
now (its id, its title, its column's count), not as it was when first drawn.

A generated case: a terminal size, an optional filter, and batches of writes by
another store on the same repository (adds, moves, runs started and ended,
retitles, archives and bring-backs, sixty to ninety added at once); after each
batch the app's poller runs and the screen is read back from the compositor.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipdeck.backends.git_board import open_board
from shipdeck.lifecycle.items import Item, Kind, RunState, StageState
from shipdeck.lifecycle.stages import ORDER, Stage
from shipdeck.lifecycle.store import BoardStore
from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp
from shipdeck.widgets.board.cards import column_title, title_lines
from shipdeck.widgets.board.columns import RULER
from shipdeck.widgets.board.filter import card_filter, card_words
from tests.helpers import initialised_repo
from tests.waiting import until

pytestmark = pytest.mark.slow  # the real app on a real repository, many cases

SIZES = st.sampled_from([(80, 24), (120, 40), (250, 70)]) | st.tuples(
    st.integers(60, 250), st.integers(18, 70)
)
PICK = st.integers(0, 10**6)
WRITE = st.one_of(
    st.tuples(st.just("add"), st.integers(1, 3)),
    st.tuples(st.just("bulk"), st.integers(60, 90)),
    st.tuples(st.just("move"), PICK, st.sampled_from(ORDER)),
    st.tuples(st.just("run"), PICK, st.sampled_from(list(RunState))),
    st.tuples(st.just("retitle"), PICK),
    st.tuples(st.just("archive"), PICK),
    st.tuples(st.just("bring back"), PICK),
)
# a word some titles hold and others not ("t1" is in t1, t10-t19, t100...), a kind
FILTERS = st.sampled_from([None, "t1", "t2", "kind:bug", "state:run", "stage:code"])


class Writer:
    """Another shipdeck on the same repository; titles are t1, t2, ... in write order."""

    def __init__(self, root: Path) -> None:
        self.store: BoardStore = open_board(root)
        self.count = 0

    def title(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def write(self, op: tuple[object, ...]) -> None:
        kind, *args = op
        if kind in ("add", "bulk"):
            with self.store.edit() as board:
                for n in range(int(args[0])):  # type: ignore[call-overload]
                    board.add(self.title(), kind=(Kind.BUG, Kind.FEATURE)[n % 2])
            return
        with self.store.edit() as board:
            archived = kind == "bring back"
            some = [i for i in board.items if i.archived is archived]
            if not some:
                return
            item = some[int(args[0]) % len(some)]  # type: ignore[call-overload]
            if kind == "move":
                item.stage = args[1]  # type: ignore[assignment]
            elif kind == "run":
                item.states[item.stage] = StageState(args[1])  # type: ignore[arg-type]
            elif kind == "retitle":
                item.title = self.title()
            else:
                item.archived = not archived


def expected(root: Path, query: str | None) -> tuple[dict[Stage, list[Item]], dict[Stage, int]]:
    """Each stage's cards as git has them (the blobs, no index), the filter applied, and
    how many each stage has unfiltered."""
    store = open_board(root)
    active = store._board_or_empty(store.stamp()).active()
    keep = card_filter(query) if query else None
    out: dict[Stage, list[Item]] = {s: [] for s in ORDER}
    totals = dict.fromkeys(ORDER, 0)
    for item in active:
        totals[item.stage] += 1
        if keep is None or keep(card_words(item)):
            out[item.stage].append(item)
    return out, totals


def screen_lines(app: ShipdeckApp) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def check(app: ShipdeckApp, root: Path, query: str | None) -> None:
    want, totals = expected(root, query)
    board = app.board
    for stage in ORDER:
        shown = board.columns[stage].item_ids
        assert list(shown) == [i.id for i in want[stage]], stage
    columns = board.board_columns
    lines = screen_lines(app)
    left, top = columns.region.x, columns.region.y
    for column, x, outer in columns._columns_shown():
        inner = max(1, outer - 2)
        items = {i.id: i for i in want[column.stage]}
        border = lines[top + RULER][left + x : left + x + outer]
        total = totals[column.stage] if query else None
        assert column_title(column.stage, len(items), total, max(0, inner - 1)) in border
        rows = columns.size.height - RULER - 2  # inside the box, under its top border
        box = [line[left + x + 1 : left + x + 1 + inner].rstrip() for line in lines]

        def row_text(row: int, box: list[str] = box) -> str:
            return box[top + RULER + 1 + row]

        for row in range(rows):
            what, index, offset = column.line_at(column.top + row, inner)
            if what != "card" or offset != 0:
                continue  # each card once, from its first line
            item = items[column.item_ids[index]]
            assert row_text(row).startswith(item.id), (item.id, row_text(row))
            starts, ends = column.layout(inner, index=index)
            height = ends[index] - starts[index]
            if row + height <= rows:  # all of it in view: its title is on one of its lines
                card = [row_text(r) for r in range(row, row + height)]
                assert title_lines(item.title, inner)[0] in card, (item.id, item.title, card)


@pytest.mark.timeout(900)  # ~45 s passing; shrinking a failure takes minutes more
@settings(
    max_examples=int(os.environ.get("SHIPDECK_FOLLOW_EXAMPLES", "30")),
    deadline=None,
    derandomize=os.environ.get("SHIPDECK_HYPOTHESIS_PROFILE", "ci") == "ci",  # reproduces
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    size=SIZES,
    query=FILTERS,
    batches=st.lists(st.lists(WRITE, min_size=1, max_size=4), min_size=1, max_size=5),
)
async def test_the_open_board_shows_what_others_wrote(
    size: tuple[int, int],
    query: str | None,
    batches: list[list[tuple[object, ...]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = Path(tempfile.mkdtemp(prefix="board-follows-"))
    try:
        monkeypatch.setenv("XDG_CONFIG_HOME", str(root / "config"))
        (root / "repo").mkdir()
        initialised_repo(root / "repo")
        writer = Writer(root / "repo")
        writer.write(("add", 3))
        app = ShipdeckApp(Project(root / "repo"))
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            if query:
                await pilot.press("slash", *query, "enter")
            store = app.project.store
            for batch in batches:
                for op in batch:
                    writer.write(op)
                app._poll_store()
                await until(
                    pilot,
                    lambda: app._stamp == store.stamp() and not app._reading,
                    what="the board to follow the ref",
                )
                await pilot.pause()
                check(app, root / "repo", query)
    finally:
        shutil.rmtree(root, ignore_errors=True)
