"""Feeding the metrics, events and environments panes. A mixin of the app.

Handlers use Textual's ``on_<widget>_<message>`` names: ``@on`` is not seen
on a mixin. Pollers sample in a thread worker and schedule the next sample only after the
last one was shown, and only while their pane is visible (docs/architecture.md section 7).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lifecycle import events as ev
from tui.crash import STORAGE_ERRORS

if TYPE_CHECKING:
    from lifecycle.ports import ContainerStats, EnvStatus
    from lifecycle.watch import Sample, Watcher
    from tui.app import ShipdeckApp
    from tui.board_screen import BoardScreen
    from widgets.ops.events import EventsPane
    from widgets.ops.metrics import MetricsPane

    _Base = ShipdeckApp
else:
    _Base = object

ENV_POLL_SECONDS = 3.0


class PaneFeeds(_Base):
    _watcher: Watcher | None = None
    _metrics_on = False
    _envs_on = False

    # --- metrics -----------------------------------------------------------------

    def on_config_reloaded(self) -> None:
        """Probes and alert rules are read when a Watcher is made: the next sample makes
        one from the new config (the charts start over)."""
        self._watcher = None

    def on_metrics_pane_visibility_changed(self, message: MetricsPane.VisibilityChanged) -> None:
        self._metrics_on = message.visible
        if message.visible:
            self._sample_metrics()

    def _sample_metrics(self) -> None:
        if not self._metrics_on:
            return
        self.run_worker(self._take_sample, thread=True, group="metrics", exit_on_error=False)

    def _take_sample(self) -> None:

        if self._watcher is None:
            from backends.metrics import HostMetrics
            from backends.probe import HttpProber
            from lifecycle.watch import Watcher

            self._watcher = Watcher(self.engine, HttpProber(), HostMetrics(str(self.project.root)))
        try:
            sample = self._watcher.sample()
        except Exception as exc:  # noqa: BLE001 - a failed sample is reported, the poller goes on
            self.call_from_thread(self.notify, f"metrics: {exc}", severity="error")
            self.call_from_thread(self._next_metrics)
            return
        stats, errors = self._container_stats()
        self.call_from_thread(self._show_sample, sample, stats, errors)

    def _container_stats(self) -> tuple[list[ContainerStats], dict[str, str]]:
        """One stats sample per container (or local process tree) of every environment."""
        from lifecycle.ports import StatsSource

        stats: list[ContainerStats] = []
        errors: dict[str, str] = {}
        for name in self.project.config.environments:
            try:
                target = self.engine.target_for(name)
                if isinstance(target, StatsSource):
                    stats.extend(target.stats())
            except Exception as exc:  # noqa: BLE001 - an engine away is shown, not raised
                errors[name] = str(exc)
        return stats, errors

    def _show_sample(
        self, sample: Sample, stats: list[ContainerStats], errors: dict[str, str]
    ) -> None:
        from widgets.ops.metrics import MetricsPane

        watcher = self._watcher
        assert watcher is not None
        pane = self.board.query_one(MetricsPane)
        pane.show_containers(stats, errors)
        tracker = watcher.tracker
        pane.show_sample(
            sample.host, sample.probes, tracker.host, tracker.probes, tracker.active.values()
        )
        for alert in sample.alerts:
            if alert.cleared:
                self.notify(alert.message, title=f"{alert.id} cleared")
            else:
                self.notify(alert.message, title=f"Alert {alert.id}", severity="error")
        if sample.alerts:
            self.refresh_events()
        self._next_metrics()

    def _next_metrics(self) -> None:
        if self._metrics_on:
            self.set_timer(self.project.config.monitor.interval, self._sample_metrics)

    # --- events -------------------------------------------------------------------

    def refresh_events(self) -> None:
        from widgets.ops.events import EventsPane

        panes = self.board.query(EventsPane)
        if not panes:  # not mounted before the first paint
            return
        try:
            events = self.project.journal.tail(500)
        except STORAGE_ERRORS as exc:  # the pane keeps what it showed
            self.storage_error("Journal unreadable", exc)
            return
        panes.first().set_events(events)

    def on_board_screen_pane_shown(self, message: BoardScreen.PaneShown) -> None:
        pane = message.pane
        self.envs_visible(pane == "envs")
        if pane == "events":
            self.refresh_events()

    def on_events_pane_bug_requested(self, message: EventsPane.BugRequested) -> None:
        from lifecycle.items import Kind
        from lifecycle.monitor import bug_from_alert

        bug = bug_from_alert(message.event, self.project.config.stages.release.tag or "v{version}")
        try:
            item = self.project.store.add(
                bug["title"], kind=Kind.BUG, body=bug["body"], links=bug["links"]
            )
        except STORAGE_ERRORS as exc:  # the alert stays in the pane: b tries again
            self.storage_error("Bug not opened", exc)
            return
        self.journal(
            ev.Event(
                ev.ITEM_CREATED,
                item.id,
                {"title": item.title, "kind": "bug", "links": item.links},
            )
        )
        self.reload_board()
        self.board.select(item.id)
        self.notify(f"{item.id} opened from {message.event.get('alert_id')}")

    # --- environments ----------------------------------------------------------------

    def envs_visible(self, visible: bool) -> None:
        self._envs_on = visible
        if visible:
            self._poll_envs()

    def _poll_envs(self) -> None:
        if self._envs_on:
            self.run_worker(self._read_envs, thread=True, group="envs", exit_on_error=False)

    def _read_envs(self) -> None:
        statuses: list[EnvStatus] = []
        errors: dict[str, str] = {}
        for name in self.project.config.environments:
            try:
                statuses.append(self.engine.target_for(name).status())
            except Exception as exc:  # noqa: BLE001 - an unreachable engine is shown, not raised
                errors[name] = str(exc)
        self.call_from_thread(self._show_envs, statuses, errors)

    def _show_envs(self, statuses: list[EnvStatus], errors: dict[str, str]) -> None:
        from widgets.ops.envs import EnvironmentsPane

        panes = self.board.query(EnvironmentsPane)
        if panes:
            panes.first().set_status(statuses, errors)
        if self._envs_on:  # not mounted yet (Lazy): poll again soon, not in 3 s
            self.set_timer(ENV_POLL_SECONDS if panes else 0.1, self._poll_envs)

    def on_environments_pane_rollback_requested(self, message: Any) -> None:
        self.run_worker(self._rollback_flow(message.env), group="flows", exit_on_error=False)
