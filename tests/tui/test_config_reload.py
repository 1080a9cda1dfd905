"""shipdeck.yaml edited while the board is open (issue #11 item 5), on a real demo repo.

A valid edit reaches Project.config and the engine (its targets too) with a
"reloaded" notice; an invalid one is an error notice naming file:line:col and the
last good config stays; fixing it says "reloaded" and takes the error away; a run
going keeps the config it began with, and the engine takes the new one after it.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from shipdeck.backends.local.target import LocalTarget
from shipdeck.lifecycle.config.schema import Config
from shipdeck.lifecycle.items import RunState
from shipdeck.lifecycle.ports import DeployTarget
from shipdeck.lifecycle.stages import Stage
from shipdeck.project import config_stamp
from shipdeck.project.repo import Project
from shipdeck.tui import app as app_module
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.config_watch import ConfigFollower, ConfigReloaded, ConfigWatch, Invalid, Reloaded
from tests.waiting import Notices, until

SIZE = (120, 40)

PREVIEW = """\
  preview:
    target: local
    run: "{python} -m app --port {port}"
    port: 18777
"""


class Recording(ShipdeckApp):
    """The app, keeping the ConfigReloaded messages it gets."""

    CSS_PATH = str(Path(app_module.__file__).parent / ShipdeckApp.CSS_PATH)
    reloads: list[ConfigReloaded]

    def on_config_reloaded(self, message: ConfigReloaded) -> None:
        self.reloads = [*getattr(self, "reloads", []), message]


def error_toasts(app: ShipdeckApp) -> list[str]:
    """The error notices on screen now (Textual draws each notification as a Toast)."""
    return [str(toast.render()).split("\n", 1)[1] for toast in app.screen.query("Toast.-error")]


def port(target: DeployTarget) -> int | None:
    assert isinstance(target, LocalTarget)
    return target.port


def edit(project: Project, old: str, new: str) -> None:
    """Change the file as an editor does: a new file renamed over the old one."""
    text = project.config_path.read_text()
    assert old in text, old
    tmp = project.config_path.with_name("shipdeck.yaml.swp")
    tmp.write_text(text.replace(old, new, 1))
    tmp.replace(project.config_path)


@pytest.mark.slow  # Pilot on the demo repository, waiting out file polls
async def test_a_valid_edit_reaches_the_project_and_the_engine(demo_project: Project) -> None:
    app = Recording(demo_project)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        engine = app.engine  # built before the edit: the edit must reach it
        before = port(engine.target_for("staging"))
        await pilot.pause(1.2)
        edit(demo_project, "    bake: 5\n", "    bake: 9\n" + PREVIEW)
        await until(pilot, notices.said("shipdeck.yaml reloaded"))
        assert demo_project.config.environments["staging"].bake == 9
        assert app.engine is engine  # the same engine, its config swapped between runs
        assert engine.config is demo_project.config
        assert port(engine.target_for("preview")) == 18777  # the new environment's target
        assert port(engine.target_for("staging")) == before
        assert [(m.added, m.removed) for m in app.reloads] == [(("preview",), ())]


@pytest.mark.slow  # Pilot on the demo repository, waiting out file polls
async def test_an_invalid_edit_keeps_the_last_good_config_until_fixed(
    demo_project: Project,
) -> None:
    app = ShipdeckApp(demo_project)
    notices = Notices()
    # Toasts on: that the error notice goes away is only seen on the screen.
    async with app.run_test(size=SIZE, message_hook=notices, notifications=True) as pilot:
        engine = app.engine
        good = demo_project.config
        await pilot.pause(1.2)
        edit(demo_project, "project: hello\n", "project: hello\nprojekt: typo\n")  # line 4
        await until(pilot, notices.said("shipdeck.yaml:4:1", "error"))
        [error] = notices.messages("error")
        assert "projekt" in error and "last good config stays" in error
        assert demo_project.config is good and engine.config is good
        assert not notices.said("reloaded")()
        await until(pilot, lambda: error_toasts(app) == [error])

        edit(demo_project, "projekt: typo\n", "")
        await until(pilot, notices.said("shipdeck.yaml reloaded"))
        await pilot.pause()
        assert error_toasts(app) == []  # the error notice went with the error
        assert demo_project.config == good


@pytest.mark.slow  # Pilot on the demo repository, waiting out file polls
async def test_a_run_going_keeps_its_config_and_the_engine_takes_the_new_one_after(
    demo_project: Project,
) -> None:
    slow = "- run: \"{python} -c 'import time; time.sleep(3)'\""
    edit(demo_project, '- run: "{python} -m compileall -q app"', slow)
    project = Project(demo_project.root)
    app = ShipdeckApp(project)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        engine = app.engine
        old = engine.config
        app.run_engine("build", lambda: engine.run_stage("SD-1", stage=Stage.BUILD))
        await until(pilot, lambda: engine.running() == ["SD-1"])
        edit(project, "    bake: 5\n", "    bake: 8\n")
        await until(pilot, notices.said("once the running runs end"))
        assert project.config.environments["staging"].bake == 8
        assert engine.config is old  # the run reads engine.config as it goes
        await until(pilot, lambda: project.store.get("SD-1").current.state is RunState.PASSED)
        await until(pilot, lambda: engine.config is project.config)
        assert ConfigFollower.of(app).pending is None


@pytest.mark.slow  # Pilot on the demo repository, waiting out file polls
async def test_an_unchanged_file_is_never_parsed_again(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = ShipdeckApp(demo_project)
    parsed: list[int] = []
    real = demo_project.read_config
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await until(pilot, lambda: demo_project.config_loaded)

        def counted() -> Config:
            parsed.append(1)
            return real()

        monkeypatch.setattr(demo_project, "read_config", counted)
        await pilot.pause(2.5)  # two polls or more: stats only
        assert parsed == []
        demo_project.config_path.write_text(demo_project.config_path.read_text())  # a save
        await until(pilot, lambda: parsed == [1])
        await pilot.pause(1.2)
        assert parsed == [1]
        assert not notices.said("reloaded")()  # same config: nothing to say


def test_the_watch_reads_only_after_the_project_did(tmp_path: Path) -> None:
    (tmp_path / "shipdeck.yaml").write_text("version: 1\nproject: a\n")
    project = Project(tmp_path)
    watch = ConfigWatch(project)
    assert not watch.changed()  # the board validates it first: nothing to compare yet
    assert project.config.project == "a"
    assert not watch.changed()
    (tmp_path / "shipdeck.yaml").write_text("version: 1\nproject: bb\n")
    assert watch.changed() and not watch.changed()
    result = watch.check()
    assert isinstance(result, Reloaded) and result.config.project == "bb"
    (tmp_path / "shipdeck.yaml").write_text("version: 1\nproject: [\n")
    assert watch.changed()
    result = watch.check()
    assert isinstance(result, Invalid) and "shipdeck.yaml:" in result.message
    (tmp_path / "shipdeck.yaml").unlink()
    assert watch.changed()
    assert isinstance(watch.check(), Invalid)


def test_a_full_disk_leaves_no_temp_stamp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from shipdeck.lifecycle import atomic

    real_fdopen = os.fdopen
    written: list[bytes] = []

    class FillsUp:
        """The stamp's file: part of a write lands, then the disk is full."""

        def __init__(self, fd: int, mode: str) -> None:
            self.file = real_fdopen(fd, mode)

        def __enter__(self) -> FillsUp:
            return self

        def __exit__(self, *exc: object) -> None:
            self.file.close()

        def write(self, data: bytes) -> int:
            self.file.write(data[:3])
            self.file.flush()
            written.append(data[:3])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fdopen", FillsUp)
    config_stamp.remember(tmp_path, b"version: 1\n", "hello")
    assert written  # the write really began (and failed)
    assert list(tmp_path.iterdir()) == []


def test_reconfigure_swaps_what_the_engine_derives_from_the_config(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipdeck.project.wiring import build_engine, reconfigure

    monkeypatch.setenv("DEMO_TOKEN", "s3cr3t-token-value")
    engine = build_engine(demo_project)
    assert engine.masker.mask("got s3cr3t-token-value") == "got s3cr3t-token-value"
    staging = engine.target_for("staging")
    edit(demo_project, "    bake: 5\n", "    bake: 5\n    secrets: [DEMO_TOKEN]\n" + PREVIEW)
    reconfigure(engine, demo_project.read_config())
    assert "s3cr3t" not in engine.masker.mask("got s3cr3t-token-value")
    assert demo_project.store.scrub == engine.masker.scrub  # the board is masked as well
    assert port(engine.target_for("preview")) == 18777
    assert engine.target_for("staging") is not staging  # made again, from the new config


def test_an_environment_operation_counts_as_a_run_going(demo_project: Project) -> None:
    from shipdeck.lifecycle.runs import RunFinished, RunStarted
    from shipdeck.project.wiring import build_engine, busy

    engine = build_engine(demo_project)
    assert not busy(engine)
    log = demo_project.paths.run_log("op")
    engine.notify(RunStarted("op", "env:staging", Stage.OPERATE, log))
    assert busy(engine) and engine.running() == []  # the engine itself does not count it
    engine.notify(RunFinished("op", "env:staging", Stage.OPERATE, RunState.PASSED, 0.1, ""))
    assert not busy(engine)
