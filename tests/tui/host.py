"""A one-widget app for Pilot tests of reusable widgets: it mounts the widget,
focuses it, and records the messages the widget (or its children) post."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App, ComposeResult
from textual.message import Message


class PaneApp(App[None]):
    def __init__(self, pane: Any, setup: Callable[[Any], None] | None = None) -> None:
        super().__init__()
        self.pane: Any = pane
        self.setup = setup
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield self.pane

    def on_mount(self) -> None:
        if self.setup is not None:
            self.setup(self.pane)
        self.pane.focus()

    def _record(self, message: Message) -> None:
        self.messages.append(message)

    # log pane
    on_log_view_follow_changed = _record
    on_log_view_search_changed = _record
    on_log_view_filter_changed = _record
    on_log_view_saved = _record
    on_log_view_save_failed = _record
    on_log_view_loaded = _record
    # metrics, events and environments panes
    on_metrics_pane_visibility_changed = _record
    on_events_pane_event_selected = _record
    on_events_pane_bug_requested = _record
    on_environments_pane_env_selected = _record
    on_environments_pane_restart_requested = _record
    on_environments_pane_rollback_requested = _record
    on_environments_pane_scale_requested = _record
    on_environments_pane_stop_requested = _record

    def of(self, kind: type[Message]) -> list[Any]:
        """The recorded messages of one type."""
        return [m for m in self.messages if isinstance(m, kind)]
