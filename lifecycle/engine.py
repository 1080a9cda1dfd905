"""Runs a stage for an item through the ports, and tells listeners what happens.

The engine is synchronous: the CLI calls it from a worker thread and the board
from Textual workers. Listeners receive typed, past-tense events (output in
batches) and must not block. Runs for different items may go on in parallel;
a second run of the same item is refused, in this process and in any other
(a lock file per item), and a run left ``running`` by a killed shipdeck is
recovered as cancelled the next time anyone looks.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lifecycle import events as ev
from lifecycle.gates import Facts, check_move, moved_since_build, rerun_gate
from lifecycle.items import Item, RunState, StageState, utcnow
from lifecycle.masking import SecretMasker
from lifecycle.paths import ShipdeckPaths
from lifecycle.ports import (
    CancelToken,
    DeployTarget,
    Line,
    ProcessRunner,
    Stream,
    TargetError,
    Vcs,
    VcsError,
)
from lifecycle.runlog import RunLog
from lifecycle.runs import (
    EngineError,
    EngineEvent,
    Images,
    Listener,
    Outcome,
    Reporter,
    RunContext,
    RunFinished,
    RunOutput,
    RunStarted,
    StageFailed,
    new_run_id,
)
from lifecycle.stages import Stage
from lifecycle.templates import TemplateError

if TYPE_CHECKING:
    from lifecycle.config import Config
    from lifecycle.journal import Journal
    from lifecycle.store import BoardStore


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
        environ: Mapping[str, str] | None = None,
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
        self.environ = dict(os.environ if environ is None else environ)
        self._notify_hook = notify
        self._images_factory = images
        self._images: Images | None = None
        self._listeners: list[Listener] = []
        self._cancels: dict[str, CancelToken] = {}
        self._lock = threading.Lock()
        self.masker = SecretMasker(
            {name: self.environ[name] for name in config.secret_names() if name in self.environ}
        )
        # The outbound gate: whatever the board and the journal persist (and so the
        # cards, `item show`, the events pane and the webhook) is masked on the way in.
        if self.masker:
            store.scrub = self.masker.scrub
            journal.scrub = self.masker.scrub

    # --- plumbing ---------------------------------------------------------

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

    def _notify(self, event: EngineEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    def record(self, event: ev.Event) -> None:
        """Journal an event, and send deploys, rollbacks and alerts to the webhook."""
        event = self.journal.append(event)  # masked: what the webhook gets too
        if self._notify_hook and event.type in (
            ev.DEPLOYED,
            ev.DEPLOY_FAILED,
            ev.ROLLED_BACK,
            ev.ALERT_RAISED,
        ):
            self._notify_hook(event)

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

    def _item_lock(self, item_id: str) -> int | None:
        """An exclusive, non-blocking lock file for the item; None if another run holds it."""
        folder = self.paths.state / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f"{item_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def recover(self) -> list[str]:
        """Mark runs left ``running`` by a process that died as cancelled; their ids."""
        recovered = []
        for item in self.store.load().items:
            if not item.running:
                continue
            fd = self._item_lock(item.id)
            if fd is None:
                continue  # a live process is running it
            try:
                self._mark_interrupted(item.id)
                recovered.append(item.id)
            finally:
                os.close(fd)
        return recovered

    def _mark_interrupted(self, item_id: str) -> None:
        def fix(it: Item) -> None:
            for stage, st in it.states.items():
                if st.state is RunState.RUNNING:
                    it.states[stage] = StageState(
                        RunState.CANCELLED,
                        st.started_at,
                        utcnow(),
                        st.run_id,
                        st.sha,
                        "interrupted: shipdeck stopped during the run",
                    )

        self.store.update(item_id, fix)

    # --- facts and moves -----------------------------------------------

    def facts(self, item: Item) -> Facts:
        """What git and the environment say about ``item``; unknown where they can't say."""
        facts: dict[str, Any] = {}
        if item.branch:
            try:
                vcs = self.vcs
                if vcs.branch_exists(item.branch):
                    facts["commits_ahead"] = vcs.commits_ahead(item.branch, self.config.base_branch)
                    facts["head_sha"] = vcs.head_sha(item.branch)
                else:
                    facts["commits_ahead"] = 0
            except Exception:  # noqa: BLE001 - an unreadable repo leaves the facts unknown
                pass
        if item.stage is Stage.OPERATE and item.env:
            from lifecycle.deploy_work import bake_facts

            facts.update(bake_facts(self, item))
        return Facts(**facts)

    def check(self, item: Item, target: Stage) -> str | None:
        refusal = check_move(item, target, self.facts(item))
        return str(refusal) if refusal else None

    def back(self, item_id: str) -> Item:
        """Move one stage back; nothing is undone (branch, tags and deploys stay)."""
        item = self.store.get(item_id)
        target = item.stage.previous()
        if target is None:
            raise EngineError(f"{item.id} is in Plan already")
        refusal = check_move(item, target)
        if refusal:
            raise EngineError(str(refusal))
        moved = self.store.update(item_id, lambda it: setattr(it, "stage", target))
        self.record(
            ev.Event(ev.ITEM_MOVED, item_id, {"from": item.stage.value, "to": target.value})
        )
        return moved

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
        from lifecycle.stage_work import WORK

        cancel = cancel or CancelToken()
        fd = self._item_lock(item_id)
        if fd is None:
            raise EngineError(f"{item_id} is already running in another shipdeck")
        try:
            with self._lock:
                if item_id in self._cancels:
                    raise EngineError(f"{item_id} is already running")
                self._cancels[item_id] = cancel
            try:
                return self._run_locked(item_id, stage, env, approve, cancel, WORK)
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
        work: Mapping[Stage, Callable[[RunContext], str]],
    ) -> Outcome:
        item = self.store.get(item_id)
        if item.running:  # left running by a dead process: we hold its lock now
            self._mark_interrupted(item_id)
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
        run_id = new_run_id(item_id, target.value)
        started = utcnow()
        t0 = time.monotonic()
        source = item.stage

        def start(it: Item) -> None:
            it.stage = target
            it.states[target] = StageState(RunState.RUNNING, started, None, run_id, it.sha)

        item = self.store.update(item_id, start)
        if source is not target:
            self.record(
                ev.Event(ev.ITEM_MOVED, item_id, {"from": source.value, "to": target.value})
            )
        self.record(ev.Event(ev.STAGE_STARTED, item_id, {"stage": target.value, "run_id": run_id}))
        log = RunLog(self.paths.run_log(run_id), self.masker)
        self._notify(RunStarted(run_id, item_id, target, log.path))
        ctx = RunContext(self, run_id, item, target, cancel, log, env, approve)
        state, message = RunState.PASSED, ""
        try:
            cancel.raise_if_cancelled()
            message = work[target](ctx) if target in work else ""
            cancel.raise_if_cancelled()
        except (StageFailed, VcsError, TargetError, TemplateError) as exc:
            state, message = RunState.FAILED, str(exc)
        except Exception as exc:  # noqa: BLE001 - one failing stage never kills the engine
            from lifecycle.ports import Cancelled

            if isinstance(exc, Cancelled) or cancel.cancelled:
                state, message = RunState.CANCELLED, "cancelled"
            else:
                state, message = RunState.FAILED, f"{type(exc).__name__}: {exc}"
        message = self.masker.mask(message)  # reasons quote stderr: mask before they travel
        if state is not RunState.PASSED and message:
            ctx.emit([Line(Stream.STDERR if state is RunState.FAILED else Stream.INFO, message)])
        duration = round(time.monotonic() - t0, 3)
        sha = ctx.item.sha

        def finish(it: Item) -> None:
            it.states[target] = StageState(state, started, utcnow(), run_id, sha, message or None)

        item = self.store.update(item_id, finish)
        log.close()
        self.record(
            ev.Event(
                ev.STAGE_FINISHED,
                item_id,
                {
                    "stage": target.value,
                    "run_id": run_id,
                    "status": state.value,
                    "duration": duration,
                    "sha": sha,
                    "message": message or None,
                },
            )
        )
        self._notify(RunFinished(run_id, item_id, target, state, duration, message))
        return Outcome(item, state, message)

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
        if to is None:
            nxt = item.stage.next()
            if nxt is None:
                raise EngineError(f"{item.id} is in Monitor, the last stage")
            to = nxt
            if Stage.BUILD.position <= nxt.position <= Stage.RELEASE.position:
                to = Stage.RELEASE  # after Code the pipeline runs by itself...
                env = env or self.auto_env()
                if env:
                    to = Stage.DEPLOY  # ...and deploys where `auto: true` says so
        if to.position < item.stage.position:
            raise EngineError(f"{item.id} is past {to.label} already (use back to move it back)")
        outcome = Outcome(item, item.current.state)
        while True:
            item = self.store.get(item_id)
            if item.stage in (Stage.BUILD, Stage.TEST) and moved_since_build(
                item, self.facts(item)
            ):
                item = self._rewind_to_build(item)  # one sha through the pipeline
            needs_run = item.stage is not Stage.PLAN and item.current.state is not RunState.PASSED
            if needs_run:
                outcome = self.run_stage(item_id, env=env, approve=approve, cancel=cancel)
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
            outcome = self.run_stage(item_id, stage=nxt, env=env, approve=approve, cancel=cancel)
            if not outcome.ok:
                return outcome

    def _rewind_to_build(self, item: Item) -> Item:
        """The branch moved after Build: Build again, so Test and Release see that sha."""

        def rewind(it: Item) -> None:
            it.stage = Stage.BUILD
            it.states[Stage.BUILD] = StageState(message="the branch moved: build again")
            it.states.pop(Stage.TEST, None)

        moved = self.store.update(item.id, rewind)
        if item.stage is not Stage.BUILD:
            self.record(ev.Event(ev.ITEM_MOVED, item.id, {"from": item.stage.value, "to": "build"}))
        return moved

    def tag_template(self) -> str:
        """The release tag template: the config's, else the one the project's tags use."""
        from lifecycle.versioning import DEFAULT_TAG_TEMPLATE, learn_tag_template

        configured = self.config.stages.release.tag
        if configured:
            return configured
        return learn_tag_template(self.vcs.tags()) or DEFAULT_TAG_TEMPLATE

    def newest_release(self) -> str | None:
        """The newest released version (by number, any spelling of its tag)."""
        from lifecycle.versioning import plan_release

        return plan_release(self.vcs.tags(), self.config.stages.release.tag, [], False).previous

    def auto_env(self) -> str | None:
        for name, environment in self.config.environments.items():
            if environment.auto:
                return name
        return None


__all__ = [
    "Engine",
    "EngineError",
    "EngineEvent",
    "Images",
    "Listener",
    "Outcome",
    "Reporter",
    "RunContext",
    "RunFinished",
    "RunOutput",
    "RunStarted",
    "StageFailed",
    "new_run_id",
]
