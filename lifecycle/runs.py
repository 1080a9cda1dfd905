"""What one run is made of: its events, its outcome, and the context its work gets.

Kept apart from :mod:`lifecycle.engine` so the engine module holds only the
scheduling: locks, bookkeeping, the advance loop.
"""

from __future__ import annotations

import secrets as _secrets
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from lifecycle.errors import ShipdeckError, StorageError
from lifecycle.items import Item, RunState
from lifecycle.ports import CancelToken, ContainerRunner, ImageBuilder, Line, Stream
from lifecycle.runlog import RunLog
from lifecycle.stages import Stage

if TYPE_CHECKING:
    from lifecycle.engine import Engine


class Images(ImageBuilder, ContainerRunner, Protocol):
    """What docker_build / docker_run steps and registry pushes need."""


class EngineError(ShipdeckError):
    """A run could not start (refused move, unknown environment, busy item)."""


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


class StageFailed(ShipdeckError):
    """Raised by stage work: the stage failed with this message."""


class Reporter:
    """Streams one run's output to its log and to the listeners."""

    def __init__(
        self, engine: Engine, run_id: str, subject: str, log: RunLog, cancel: CancelToken
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
            self.engine._notify(RunOutput(self.run_id, self.subject, tuple(masked)))


class RunContext(Reporter):
    """What a stage's work gets: the item, a sink for output, and the ports."""

    def __init__(
        self,
        engine: Engine,
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

    def update(self, change: Callable[[Item], None]) -> Item:
        """Change the item on the board (under the board lock) and keep the copy here fresh."""
        self.item = self.engine.store.update(self.item.id, change)
        return self.item

    def progress(self, number: int, total: int, label: str) -> None:
        """Record which step of how many runs now, on the board (so a card, another
        process's board and ``shipdeck status`` all see it) and in the log."""
        step = f"{number}/{total} {self.engine.masker.mask(label)}"[:60]
        stage = self.stage

        def record(it: Item) -> None:
            state = it.states.get(stage)
            if state is not None and state.state is RunState.RUNNING:
                state.step = step

        self.update(record)
        self.say(f"step {step}")


def new_run_id(subject: str, action: str) -> str:
    """``SD-3-build-20261122T193000-1a2b``: sortable, and says what ran."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"{subject.replace(':', '-')}-{action}-{stamp}-{_secrets.token_hex(2)}"
