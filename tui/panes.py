"""The panes under the board: logs, metrics, events, environments, and their feeds.

A pane other than the log pane mounts the first time it is shown, so startup pays
for the board only. The feeds sample in thread workers (``@work``) and post what
they read as messages, handled here on the UI thread; each schedules its next
sample only after the last one was shown, and only while its pane is visible
(docs/architecture.md section 7). Handlers of the panes' own messages use
Textual's ``on_<widget>_<message>`` names: importing a pane here would load it
before the first paint.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import ContentSwitcher
from textual.worker import get_current_worker

from shipdeck.lifecycle import verbs
from shipdeck.lifecycle.errors import ShipdeckError
from shipdeck.tui.crash import STORAGE_ERRORS, describe
from shipdeck.tui.host import Board, host
from shipdeck.widgets.pane_tabs import PaneTabs

if TYPE_CHECKING:
    from textual.timer import Timer

    from shipdeck.lifecycle.events import Event
    from shipdeck.lifecycle.ports import ContainerStats, EnvStatus
    from shipdeck.lifecycle.sampling import Sample, Sampler
    from shipdeck.tui.host import Host
    from shipdeck.widgets.ops.metrics import MetricsPane

TABS = (("logs", "Logs"), ("metrics", "Metrics"), ("events", "Events"), ("envs", "Environments"))
PANE_WIDGETS = {
    "logs": "#log-pane",
    "metrics": "#metrics-pane",
    "events": "#events-pane",
    "envs": "#env-pane",
}
ENV_POLL_SECONDS = 3.0
SHOWN_CHECK_S = 0.5  # how often a sampler waiting for its sample to be shown looks at stop
EVENTS_PAGE = 100  # events the events pane reads at a time: a screen and a margin
# A bug not opened from an alert: the board or journal unwritable, the config broken.
NOT_OPENED: tuple[type[Exception], ...] = (*STORAGE_ERRORS, ShipdeckError)


class Panes(Vertical):
    """The tab strip and the pane in front; the feeds of the panes that need one."""

    class MetricsSampled(Message):
        """A metrics sample and the environments' stats were read (in a worker)."""

        def __init__(
            self,
            sample: Sample,
            stats: list[ContainerStats],
            errors: dict[str, str],
            shown: threading.Event,
        ) -> None:
            super().__init__()
            self.sample, self.stats, self.errors = sample, stats, errors
            self.shown = shown  # set once handled: the sampler's next interval starts then

    class MetricsFailed(Message):
        """A metrics sample could not be taken; the poller goes on."""

        def __init__(self, error: str, shown: threading.Event) -> None:
            super().__init__()
            self.error, self.shown = error, shown

    class EnvsRead(Message):
        """Each environment's status was read (in a worker)."""

        def __init__(self, statuses: list[EnvStatus], errors: dict[str, str]) -> None:
            super().__init__()
            self.statuses, self.errors = statuses, errors

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.active = "logs"
        self._sampler: Sampler | None = None
        self._metrics_stop: threading.Event | None = None  # set: the sampling thread ends
        self._sampling = threading.Lock()
        self._metrics_pane: MetricsPane | None = None
        self._envs_on = False
        self._envs_timer: Timer | None = None  # the one pending poll of the statuses

    @property
    def shipdeck(self) -> Host:
        return host(self.app)

    @property
    def board(self) -> Board:
        return cast(Board, self.screen)

    def compose(self) -> ComposeResult:
        from shipdeck.widgets.log.pane import LogPane

        yield PaneTabs(TABS, "logs", id="pane-tabs")
        with ContentSwitcher(id="pane-switcher", initial="logs"):
            with Container(id="logs"):
                yield LogPane(id="log-pane")
            yield Container(id="metrics")
            yield Container(id="events")
            yield Container(id="envs")

    def on_unmount(self) -> None:
        self._envs_on = False
        self._stop_sampling()

    # --- which pane is in front ------------------------------------------------------

    async def show(self, pane: str) -> None:
        """Bring ``pane`` to the front, mounting it the first time."""
        holder = self.query_one(f"#{pane}")
        if pane in PANE_WIDGETS and not holder.children:
            await holder.mount(_make_pane(pane))
        self.query_one("#pane-switcher", ContentSwitcher).current = pane
        self.query_one("#pane-tabs", PaneTabs).active = pane
        if pane != self.active:
            self.active = pane
            self._envs_visible(pane == "envs")
            if pane == "events":
                self.refresh_events()

    async def on_pane_tabs_clicked(self, event: PaneTabs.Clicked) -> None:
        await self.show(event.pane)

    def focus_pane(self, pane: str, tries: int = 20) -> None:
        """Focus the pane's first focusable widget, once it is mounted."""
        target = PANE_WIDGETS[pane]
        found = self.query(target)
        if not found:
            if tries:
                self.set_timer(0.02, lambda: self.focus_pane(pane, tries - 1))
            return
        widget = found.first()
        focusable = (
            widget
            if widget.can_focus
            else next((w for w in widget.query("*") if w.can_focus), None)
        )
        if focusable is not None:
            focusable.focus()

    # --- metrics -------------------------------------------------------------------------

    def on_config_reloaded(self) -> None:
        """Probes and alert rules are read when a Sampler is made: the next sample makes
        one from the new config (the charts start over)."""
        self._sampler = None

    def on_metrics_pane_visibility_changed(self, message: Any) -> None:
        self._metrics_pane = message.pane  # kept: a query per sample walked the DOM
        self._stop_sampling()
        if message.visible:
            self._metrics_stop = threading.Event()
            self._sample_while_shown(self._metrics_stop)

    def _stop_sampling(self) -> None:
        if self._metrics_stop is not None:
            self._metrics_stop.set()
            self._metrics_stop = None

    @work(thread=True, group="metrics", exit_on_error=False)
    def _sample_while_shown(self, stop: threading.Event) -> None:
        """One thread samples for as long as the pane shows: each sample once the last
        was shown and ``monitor.interval`` has passed since. A worker and a timer per
        sample cost the idle board more than the sample itself (a thread handed over,
        three state messages and a timer on the UI thread, each second)."""
        worker = get_current_worker()

        def ended() -> bool:
            return stop.is_set() or worker.is_cancelled

        while not ended():
            shown = threading.Event()
            with self._sampling:  # a thread of an earlier showing may still be sampling
                if ended():
                    return
                self._post_sample(shown)
            while not shown.wait(SHOWN_CHECK_S):  # a pane torn down never shows it
                if ended():
                    return
            stop.wait(self.shipdeck.project.config.monitor.interval)

    def _post_sample(self, shown: threading.Event) -> None:
        app = self.shipdeck
        try:
            if self._sampler is None:  # first, or the config was reloaded
                from shipdeck.backends.metrics import HostMetrics
                from shipdeck.backends.probe import HttpProber
                from shipdeck.lifecycle.sampling import Sampler

                root = str(app.project.root)
                self._sampler = Sampler(app.engine, HttpProber(), HostMetrics(root))
            sample = self._sampler.sample()
        except Exception as exc:  # noqa: BLE001 - a failed sample is reported, the poller goes on
            self.post_message(self.MetricsFailed(f"metrics: {exc}", shown))
            return
        stats, errors = self._container_stats()
        self.post_message(self.MetricsSampled(sample, stats, errors, shown))

    def _container_stats(self) -> tuple[list[ContainerStats], dict[str, str]]:
        """One stats sample per container (or local process tree) of every environment."""
        from shipdeck.lifecycle.ports import StatsSource

        app = self.shipdeck
        stats: list[ContainerStats] = []
        errors: dict[str, str] = {}
        for name in app.project.config.environments:
            try:
                target = app.engine.target_for(name)
                if isinstance(target, StatsSource):
                    stats.extend(target.stats())
            except Exception as exc:  # noqa: BLE001 - an engine away is shown, not raised
                errors[name] = str(exc)
        return stats, errors

    @on(MetricsFailed)
    def _sample_failed(self, message: MetricsFailed) -> None:
        message.shown.set()
        self.notify(message.error, severity="error")

    @on(MetricsSampled)
    def _show_sample(self, message: MetricsSampled) -> None:
        try:
            self._show(message)
        finally:
            message.shown.set()  # the sampler waits for this before its next interval

    def _show(self, message: MetricsSampled) -> None:
        sampler, pane = self._sampler, self._metrics_pane
        if sampler is None or pane is None or not pane.is_attached:
            return  # the config changed meanwhile: the next one shows
        sample = message.sample
        pane.show_containers(message.stats, {**message.errors, **sample.errors})
        pane.show_nodes(sample.nodes)
        tracker = sampler.tracker
        pane.show_sample(
            sample.host, sample.probes, tracker.host, tracker.probes, tracker.active.values()
        )
        for alert in sample.alerts:
            if alert.cleared:
                self.notify(alert.message, title=f"{alert.id} cleared")
            else:
                self.notify(alert.message, title=f"Alert {alert.id}", severity="error")
        for env, decision in sample.scaled:
            change = f"{decision.before} → {decision.after} replicas"
            self.notify(f"{env}: {change} ({decision.reason})", title="Autoscaled", markup=False)
        if sample.alerts or sample.scaled:
            self.refresh_events()

    # --- events ----------------------------------------------------------------------------

    class EventsRead(Message):
        """A page of the journal's timeline was read (in a worker): the newest events
        after ``skip`` newer ones, oldest first."""

        def __init__(self, events: list[Event], skip: int) -> None:
            super().__init__()
            self.events, self.skip = events, skip

    def refresh_events(self) -> None:
        """The events pane's newest page, if the pane was ever shown (asked by its id:
        every run's finish would otherwise import the pane's module, DataTable and all,
        ~6 ms on the UI thread while the next stage starts)."""
        if self.query("#events-pane"):
            self._read_events(0)

    @work(thread=True, group="events", exit_on_error=False)
    def _read_events(self, skip: int) -> None:
        """One page from the journal's index: a screen and a margin, not the journal
        (on 1M events the whole journal took ~5 s and ~1 GB)."""
        try:
            events = self.shipdeck.project.journal.newest(EVENTS_PAGE, skip)
        except STORAGE_ERRORS as exc:  # the pane keeps what it showed
            self.app.call_from_thread(self._events_unreadable, exc)
            return
        self.post_message(self.EventsRead(events, skip))

    def _events_unreadable(self, exc: BaseException) -> None:
        from shipdeck.widgets.ops.events import EventsPane

        self.shipdeck.storage_error("Journal unreadable", exc)
        for pane in self.query(EventsPane):
            pane.unreadable(describe(exc))

    @on(EventsRead)
    def _show_events(self, message: EventsRead) -> None:
        from shipdeck.widgets.ops.events import EventsPane

        panes = self.query(EventsPane)
        if not panes:
            return
        if message.skip:
            panes.first().add_older(message.events)
        else:
            panes.first().set_events(message.events)

    def on_events_pane_older_wanted(self, message: Any) -> None:
        message.stop()
        self._read_events(message.shown)

    def on_events_pane_bug_requested(self, message: Any) -> None:
        app = self.shipdeck
        try:
            engine = app.engine  # built first: it masks what the board and journal keep
            item = verbs.add_bug_from_alert(
                engine.store,
                engine.journal,
                message.event,
                release_tag=app.project.config.stages.release.tag,
            )
        except NOT_OPENED as exc:  # the alert stays in the pane: b tries again
            app.storage_error("Bug not opened", exc)
            return
        app.reload_board()
        self.board.select(item.id)
        self.notify(f"{item.id} opened from {message.event.get('alert_id')}")

    # --- environments --------------------------------------------------------------------

    def _envs_visible(self, visible: bool) -> None:
        self._envs_on = visible
        if visible:
            self._read_envs()

    def refresh_envs(self) -> None:
        """The statuses read now, if the pane is shown: a deploy or an operation just
        ended (the pane had said "stopped" for up to 3 s after "staging restarted")."""
        if self._envs_on:
            self._read_envs()

    @work(thread=True, group="envs", exit_on_error=False)
    def _read_envs(self) -> None:
        if not self._envs_on:
            return
        app = self.shipdeck
        statuses: list[EnvStatus] = []
        errors: dict[str, str] = {}
        for name in app.project.config.environments:
            try:
                statuses.append(app.engine.target_for(name).status())
            except Exception as exc:  # noqa: BLE001 - an unreachable engine is shown, not raised
                errors[name] = str(exc)
        self.post_message(self.EnvsRead(statuses, errors))

    @on(EnvsRead)
    def _show_envs(self, message: EnvsRead) -> None:
        from shipdeck.widgets.ops.envs import EnvironmentsPane

        panes = self.query(EnvironmentsPane)
        if panes:
            panes.first().set_status(message.statuses, message.errors)
        if self._envs_timer is not None:  # one poll pending, however many reads ended
            self._envs_timer.stop()
            self._envs_timer = None
        if self._envs_on:  # not mounted yet: poll again soon, not in 3 s
            self._envs_timer = self.set_timer(ENV_POLL_SECONDS if panes else 0.1, self._read_envs)

    # The environments pane's keys only ask; the operations confirm, naming versions.

    def on_environments_pane_restart_requested(self, message: Any) -> None:
        message.stop()
        self.board.env_ops.restart_env(message.env)

    def on_environments_pane_stop_requested(self, message: Any) -> None:
        message.stop()
        self.board.env_ops.stop_env(message.env)

    def on_environments_pane_scale_requested(self, message: Any) -> None:
        message.stop()
        self.board.env_ops.scale_env(message.env, message.delta)

    def on_environments_pane_autoscale_pause_toggled(self, message: Any) -> None:
        message.stop()
        self.board.env_ops.toggle_autoscale(message.env)

    def on_environments_pane_rollback_requested(self, message: Any) -> None:
        message.stop()
        self.board.env_ops.rollback_env(message.env)

    def on_environments_pane_env_selected(self, message: Any) -> None:
        """Enter on an environment follows its live logs (k9s' and lazydocker's habit)."""
        message.stop()
        self.board.env_ops.follow_env_logs(message.env)


def _make_pane(pane: str) -> Widget:
    if pane == "metrics":
        from shipdeck.widgets.ops.metrics import MetricsPane

        return MetricsPane(id="metrics-pane")
    if pane == "events":
        from shipdeck.widgets.ops.events import EventsPane

        return EventsPane(id="events-pane")
    from shipdeck.widgets.ops.envs import EnvironmentsPane

    class OperatedEnvironmentsPane(EnvironmentsPane):
        """The pane, offering ``+``/``-`` only on an environment whose target can scale."""

        def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
            env = self.selected_env
            if action == "scale":
                return env is not None and cast(Board, self.screen).env_ops.can_scale(env)
            if action == "autoscale":  # only where shipdeck.yaml gives it autoscale:
                environments = host(self.app).project.config.environments
                return env in environments and environments[env].autoscale is not None
            return True

        def on_data_table_row_highlighted(self) -> None:
            self.refresh_bindings()  # another environment: maybe other keys

    return OperatedEnvironmentsPane(id="env-pane")
