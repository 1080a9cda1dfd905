"""The journal as a timeline, newest first: deploys, rollbacks, failures, alerts.

The app feeds it a page at a time (``set_events`` with the newest page of the
journal's index, ``add_older`` with the next one when the cursor comes within
``margin`` rows of the bottom and the pane posts :class:`EventsPane.OlderWanted`,
``add_events`` as events are recorded), so it holds what was scrolled through, not
the journal. New events are appended to the table and the rows re-sorted by time,
which leaves the cached cell sizes of existing rows alone, so a new event costs
one row, not a rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Static

from shipdeck.lifecycle.events import ALERT_RAISED, Event
from shipdeck.widgets.ops.text import event_row
from shipdeck.widgets.until_mounted import UntilMounted

COLUMNS = (("when", "TIME"), ("type", "EVENT"), ("where", "ITEM/ENV"), ("text", "WHAT"))


class _Stamp:
    """The time cell: renders as its text, and carries the row's sort key."""

    __slots__ = ("key", "text")

    def __init__(self, text: Text, key: tuple[float, int]) -> None:
        self.text = text
        self.key = key

    def __rich__(self) -> Text:
        return self.text

    @property
    def plain(self) -> str:
        return self.text.plain


class EventsPane(Vertical):
    """Journal events, newest first; ``b`` on an alert asks the app for a bug item."""

    DEFAULT_CSS = """
    EventsPane { height: 1fr; }
    EventsPane > DataTable { height: 1fr; }
    EventsPane > #events-empty { height: auto; padding: 0 1; color: $text-muted; display: none; }
    EventsPane.-empty > #events-empty { display: block; }
    EventsPane.-empty > DataTable { height: auto; }
    """

    EMPTY = "no events yet: deploys, rollbacks, failures and alerts are listed here"
    READING = "reading the journal…"

    BINDINGS = [
        Binding("b", "bug_from_alert", "bug from alert", id="events.bug"),
    ]

    class _AboutAnEvent(Message):
        """A message from the pane about one journal event."""

        def __init__(self, pane: EventsPane, event: Event) -> None:
            super().__init__()
            self.pane = pane
            self.event = event

        @property
        def control(self) -> EventsPane:
            return self.pane

    class EventSelected(_AboutAnEvent):
        """Enter was pressed on an event's row."""

    class BugRequested(_AboutAnEvent):
        """The user asked for a bug item from this ``alert.raised`` event."""

    class OlderWanted(Message):
        """The cursor is near the oldest row shown: the feed may send the next page."""

        def __init__(self, pane: EventsPane, shown: int) -> None:
            super().__init__()
            self.pane = pane
            self.shown = shown  # rows shown: the newest events to skip

        @property
        def control(self) -> EventsPane:
            return self.pane

    def __init__(
        self,
        *,
        limit: int = 500,
        margin: int = 20,
        tz: tzinfo | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """``limit``: rows kept as new events come (the oldest go first; pages of older
        ones raise it); ``margin``: rows from the bottom at which the next page is
        asked for; ``tz``: the zone times are shown in."""
        super().__init__(name=name, id=id, classes=classes)
        self.limit = max(1, limit)
        self.margin = max(1, margin)
        self._asked = False  # an OlderWanted is unanswered
        self._oldest_shown = False  # the last page asked for was empty
        self.tz = tz
        self._seq = 0
        self._low = 0  # the order of paged-in older rows: below all others of their time
        self._events: dict[str, Event] = {}
        self.table: DataTable[Text | _Stamp] = DataTable(cursor_type="row", id="events-table")
        self._held: UntilMounted[list[Event]] = UntilMounted()

    def compose(self) -> ComposeResult:
        yield self.table
        yield Static(self.EMPTY, id="events-empty", markup=False)  # a reason may hold [ ]

    def on_mount(self) -> None:
        # DataTable measures cells with the app's console: nothing is added before this.
        for key, label in COLUMNS:
            self.table.add_column(label, key=key)
        held = self._held.mount()
        if held is not None:
            self.set_events(held)
        else:  # the first page is being read: on a journal never indexed, seconds
            self._note(self.READING)

    def unreadable(self, reason: str) -> None:
        """The feed could not read a page: what is shown stays; an empty pane says why
        instead of saying it reads for ever."""
        if not self.table.row_count:
            self._note(f"journal unreadable: {reason}")

    def _shown(self) -> None:
        """Rows arrived (or the answer was none): the rows, or a line saying none."""
        if self.table.row_count:
            self.remove_class("-empty")
        else:
            self._note(self.EMPTY)

    def _note(self, text: str) -> None:
        """A line under the headers in place of rows (not Textual's ``loading``: a
        loading table cannot take the focus ``v`` gives it)."""
        self.query_one("#events-empty", Static).update(text)
        self.add_class("-empty")

    @property
    def note(self) -> str | None:
        """The line shown in place of rows, if any."""
        if not self.has_class("-empty"):
            return None
        return str(self.query_one("#events-empty", Static).render())

    # --- data ------------------------------------------------------------------

    def _add_row(self, event: Event, older: bool = False) -> str:
        """``older``: below every row shown at the same time (a page of older events)."""
        self._seq += 1
        key = f"ev{self._seq}"
        cells = event_row(event, self.tz)
        if older:
            self._low -= 1
        stamp = _Stamp(cells[0], (event.ts.timestamp(), self._low if older else self._seq))
        self.table.add_row(stamp, *cells[1:], key=key)
        self._events[key] = event
        return key

    def _newest(self, events: Sequence[Event]) -> list[Event]:
        """The newest ``limit`` of ``events`` in their given (journal) order."""
        ranked = sorted(range(len(events)), key=lambda i: (events[i].ts, i))
        keep = sorted(ranked[-self.limit :])
        return [events[i] for i in keep]

    def _sort(self) -> None:
        self.table.sort("when", key=lambda stamp: stamp.key, reverse=True)

    def set_events(self, events: Sequence[Event]) -> None:
        """Replace the timeline with ``events`` (journal order, oldest first)."""
        if self._held.hold(list(events)):  # shown from on_mount
            return
        self.table.clear()
        self._events.clear()
        self._asked = self._oldest_shown = False
        for event in self._newest(events):
            self._add_row(event)
        self._sort()
        if self.table.row_count:
            self.table.move_cursor(row=0)
        self._shown()

    def add_older(self, events: Sequence[Event]) -> None:
        """Put a page of older events at the bottom (oldest first); none means the
        oldest event is shown. The selected row stays selected."""
        self._asked = False
        if not events:
            self._oldest_shown = True
            return
        if self._held.hold([*events, *(self._held.held or [])]):  # shown from on_mount
            return
        selected = self._key_at(self.table.cursor_row)
        for event in reversed(events):
            self._add_row(event, older=True)
        self._sort()
        self.limit = max(self.limit, self.table.row_count)  # what was paged in stays
        if selected is not None:
            self.table.move_cursor(row=self.table.get_row_index(selected))

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        near_end = message.cursor_row >= self.table.row_count - self.margin
        if near_end and not self._asked and not self._oldest_shown:
            self._asked = True
            self.post_message(self.OlderWanted(self, self.table.row_count))

    def add_events(self, events: Sequence[Event]) -> None:
        """Put newly recorded events on top; the selected row stays selected.

        With the cursor on the top row the view follows the newest event instead.
        """
        if not events:
            return
        if self._held.hold([*(self._held.held or []), *events]):  # shown from on_mount
            return
        table = self.table
        follow = table.cursor_row <= 0
        selected = self._key_at(table.cursor_row)
        for event in events:
            self._add_row(event)
        self._sort()
        overflow = table.row_count - self.limit
        if overflow > 0:
            for index in range(table.row_count - 1, table.row_count - 1 - overflow, -1):
                key = self._key_at(index)
                if key is not None:
                    table.remove_row(key)
                    self._events.pop(key, None)
        if follow:
            table.move_cursor(row=0)
        elif selected is not None and selected in self._events:
            table.move_cursor(row=table.get_row_index(selected))
        self.remove_class("-empty")

    @property
    def events(self) -> list[Event]:
        """The events shown, newest first (as on screen)."""
        keys = (self._key_at(i) for i in range(self.table.row_count))
        return [self._events[k] for k in keys if k is not None]

    @property
    def selected_event(self) -> Event | None:
        key = self._key_at(self.table.cursor_row)
        return None if key is None else self._events.get(key)

    def _key_at(self, index: int) -> str | None:
        if not 0 <= index < self.table.row_count:
            return None
        row_key, _ = self.table.coordinate_to_cell_key(Coordinate(index, 0))
        return row_key.value

    # --- keys --------------------------------------------------------------------

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        message.stop()
        event = self._events.get(str(message.row_key.value))
        if event is not None:
            self.post_message(self.EventSelected(self, event))

    def action_bug_from_alert(self) -> None:
        """Only a raised alert can become a bug; on any other row the key does nothing."""
        event = self.selected_event
        if event is not None and event.type == ALERT_RAISED:
            self.post_message(self.BugRequested(self, event))
