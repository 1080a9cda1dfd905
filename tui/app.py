"""The shipdeck board app: wires the engine to the screens.

Engine work runs in thread workers; engine events come back as messages
(``post_message`` is thread-safe) and are handled on the UI thread. Errors
from any worker are reported in one place, :meth:`on_worker_state_changed`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import constants, events, on, work
from textual.app import App
from textual.binding import Binding
from textual.driver import Driver
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from shipdeck.lifecycle.board_index import CardBook
from shipdeck.lifecycle.items import Item, RunState
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.store import follow
from shipdeck.lifecycle.text import step_colour_env
from shipdeck.project.repo import Project
from shipdeck.tui import settings
from shipdeck.tui.board_screen import BoardScreen
from shipdeck.tui.config_watch import ConfigFollower
from shipdeck.tui.crash import STORAGE_ERRORS, describe
from shipdeck.tui.host import DialogShown, HoldEnded, Host, Question
from shipdeck.tui.idle_gc import IdleCollector
from shipdeck.tui.log_follower import LogFollower
from shipdeck.tui.palette import BoardCommands
from shipdeck.widgets.board.cards import may_have_facts

if TYPE_CHECKING:
    from textual.app import SystemCommand

    from shipdeck.lifecycle.engine import Engine
    from shipdeck.lifecycle.runs import EngineEvent, RunFinished
    from shipdeck.lifecycle.store import CardsRead


# How long a key's flow may keep the keys before its dialog shows (a slow engine):
# after that they go to the board again.
FLOW_KEYS_WAIT = 2.0
_UNREAD = object()  # the stamp while the ref cannot be read: equal to no head


class EngineEventsPosted(Message):
    """Engine events, carried from worker threads to the UI thread: all that arrived
    while the last such message waited to be handled (``ShipdeckApp._from_engine``)."""

    def __init__(self, events: list[EngineEvent]) -> None:
        super().__init__()
        self.events = events  # grows until the UI thread takes it


class ShipdeckApp(Host):
    CSS_PATH = "app.tcss"
    TITLE = "shipdeck"
    # The footer pins these right (tui/board_screen.py); ctrl+p adds Textual's own commands.
    BINDINGS = [
        Binding("colon", "command_mode", "Commands"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+p", "command_palette", "Palette, with themes", show=False),
    ]

    COMMANDS = App.COMMANDS | {BoardCommands}

    def __init__(self, project: Project, engine: Engine | None = None) -> None:
        super().__init__()
        self.project = project
        self._engine = engine
        self._engine_lock = threading.Lock()  # guards the engine events' waiting message
        self._engine_waiting: EngineEventsPosted | None = None
        # A key's flow that has not shown its dialog yet, and since when (run_flow).
        self._flow_before_dialog: tuple[Worker[object], float] | None = None
        self._held: list[events.Key] | None = None  # keys behind one that may ask (hold_keys)
        self._hold_timer: Timer | None = None
        if engine is not None:
            engine.subscribe(self._from_engine)
        # The board as a CardBook: every card's id and stage; a card's words are read
        # from the board's index when it is drawn (lifecycle/board_index.py).
        self.items: Mapping[str, Item] = {}
        self._book: CardBook | None = None
        self._reading = False  # a reload worker is reading the board
        self.selected: str | None = None
        self.frame = 0
        self._stamp: object = None
        self._board_error: str | None = None  # the last load's failure, said once
        self.crashed: BaseException | None = None  # a bug: written to a crash file at exit
        self.board = BoardScreen(self)
        self.follow = LogFollower(self, self.board)
        self._collector = IdleCollector()
        self._sub_title = self.sub_title = project_label(project)
        saved = settings.load().get("theme")
        if isinstance(saved, str) and saved in self.available_themes:
            self.theme = saved

    # --- wiring ------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from shipdeck.project.wiring import build_engine

            # on first use: config, git, processes; the interpreter, named before a key asks
            self._engine = build_engine(self.project, will_run_steps=True)
            # The log pane shows colour: steps are told they may use it.
            self._engine.add_environ(step_colour_env(pane=True))
            self._engine.subscribe(self._from_engine)
        return self._engine

    @property
    def engine_if_built(self) -> Engine | None:
        """The engine if something built it already (None: nothing runs)."""
        return self._engine

    @property
    def any_run(self) -> bool:
        """Whether a card runs, as the board last showed it (its frames are paced then)."""
        running: bool = self.board.pacer.running
        return running

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver, with an input thread that sleeps between keys (tui/driver.py);
        Textual's own where it picks another (Windows, ``TEXTUAL_DRIVER``)."""
        chosen = super().get_driver_class()
        if constants.DRIVER or chosen.__module__ != "textual.drivers.linux_driver":
            return chosen  # the one asked for, or not a terminal with termios
        from shipdeck.tui.driver import QuietDriver

        return QuietDriver

    def get_default_screen(self) -> Screen[Any]:
        board: Screen[Any] = self.board
        return board

    def on_load(self) -> None:
        """The app is starting: no garbage collection until the first paint."""
        self._collector.hold()

    def on_mount(self) -> None:
        self._spinner = self.set_interval(0.1, self._spin, pause=True)
        self.reload_board()
        self.board.select_first()
        self.set_interval(1.0, self._poll_store)
        self.call_after_refresh(self._after_first_paint)

    def on_unmount(self) -> None:
        """Threads that follow a live stream end with the app; runs are cancelled by quit."""
        self.follow.stop_env_logs()
        self._collector.uninstall()

    def _after_first_paint(self) -> None:
        """Work that need not delay the first paint."""
        from shipdeck.lifecycle.config.errors import ConfigError  # no pydantic

        try:
            self.project.config  # noqa: B018 - read now (its snapshot, or validated)
        except ConfigError as exc:  # edited in the moment the board opened: say so, keep the board
            self.notify(str(exc), title="shipdeck.yaml", severity="error", timeout=30)
            return
        # Runs left "running" by a shipdeck that died: only worth a second read if any.
        try:
            if self._book is not None and self._book.running and self.engine.recover():
                self.reload_board()
        except STORAGE_ERRORS as exc:  # the board cannot be written: its runs stay "running"
            self.storage_error("Board not recovered", exc)
        self._collector.install()
        self.set_interval(1.0, self._collector.tick)
        self._load_network_and_metrics()
        self._facts_on = True
        self.refresh_card_facts()
        self.set_interval(5.0, self.refresh_card_facts)  # deploys from the CLI, commits

    @work(thread=True, group="preload", exit_on_error=False, description="preload")
    def _load_network_and_metrics(self) -> None:
        """Import the HTTP client and psutil (~50 ms of CPU) while the board is looked at:
        the metrics pane's probes and host sample use them, and so does a local deploy's
        health wait, which would otherwise load them while Test's command runs and, on
        a busy machine, share a core with it."""
        import shipdeck.backends.metrics
        import shipdeck.backends.probe  # noqa: F401

    # --- what the cards say beyond the board ---------------------------------------

    _facts_on = False  # not before the first paint: the worker reads git and the journal
    card_facts: dict[str, Any] = {}

    class CardFactsRead(Message):
        """Branch heads and what runs on each environment were read (a worker)."""

        def __init__(self, facts: dict[str, Any]) -> None:
            super().__init__()
            self.facts = facts

    def refresh_card_facts(self) -> None:
        if self._facts_on:
            # The cards in view (and those last looked at), not the whole board: a card
            # scrolled to later gets its facts at the next refresh.
            book = self._book
            items = book.cached_values() if book is not None else list(self.items.values())
            work = partial(self._read_card_facts, items)
            # named: Textual's default name is the repr of ``work``, every card's
            # summary spelled out on the UI thread (4.5 ms of each refresh at 200 cards)
            self.run_worker(
                work, thread=True, group="card-facts", exclusive=True, description="card facts"
            )

    def _drop_facts(self, read: CardsRead) -> None:
        """Forget the facts of changed cards that can have none now (a card that left
        Code for Build, one archived): nothing to read to know that."""
        had = self.card_facts
        drop = {card.id for card in read.cards if card.id in had and not may_have_facts(card)}
        drop |= {gone for gone in read.gone if gone in had}
        if drop:
            self.card_facts = {k: v for k, v in had.items() if k not in drop}

    def _facts_to_read(self, read: CardsRead) -> bool:
        """Whether a changed card has facts to read: one in Code with a branch, or with
        an environment, and not running. A run's stages change its card ten times and
        none of its facts; a running card's are read as its run ends (its card changes
        then): a deploy's start read the journal for the version its end changes."""
        return any(
            may_have_facts(card) and card.current.state is not RunState.RUNNING
            for card in read.cards
        )

    def _read_card_facts(self, items: list[Item]) -> None:
        from shipdeck.tui.card_facts import read_facts

        bakes = {name: env.bake for name, env in self.project.config.environments.items()}
        facts = read_facts(lambda: self.engine.vcs, self.project.journal, items, bakes)
        self.post_message(self.CardFactsRead(facts))

    @on(CardFactsRead)
    def _show_card_facts(self, message: CardFactsRead) -> None:
        if message.facts != self.card_facts:
            self.card_facts = message.facts
            if self._book is not None:
                self.board.show_book(self._book, self.frame, self.card_facts)
            else:
                self.board.show_items(list(self.items.values()), self.frame, self.card_facts)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.InputEvent, events.Resize)):
            self.board.pacer.touched()  # its frame is painted at once, even while runs paint
        if isinstance(event, events.InputEvent):
            if self._exit:
                return  # quitting: a key typed after q would open a screen in a closing app
            self._collector.touched()  # full collections wait for a quiet moment
            if isinstance(event, events.Key):
                if self._held is not None:
                    self._held.append(event)
                    return
                if self._key_for_a_flow() or self._typed_before_the_question(event):
                    return
            if await self._typed_ahead(event):
                return
        await super().on_event(event)

    async def _typed_ahead(self, event: events.InputEvent) -> bool:
        """A key typed right behind one that opened a prompt (``/`` on the board or in
        the logs): Textual had already sent it to the widget focused then, and it comes
        back here unhandled with the prompt focused. A letter belongs in the prompt, as
        a typist meant. A key the prompt binds with priority (Enter keeps, Escape
        clears) acts on the prompt, as it would have had it come later, and the keys
        behind it go where it moved the focus: "/fix", Enter, j typed fast moves the
        cursor instead of filtering for "fixj". And a key read while a prompt has the
        focus is typed into it here, not left in the Input's queue, so the prompt's
        priority Enter reads every key typed before it (``widgets/prompt.py``)."""
        if not isinstance(event, events.Key):
            return False
        from textual.widgets import Input

        from shipdeck.widgets.prompt import PromptInput

        focused = self.focused
        if not event.is_forwarded:
            # A key for an open prompt: typed in now, in the order it came, so its
            # Enter keeps all that was typed before it (widgets/prompt.py says why).
            if not isinstance(focused, PromptInput):
                return False
            if await self._check_bindings(event.key, priority=True):
                return True
            return focused.type_key(event) or await self._check_bindings(event.key)
        if not isinstance(focused, Input):
            return False
        if event.is_printable and event.character is not None:
            focused.insert_text_at_cursor(event.character)
            return True
        return await self._check_bindings(event.key, priority=True)

    def _from_engine(self, event: EngineEvent) -> None:
        """Any thread. An event joins the message still waiting for the UI thread, if
        there is one: a post from a thread wakes the event loop through a socket, whose
        send lets go of the GIL, and taking it back from a UI thread in a frame cost the
        run's thread 0.2-0.5 ms an event, ~30 events a run."""
        with self._engine_lock:
            waiting = self._engine_waiting
            if waiting is not None:
                waiting.events.append(event)
                return
            waiting = self._engine_waiting = EngineEventsPosted([event])
        if not self.post_message(waiting):  # the app is closing: nothing waits for it
            with self._engine_lock:
                if self._engine_waiting is waiting:
                    self._engine_waiting = None

    def watch_theme(self, theme: str) -> None:
        settings.save({"theme": theme})

    # --- the board -----------------------------------------------------------------------

    class BoardRead(Message):
        """The board was read again off the UI thread (another process changed it)."""

        def __init__(self, read: CardsRead) -> None:
            super().__init__()
            self.read = read

    def reload_board(self) -> bool:
        """Show the board as stored: what changed since it was last read, from the
        board's index. If it cannot be read, say why (once while it lasts) and keep
        showing the last good board; False then."""
        try:
            read = self.project.store.cards(self._known())
        except STORAGE_ERRORS as exc:
            self._board_unreadable(exc)
            return False
        self._show_read(read)
        return True

    def _known(self) -> str | None:
        """The stamp a reload may read changes since (None: read the whole board)."""
        known = self._stamp
        return known if self._book is not None and isinstance(known, str) else None

    @work(thread=True, group="board-read", exit_on_error=False)
    def _read_board(self, known: str | None) -> None:
        """A reload after another process's change, off the UI thread."""
        try:
            read = self.project.store.cards(known)
        except STORAGE_ERRORS as exc:
            self.call_from_thread(self._board_unreadable, exc)
            return
        finally:
            self._reading = False
        self.post_message(self.BoardRead(read))

    @on(BoardRead)
    def _board_read(self, message: BoardRead) -> None:
        if message.read.since == self._known():  # else a reload came first: poll again
            self._show_read(message.read)

    def _show_read(self, read: CardsRead) -> None:
        self._stamp = read.stamp
        if self._board_error is not None:
            self._board_error = None
            self.sub_title = self._sub_title
            self.notify("The board reads again.", title="Board")
        while self.project.store.notices:  # said once: e.g. an old board.yaml was imported
            self.notify(self.project.store.notices.pop(0), title="Board", timeout=15)
        book = self._book
        before = book.stages.get(self.selected) if book is not None and self.selected else None
        book, changed = follow(book, read, self.project.store.book)
        self._book = book
        self.items = book
        if read.full or changed:
            if not read.full:
                self._drop_facts(read)  # before the draw: the cards are drawn without them
            self.board.show_book(book, self.frame, self.card_facts, changed)
            if read.full or self._facts_to_read(read):
                self.refresh_card_facts()
        running = bool(book.running)
        if running:
            self._spinner.resume()  # the spinner timer runs only while something runs
        else:
            self._spinner.pause()
        if running != self.board.pacer.running:  # x (cancel) is lit only while a run runs
            self.board.pacer.running = running
            self.board.refresh_bindings()
        after = book.stages.get(self.selected) if self.selected else None
        if before and after and before is not after:
            self.board.select(self.selected)  # the cursor follows the card it acted on

    def _board_unreadable(self, exc: BaseException) -> None:
        """One notice per cause, not one a second from the poller; the title bar keeps it."""
        try:  # a bad commit is read again only once the ref moves off it
            self._stamp = self.project.store.stamp()
        except STORAGE_ERRORS:
            self._stamp = _UNREAD  # the ref itself: reloaded once it reads, even unmoved
        text = describe(exc)
        if text == self._board_error:
            return
        self._board_error = text
        self.sub_title = f"{self._sub_title} · board unreadable, showing the last good one"
        self.storage_error("Board unreadable", exc)

    def storage_error(self, title: str, exc: BaseException) -> None:
        """A storage error as one line (any thread): no markup, so ``[Errno 30]`` shows."""
        self.notify(describe(exc), title=title, severity="error", timeout=15, markup=False)

    def _poll_store(self) -> None:
        """Another shipdeck (or the CLI) changed the board: show it."""
        ConfigFollower.of(self).poll()  # shipdeck.yaml edited while open: reloaded
        try:
            changed = self.project.store.changed_since(self._stamp)  # type: ignore[arg-type]
        except STORAGE_ERRORS as exc:
            self._board_unreadable(exc)
            return
        if changed and not self._reading:
            self._reading = True
            self._read_board(self._known())

    def _spin(self) -> None:
        self.frame += 1
        self.board.tick(self.frame)

    def selected_item(self) -> Item | None:
        """The card under the cursor as a whole item, read from its blob now (the board
        holds only what cards show); the card's summary if the blob cannot be read."""
        return self.full_item(self.board.selected_id() or self.selected)

    def full_item(self, item_id: str | None) -> Item | None:
        """A card's whole item (its runs, body, links), read from its blob now; the
        card's summary if the blob cannot be read; None for a card not on the board."""
        if not item_id or item_id not in self.items:
            return None
        try:
            return self.project.store.get(item_id)
        except STORAGE_ERRORS:
            return self.items.get(item_id)

    _follow_timer: Timer | None = None

    def item_selected(self, item_id: str) -> None:
        if item_id == self.selected:
            return
        self.selected = item_id
        # Reloading the log pane re-lays out the screen: while the cursor is moving
        # fast, only the card it stops on loads its log.
        if self._follow_timer is not None:
            self._follow_timer.stop()
        self._follow_timer = self.set_timer(0.06, self._follow_selected)

    def _follow_selected(self) -> None:
        if self.board.is_attached and self.board.query("#log-pane"):  # not while exiting
            self.follow.item(self.full_item(self.selected))  # its runs: the whole item

    # --- engine events -------------------------------------------------------------------

    @on(EngineEventsPosted)
    def _engine_events(self, message: EngineEventsPosted) -> None:
        """In the order they happened; the board is read once for all of them (a stage
        that finishes and the next that starts are one read, not two)."""
        from shipdeck.lifecycle.runs import (  # loaded with the engine
            RunFinished,
            RunOutput,
            RunStarted,
        )

        with self._engine_lock:
            if self._engine_waiting is message:
                self._engine_waiting = None  # closed: a later event makes a new message
        events = message.events
        if not all(isinstance(event, RunOutput) for event in events):
            self.reload_board()
        for event in events:
            if isinstance(event, RunOutput):
                self.follow.output(event)
            elif isinstance(event, RunStarted):
                self.follow.started(event)
            elif isinstance(event, RunFinished):
                self.follow.finished(event)
                self._announce(event)
                self.board.panes.refresh_events()
                self.board.panes.refresh_envs()

    def _announce(self, event: RunFinished) -> None:
        who = event.item_id
        if event.state is RunState.FAILED:
            self.notify(f"{who}: {event.stage.label} failed: {event.message}", severity="error")
        elif event.state is RunState.CANCELLED:
            self.notify(f"{who}: {event.stage.label} cancelled", severity="warning")
        elif who.startswith("env:"):  # restarted, stopped, rolled back...: its own words
            self.notify(event.message or f"{who} done", title=who.removeprefix("env:"))
        elif event.stage is Stage.DEPLOY:
            self.notify(event.message or f"{who}: {event.stage.label} passed", title="Deployed")

    # --- running engine work ------------------------------------------------------------

    def run_engine(self, name: str, work: Callable[[], object], group: str = "runs") -> None:
        self.run_worker(work, name=name, group=group, thread=True, exit_on_error=False)

    def run_flow(self, flow: Coroutine[Any, Any, object]) -> None:
        """Found in tmux: ``d`` and Enter typed fast opened the details screen under the
        deploy's dialog (its facts are read in a thread first), and a dialog up before
        the Enter was read would have taken it as a yes nobody read. So a key's flow
        owns the keys until its dialog shows (the dialog's :class:`DialogShown`), it
        ends, or :data:`FLOW_KEYS_WAIT` passes; what is typed meanwhile is dropped."""
        worker = self.run_worker(flow, group="flows", exit_on_error=False)
        self._flow_before_dialog = (worker, time.monotonic())

    def hold_keys(self) -> None:
        """Found in tmux: ``a`` and Enter typed fast on a card whose deploy needs approval
        opened the card's details (the Enter reached the board while the advance planned
        in a thread) and the question came up over them. Keys read from now wait until
        a :class:`HoldEnded` (or :data:`FLOW_KEYS_WAIT`): behind a question they are
        dropped, as typed before it; behind an advance that asks nothing they act, in
        the order they were typed."""
        if self._held is None:
            self._held = []
            self._hold_timer = self.set_timer(FLOW_KEYS_WAIT, self.release_keys)

    @on(HoldEnded)
    def release_keys(self) -> None:
        """The keys :meth:`hold_keys` held, handled now as if just read (a flow started
        meanwhile owns them: :meth:`run_flow`)."""
        held, self._held = self._held, None
        if self._hold_timer is not None:
            self._hold_timer.stop()
            self._hold_timer = None
        for key in held or ():
            self.post_message(key)

    def _key_for_a_flow(self) -> bool:
        """Whether a key read now was typed behind a flow's key, before its dialog."""
        if self._flow_before_dialog is None:
            return False
        worker, since = self._flow_before_dialog
        if worker.is_finished or time.monotonic() - since > FLOW_KEYS_WAIT:
            self._flow_before_dialog = None
            return False
        return True

    def _typed_before_the_question(self, key: events.Key) -> bool:
        """Whether ``key`` was read before the dialog on screen asked (:class:`Question`)."""
        screen = self.screen
        return isinstance(screen, Question) and key.time < screen.asked.time

    @on(DialogShown)
    def _dialog_shown(self) -> None:
        self._flow_before_dialog = None

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker errors are reported: one line, no traceback."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(describe(error), title=event.worker.name, severity="error", markup=False)

    def follow_env_logs(self, env: str, tail: int) -> None:
        """``env``'s last ``tail`` lines, then live, in the log pane (shown first)."""
        self.follow.live(env, tail)

    def retitle(self, old: str, new: str) -> None:
        """The project was renamed in shipdeck.yaml: the title bar follows."""
        shown = self._sub_title.replace(old, new, 1)
        self.sub_title = self.sub_title.replace(self._sub_title, shown, 1)
        self._sub_title = shown

    # --- app-wide keys ---------------------------------------------------------------------

    def action_help(self) -> None:
        """Every key, read from the BINDINGS of each widget that has some: never stale."""
        from shipdeck.tui.board_screen import BoardScreen
        from shipdeck.tui.details import ItemDetailsScreen
        from shipdeck.tui.dialogs import ConfirmScreen, HelpScreen
        from shipdeck.widgets.board.columns import BoardColumns
        from shipdeck.widgets.log.pane import LogPane
        from shipdeck.widgets.log.view import LogView
        from shipdeck.widgets.ops.envs import EnvironmentsPane
        from shipdeck.widgets.ops.events import EventsPane

        self.push_screen(
            HelpScreen(
                [
                    ("Move on the board", BoardColumns.BINDINGS),
                    ("Items and panes", BoardScreen.BINDINGS),
                    ("Logs pane", [*LogView.BINDINGS, *LogPane.BINDINGS]),
                    ("Events pane", EventsPane.BINDINGS),
                    ("Environments pane", EnvironmentsPane.BINDINGS),
                    ("Item details", ItemDetailsScreen.BINDINGS),
                    ("Questions", ConfirmScreen.BINDINGS),
                    ("Anywhere", type(self).BINDINGS),
                ]
            )
        )

    def action_command_mode(self) -> None:
        """``:`` as in k9s: the palette with the board's commands alone (no themes)."""
        from textual.command import CommandPalette

        from shipdeck.tui.palette import BoardCommands

        if not CommandPalette.is_open(self):  # type: ignore[arg-type]  # App[int] is an App
            hint = "Command: deploy, restart staging, roll back, SD-3…"
            palette = CommandPalette([BoardCommands], placeholder=hint, id="--command-palette")
            self.push_screen(palette)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """An SVG of the screen under ``.shipdeck/screenshots``, once the palette has closed."""
        self.set_timer(0.1, self._save_screenshot)

    def _save_screenshot(self) -> None:
        folder = self.project.paths.ensure() / "screenshots"
        try:
            folder.mkdir(exist_ok=True)
            path = self.save_screenshot(path=str(folder))
        except OSError as exc:
            self.storage_error("Screenshot not saved", exc)
            return
        where = self.project.paths.display(Path(path))
        self.notify(f"Saved to {where}", title="Screenshot", markup=False)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's, but the screenshot is the board's own: saved where it says."""
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":
                yield command

    async def action_quit(self) -> None:
        # No engine yet, no runs: quitting does not build one (and cannot fail building it).
        running = self._engine.running() if self._engine is not None else []
        if not running:
            self.exit(0)
            return
        self.run_flow(self._quit_flow(running))

    async def _quit_flow(self, running: list[str]) -> None:
        from shipdeck.tui.dialogs import ConfirmScreen

        ids = ", ".join(running)
        if not await self.push_screen_wait(
            ConfirmScreen(f"{ids} still running. Cancel and quit?", yes="Cancel runs and quit")
        ):
            return
        self.notify("Cancelling runs…")
        self.engine.cancel_all()
        self.run_engine("quit", self._wait_then_exit, group="quit")

    def _wait_then_exit(self) -> None:
        """Quit only after every run has cleaned up its processes: no orphans."""
        import time

        deadline = time.monotonic() + 30
        while self.engine.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.call_from_thread(self.exit, 0)

    # --- bugs ------------------------------------------------------------------------------

    def _handle_exception(self, error: Exception) -> None:
        """A bug: Textual exits (restoring the terminal) as always, but the traceback goes
        to a crash file at exit (:func:`run_board`), not over the user's shell."""
        if self.crashed is None:
            self.crashed = error
        super()._handle_exception(error)
        self._exit_renderables.clear()  # Textual's report, with locals that may hold secrets


def project_label(project: Project) -> str:
    """The title bar's sub-title: the project, and its directory only when named otherwise."""
    name = project.validated_name() or project.config.project
    folder = project.root.name
    return name if folder == name else f"{name} (in {folder}/)"


def run_board(project: Project) -> int:
    """``shipdeck`` with no command: open the board. A bug in the app exits 70 after
    one line on stderr naming its crash file (:mod:`tui.crash`)."""
    from shipdeck.tui import crash

    app = ShipdeckApp(project)
    try:
        result = app.run()
    except Exception as exc:  # noqa: BLE001 - escaped Textual itself: still a crash file
        return crash.report(exc, project.paths.dir)
    if app.crashed is not None:
        return crash.report(app.crashed, project.paths.dir)
    return int(result or app.return_code or 0)
