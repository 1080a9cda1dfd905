"""The open board follows shipdeck.yaml: an edit is re-validated and, when valid,
used from the next run on (issue #11 item 5).

Each second the app's store poller calls :meth:`ConfigFollower.poll`, which only
stats the file (:class:`ConfigWatch`); it is parsed, in a thread worker, only when
the stat moved. A valid file becomes ``Project.config`` at once (the panes read it
there) and the engine's config between runs: a run reads ``engine.config`` as it
goes, so while one is going the engine keeps the old config and takes the new one
at the first poll after the last run ended. An invalid file is a notice naming
file:line:col, and the last good config stays in force until the file is fixed.

Panes learn of a reload from :class:`ConfigReloaded`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.notifications import Notification, Notify

from shipdeck.project import config_stamp
from shipdeck.tui.host import host

if TYPE_CHECKING:
    from textual.app import App

    from shipdeck.lifecycle.config.schema import Config
    from shipdeck.project.repo import Project

TITLE = "shipdeck.yaml"
ERROR_SECONDS = 60  # an invalid config: long enough to read, removed once fixed
# Panes that list environments: each gets its own ConfigReloaded.
PANES = "EnvironmentsPane, MetricsPane"


class ConfigReloaded(Message, bubble=False):
    """shipdeck.yaml changed on disk and validated; ``config`` is now ``Project.config``.

    Posted to the app and to each environments and metrics pane on the board (it does
    not bubble: each gets it once). A pane listing environments can redraw from
    ``config.environments`` (``added``/``removed`` name what changed); the app's metrics
    feed can make a new ``Sampler``, which reads probes and alert rules when made.
    The engine may take the config later than this: only once no run is going.
    """

    def __init__(self, config: Config, added: tuple[str, ...], removed: tuple[str, ...]) -> None:
        super().__init__()
        self.config = config
        self.added = added
        self.removed = removed


@dataclass(frozen=True)
class Reloaded:
    """The file validated: ``config`` is what it says now."""

    config: Config


@dataclass(frozen=True)
class Invalid:
    """The file does not validate: ``message`` is ConfigError's file:line:col line."""

    message: str


class ConfigWatch:
    """Tells whether shipdeck.yaml changed since last seen (a stat), and reads it."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._seen: config_stamp.FileStamp | None = None
        self._primed = False

    def changed(self) -> bool:
        """Whether the file moved since the project read it or this last said so.

        Cheap (one stat), for the UI thread. False until the project first read its
        config: the board validates it then, and this compares with what it read."""
        if not self._primed:
            if not self.project.config_read:
                return False
            self._seen, self._primed = self.project.config_seen, True
        now = config_stamp.file_stamp(self.project.config_path)
        if now == self._seen:
            return False
        self._seen = now
        return True

    def check(self) -> Reloaded | Invalid:
        """Read the file as it is now (pydantic, unless these bytes validated before),
        so from a thread worker."""
        from shipdeck.lifecycle.config.errors import ConfigError  # no pydantic by itself

        try:
            return Reloaded(self.project.read_config())
        except ConfigError as exc:
            return Invalid(str(exc))


class ConfigFollower:
    """The app's side: polls the watch, applies a result on the UI thread, says so.

    One per app (:meth:`of`), so the app needs one line to drive it."""

    _followers: weakref.WeakKeyDictionary[App[Any], ConfigFollower] = weakref.WeakKeyDictionary()

    def __init__(self, app: App[Any]) -> None:
        self._app = weakref.ref(app)  # the app owns this: no cycle keeping it alive
        self.watch = ConfigWatch(host(app).project)
        self.pending: Config | None = None  # valid, waiting for the engine's runs to end
        self._error: Notification | None = None  # the invalid-config notice on screen
        self._generation = 0  # of the latest change: an older parse is dropped

    @classmethod
    def of(cls, app: App[Any]) -> ConfigFollower:
        follower = cls._followers.get(app)
        if follower is None:
            follower = cls._followers[app] = cls(app)
        return follower

    @property
    def app(self) -> App[Any]:
        app = self._app()
        assert app is not None, "the follower outlived its app"
        return app

    def poll(self) -> None:
        """Each second, on the UI thread: a stat; a parse in a thread only on change."""
        self._apply_pending()
        if not self.watch.changed():
            return
        self._generation += 1
        generation = self._generation
        app = self.app

        def parse() -> None:
            result = self.watch.check()
            app.call_from_thread(self.checked, generation, result)

        app.run_worker(parse, name=TITLE, group="config", thread=True, exit_on_error=False)

    def checked(self, generation: int, result: Reloaded | Invalid) -> None:
        """A parse finished (UI thread): use it, unless a newer edit is being read."""
        if generation != self._generation:
            return
        if isinstance(result, Invalid):
            self._show_error(result.message)
        else:
            self._reloaded(result.config)

    # --- applying ------------------------------------------------------------------

    def _reloaded(self, config: Config) -> None:
        app = host(self.app)
        project = app.project
        old = project.config if project.config_loaded else None
        fixed = self._clear_error()
        project.use_config(config)
        deferred = self._to_engine(config)
        if old is not None and old == config and not fixed:
            return  # saved unchanged (or touched): nothing to say
        note = "shipdeck.yaml reloaded"
        if deferred:
            note += ": the engine takes it once the running runs end"
        app.notify(note, title=TITLE, markup=False)
        if old is not None and old.project != config.project:
            app.retitle(old.project, config.project)  # the title bar names the project
        before = set(old.environments) if old is not None else set()
        after = set(config.environments)
        added = tuple(sorted(after - before))
        removed = tuple(sorted(before - after))
        self.app.post_message(ConfigReloaded(config, added, removed))
        if app.board.is_attached:
            for pane in app.board.query(PANES):
                pane.post_message(ConfigReloaded(config, added, removed))

    def _to_engine(self, config: Config) -> bool:
        """Give ``config`` to the engine now if no run is going; True if it must wait."""
        from shipdeck.project.wiring import busy, reconfigure

        engine = host(self.app).engine_if_built  # not built yet: it will be, from Project.config
        if engine is None or engine.config is config:
            self.pending = None
            return False
        if busy(engine):
            self.pending = config
            return True
        reconfigure(engine, config)
        self.pending = None
        return False

    def _apply_pending(self) -> None:
        if self.pending is not None:
            self._to_engine(self.pending)

    # --- the error notice ----------------------------------------------------------

    def _show_error(self, message: str) -> None:
        """One notice for the latest error, replacing the one before."""
        self._clear_error()
        notice = Notification(
            f"{message}\nThe last good config stays in force.",
            TITLE,
            "error",
            ERROR_SECONDS,
            markup=False,  # the message quotes the file: [brackets] stay text
        )
        self._error = notice
        self.app.post_message(Notify(notice))

    def _clear_error(self) -> bool:
        """Take the invalid-config notice away; True if there was one."""
        notice, self._error = self._error, None
        if notice is None:
            return False
        app = self.app
        if notice in app._notifications:
            app._unnotify(notice)
        return True
