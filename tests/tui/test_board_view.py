"""The board widget on its own: what is out of view is counted, the cursor is kept
in view, narrow terminals slide the columns, clicks choose cards."""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from host import PaneApp
from hypothesis import given, settings
from hypothesis import strategies as st
from textual.geometry import Region

from shipdeck.lifecycle.items import Item, RunState, StageState
from shipdeck.lifecycle.stages import ORDER, SPANS, Stage
from shipdeck.widgets.board.columns import RULER, BoardColumns, StageColumn, span_label


def make_board() -> tuple[BoardColumns, dict[Stage, StageColumn]]:
    columns = {s: StageColumn(s) for s in ORDER}
    board = BoardColumns(list(columns.values()), id="columns")
    return board, columns


def fill(columns: dict[Stage, StageColumn], plan: int, code: int = 1) -> None:
    columns[Stage.PLAN].set_items(Item(id=f"SD-{i}", title=f"Plan item {i}") for i in range(plan))
    columns[Stage.CODE].set_items(
        Item(id=f"SD-{100 + i}", title="Code item", stage=Stage.CODE) for i in range(code)
    )


def lines(board: BoardColumns) -> list[str]:
    return [board.render_line(y).text for y in range(board.size.height)]


@pytest.mark.slow  # a Pilot test of a second or so
async def test_the_bottom_border_counts_the_cards_out_of_view() -> None:
    board, columns = make_board()
    app = PaneApp(board, lambda _: fill(columns, 40))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        plan = columns[Stage.PLAN]
        plan.highlighted = 0
        await pilot.pause()
        bottom = lines(board)[-1]
        shown = sum(1 for line in lines(board) if line.startswith("│SD-"))
        assert f"↓ {40 - shown} more" in bottom
        await pilot.press("end")
        assert plan.selected_id == "SD-39"
        text = lines(board)
        assert any(line.startswith("│SD-39") for line in text)  # the cursor's card is in view
        assert "↑ " in text[-1] and "more" in text[-1]


@pytest.mark.slow  # a Pilot test of a second or so
async def test_a_column_that_loses_its_last_cards_or_grows_shows_no_blank_end() -> None:
    """Seen in tmux: the last card of Plan moved on to Code, and Plan kept its scroll:
    "↑ 2 more" above, blank lines below. Cards that leave the end, and a taller
    terminal, scroll the column back; the cursor's card stays in view."""
    board, columns = make_board()
    app = PaneApp(board, lambda _: fill(columns, 12))
    plan = columns[Stage.PLAN]

    def check(cursor: str) -> None:
        text = lines(board)
        rows = [line[:15] for line in text[RULER + 1 : -1]]  # Plan's, between its borders
        assert rows[0].startswith("│SD-"), text  # the view starts at a card's head
        card = next(n for n, row in enumerate(rows) if row.startswith("│──"))  # its lines
        blank = len(rows) - len([r for r in rows if r != "│" + " " * 13 + "│"])
        if "↑" in text[-1][:15]:  # cards above: none would fit in the blank lines below
            assert blank <= card, text
        assert any(line.startswith(f"│{cursor} ") for line in text), (cursor, text)

    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        plan.highlighted = 11
        await pilot.pause()
        assert plan.top > 0
        check("SD-11")
        for shown in (11, 9, 6):  # the last cards leave, the cursor on the new last one
            plan.set_items(Item(id=f"SD-{i}", title=f"Plan item {i}") for i in range(shown))
            await pilot.pause()
            check(f"SD-{shown - 1}")
        plan.highlighted = 3
        await pilot.resize_terminal(120, 30)  # taller: the view ends past the last card
        await pilot.pause()
        check("SD-3")
        await pilot.resize_terminal(120, 60)
        await pilot.pause()
        assert plan.top == 0
        check("SD-3")


@pytest.mark.slow  # a Pilot test of a second or so
async def test_a_column_scrolled_by_a_resize_is_painted_as_scrolled() -> None:
    """Seen in tmux: the cursor on Code's second card, the terminal grown to 250x70 and
    shrunk back to 80x24; the column scrolled to the card, but the screen kept the lines
    painted at the new size before it did (the first card's title, the cursor's cut)."""
    board, columns = make_board()

    def fill_code(_: object) -> None:
        columns[Stage.CODE].set_items(
            [
                Item(id="SD-1", title="Greet in French as well", stage=Stage.CODE),
                Item(id="SD-5", title="Add a dark mode", stage=Stage.CODE),
            ]
        )

    app = PaneApp(board, fill_code)
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        board.select("SD-5")
        await pilot.pause()
        for size in [(80, 12), (250, 70), (80, 12)]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
            shown = app.export_screenshot()
            assert "dark" in shown
            assert ("Greet" in shown) == (size[1] == 70), size  # only where both fit


@settings(max_examples=300, deadline=None)
@given(
    titles=st.lists(st.text(alphabet="ab ", min_size=1, max_size=50), min_size=1, max_size=25),
    height=st.integers(1, 40),
    moves=st.lists(st.integers(0, 24), min_size=1, max_size=12),
    width=st.integers(8, 40),
)
def test_a_column_starts_its_view_at_a_card_and_keeps_the_cursors_in_view(
    titles: list[str], height: int, moves: list[int], width: int
) -> None:
    """Seen in tmux at 80x24: a column scrolled to its second card showed the first
    one's title with no id above it. Wherever the cursor goes, the view begins at a
    card, the cursor's card shows from its head (whole, when it fits), and no card above
    would fit in blank lines below the last one."""
    column = StageColumn(Stage.PLAN)
    column.set_items(Item(id=f"SD-{n}", title=t) for n, t in enumerate(titles))
    for move in moves:
        column.highlighted = move
        column.reveal(width, height)
        starts, ends = column.layout(width)
        index, top = column.highlighted, column.top
        assert index is not None
        assert top in starts
        assert top <= starts[index] < top + height
        if ends[index] - starts[index] <= height:
            assert ends[index] <= top + height
        above = bisect_right(ends, top)  # cards wholly above the view
        if above and ends[-1] < top + height:
            assert ends[-1] - starts[above - 1] > height


def test_a_span_label_says_where_it_goes_on_and_where_it_was_cut() -> None:
    deployment = next(s for s in SPANS if s.name == "Continuous Deployment")
    everything = set(ORDER)
    assert span_label(deployment, everything, 60) == "◂ Continuous Deployment ▸"
    assert span_label(deployment, {Stage.OPERATE}, 60) == "… Continuous Deployment …"
    assert span_label(deployment, {Stage.DEPLOY}, 60) == "◂ Continuous Deployment …"
    assert span_label(deployment, {Stage.DEPLOY}, 16) == "◂ Continuous De…"  # one column
    for room in range(0, 30):  # never wider than its columns, and a cut says so
        label = span_label(deployment, {Stage.DEPLOY, Stage.OPERATE}, room)
        assert len(label) <= room
        assert label.endswith(("▸", "…")) or not label


@pytest.mark.slow  # a Pilot test of a second or so
async def test_a_narrow_board_slides_to_keep_the_cursors_column_in_view() -> None:
    board, columns = make_board()
    app = PaneApp(board, lambda _: fill(columns, 3))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Plan" in lines(board)[2] and "Monitor" not in lines(board)[2]
        for _ in range(7):
            await pilot.press("l")
        assert board.current is columns[Stage.MONITOR]
        header = lines(board)[2]
        assert "Monitor" in header and "Plan" not in header
        assert all(len(line) == 80 for line in lines(board))  # nothing overlaps or spills


async def test_a_click_on_a_card_makes_it_current_and_chooses_it() -> None:
    board, columns = make_board()
    chosen: list[str] = []

    class Host(PaneApp):
        def on_board_columns_card_chosen(self, event: BoardColumns.CardChosen) -> None:
            chosen.append(event.item_id)

    app = Host(board, lambda _: fill(columns, 3))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        width = 120 // 8
        await pilot.click(BoardColumns, offset=(width + 2, 4))  # Code's first card
        await pilot.pause()
        assert board.current is columns[Stage.CODE]
        assert chosen == ["SD-100"]


async def test_every_line_is_exactly_as_wide_as_the_board_with_wide_titles() -> None:
    board, columns = make_board()

    def setup(_: object) -> None:
        columns[Stage.PLAN].set_items(
            [Item(id="SD-1", title="発表の準備をする長いタイトル 🚀🚀🚀 and more words")]
        )

    app = PaneApp(board, setup)
    async with app.run_test(size=(100, 20)) as pilot:
        await pilot.pause()
        from rich.text import Text

        assert all(Text(line).cell_len == 100 for line in lines(board))


async def test_the_board_takes_its_colours_from_the_current_theme() -> None:
    board, columns = make_board()
    app = PaneApp(board, lambda _: fill(columns, 3))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        dark = board.render_line(5)
        app.theme = "textual-light"
        await pilot.pause()
        light = board.render_line(5)
        assert dark.text == light.text
        dark_bg = {s.style.bgcolor for s in dark if s.style and s.style.bgcolor}
        light_bg = {s.style.bgcolor for s in light if s.style and s.style.bgcolor}
        assert dark_bg and light_bg and dark_bg.isdisjoint(light_bg)


@pytest.mark.slow  # a Pilot test of a second or so
async def test_every_theme_draws_the_borders_and_the_cursor_cards_words_legibly() -> None:
    """Light themes drew the column borders near white on near white, and the cursor
    card's blue kind word on a navy cursor."""
    from rich.color import Color as RichColor
    from textual.color import Color

    def brightness(colour: RichColor) -> float:  # as shown: Textual's ANSI palette for cyan
        dark = app.current_theme.dark
        palette = app.ansi_theme_dark if dark else app.ansi_theme_light
        return Color.from_rich_color(
            RichColor.from_triplet(colour.get_truecolor(palette))
        ).brightness

    board, columns = make_board()
    app = PaneApp(board, lambda _: fill(columns, 3))
    async with app.run_test(size=(120, 30)) as pilot:
        board.focus()
        for theme in ("textual-dark", "textual-light", "solarized-light", "nord", "gruvbox"):
            app.theme = theme
            await pilot.pause()
            top = board.render_line(2)  # under the two span banners
            border = next(s.style for s in top if s.text.startswith("╭"))
            assert border and border.color and border.bgcolor
            assert abs(brightness(border.color) - brightness(border.bgcolor)) >= 0.1, theme
            cursor_card = [s for y in (3, 4, 5) for s in board.render_line(y) if s.style]
            cursor_bg = cursor_card[1].style.bgcolor  # the first cell inside the border
            on_cursor = [s for s in cursor_card if s.style.bgcolor == cursor_bg]
            assert len(on_cursor) >= 3
            for segment in on_cursor:
                if segment.text.strip() and segment.style.color and segment.style.bgcolor:
                    gap = brightness(segment.style.color) - brightness(segment.style.bgcolor)
                    assert abs(gap) >= 0.25, (theme, segment.text)


async def test_a_click_on_a_tab_label_asks_for_that_pane() -> None:
    from shipdeck.widgets.pane_tabs import PaneTabs

    tabs = PaneTabs([("logs", "Logs"), ("metrics", "Metrics")], "logs")
    asked: list[str] = []

    class Host(PaneApp):
        def on_pane_tabs_clicked(self, event: PaneTabs.Clicked) -> None:
            asked.append(event.pane)

    app = Host(tabs)
    async with app.run_test(size=(60, 4)) as pilot:
        await pilot.pause()
        assert tabs.render_line(0).text.split() == ["Logs", "Metrics"]
        await pilot.click(PaneTabs, offset=(10, 0))  # on " Metrics "
        assert asked == ["metrics"]
        tabs.active = "metrics"
        rule = tabs.render_line(1).text
        assert rule[8:17] == "━" * 9 and "━" not in rule[:8]  # the heavy rule moved


@pytest.mark.slow  # a Pilot test of a second or so
async def test_a_spinner_tick_repaints_the_running_cards_lines_not_its_column() -> None:
    """Ten ticks a second while anything runs: each repaints the running card, and the
    lines it keeps for the rest of the board are what drawing them afresh draws."""
    board, columns = make_board()
    started = datetime.now(UTC) - timedelta(seconds=3)
    running = {Stage.BUILD: StageState(RunState.RUNNING, started)}
    build = columns[Stage.BUILD]

    def fill_build(_: Any) -> None:
        build.set_items(
            [
                Item(id="SD-1", title="Idle above", stage=Stage.BUILD),
                Item(id="SD-2", title="Runs", stage=Stage.BUILD, states=running),
                Item(id="SD-3", title="Idle below", stage=Stage.BUILD),
            ]
        )

    app = PaneApp(board, fill_build)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        before = lines(board)
        asked: list[Region] = []
        refresh = board.refresh

        def spy(*regions: Region, **kwargs: Any) -> BoardColumns:
            asked.extend(regions)
            return refresh(*regions, **kwargs)

        board.refresh = spy  # type: ignore[method-assign]
        painted = build.painted
        for frame in range(1, 4):
            build.tick(frame)
        after = lines(board)
        rows = {y for region in asked for y in range(region.y, region.bottom)}
        assert build.painted == painted  # the column was not repainted whole
        assert rows and len(rows) < board.size.height - RULER - 2
        changed = {y for y, (a, b) in enumerate(zip(before, after, strict=True)) if a != b}
        assert changed and changed <= rows  # the spinner moved, only where repainted
        assert any("SD-2" in after[y] or "running" in after[y] for y in rows)
        assert not any("SD-1" in after[y] or "SD-3" in after[y] for y in rows)
        board._drawn.clear()
        assert lines(board) == after  # what was kept is what is drawn afresh


@pytest.mark.slow  # a Pilot test of a second or so
async def test_a_running_card_ticked_while_its_column_is_slid_away_comes_back_fresh() -> None:
    """A tick repaints only the lines on screen: the column's kept lines must not come
    back stale with it, by whatever path it comes back (here the cursor's)."""
    board, columns = make_board()
    started = datetime.now(UTC) - timedelta(seconds=3)
    running = {Stage.BUILD: StageState(RunState.RUNNING, started)}
    build = columns[Stage.BUILD]
    app = PaneApp(
        board,
        lambda _: build.set_items(
            [Item(id="SD-2", title="Runs", stage=Stage.BUILD, states=running)]
        ),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        lines(board)  # drawn, and kept, while Build is in view
        for _ in range(7):
            await pilot.press("l")
        assert "Build" not in lines(board)[2]  # slid out of view
        for frame in range(1, 4):
            build.tick(frame)
        for _ in range(7):
            await pilot.press("h")
        shown = lines(board)
        assert "Build" in shown[2]
        board._drawn.clear()
        assert lines(board) == shown  # nothing kept from before the ticks
