"""The run contract: what a run is made of (its events, its outcome, its errors), what
its work needs from the engine that runs it (:class:`RunHost`), and the context the
work gets (:class:`RunContext`).

Stage work (:mod:`lifecycle.stages.work`, :mod:`lifecycle.stages.deploy`) depends on this
module, never on the engine; the engine implements :class:`RunHost` and gets its stage
table (``stage_work.WORK``) from the composition root (``project/wiring.py``), so the
modules read top-down: contract, stage work, engine.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.errors import EngineError as EngineError
from shipdeck.lifecycle.errors import ShipdeckError, StorageError
from shipdeck.lifecycle.items import Item, RunState
from shipdeck.lifecycle.journal import Journal
from shipdeck.lifecycle.masking import SecretMasker
from shipdeck.lifecycle.paths import ShipdeckPaths
from shipdeck.lifecycle.ports import (
    CancelToken,
    ContainerRunner,
    DeployTarget,
    ImageBuilder,
    Line,
    ProcessRunner,
    Stream,
    Vcs,
)
from shipdeck.lifecycle.runlog import RunLog
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.store import BoardStore

if TYPE_CHECKING:  # pydantic: only the type, so the engine's modules load without it
    from shipdeck.lifecycle.config.schema import Config


class Images(ImageBuilder, ContainerRunner, Protocol):
    """What docker_build / docker_run steps and registry pushes need."""


class StageFailed(ShipdeckError):
    """Raised by stage work: the stage failed with this message."""


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    item_id: str
    stage: Stage
    log_path: Path


@dataclass(frozen=True)
class RunOutput:
    run_id: str
    item_id: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class RunFinished:
    run_id: str
    item_id: str
    stage: Stage
    state: RunState
    duration: float
    message: str


EngineEvent = RunStarted | RunOutput | RunFinished
Listener = Callable[[EngineEvent], None]


@dataclass(frozen=True)
class Outcome:
    """How a stage (or a chain of stages) ended."""

    item: Item
    state: RunState
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.state is RunState.PASSED


class RunHost(Protocol):
    """What a run's work needs from the engine that runs it: the config, the board,
    the journal and the ports, and a way to tell listeners (the engine is one)."""

    @property
    def config(self) -> Config: ...
    @property
    def environ(self) -> Mapping[str, str]: ...
    @property
    def paths(self) -> ShipdeckPaths: ...
    @property
    def store(self) -> BoardStore: ...
    @property
    def journal(self) -> Journal: ...
    @property
    def masker(self) -> SecretMasker: ...
    @property
    def runner(self) -> ProcessRunner: ...
    @property
    def vcs(self) -> Vcs: ...
    @property
    def images(self) -> Images: ...

    def target_for(self, name: str) -> DeployTarget:
        """The deploy target of environment ``name``."""
        ...

    def record(self, event: ev.Event) -> None:
        """Journal ``event`` (and send deploys, rollbacks and alerts to the webhook)."""
        ...

    def notify(self, event: EngineEvent) -> None:
        """Tell the engine's listeners; from any thread."""
        ...

    def tag_template(self) -> str:
        """The release tag template: the config's, else the one the project's tags use."""
        ...

    def auto_env(self) -> str | None:
        """The environment with ``auto: true``, if any."""
        ...


class Reporter:
    """Streams one run's output to its log and to the listeners."""

    def __init__(
        self, engine: RunHost, run_id: str, subject: str, log: RunLog, cancel: CancelToken
    ) -> None:
        self.engine = engine
        self.run_id = run_id
        self.subject = subject  # an item id, or "env:<name>" for environment operations
        self.log = log
        self.cancel = cancel
        self.log_error: StorageError | None = None  # the run log's write failed

    def say(self, text: str) -> None:
        self.emit([Line(Stream.INFO, text)])

    def emit(self, lines: Sequence[Line]) -> None:
        """Log and show ``lines``; a log that cannot be written is dropped, the run goes on
        (what it says still reaches the listeners, and the outcome tells of the log)."""
        try:
            masked = self.log.write(lines)
        except OSError as exc:
            if self.log_error is None:
                self.log_error = StorageError.wrap(exc, self.engine.paths.display(self.log.path))
            with suppress(OSError):
                self.log.close()  # its buffer cannot be written: later writes are skipped
            masked = self.engine.masker.mask_lines(lines)
        if masked:
            self.engine.notify(RunOutput(self.run_id, self.subject, tuple(masked)))


class RunContext(Reporter):
    """What a stage's work gets: the item, a sink for output, and the ports."""

    def __init__(
        self,
        engine: RunHost,
        run_id: str,
        item: Item,
        stage: Stage,
        cancel: CancelToken,
        log: RunLog,
        env_name: str | None = None,
        approve: bool = False,
    ) -> None:
        super().__init__(engine, run_id, item.id, log, cancel)
        self.item = item
        self.stage = stage
        self.env_name = env_name
        self.approve = approve
        self._deferred: list[Callable[[Item], None]] = []

    def update(self, change: Callable[[Item], None]) -> Item:
        """Change the item on the board (under the board lock) and keep the copy here fresh;
        changes deferred until now go with it."""
        deferred, self._deferred = self._deferred, []

        def changes(it: Item) -> None:
            for each in [*deferred, change]:
                each(it)

        try:
            self.item = self.engine.store.update(self.item.id, changes)
        except BaseException:
            self._deferred[:0] = deferred  # not written: they wait for the next write
            raise
        return self.item

    def defer(self, change: Callable[[Item], None]) -> None:
        """Change the item here now, and on the board with the run's next write (its end
        at the latest): for what no other process needs to see at once. A board write is
        a commit (1-3 ms by the disk); a run makes one fewer for each change deferred."""
        change(self.item)
        self._deferred.append(change)

    def take_deferred(self) -> list[Callable[[Item], None]]:
        """The changes deferred and not written yet, for the run's last write."""
        deferred, self._deferred = self._deferred, []
        return deferred

    def progress(self, number: int, total: int, label: str) -> None:
        """Record which step of how many runs now, on the board (so a card, another
        process's board and ``shipdeck status`` all see it) and in the log. The first
        one the run's start wrote already (:func:`step_text`): no board write for it."""
        step = step_text(number, total, label, self.engine.masker)
        stage = self.stage

        def record(it: Item) -> None:
            state = it.states.get(stage)
            if state is not None and state.state is RunState.RUNNING:
                state.step = step

        current = self.item.states.get(stage)
        if current is None or current.step != step or current.state is not RunState.RUNNING:
            self.update(record)
        self.say(f"step {step}")


def step_text(number: int, total: int, label: str, masker: SecretMasker) -> str:
    """``2/3 unit tests``: a running card's step, as the board stores it."""
    return f"{number}/{total} {masker.mask(label)}"[:60]


StageWork = Callable[[RunContext], str]
"""What moving an item into a stage does: a short message, or StageFailed with why."""


def new_run_id(subject: str, action: str) -> str:
    """``SD-3-build-20261122T193000-1a2b``: sortable, and says what ran."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"{subject.replace(':', '-')}-{action}-{stamp}-{os.urandom(2).hex()}"


_RUN_ID_RE = re.compile(r"(.+)-([a-z]+)-([0-9]{8}T[0-9]{6})-[0-9a-f]{4}")


def run_id_parts(run_id: str) -> tuple[str, datetime] | None:
    """(action, start in UTC) of a :func:`new_run_id` id; None for any other name."""
    m = _RUN_ID_RE.fullmatch(run_id)
    if m is None:
        return None
    try:
        started = datetime.strptime(m.group(3), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return m.group(2), started


def run_subject(run_id: str) -> str | None:
    """What a :func:`new_run_id` id ran for (``SD-3``; ``env-staging`` for an
    environment's operation); None for any other name."""
    m = _RUN_ID_RE.fullmatch(run_id)
    return m.group(1) if m is not None and run_id_parts(run_id) is not None else None
