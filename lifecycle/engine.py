"""Runs a stage for an item through the ports, and tells listeners what happens.

The engine is synchronous: the CLI calls it from a worker thread and the board
from Textual workers. Listeners receive typed, past-tense events (output in
batches) and must not block. Runs for different items may go on in parallel;
a second run of the same item is refused, in this process and in any other
(a lock file per item), and a run left ``running`` by a killed shipdeck is
recovered as cancelled the next time anyone looks.

Broken storage (a read-only ``.shipdeck``, a full disk) never leaves half a change.
Every board change is journaled write-ahead (``BoardStore.update(write_ahead=)``):
the journal line first, then the ref's swap, and the line taken out again if the
swap fails, so a change and its event land together or not at all. A run reserves
room for its result in its item's lock file before it starts: when its result
cannot be saved, the result goes there, the run says so, and the next look at the
board (``recover``) records it as failed instead of leaving the item ``running``.

What each stage does is not the engine's business: it gets its stage table (a
:data:`lifecycle.runs.StageWork` per stage, ``lifecycle.stages.work.WORK``) from the
composition root, and the work sees it only through :class:`lifecycle.runs.RunHost`.
Item stages and environment operations (:mod:`lifecycle.operations`) start the same
way, with :meth:`Engine.open_run`, and keep the same books (:class:`OpenRun`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle import filelock
from shipdeck.lifecycle.config.templates import TemplateError
from shipdeck.lifecycle.errors import StorageError
from shipdeck.lifecycle.items import Item, RunState, StageState, utcnow
from shipdeck.lifecycle.journal import Journal
from shipdeck.lifecycle.masking import SecretMasker
from shipdeck.lifecycle.paths import ShipdeckPaths
from shipdeck.lifecycle.ports import (
    Cancelled,
    CancelToken,
    DeployTarget,
    Line,
    ProcessRunner,
    Stream,
    TargetError,
    Vcs,
    VcsError,
)
from shipdeck.lifecycle.runlog import RunLog
from shipdeck.lifecycle.runs import (
    EngineError,
    EngineEvent,
    Images,
    Listener,
    Outcome,
    Reporter,
    RunContext,
    RunFinished,
    RunStarted,
    StageFailed,
    StageWork,
    new_run_id,
    step_text,
)
from shipdeck.lifecycle.stages import STEP_STAGES, Stage
from shipdeck.lifecycle.stages.deploy import environment
from shipdeck.lifecycle.stages.gates import Facts, check_move, must_build_again, rerun_gate
from shipdeck.lifecycle.stages.work import sha_to_run
from shipdeck.lifecycle.store import BoardStore, WriteAhead
from shipdeck.lifecycle.verbs import (
    AdvancePlan,
    default_target,
    moved_event,
    past_already,
    plan_advance,
)
from shipdeck.lifecycle.versioning import DEFAULT_TAG_TEMPLATE, learn_tag_template, plan_release

if TYPE_CHECKING:  # pydantic: only the type, so the engine's modules load without it
    from shipdeck.lifecycle.config.schema import Config


_DEPLOY_OUTCOMES = (ev.DEPLOYED, ev.DEPLOY_FAILED, ev.DEPLOY_UNKNOWN, ev.DEPLOY_CANCELLED)

R = TypeVar("R", bound=Reporter)  # what a run's work gets: a RunContext, or a Reporter
# How long a run waits for its item's lock before calling it taken: a child process
# forked by another thread holds a just-released lock until it execs (filelock.try_lock).
ITEM_LOCK_GRACE = 1.0


class Engine:
    def __init__(
        self,
        *,
        root: Path,
        config: Config,
        store: BoardStore,
        journal: Journal,
        runner: ProcessRunner,
        vcs: Callable[[], Vcs],
        target_for: Callable[[str], DeployTarget],
        work: Mapping[Stage, StageWork],
        environ: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
        notify: Callable[[ev.Event], None] | None = None,
        images: Callable[[], Images] | None = None,
    ) -> None:
        self.root = root
        self.paths = ShipdeckPaths(root)
        with suppress(OSError):  # a read-only checkout still reads
            self.paths.ensure()  # so nothing the engine writes shows in `git status`
        self.config = config
        self.store = store
        self.journal = journal
        self.runner = runner
        self._vcs_factory = vcs
        self._vcs: Vcs | None = None
        self.target_for = target_for
        self._work = work  # what each stage does: stage_work.WORK, from the composition root
        self._environ_lock = threading.Lock()
        self._environ_added: dict[str, str] = {}
        self._environ: dict[str, str] | None = None
        self._environ_source: Callable[[], Mapping[str, str]] | None = None
        self.environ = os.environ if environ is None else environ
        self._notify_hook = notify
        self._images_factory = images
        self._images: Images | None = None
        self._listeners: list[Listener] = []
        self._cancels: dict[str, CancelToken] = {}
        self._lock = threading.Lock()
        # (thread, env): a deploy.started without its outcome yet, and its undo.
        self._deploys: dict[tuple[int, str], tuple[ev.Event, Callable[[], None]]] = {}
        self.masker = SecretMasker.for_config(config, lambda: self.environ)
        # The outbound gate: whatever the board and the journal persist (and so the
        # cards, `item show`, the events pane and the webhook) is masked on the way in.
        if self.masker:
            store.scrub = self.masker.scrub
            journal.scrub = self.masker.scrub

    # --- plumbing ---------------------------------------------------------

    @property
    def environ(self) -> dict[str, str]:
        """What steps run with. Given as a function (the project's interpreter, whose
        pyenv shim can take 0.1 s to name it), it is asked when first needed: at the
        first step, or at the start when the config names secrets to mask."""
        with self._environ_lock:
            if self._environ is None:
                assert self._environ_source is not None
                self._environ = dict(self._environ_source()) | self._environ_added
                self._environ_source = None
            return self._environ

    @environ.setter
    def environ(self, value: Mapping[str, str] | Callable[[], Mapping[str, str]]) -> None:
        with self._environ_lock:
            if callable(value):
                self._environ, self._environ_source = None, value
            else:
                self._environ, self._environ_source = dict(value) | self._environ_added, None

    def add_environ(self, values: Mapping[str, str]) -> None:
        """Add ``values`` to what steps run with, now and across a new environ."""
        with self._environ_lock:
            self._environ_added.update(values)
            if self._environ is not None:
                self._environ.update(values)

    @property
    def vcs(self) -> Vcs:
        if self._vcs is None:
            self._vcs = self._vcs_factory()
        return self._vcs

    @property
    def images(self) -> Images:
        """Image builds, pushes and one-off containers (Docker), made on first use."""
        if self._images is None:
            if self._images_factory is None:
                raise TargetError("docker steps need the Docker backend, which is not configured")
            self._images = self._images_factory()
        return self._images

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def notify(self, event: EngineEvent) -> None:
        """Tell the listeners (from the run's thread); a run's end settles its deploys."""
        if isinstance(event, RunFinished):
            self._settle_deploys(event.message, event.state is RunState.CANCELLED)
        for listener in list(self._listeners):
            listener(event)

    def journaled(self, *events: ev.Event) -> WriteAhead:
        """The ``write_ahead`` of a board change that these events tell of."""

        def write(_item: Item) -> Callable[[], None]:
            return self.journal.append_undoable(*events)[1]

        return write

    def record(self, event: ev.Event) -> None:
        """Journal an event, and send deploys, rollbacks and alerts to the webhook.

        A ``deploy.started`` is remembered until its outcome is journaled: a run that
        ends without one (the target raised) journals it as failed, and when even that
        cannot be written, the start is taken out again, so the journal never shows a
        deploy that began and never ended.
        """
        key = (threading.get_ident(), str(event.data.get("env")))
        try:
            written, undo = self.journal.append_undoable(event)
        except StorageError:
            if event.type in _DEPLOY_OUTCOMES:
                with self._lock:
                    started = self._deploys.pop(key, None)
                if started is not None:
                    with suppress(OSError):
                        started[1]()
            raise
        event = written[0]  # masked: what the webhook gets too
        with self._lock:
            if event.type == ev.DEPLOY_STARTED:
                self._deploys[key] = (event, undo)
            elif event.type in _DEPLOY_OUTCOMES:
                self._deploys.pop(key, None)
        if self._notify_hook and event.type in (
            *_DEPLOY_OUTCOMES,
            ev.ROLLED_BACK,
            ev.ALERT_RAISED,
            ev.AUTOSCALED,
        ):
            self._notify_hook(event)

    def _settle_deploys(self, reason: str, cancelled: bool = False) -> None:
        """Deploys this thread's run started and never journaled an outcome for: failed,
        or cancelled with the run."""
        me = threading.get_ident()
        with self._lock:
            mine = [k for k in self._deploys if k[0] == me]
            pending = [self._deploys.pop(k) for k in mine]
        for started, undo in pending:
            data = {**started.data, "reason": reason or "the deploy stopped"}
            try:
                outcome = ev.DEPLOY_CANCELLED if cancelled else ev.DEPLOY_FAILED
                self.record(ev.Event(outcome, started.item, data))
            except StorageError:
                with suppress(OSError):
                    undo()

    def running(self) -> list[str]:
        with self._lock:
            return list(self._cancels)

    def cancel(self, item_id: str) -> bool:
        """Cancel the item's run in this process; False if none is running here."""
        with self._lock:
            token = self._cancels.get(item_id)
        if token:
            token.cancel()
        return token is not None

    def cancel_all(self) -> None:
        with self._lock:
            tokens = list(self._cancels.values())
        for token in tokens:
            token.cancel()

    def _item_lock(self, item_id: str, grace: float = 0.0) -> int | None:
        """An exclusive lock file for the item, waited for up to ``grace`` seconds (see
        ``filelock.try_lock``: a child forked by another thread holds a released lock
        until it execs); None if another run holds it."""
        path = self._lock_path(item_id)
        try:
            return filelock.try_lock(path, mode=0o644, grace=grace)
        except OSError as exc:
            raise StorageError.wrap(exc, self.paths.display(path)) from None

    def recover(self) -> list[str]:
        """Settle runs left ``running`` by a process that died (cancelled) or that could
        not save their result (failed, with the result it kept); their ids."""
        recovered = []
        for item in self.store.load().items:
            if not item.running:
                continue
            fd = self._item_lock(item.id)
            if fd is None:
                continue  # a live process is running it
            try:
                self._mark_interrupted(item.id, fd)
                recovered.append(item.id)
            finally:
                os.close(fd)
        return recovered

    def _mark_interrupted(self, item_id: str, fd: int) -> None:
        """Settle the item's ``running`` states, under its lock (``fd``), and journal it."""
        unsaved = _read_unsaved(fd)
        events: list[ev.Event] = []

        def fix(it: Item) -> None:
            events.clear()
            for stage, st in it.states.items():
                if st.state is not RunState.RUNNING:
                    continue
                kept = unsaved if unsaved and unsaved.get("run_id") == st.run_id else {}
                state = RunState.FAILED if kept else RunState.CANCELLED
                message = str(kept.get("message") or "interrupted: shipdeck stopped during the run")
                it.states[stage] = StageState(
                    state, st.started_at, utcnow(), st.run_id, st.sha, message
                )
                data = {"stage": stage.value, "run_id": st.run_id, "status": state.value}
                events.append(ev.Event(ev.STAGE_FINISHED, it.id, {**data, "message": message}))

        def journal(it: Item) -> Callable[[], None]:
            return self.journal.append_undoable(*events)[1] if events else _nothing

        self.store.update(item_id, fix, write_ahead=journal)
        _clear_unsaved(fd)

    # --- facts and moves -----------------------------------------------

    def facts(self, item: Item) -> Facts:
        """What git and the environment say about ``item``; unknown where they can't say."""
        facts: dict[str, Any] = {}
        if item.branch:
            try:
                vcs = self.vcs
                tip = vcs.branch_tip(item.branch)
                if tip is None:
                    facts["commits_ahead"] = 0
                    facts["branch_gone"] = True
                else:
                    facts["commits_ahead"] = vcs.commits_ahead(tip, self.config.base_branch)
                    facts["head_sha"] = tip
            except Exception:  # noqa: BLE001 - an unreadable repo leaves the facts unknown
                pass
        if item.stage is Stage.OPERATE and item.env:
            facts.update(self._bake_facts(item))
        return Facts(**facts)

    def _bake_facts(self, item: Item) -> dict[str, Any]:
        """``baked`` and ``healthy`` for the Operate gate."""
        if not item.env or item.env not in self.config.environments:
            return {}
        bake = self.config.environments[item.env].bake
        deployed = item.states.get(Stage.DEPLOY)
        passed = deployed is not None and deployed.state is RunState.PASSED
        since = deployed.finished_at if deployed is not None and passed else None
        healthy = self.target_for(item.env).status().healthy
        baked = since is not None and (datetime.now(UTC) - since).total_seconds() >= bake
        return {"baked": baked, "healthy": healthy}

    def check(self, item: Item, target: Stage) -> str | None:
        refusal = check_move(item, target, self.facts(item))
        return str(refusal) if refusal else None

    def plan_advance(
        self, item_id: str, *, to: Stage | None = None, env: str | None = None
    ) -> AdvancePlan:
        """What :meth:`advance` would do with the item now, or why it would be refused
        (reads git and the environment: not for the UI thread)."""
        item = self.store.get(item_id)
        return plan_advance(item, self.facts(item), self.auto_env(), to=to, env=env)

    # --- running ----------------------------------------------------------

    def run_stage(
        self,
        item_id: str,
        *,
        stage: Stage | None = None,
        env: str | None = None,
        approve: bool = False,
        cancel: CancelToken | None = None,
    ) -> Outcome:
        """Move the item into ``stage`` (default: re-run its current one) and do its work."""
        cancel = cancel or CancelToken()
        with self._holding(item_id, cancel) as fd:
            return self._run_locked(item_id, stage, env, approve, cancel, fd)[0]

    @contextmanager
    def _holding(self, item_id: str, cancel: CancelToken) -> Iterator[int]:
        """The item's lock and its cancel token, for one run or a whole advance: the
        stages of an advance run under one lock, so no other shipdeck starts a run of
        the item between them (and none is refused by the release and retaking)."""
        fd = self._item_lock(item_id, grace=ITEM_LOCK_GRACE)
        if fd is None:
            raise EngineError(f"{item_id} is already running in another shipdeck")
        try:
            with self._lock:
                if item_id in self._cancels:
                    raise EngineError(f"{item_id} is already running")
                self._cancels[item_id] = cancel
            try:
                yield fd
            finally:
                with self._lock:
                    self._cancels.pop(item_id, None)
        finally:
            os.close(fd)

    def _run_locked(
        self,
        item_id: str,
        stage: Stage | None,
        env: str | None,
        approve: bool,
        cancel: CancelToken,
        fd: int,
        held: _Held | None = None,
        hold: bool = False,
    ) -> tuple[Outcome, _Held | None]:
        """One run, under the item's lock (``fd``); what it could not save is kept in the
        lock file until it is settled. In a chain of stages, the result of the run before
        it, ``held``, is written with this run's start (one board commit for both); with
        ``hold``, a passed result is held for the next run in turn, and returned."""
        _reserve_unsaved(fd, self.paths.display(self._lock_path(item_id)))
        item = held.item if held is not None else self.store.get(item_id)
        if item.running:  # left running by a dead process: we hold its lock now
            self._mark_interrupted(item_id, fd)
            _reserve_unsaved(fd, self.paths.display(self._lock_path(item_id)))
            item = self.store.get(item_id)
        target = stage or item.stage
        if target is not item.stage:
            refusal = self.check(item, target)
            if refusal:
                raise EngineError(refusal)
        else:
            reason = rerun_gate(item, self.facts(item))
            if reason:
                raise EngineError(f"{item.id} cannot run {target.label} again: {reason}")
        started = utcnow()
        source = item.stage
        plan = self.config.stages.steps(target) if target in STEP_STAGES else []
        # The first step goes with the start, a board write fewer (RunContext.progress).
        first = step_text(1, len(plan), plan[0].label, self.masker) if plan else None
        going_to = self._deploy_env(item, env, approve) if target is Stage.DEPLOY else None
        runs_on = self._step_sha(item, target) if target in STEP_STAGES else None

        def begin(run_id: str, log: RunLog) -> RunContext:
            """The card says running, journaled with the move into the stage."""

            def start(it: Item) -> None:
                if held is not None:
                    held.finish(it)
                it.stage = target
                if going_to:  # the card says where it is deploying while it does
                    it.env = going_to
                if runs_on:  # and which commit it builds or tests
                    it.sha = runs_on
                it.states[target] = StageState(
                    RunState.RUNNING, started, None, run_id, it.sha, step=first
                )

            began = [ev.Event(ev.STAGE_STARTED, item_id, {"stage": target.value, "run_id": run_id})]
            if source is not target:
                began.insert(0, moved_event(item_id, source, target))
            if held is None:
                running = self.store.update(item_id, start, write_ahead=self.journaled(*began))
                return RunContext(self, run_id, running, target, cancel, log, env, approve)
            held.written = True  # here, or (when this fails) as an unsaved result
            try:
                running = self.store.update(
                    item_id, start, write_ahead=self.journaled(held.event, *began)
                )
            except StorageError as exc:
                raise self._unsaved(held.run, held.stage, held.state, fd, exc) from None
            held.run.finish(held.state, held.message)  # before this run's RunStarted
            return RunContext(self, run_id, running, target, cancel, log, env, approve)

        run = self.open_run(item_id, target, target.value, begin)
        ctx = run.context
        state, message = run.perform(self._work.get(target, _no_work))
        if state is not RunState.PASSED and message:
            ctx.emit([Line(Stream.STDERR if state is RunState.FAILED else Stream.INFO, message)])
        run.close()
        sha = ctx.item.sha
        deferred = ctx.take_deferred()
        ended = utcnow()

        def finish(it: Item) -> None:
            for change in deferred:
                change(it)
            it.states[target] = StageState(state, started, ended, run.run_id, sha, message or None)

        finished = ev.Event(
            ev.STAGE_FINISHED,
            item_id,
            {
                "stage": target.value,
                "run_id": run.run_id,
                "status": state.value,
                "duration": run.duration,
                "sha": sha,
                "message": message or None,
            },
        )
        if hold and state is RunState.PASSED:  # written with the next run's start
            try:
                item = self.store.get(item_id)
            except StorageError:
                pass  # written now, where a failure to write it is kept as unsaved
            else:
                finish(item)  # the item as the board will have it
                outcome = Outcome(item, state, message)
                return outcome, _Held(item, run, target, state, message, finish, finished)
        try:
            item = self.store.update(item_id, finish, write_ahead=self.journaled(finished))
        except StorageError as exc:
            raise self._unsaved(run, target, state, fd, exc) from None
        run.finish(state, message)
        _clear_unsaved(fd)
        return Outcome(item, state, message), None

    def _write_held(self, held: _Held, fd: int) -> None:
        """A held result with no next run to go with: written on its own."""
        if held.written:
            return
        held.written = True
        item_id = held.item.id
        try:
            self.store.update(item_id, held.finish, write_ahead=self.journaled(held.event))
        except StorageError as exc:
            raise self._unsaved(held.run, held.stage, held.state, fd, exc) from None
        held.run.finish(held.state, held.message)
        _clear_unsaved(fd)

    def _unsaved(
        self, run: OpenRun[RunContext], stage: Stage, state: RunState, fd: int, exc: StorageError
    ) -> StorageError:
        """A run's result the board did not take: the board still says running, so the
        result is kept where room was reserved for it (the next look at the board
        records the run as failed), the listeners hear it failed, and this says why."""
        item_id = run.context.item.id
        why = f"{stage.label} {state.value}, but its result was not saved ({exc})"
        _write_unsaved(fd, run.run_id, why)
        run.finish(RunState.FAILED, why)
        return StorageError(
            exc.shown,
            exc.reason,
            errno=exc.errno,
            context=f"{item_id}: {stage.label} {state.value}, but its result was not"
            " saved (it shows as failed once this is fixed): ",
        )

    def open_run(
        self, subject: str, stage: Stage, action: str, begin: Callable[[str, RunLog], R]
    ) -> OpenRun[R]:
        """Start a run, an item's stage and an environment operation alike: its id, its
        log (made first: a log that cannot be made stops nothing midway), ``begin`` making
        the context its work gets (an item's card says running; when that fails, the run
        never started and leaves no log), then RunStarted to the listeners."""
        t0 = time.monotonic()
        run_id = new_run_id(subject, action)
        path = self.paths.run_log(run_id)
        try:
            log = RunLog(path, self.masker)
        except OSError as exc:
            raise StorageError.wrap(exc, self.paths.display(path)) from None
        try:
            context = begin(run_id, log)
        except BaseException:
            with suppress(OSError):
                log.close()
                path.unlink()
            raise
        self.notify(RunStarted(run_id, subject, stage, log.path))
        return OpenRun(self, context, stage, t0)

    def advance(
        self,
        item_id: str,
        *,
        to: Stage | None = None,
        env: str | None = None,
        approve: bool = False,
        cancel: CancelToken | None = None,
    ) -> Outcome:
        """Run stages until ``to`` (default: the next stage; after Code, through Release).

        A current stage that has not passed is run again first. Environments
        with ``auto: true`` are deployed right after a release.
        """
        cancel = cancel or CancelToken()
        item = self.store.get(item_id)
        if item.archived:
            raise EngineError(f"{item.id} is archived")  # from Monitor: not "archive it"
        if to is None:
            # After Code the pipeline runs by itself, and deploys where `auto: true` says so.
            to = default_target(item, self.auto_env(), env)
            if to is None:
                raise EngineError(
                    f"{item.id} is in Monitor, the last stage: archive it when it is done"
                    f" (a on the board; `shipdeck item archive {item.id}`)"
                )
            if to is Stage.DEPLOY:
                env = env or self.auto_env()
        if to.position < item.stage.position:
            raise EngineError(past_already(item, to))
        with self._holding(item_id, cancel) as fd:
            self.runner.prepare(self._steps_ahead(item, to))
            try:
                return self._advance_held(item, to, env, approve, cancel, fd)
            finally:
                self.runner.prepare(0)

    def _steps_ahead(self, item: Item, to: Stage) -> int:
        """The command steps of the Build and Test runs on the way to ``to``: the runner
        starts each one's process ahead of it."""
        first = item.stage if item.current.state is not RunState.PASSED else item.stage.next()
        if first is None:
            return 0
        return sum(
            step.run is not None
            for stage in STEP_STAGES
            if first.position <= stage.position <= to.position
            for step in self.config.stages.steps(stage)
        )

    def _prepare_deploy(self, running: Stage, to: Stage, env: str | None) -> None:
        """When Test is about to run on the way to a Deploy, the deploy's target loads what
        it needs (the local one: its HTTP client, ~45 ms of imports) while Test's command
        runs, the longest wait before Deploy: on the runner's helper thread, once the
        command started, so the import slows none of Test's or Build's board writes."""
        env = env or self.auto_env()
        if env is None or running is not Stage.TEST or to.position < Stage.DEPLOY.position:
            return

        def prepare() -> None:
            with suppress(Exception):  # the deploy itself reports what is wrong
                self.target_for(env).prepare()

        self.runner.meanwhile(prepare)

    def _advance_held(
        self,
        item: Item,
        to: Stage,
        env: str | None,
        approve: bool,
        cancel: CancelToken,
        fd: int,
    ) -> Outcome:
        """:meth:`advance`'s stages, one after another under the item's lock (``fd``);
        ``item`` as read before, each stage reads it again."""
        item_id = item.id
        outcome = Outcome(item, item.current.state)
        # A passed stage's result, held to be written with the next stage's start: one
        # board commit, not two, between stages (written on its own if none follows).
        held: _Held | None = None
        try:
            while True:
                item = held.item if held is not None else self.store.get(item_id)
                if must_build_again(item, self.facts(item)):
                    if held is not None:
                        self._write_held(held, fd)
                        held = None
                    item = self._rewind_to_build(item)  # one sha through the pipeline
                needs_run = (
                    item.stage is not Stage.PLAN and item.current.state is not RunState.PASSED
                )
                if needs_run:
                    more = item.stage.position < to.position
                    self._prepare_deploy(item.stage, to, env)
                    outcome, held = self._run_locked(
                        item_id, None, env, approve, cancel, fd, held, hold=more
                    )
                    if not outcome.ok:
                        return outcome
                    item = outcome.item
                if item.stage is to or item.stage.position > to.position:
                    return Outcome(item, RunState.PASSED, outcome.message)
                nxt = item.stage.next()
                assert nxt is not None
                if nxt is Stage.DEPLOY and env is None:
                    env = self.auto_env()
                    if env is None and to.position > Stage.RELEASE.position:
                        raise EngineError("name an environment to deploy to (--env)")
                    if env is None:
                        return Outcome(item, RunState.PASSED, outcome.message)
                more = nxt.position < to.position
                self._prepare_deploy(nxt, to, env)
                outcome, held = self._run_locked(
                    item_id, nxt, env, approve, cancel, fd, held, hold=more
                )
                if not outcome.ok:
                    return outcome
        finally:
            if held is not None:
                self._write_held(held, fd)

    def _rewind_to_build(self, item: Item) -> Item:
        """The branch moved after Build: Build again, so Test and Release see that sha."""

        def rewind(it: Item) -> None:
            it.stage = Stage.BUILD
            it.states[Stage.BUILD] = StageState(message="the branch moved: build again")
            it.states.pop(Stage.TEST, None)

        events = []
        if item.stage is not Stage.BUILD:
            events.append(moved_event(item.id, item.stage, Stage.BUILD))
        return self.store.update(item.id, rewind, write_ahead=self.journaled(*events))

    def _lock_path(self, item_id: str) -> Path:
        return self.paths.state / "locks" / f"{item_id}.lock"

    def tag_template(self) -> str:
        """The release tag template: the config's, else the one the project's tags use."""
        configured = self.config.stages.release.tag
        if configured:
            return configured
        return learn_tag_template(self.vcs.tags()) or DEFAULT_TAG_TEMPLATE

    def newest_release(self) -> str | None:
        """The newest released version (by number, any spelling of its tag)."""
        return plan_release(self.vcs.tags(), self.config.stages.release.tag, [], False).previous

    def _deploy_env(self, item: Item, env: str | None, approve: bool) -> str | None:
        """Where Deploy's work will deploy ``item``, when it will get that far (it asks the
        same ``deploy.environment``); None when it will fail before."""
        if not item.version:
            return None
        try:
            return environment(self.config, env or self.auto_env(), approve)[0]
        except StageFailed:
            return None

    def _step_sha(self, item: Item, stage: Stage) -> str | None:
        """The commit Build's or Test's work will run on (``work.sha_to_run``); None where
        git cannot say (the work finds out and fails)."""
        if not item.branch:
            return None
        try:
            return sha_to_run(item, stage, self.vcs.head_sha(item.branch))
        except VcsError:  # the work itself says so, and fails
            return None

    def auto_env(self) -> str | None:
        for name, env in self.config.environments.items():
            if env.auto:
                return name
        return None


def _no_work(_ctx: RunContext) -> str:
    return ""  # Plan: the item exists, nothing to do


# What a run's work raises to fail it, in its own words (anything else is named too).
_FAILURES = (StageFailed, StorageError, VcsError, TargetError, TemplateError)


@dataclass(eq=False)
class _Held:
    """A passed run's result, not on the board yet: it goes with the next run's start
    (``Engine._run_locked``), or on its own (``Engine._write_held``). A kill in those
    milliseconds leaves the stage running on the board, recovered as interrupted and
    run again, as a kill during the result's own write always could."""

    item: Item  # as the board will have it
    run: OpenRun[RunContext]
    stage: Stage
    state: RunState
    message: str
    finish: Callable[[Item], None]
    event: ev.Event
    written: bool = False  # or said unsaved


class OpenRun(Generic[R]):
    """A run between its RunStarted and its RunFinished, an item's stage and an
    environment operation alike: its work done once (``perform``), its log closed
    (``close``) and the listeners told that it is over (``finish``)."""

    def __init__(self, engine: Engine, context: R, stage: Stage, t0: float) -> None:
        self.engine = engine
        self.context = context  # what the work gets: a RunContext, or a Reporter
        self.run_id = context.run_id
        self.stage = stage
        self.t0 = t0
        self.duration = 0.0  # seconds, once closed

    def perform(self, work: Callable[[R], str]) -> tuple[RunState, str]:
        """Do the work: how it ended and its message, masked (reasons quote stderr).
        A failing stage never kills the engine."""
        cancel = self.context.cancel
        try:
            cancel.raise_if_cancelled()
            message = work(self.context)
            cancel.raise_if_cancelled()
            state = RunState.PASSED
        except _FAILURES as exc:
            state, message = RunState.FAILED, str(exc)
        except Exception as exc:  # noqa: BLE001 - one failing stage never kills the engine
            if isinstance(exc, Cancelled) or cancel.cancelled:
                state, message = RunState.CANCELLED, "cancelled"
            else:
                state, message = RunState.FAILED, f"{type(exc).__name__}: {exc}"
        return state, self.engine.masker.mask(message)

    def close(self) -> None:
        """Close the log, saying first if it is incomplete; the run's duration is known."""
        if self.context.log_error is not None:
            self.context.say(f"the run's log is incomplete: {self.context.log_error}")
        with suppress(OSError):
            self.context.log.close()  # a log that cannot be flushed was reported just above
        self.duration = round(time.monotonic() - self.t0, 3)

    def finish(self, state: RunState, message: str) -> None:
        """RunFinished to the listeners: the run is over."""
        run = self.context
        self.engine.notify(
            RunFinished(run.run_id, run.subject, self.stage, state, self.duration, message)
        )


# The result of a run whose board write failed, kept in its item's lock file in room
# reserved before the run (so writing it needs no new space): JSON, NUL-padded.
_UNSAVED_ROOM = 4096


def _nothing() -> None:
    pass


def _reserve_unsaved(fd: int, shown: str) -> None:
    """Room for a result that cannot be saved; before the run changes anything."""
    try:
        os.posix_fallocate(fd, 0, _UNSAVED_ROOM)
    except OSError as exc:
        raise StorageError.wrap(exc, shown) from None


def _write_unsaved(fd: int, run_id: str, message: str) -> None:
    note = json.dumps({"run_id": run_id, "message": message}, ensure_ascii=True).encode()
    if len(note) > _UNSAVED_ROOM:
        note = json.dumps({"run_id": run_id, "message": message[:1000]}, ensure_ascii=True).encode()
    with suppress(OSError):
        os.pwrite(fd, note.ljust(_UNSAVED_ROOM, b"\0"), 0)


def _read_unsaved(fd: int) -> dict[str, Any] | None:
    try:
        raw = os.pread(fd, _UNSAVED_ROOM, 0).rstrip(b"\0")
        note = json.loads(raw) if raw else None
    except (OSError, ValueError):
        return None
    return note if isinstance(note, dict) else None


def _clear_unsaved(fd: int) -> None:
    with suppress(OSError):
        os.ftruncate(fd, 0)
