"""The events pane pages through the journal's index: it shows the newest page, asks
for the next when the cursor nears the bottom, and stops asking at the oldest event;
in the app, its feed reads that page from the index in a worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.events import Event
from shipdeck.lifecycle.journal import Journal
from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.panes import EVENTS_PAGE
from shipdeck.widgets.ops.events import EventsPane
from tests.waiting import until

T0 = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
PAGE = 40
SIZE = (120, 40)


class Feed(App[None]):
    """The pane fed as tui/panes.py feeds it, a page of the index at a time."""

    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal
        self.pane = EventsPane(tz=UTC, margin=5)
        self.asked: list[int] = []

    def compose(self) -> ComposeResult:
        yield self.pane

    def on_mount(self) -> None:
        self.pane.set_events(self.journal.newest(PAGE))
        self.pane.table.focus()

    def on_events_pane_older_wanted(self, message: Any) -> None:
        self.asked.append(message.shown)
        self.pane.add_older(self.journal.newest(PAGE, message.shown))


def by_time_newest_first(events: list[Event]) -> list[Event]:
    order = sorted(range(len(events)), key=lambda i: (events[i].ts, i), reverse=True)
    return [events[i] for i in order]


async def test_pages_in_older_events_as_the_cursor_nears_the_bottom(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    written = [
        journal.append(Event(ev.ITEM_MOVED, f"SD-{n}", {"n": n}, T0 + timedelta(minutes=n // 2)))
        for n in range(100)
    ]
    timeline = by_time_newest_first(written)
    app = Feed(journal)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.pane
        await pilot.pause()
        assert pane.events == timeline[:PAGE] and app.asked == []
        pane.table.move_cursor(row=PAGE - 10)  # not yet within the margin
        await pilot.pause()
        assert app.asked == []
        pane.table.move_cursor(row=PAGE - 3)
        await until(pilot, lambda: pane.table.row_count == 2 * PAGE)
        assert app.asked == [PAGE]
        assert pane.events == timeline[: 2 * PAGE]  # ties on time kept in journal order
        assert pane.selected_event == timeline[PAGE - 3]  # the cursor stayed on its event
        pane.table.move_cursor(row=2 * PAGE - 1)
        await until(pilot, lambda: pane.table.row_count == 100)
        pane.table.move_cursor(row=99)
        await until(pilot, lambda: len(app.asked) == 3)  # the empty page: the oldest is shown
        assert app.asked == [PAGE, 2 * PAGE, 100]
        assert pane.events == timeline
        pane.table.move_cursor(row=98)
        pane.table.move_cursor(row=99)
        await pilot.pause()
        assert len(app.asked) == 3  # nothing older: not asked again


@pytest.mark.slow  # the real app on the demo repository
async def test_the_app_feeds_the_pane_from_the_index(demo_project: Project) -> None:
    journal = demo_project.journal
    for n in range(EVENTS_PAGE + 30):
        journal.append(Event(ev.SCALED, None, {"env": "staging", "replicas": n}))
    newest = by_time_newest_first(journal.read())[:EVENTS_PAGE]
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("v")
        pane = await until(pilot, lambda: app.board.query(EventsPane).first(None))
        await until(pilot, lambda: pane.table.row_count == EVENTS_PAGE)
        assert pane.events == newest
        pane.table.move_cursor(row=EVENTS_PAGE - 1)
        await until(pilot, lambda: pane.table.row_count > EVENTS_PAGE)
        assert pane.events == by_time_newest_first(journal.read())[: pane.table.row_count]
        assert pane.note is None and pane.table.has_focus


class Unfed(App[None]):
    """The pane before its feed has answered."""

    def compose(self) -> ComposeResult:
        yield EventsPane(tz=UTC)


async def test_the_pane_says_it_is_loading_then_that_there_is_nothing_or_why() -> None:
    """Headers over nothing read as "no events" while the first page was still being
    read (on a journal never indexed, seconds): the pane says it is reading, then
    the events, or a line saying there are none, or why the journal cannot be read."""
    app = Unfed()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(EventsPane)
        await pilot.pause()
        assert pane.note == EventsPane.READING
        pane.set_events([])
        await pilot.pause()
        assert pane.note == EventsPane.EMPTY
        pane.add_events([Event(ev.SCALED, None, {"env": "staging", "replicas": 2}, T0)])
        await pilot.pause()
        assert pane.table.row_count == 1 and pane.note is None
    app = Unfed()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(EventsPane)
        await pilot.pause()
        reason = "[Errno 13] Permission denied: 'journal.jsonl'"
        pane.unreadable(reason)
        await pilot.pause()
        assert pane.note == f"journal unreadable: {reason}"


async def test_an_empty_journal_says_so_in_the_app(demo_project: Project) -> None:
    (demo_project.root / ".shipdeck" / "journal.jsonl").unlink(missing_ok=True)
    app = ShipdeckApp(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("v")
        pane = await until(pilot, lambda: app.board.query(EventsPane).first(None))
        await until(pilot, lambda: pane.note == EventsPane.EMPTY, what="the first page")
        assert pane.table.row_count == 0 and pane.table.has_focus  # v's keys go to it
