"""What the log pane shows: the selected item's current or last run, or an
environment's live output (after a deploy, or when a person asks to follow it).

Engine events reach it from the app (:class:`shipdeck.tui.app.EngineEventsPosted`); the
environment's stream is read in a thread worker and written to the pane, which is
thread-safe (lines are folded in at the next frame).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipdeck.lifecycle.items import Item, RunState
from shipdeck.lifecycle.lines import Line, Stream
from shipdeck.lifecycle.stages import Stage

if TYPE_CHECKING:
    from textual.screen import Screen

    from shipdeck.lifecycle.runs import RunFinished, RunOutput, RunStarted
    from shipdeck.tui.host import Host

FOLLOW_TAIL = 200  # lines of an environment's past output shown when following it


class LogFollower:
    """Decides what the log pane shows: the selected item's current or last run."""

    def __init__(self, app: Host, board: Screen[Any]) -> None:
        self.app = app
        self.board = board
        self.run_id: str | None = None
        self.item_id: str | None = None
        # What the pane shows: (None, run) for a run, whichever card asks for it; (card,
        # None) for a card's "no runs yet"; None for something else (a live log, nothing).
        self._shown: tuple[str | None, str | None] | None = None

    _pane: Any = None

    @property
    def pane(self) -> Any:
        """The log pane; None while the app exits (late engine events find it gone).
        Kept once found: every batch of a run's output asks, and a query of the DOM
        was ~0.2 ms of the UI thread each time."""
        kept = self._pane
        if kept is not None and kept.is_attached:
            return kept
        board = self.board
        found = board.query("#log-pane") if board.is_attached else None
        self._pane = found.first() if found else None
        return self._pane

    def _log_path(self, run_id: str) -> Path:
        return self.app.project.paths.run_log(run_id)

    def item(self, item: Item | None) -> None:
        """Show ``item``'s current or last run; for a card with none, a line saying so.
        (Two cards without runs had both been "no run": the pane kept the first card's
        line, or an environment's live log, or at start nothing at all.)"""
        self.item_id = item.id if item else None
        run_id = latest_run(item) if item else None
        shown = (None, run_id) if run_id else (self.item_id, None)
        if shown == self._shown:
            return
        self._shown = shown
        self.run_id = run_id
        self.stop_env_logs()
        pane = self.pane
        if pane is None:
            return
        pane.clear()
        if run_id and self._log_path(run_id).exists():
            pane.border_title = run_id
            pane.load_file(self._log_path(run_id))
        else:
            pane.border_title = item.id if item else ""
            note = f"{item.id}: no runs yet (press a to advance)" if item else "no item selected"
            pane.write_lines([Line(Stream.INFO, note)])

    def started(self, event: RunStarted) -> None:
        if event.item_id == self.item_id:
            self.run_id = event.run_id
            self._shown = (None, event.run_id)
            self.stop_env_logs()
            pane = self.pane
            if pane is None:
                return
            pane.clear()
            pane.border_title = event.run_id
            pane.set_source(event.log_path)  # the run is fed live; the file is for saving

    def output(self, event: RunOutput) -> None:
        pane = self.pane
        if event.run_id == self.run_id and pane is not None:
            pane.write_lines(event.lines)

    def finished(self, event: RunFinished) -> None:
        if event.run_id != self.run_id:
            return
        item = self.app.items.get(event.item_id)
        if event.stage is Stage.DEPLOY and event.state is RunState.PASSED and item and item.env:
            self.follow_env(item.env, f"{item.version} started on {item.env}")

    def follow_env(self, env: str, marker: str, tail: int = 0) -> None:
        """The environment's own output below a marker line: after a deploy only the new
        release's (``tail`` 0), when asked for also its last ``tail`` lines."""
        from shipdeck.lifecycle.ports import CancelToken

        self.stop_env_logs()
        token = self._env_cancel = CancelToken()
        pane = self.pane
        if pane is None:
            return
        pane.add_marker(marker)
        app = self.app

        def pump() -> None:
            target = app.engine.target_for(env)
            for batch in target.logs(follow=True, tail=tail, cancel=token):
                lines = app.engine.masker.mask_lines(batch)
                if token.cancelled:
                    return
                pane.write_lines(lines)  # thread-safe: queued for the next frame

        app.run_engine(f"logs {env}", pump, group="env-logs")

    _env_cancel: Any = None

    def live(self, env: str, tail: int = FOLLOW_TAIL) -> None:
        """``env``'s last ``tail`` lines, then its live output, until another card is chosen
        (the log pane must be in front: the caller shows it first)."""
        pane = self.pane
        if pane is None:
            return
        self.run_id = self.item_id = self._shown = None  # the next card reloads its own log
        pane.clear()
        pane.border_title = f"{env} (live)"
        self.follow_env(env, f"{env}: its last {tail} lines, then live", tail)

    def stop_env_logs(self) -> None:
        if self._env_cancel is not None:
            self._env_cancel.cancel()
            self._env_cancel = None


def latest_run(item: Item) -> str | None:
    """The run of the item's current stage, else its most recent run."""
    if item.current.run_id:
        return item.current.run_id
    runs = [s for s in item.states.values() if s.run_id and s.started_at]
    runs.sort(key=lambda s: s.started_at or 0)  # type: ignore[arg-type,return-value,unused-ignore]
    return runs[-1].run_id if runs else None
