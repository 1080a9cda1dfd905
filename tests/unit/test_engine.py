"""The engine with fake ports: one run per item at a time, runs of different items
in parallel, and a run left 'running' by a dead process recovered as cancelled."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from shipdeck.lifecycle import operations
from shipdeck.lifecycle.board import ItemNotFound
from shipdeck.lifecycle.config.errors import UnknownEnvironment
from shipdeck.lifecycle.config.schema import parse_config
from shipdeck.lifecycle.engine import Engine
from shipdeck.lifecycle.errors import ShipdeckError
from shipdeck.lifecycle.items import Item, RunState, StageState, utcnow
from shipdeck.lifecycle.journal import Journal
from shipdeck.lifecycle.ports import CancelToken, DeployResult, OutputSink, StepResult
from shipdeck.lifecycle.runs import (
    EngineError,
    EngineEvent,
    RunContext,
    RunOutput,
    StageFailed,
    StageWork,
)
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.stages.deploy import environment
from shipdeck.lifecycle.stages.work import WORK
from tests.helpers import board_store, git
from tests.waiting import DEADLINE, wait_until

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
        self.prepared: list[int] = []
        self.pending: list[Callable[[], None]] = []

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
        self._start_meanwhile()
        t0 = time.monotonic()
        cancelled = cancel.wait(self.seconds)
        return StepResult(None if cancelled else 0, time.monotonic() - t0, cancelled=cancelled)

    def prepare(self, steps: int) -> None:
        self.prepared.append(steps)
        if not steps:
            self.pending.clear()

    def meanwhile(self, work: Callable[[], None]) -> None:
        self.pending.append(work)

    def _start_meanwhile(self) -> None:
        works, self.pending = self.pending, []
        for work in works:
            threading.Thread(target=work, name="meanwhile").start()


class FakeVcs:
    def head_sha(self, ref: str) -> str:
        return "abc1234def"

    def export(self, ref: str, dest: str) -> None:
        Path(dest).mkdir(parents=True)


def _engine(
    tmp_path: Path,
    runner: SlowRunner,
    work: Mapping[Stage, StageWork] = WORK,
    config: str = CONFIG,
    target: object = None,
) -> Engine:
    store = board_store(tmp_path)
    for title in ("one", "two"):
        item = store.add(title)
        store.update(item.id, lambda it: setattr(it, "branch", f"feature/{it.id}"))
        store.update(item.id, lambda it: setattr(it, "stage", Stage.BUILD))
    return Engine(
        root=tmp_path,
        config=parse_config(config),
        store=store,
        journal=Journal(tmp_path),
        runner=runner,
        vcs=FakeVcs,  # type: ignore[arg-type]
        target_for=lambda name: target or pytest.fail("no deploys here"),  # type: ignore[arg-type,return-value]
        work=work,
        environ={},
    )


class MeetingRunner(SlowRunner):
    """Each step waits inside its run until ``count`` steps are running at once, then
    until the test lets them end: both held at once can only be runs side by side."""

    def __init__(self, count: int) -> None:
        super().__init__(0)
        self.meeting = threading.Barrier(count)
        self.met: list[str] = []
        self.release = threading.Event()

    def run(self, command: str, **kwargs: object) -> StepResult:  # type: ignore[override]
        env = kwargs["env"]
        assert isinstance(env, Mapping)
        self.started.append(env["SHIPDECK_ITEM_ID"])
        self.meeting.wait(DEADLINE)  # BrokenBarrierError (a failed run): not side by side
        self.met.append(env["SHIPDECK_ITEM_ID"])
        assert self.release.wait(DEADLINE)
        return StepResult(0, 0.0)


def test_one_run_per_item_but_items_run_in_parallel(tmp_path: Path) -> None:
    runner = MeetingRunner(2)
    engine = _engine(tmp_path, runner)
    outcomes: dict[str, RunState] = {}

    def run(item_id: str) -> None:
        outcomes[item_id] = engine.run_stage(item_id).state

    threads = [threading.Thread(target=run, args=(i,)) for i in ("SD-1", "SD-2")]
    for t in threads:
        t.start()
    wait_until(lambda: len(runner.met) == 2, what="both runs to be inside a step at once")
    with pytest.raises(EngineError, match="already running"):
        engine.run_stage("SD-1")  # SD-1's run is held inside its step
    runner.release.set()
    for t in threads:
        t.join()
    assert outcomes == {"SD-1": RunState.PASSED, "SD-2": RunState.PASSED}
    assert sorted(runner.started) == ["SD-1", "SD-2"]


@pytest.mark.slow  # waits for a cancel on a timer
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
    commits = len(git(tmp_path, "rev-list", engine.store.refs.ref).split())
    assert engine.run_stage("SD-1").state is RunState.PASSED
    assert runner.seen == ["1/2 make", "2/2 lint"]  # on the board, where any reader sees it
    # The first step went with the run's start: the start, the second step, the result.
    assert len(git(tmp_path, "rev-list", engine.store.refs.ref).split()) - commits == 3
    log = engine.paths.run_log(engine.store.get("SD-1").current.run_id or "").read_text()
    assert "step 1/2 make\n" in log and "step 2/2 lint\n" in log  # both told all the same
    done = engine.store.load().get("SD-1").current
    assert done.state is RunState.PASSED and done.step is None  # only while running


class EnvRunner(SlowRunner):
    """Records the environment each step ran with."""

    def __init__(self) -> None:
        super().__init__(0)
        self.envs: list[dict[str, str]] = []

    def run(self, command: str, *, env: Mapping[str, str], **kw: object) -> StepResult:  # type: ignore[override]
        self.envs.append(dict(env))
        return super().run(command, env=env, **kw)  # type: ignore[arg-type]


def test_the_step_environment_is_asked_for_at_the_first_step(tmp_path: Path) -> None:
    """The project's interpreter (a pyenv shim takes 0.1 s to name it) is not asked
    for by a command that runs no step; once asked, never again; what the CLI or the
    board adds (step colours) is kept whether it came before the asking or after."""
    asked: list[int] = []

    def environ() -> dict[str, str]:
        asked.append(1)
        return {"SHIPDECK_PYTHON": "/py", "PATH": "/venv/bin"}

    runner = EnvRunner()
    engine = _engine(tmp_path, runner)
    engine.environ = environ
    engine.add_environ({"FORCE_COLOR": "1"})
    engine.store.load()
    assert asked == []  # built, loaded, coloured: nothing asked yet
    assert engine.run_stage("SD-1").state is RunState.PASSED
    assert asked == [1]
    assert runner.envs[0]["PATH"] == "/venv/bin" and runner.envs[0]["FORCE_COLOR"] == "1"
    engine.add_environ({"NO_COLOR": "1"})
    assert engine.run_stage("SD-1").state is RunState.PASSED
    assert asked == [1]  # once
    assert runner.envs[1]["NO_COLOR"] == "1" and runner.envs[1]["FORCE_COLOR"] == "1"


def test_secrets_to_mask_are_read_at_the_start(tmp_path: Path) -> None:
    """A config naming secrets needs their values to mask from the start: asked then."""
    config = CONFIG + "environments:\n  e: {run: x, secrets: [TOKEN]}\n"
    asked: list[int] = []

    def environ() -> dict[str, str]:
        asked.append(1)
        return {"TOKEN": "s3cret-value"}

    engine = Engine(
        root=tmp_path,
        config=parse_config(config),
        store=board_store(tmp_path),
        journal=Journal(tmp_path),
        runner=SlowRunner(0),
        vcs=FakeVcs,  # type: ignore[arg-type]
        target_for=lambda name: pytest.fail("no deploys here"),  # type: ignore[arg-type,return-value]
        work=WORK,
        environ=environ,
    )
    assert asked == [1]
    assert engine.masker.mask("a s3cret-value b") != "a s3cret-value b"


@pytest.mark.slow  # imports every module
def test_every_shipdeck_error_is_a_shipdeck_error_and_none_a_key_error() -> None:
    """One base to catch what shipdeck raises on purpose (issue #12); a missing item or
    environment is a LookupError, never a KeyError (whose str() is quoted, and whose
    handlers would catch a bug's dictionary lookup too)."""
    found: list[type[BaseException]] = []
    for package in ("lifecycle", "backends", "project", "cli"):
        root = importlib.import_module(f"shipdeck.{package}")
        for info in pkgutil.walk_packages(root.__path__, f"shipdeck.{package}."):
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


def test_the_engine_runs_the_stage_table_it_is_given(tmp_path: Path) -> None:
    """The composition root hands the engine its stage table; the engine imports none."""

    def build(ctx: RunContext) -> str:
        ctx.say(f"building {ctx.item.id} for {ctx.engine.config.project}")
        return "built by the table"

    engine = _engine(tmp_path, SlowRunner(0), work={Stage.BUILD: build})
    events: list[EngineEvent] = []
    engine.subscribe(events.append)
    outcome = engine.run_stage("SD-1")
    assert (outcome.state, outcome.message) == (RunState.PASSED, "built by the table")
    assert [type(e).__name__ for e in events] == ["RunStarted", "RunOutput", "RunFinished"]
    assert events[1].lines[0].text == "building SD-1 for fake"  # type: ignore[union-attr]


class RestartOnly:
    name = "local"

    def restart(self, sink: OutputSink) -> DeployResult:
        return DeployResult(True, "1.2.3", "restarted")


def test_an_environment_operation_is_a_run_as_a_stage_is(tmp_path: Path) -> None:
    config = CONFIG + 'environments:\n  staging:\n    target: local\n    run: "true"\n'
    engine = _engine(tmp_path, SlowRunner(0), config=config, target=RestartOnly())
    events: list[EngineEvent] = []
    engine.subscribe(events.append)
    result = operations.restart(engine, "staging")
    assert result.ok and result.message == "staging restarted (1.2.3)"
    assert [type(e).__name__ for e in events] == ["RunStarted", "RunOutput", "RunFinished"]
    assert {e.item_id for e in events} == {"env:staging"}
    assert engine.paths.run_log(result.run_id).read_text().endswith("staging restarted (1.2.3)\n")
    with pytest.raises(UnknownEnvironment, match="environments: staging"):
        operations.restart(engine, "production")


def test_an_advance_tells_the_runner_how_many_steps_are_coming(tmp_path: Path) -> None:
    runner = SlowRunner(0)
    engine = _engine(tmp_path, runner)
    steps = '    - run: "make"\n    - run: "make lint"\n  test:\n    - run: "make test"'
    engine.config = parse_config(CONFIG.replace('    - run: "make"', steps))
    assert engine.advance("SD-1", to=Stage.BUILD).ok
    assert engine.advance("SD-2", to=Stage.TEST).ok
    # Each advance: the steps ahead first, so the runner can start them ahead; 0 once over.
    assert runner.prepared == [2, 0, 3, 0]
    assert engine.advance("SD-1", to=Stage.TEST).ok  # Build passed already: Test's one
    assert runner.prepared[-2:] == [1, 0]
    assert len(runner.started) == 2 + 3 + 1


@pytest.mark.parametrize("fails", [False, True], ids=["passes", "fails"])
def test_a_deferred_change_goes_with_the_next_board_write_or_the_result(
    tmp_path: Path, fails: bool
) -> None:
    """``ctx.defer``: the run's copy changes at once, the board with the run's next write
    (a commit fewer each), and the result carries what is left, passed or failed."""
    seen: dict[str, object] = {}

    def work(ctx: RunContext) -> str:
        board = ctx.engine.store
        ctx.defer(lambda it: setattr(it, "version", "1.2.3"))
        seen["copy"] = ctx.item.version
        seen["board before"] = board.get(ctx.item.id).version
        ctx.progress(1, 2, "one")  # a write: the deferred version goes with it
        seen["board after"] = board.get(ctx.item.id).version
        ctx.defer(lambda it: setattr(it, "env", "staging"))
        seen["env before the end"] = board.get(ctx.item.id).env
        if fails:
            raise StageFailed("no")
        return "done"

    engine = _engine(tmp_path, SlowRunner(0), work={Stage.BUILD: work})
    commits = len(git(tmp_path, "rev-list", engine.store.refs.ref).split())
    outcome = engine.run_stage("SD-1")
    assert outcome.state is (RunState.FAILED if fails else RunState.PASSED)
    assert seen == {
        "copy": "1.2.3",
        "board before": None,
        "board after": "1.2.3",
        "env before the end": None,
    }
    item = engine.store.get("SD-1")
    assert (item.version, item.env) == ("1.2.3", "staging")
    # Running, the progress (with the version), the result (with the env): three commits.
    assert len(git(tmp_path, "rev-list", engine.store.refs.ref).split()) - commits == 3


def test_between_stages_one_board_commit_carries_a_result_and_the_next_start(
    tmp_path: Path,
) -> None:
    """An advance through stages holds each passed result and writes it with the next
    stage's start: one commit, journaled and told in the order they happened."""

    def ok(ctx: RunContext) -> str:
        return f"{ctx.stage.value} done"

    work = {Stage.BUILD: ok, Stage.TEST: ok, Stage.RELEASE: ok}
    engine = _engine(tmp_path, SlowRunner(0), work=work)
    told: list[str] = []
    engine.subscribe(
        lambda e: (
            told.append(f"{type(e).__name__} {e.stage.value}")  # type: ignore[union-attr]
            if not isinstance(e, RunOutput)
            else None
        )
    )
    commits = len(git(tmp_path, "rev-list", engine.store.refs.ref).split())
    assert engine.advance("SD-1", to=Stage.RELEASE).ok
    # Build's start; Build's result with Test's start; the same for Release; its result.
    assert len(git(tmp_path, "rev-list", engine.store.refs.ref).split()) - commits == 4
    stages = ["build", "test", "release"]
    assert told == [f"{kind} {s}" for s in stages for kind in ("RunStarted", "RunFinished")]
    lines = (tmp_path / ".shipdeck" / "journal.jsonl").read_text().splitlines()
    journal = [
        (e["type"], e.get("stage") or e.get("to"))
        for e in map(json.loads, lines)
        if e["item"] == "SD-1"
    ]
    expected = [("stage.started", "build"), ("stage.finished", "build")]
    expected += [("item.moved", "test"), ("stage.started", "test"), ("stage.finished", "test")]
    expected += [("item.moved", "release"), ("stage.started", "release")]
    assert journal[-8:] == [*expected, ("stage.finished", "release")]
    item = engine.store.get("SD-1")
    assert [item.states[s].state for s in (Stage.BUILD, Stage.TEST, Stage.RELEASE)] == [
        RunState.PASSED
    ] * 3


def test_a_held_result_is_written_when_no_stage_follows_it(tmp_path: Path) -> None:
    """Release passed and held, then the advance stops (no environment to deploy to):
    Release's result is on the board all the same."""

    def ok(ctx: RunContext) -> str:
        return "done"

    engine = _engine(
        tmp_path, SlowRunner(0), work={Stage.BUILD: ok, Stage.TEST: ok, Stage.RELEASE: ok}
    )
    with pytest.raises(EngineError, match="name an environment"):
        engine.advance("SD-1", to=Stage.DEPLOY)
    item = engine.store.get("SD-1")
    assert (item.stage, item.current.state) == (Stage.RELEASE, RunState.PASSED)
    assert not item.running


class PreparedTarget:
    """A target that records, among the engine's events, where ``prepare`` ran."""

    name = "staging"

    def __init__(self) -> None:
        self.prepared = threading.Event()
        self.told: list[str] = []

    def prepare(self) -> None:
        self.told.append(f"prepared in {threading.current_thread().name}")
        self.prepared.set()


@pytest.mark.parametrize("to", [Stage.RELEASE, Stage.DEPLOY])
def test_a_deploy_on_the_way_is_prepared_while_tests_command_runs(
    tmp_path: Path, to: Stage
) -> None:
    """The target loads what its deploy needs (the local one: its HTTP client) on the
    runner's helper thread once Test's command runs, the longest wait before Deploy:
    not beside Build's or Test's board writes, which that thread would slow; not at
    all when no Deploy follows."""
    target = PreparedTarget()

    def test(ctx: RunContext) -> str:
        target.told.append("test started")
        message = WORK[Stage.TEST](ctx)  # Test's command, through the runner
        if to is Stage.DEPLOY:
            assert target.prepared.wait(DEADLINE), "Test ran to its end unprepared"
        target.told.append("test done")
        return message

    def release(ctx: RunContext) -> str:
        ctx.defer(lambda it: setattr(it, "version", "1.0.0"))
        return "released"

    work = {Stage.BUILD: WORK[Stage.BUILD], Stage.TEST: test, Stage.RELEASE: release}
    config = CONFIG + '  test:\n    - run: "make test"\n'
    config += 'environments:\n  staging:\n    target: local\n    run: "true"\n'
    work[Stage.DEPLOY] = lambda ctx: "deployed"
    runner = SlowRunner(0)
    engine = _engine(tmp_path, runner, work=work, config=config, target=target)
    assert engine.advance("SD-1", to=to, env="staging").ok
    assert len(runner.started) == 2  # Build's command and Test's
    prepared = [t for t in target.told if t.startswith("prepared")]
    if to is Stage.RELEASE:
        assert (prepared, runner.pending) == ([], [])
        return
    assert prepared == ["prepared in meanwhile"]  # the runner's helper thread
    assert target.told.index("test started") < target.told.index(prepared[0])
    assert target.told[-1] == "test done"


@pytest.mark.parametrize(
    ("env", "approve", "shown"),
    [
        ("staging", False, "staging"),
        (None, False, "staging"),  # the auto one
        ("prod", True, "prod"),
        ("prod", False, None),  # needs approval: fails before deploying
        ("qa", False, None),  # no such environment
    ],
)
def test_the_card_says_where_a_deploy_goes_while_it_runs(
    tmp_path: Path, env: str | None, approve: bool, shown: str | None
) -> None:
    """From Deploy's start the board has the item's environment (the card's ``@staging``),
    in the same write that says running, and only where the deploy gets that far."""
    seen: list[str | None] = []

    def deploy(ctx: RunContext) -> str:
        seen.append(ctx.engine.store.get(ctx.item.id).env)  # what another process reads
        environment(ctx.engine.config, ctx.env_name or ctx.engine.auto_env(), ctx.approve)
        return "deployed"

    config = CONFIG + "environments:\n  staging:\n    target: local\n    auto: true\n"
    config += '    run: "true"\n  prod:\n    target: local\n    approval: true\n    run: "true"\n'
    engine = _engine(tmp_path, SlowRunner(0), work={Stage.DEPLOY: deploy}, config=config)

    def released(it: Item) -> None:
        it.stage, it.version = Stage.RELEASE, "1.0.0"
        it.states[Stage.RELEASE] = StageState(RunState.PASSED, utcnow(), utcnow(), "r", None)

    engine.store.update("SD-1", released)
    outcome = engine.run_stage("SD-1", stage=Stage.DEPLOY, env=env, approve=approve)
    assert seen == [shown]
    assert outcome.ok is (shown is not None)
    assert engine.store.get("SD-1").env == shown


@pytest.mark.parametrize("stage", [Stage.BUILD, Stage.TEST])
def test_the_card_says_which_commit_a_build_or_test_runs_on_while_it_runs(
    tmp_path: Path, stage: Stage
) -> None:
    """From the run's start the board has the commit it runs on (the card's sha): the
    branch's head for Build, what Build built for Test. Not the commit the item had
    before (Code's), which a one-step Build showed until its end."""
    seen: list[str | None] = []

    def work(ctx: RunContext) -> str:
        seen.append(ctx.engine.store.get(ctx.item.id).sha)  # what another process reads
        return "done"

    engine = _engine(tmp_path, SlowRunner(0), work={stage: work})
    built = "b" * 40

    def coded(it: Item) -> None:
        it.sha = "c" * 40  # where Code left the branch
        if stage is Stage.TEST:
            it.states[Stage.BUILD] = StageState(RunState.PASSED, utcnow(), utcnow(), "b", built)

    engine.store.update("SD-1", coded)
    assert engine.run_stage("SD-1", stage=stage).ok
    expected = FakeVcs().head_sha("feature/SD-1") if stage is Stage.BUILD else built
    assert seen == [expected]
    assert engine.store.get("SD-1").sha == expected


def test_an_advance_past_monitor_says_how_to_archive_and_one_behind_how_to_go_back(
    tmp_path: Path,
) -> None:
    """From the CLI, "the last stage" left a stranger without the next step, and "use
    back" named a board key."""
    engine = _engine(tmp_path, SlowRunner(0))
    engine.store.update("SD-1", lambda it: setattr(it, "stage", Stage.MONITOR))
    with pytest.raises(EngineError, match=r"archive it when it is done .*`shipdeck item archive"):
        engine.advance("SD-1", cancel=CancelToken())
    with pytest.raises(EngineError, match=r"`shipdeck item move SD-2 code`"):
        engine.advance("SD-2", to=Stage.CODE, cancel=CancelToken())
    engine.store.update("SD-1", lambda it: setattr(it, "archived", True))
    with pytest.raises(EngineError, match=r"^SD-1 is archived$"):  # not "archive it"
        engine.advance("SD-1", cancel=CancelToken())
