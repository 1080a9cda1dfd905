"""Environments at a glance (version, state, health, uptime, replicas) and the
operate keys on them.

Keys only *ask*: each posts a Message naming the environment, and the app
decides (confirms a rollback, knows whether the target can scale, runs the
operation in a worker). Statuses are polled by the app and passed in; rows are
updated cell by cell so the cursor and scroll position survive each poll.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable

from shipdeck.lifecycle.items import utcnow
from shipdeck.lifecycle.ports import EnvStatus
from shipdeck.widgets.ops.text import ENV_COLUMNS, env_row
from shipdeck.widgets.until_mounted import UntilMounted

HEADERS = ("ENV", "TARGET", "VERSION", "STATE", "HEALTH", "UPTIME", "REPLICAS", "RESTARTS", "")
COLUMN_KEYS = (*ENV_COLUMNS, "note")


def _same(a: Text, b: Text) -> bool:
    """Text equality that also sees the style (Rich's ``==`` compares text and spans only)."""
    return a.plain == b.plain and a.style == b.style and a.spans == b.spans


class EnvMessage(Message):
    """Base of the pane's requests: which environment, from which pane."""

    def __init__(self, pane: EnvironmentsPane, env: str) -> None:
        super().__init__()
        self.pane = pane
        self.env = env

    @property
    def control(self) -> EnvironmentsPane:
        return self.pane


class EnvironmentsPane(Vertical):
    """One row per environment; enter, restart, rollback, scale and stop keys."""

    DEFAULT_CSS = """
    EnvironmentsPane { height: auto; }
    EnvironmentsPane > DataTable { height: auto; }
    """

    BINDINGS = [
        Binding("u", "restart", "restart", id="env.restart"),
        Binding("R", "rollback", "rollback", id="env.rollback"),
        Binding("plus", "scale(1)", "scale up", id="env.scale_up"),
        Binding("minus", "scale(-1)", "scale down", id="env.scale_down"),
        Binding("S", "stop", "stop", id="env.stop"),
        Binding("A", "autoscale", "pause/resume autoscale", id="env.autoscale"),
    ]

    class EnvSelected(EnvMessage):
        """Enter was pressed on an environment's row."""

    class RestartRequested(EnvMessage):
        """The user asked to restart the environment's release."""

    class RollbackRequested(EnvMessage):
        """The user asked to roll the environment back (the app confirms)."""

    class StopRequested(EnvMessage):
        """The user asked to stop the environment."""

    class AutoscalePauseToggled(EnvMessage):
        """The user asked to pause (or resume) the environment's autoscaling."""

    class ScaleRequested(EnvMessage):
        """The user asked for ``delta`` more (or fewer) replicas."""

        def __init__(self, pane: EnvironmentsPane, env: str, delta: int) -> None:
            super().__init__(pane, env)
            self.delta = delta

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = utcnow,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """``clock``: "now" for uptimes (fixed in tests and screenshots)."""
        super().__init__(name=name, id=id, classes=classes)
        self.clock = clock
        self.statuses: dict[str, EnvStatus] = {}
        self.errors: dict[str, str] = {}
        self.table: DataTable[Text] = DataTable(cursor_type="row", id="envs-table")
        self._held: UntilMounted[tuple[list[EnvStatus], dict[str, str]]] = UntilMounted()

    def compose(self) -> ComposeResult:
        yield self.table

    def on_mount(self) -> None:
        # DataTable measures cells with the app's console: nothing is added before this.
        for key, label in zip(COLUMN_KEYS, HEADERS, strict=True):
            self.table.add_column(label, key=key)
        held = self._held.mount()
        if held is not None:
            self.set_status(*held)

    # --- data ------------------------------------------------------------------

    def set_status(
        self, statuses: Sequence[EnvStatus], error: Mapping[str, str] | None = None
    ) -> None:
        """Show ``statuses`` in order; ``error`` maps an environment whose status
        could not be read to why (such an environment may be missing from
        ``statuses``; it still gets a row)."""
        errors = dict(error or {})
        if self._held.hold((list(statuses), errors)):  # shown from on_mount
            return
        rows = {s.env: s for s in statuses}
        for env in errors:
            rows.setdefault(env, EnvStatus(env=env, target="?"))
        self.statuses, self.errors = rows, errors
        now = self.clock()
        table = self.table
        selected = self.selected_env
        cells = {env: env_row(status, now, errors.get(env)) for env, status in rows.items()}
        kept = [str(r.key.value) for r in table.ordered_rows if r.key.value in rows]
        added = [env for env in rows if env not in table.rows]
        if kept + added != list(rows):  # environments reordered: rare, rebuild
            table.clear()
            kept, added = [], list(rows)
        for env in [str(key.value) for key in table.rows if key.value not in rows]:
            table.remove_row(env)
        for env in kept:
            for column, cell in zip(COLUMN_KEYS, cells[env], strict=True):
                if not _same(table.get_cell(env, column), cell):
                    table.update_cell(env, column, cell)
        for env in added:
            table.add_row(*cells[env], key=env)
        if selected in rows:
            table.move_cursor(row=table.get_row_index(selected))

    @property
    def selected_env(self) -> str | None:
        """The environment under the cursor; None while there is none."""
        table = self.table
        if not 0 <= table.cursor_row < table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0))
        return None if row_key.value is None else str(row_key.value)

    def select_env(self, env: str) -> None:
        if env in self.table.rows:
            self.table.move_cursor(row=self.table.get_row_index(env))

    # --- keys --------------------------------------------------------------------

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        message.stop()
        if message.row_key.value is not None:
            self.post_message(self.EnvSelected(self, str(message.row_key.value)))

    def action_restart(self) -> None:
        if env := self.selected_env:
            self.post_message(self.RestartRequested(self, env))

    def action_rollback(self) -> None:
        if env := self.selected_env:
            self.post_message(self.RollbackRequested(self, env))

    def action_scale(self, delta: int) -> None:
        if env := self.selected_env:
            self.post_message(self.ScaleRequested(self, env, delta))

    def action_autoscale(self) -> None:
        if env := self.selected_env:
            self.post_message(self.AutoscalePauseToggled(self, env))

    def action_stop(self) -> None:
        if env := self.selected_env:
            self.post_message(self.StopRequested(self, env))
