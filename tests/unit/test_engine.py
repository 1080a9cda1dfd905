"""The engine with fake ports: one run per item at a time, runs of different items
in parallel, and a run left 'running' by a dead process recovered as cancelled."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from lifecycle.board import ItemNotFound
from lifecycle.config import parse_config
from lifecycle.config_errors import UnknownEnvironment
from lifecycle.engine import Engine, EngineError
from lifecycle.errors import ShipdeckError
from lifecycle.items import RunState
from lifecycle.journal import Journal
from lifecycle.ports import CancelToken, OutputSink, StepResult
from lifecycle.stages import Stage
from tests.helpers import board_store

CONFIG = """\
version: 1
project: fake
stages:
  build:
    - run: "make"
"""


class SlowRunner:
    """A ProcessRunner that 'runs' for ``seconds`` unless cancelled."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started: list[str] = []

    def run(
        self,
        command: str,
        *,
        cwd: str,
        env: Mapping[str, str],
        sink: OutputSink,
        cancel: CancelToken,
        timeout: float | None = None,
    ) -> StepResult:
        self.started.append(env["SHIPDECK_ITEM_ID"])
        t0 = time.monotonic()
        cancelled = cancel.wait(self.seconds)
        return StepResult(None if cancelled else 0, time.monotonic() - t0, cancelled=cancelled)


class FakeVcs:
    def head_sha(self, ref: str) -> str:
        return "abc1234def"

    def export(self, ref: str, dest: str) -> None:
        Path(dest).mkdir(parents=True)


def _engine(tmp_path: Path, runner: SlowRunner) -> Engine:
    store = board_store(tmp_path)
    for title in ("one", "two"):
        item = store.add(title)
        store.update(item.id, lambda it: setattr(it, "branch", f"feature/{it.id}"))
        store.update(item.id, lambda it: setattr(it, "stage", Stage.BUILD))
    return Engine(
        root=tmp_path,
        config=parse_config(CONFIG),
        store=store,
        journal=Journal(tmp_path),
        runner=runner,
        vcs=FakeVcs,  # type: ignore[arg-type]
        target_for=lambda name: pytest.fail("no deploys here"),  # type: ignore[arg-type,return-value]
        environ={},
    )


def test_one_run_per_item_but_items_run_in_parallel(tmp_path: Path) -> None:
    runner = SlowRunner(1.0)
    engine = _engine(tmp_path, runner)
    outcomes: dict[str, RunState] = {}

    def run(item_id: str) -> None:
        outcomes[item_id] = engine.run_stage(item_id).state

    threads = [threading.Thread(target=run, args=(i,)) for i in ("SD-1", "SD-2")]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(0.3)
    with pytest.raises(EngineError, match="already running"):
        engine.run_stage("SD-1")
    for t in threads:
        t.join()
    assert outcomes == {"SD-1": RunState.PASSED, "SD-2": RunState.PASSED}
    assert time.monotonic() - t0 < 1.9  # in parallel, not one after the other
    assert sorted(runner.started) == ["SD-1", "SD-2"]


def test_cancel_leaves_the_item_cancelled_where_it_was(tmp_path: Path) -> None:
    engine = _engine(tmp_path, SlowRunner(30))
    token = CancelToken()
    threading.Timer(0.2, token.cancel).start()
    outcome = engine.run_stage("SD-1", cancel=token)
    assert outcome.state is RunState.CANCELLED
    item = engine.store.load().get("SD-1")
    assert (item.stage, item.current.state) == (Stage.BUILD, RunState.CANCELLED)


def test_a_run_left_running_by_a_dead_process_is_recovered(tmp_path: Path) -> None:
    engine = _engine(tmp_path, SlowRunner(0))

    def crashed(it):  # type: ignore[no-untyped-def]
        from lifecycle.items import StageState

        it.states[Stage.BUILD] = StageState(RunState.RUNNING, run_id="SD-1-build-x")

    engine.store.update("SD-1", crashed)
    assert engine.recover() == ["SD-1"]
    state = engine.store.load().get("SD-1").current
    assert state.state is RunState.CANCELLED
    assert state.message is not None and "interrupted" in state.message


class PeekingRunner(SlowRunner):
    """Reads the item's step from the board while each step 'runs'."""

    def __init__(self, store_of: list[Engine]) -> None:
        super().__init__(0)
        self.store_of = store_of
        self.seen: list[str | None] = []

    def run(self, command: str, **kwargs: object) -> StepResult:  # type: ignore[override]
        item = self.store_of[0].store.load().get("SD-1")
        self.seen.append(item.current.step)
        return StepResult(0, 0.0)


def test_a_running_card_says_which_step_of_how_many(tmp_path: Path) -> None:
    engines: list[Engine] = []
    runner = PeekingRunner(engines)
    engine = _engine(tmp_path, runner)  # type: ignore[arg-type]
    lint = '    - run: "make"\n    - name: lint\n      run: "ruff"'
    engine.config = parse_config(CONFIG.replace('    - run: "make"', lint))
    engines.append(engine)
    assert engine.run_stage("SD-1").state is RunState.PASSED
    assert runner.seen == ["1/2 make", "2/2 lint"]  # on the board, where any reader sees it
    done = engine.store.load().get("SD-1").current
    assert done.state is RunState.PASSED and done.step is None  # only while running


def test_every_shipdeck_error_is_a_shipdeck_error_and_none_a_key_error() -> None:
    """One base to catch what shipdeck raises on purpose (issue #12); a missing item or
    environment is a LookupError, never a KeyError (whose str() is quoted, and whose
    handlers would catch a bug's dictionary lookup too)."""
    found: list[type[BaseException]] = []
    for package in ("lifecycle", "backends", "project", "cli"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            module = importlib.import_module(info.name)
            found += [
                obj
                for obj in vars(module).values()
                if inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == info.name
            ]
    assert len(found) > 20
    assert [e for e in found if not issubclass(e, ShipdeckError)] == []
    assert [e for e in found if issubclass(e, KeyError)] == []
    for missing in (ItemNotFound("no item SD-9"), UnknownEnvironment("no environment 'x'")):
        assert isinstance(missing, LookupError)
        assert str(missing).startswith("no ")  # not quoted as a KeyError's would be
