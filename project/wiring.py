"""Builds the engine for a project: the one place that picks backends.

Backends are imported here, lazily, so a command that needs no git or no
Docker never pays for importing them.

Everything the engine gets from the config (targets, webhook, secret masker) comes
from one config object, which :func:`reconfigure` swaps as a whole between runs when
the open board sees shipdeck.yaml change (tui/config_watch.py).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import ChainMap
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.config.templates import render, render_command
from shipdeck.lifecycle.engine import Engine
from shipdeck.lifecycle.masking import SecretMasker
from shipdeck.lifecycle.ports import DeployTarget, Vcs
from shipdeck.lifecycle.runs import EngineEvent, Images, RunFinished, RunStarted
from shipdeck.lifecycle.stages.work import WORK
from shipdeck.project import interpreter
from shipdeck.project.errors import UsageError
from shipdeck.project.repo import Project

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from shipdeck.lifecycle.config.schema import Config, Environment


def data_dir(project: Project, name: str) -> Path:
    """Environment ``name``'s data: kept across deploys and rollbacks (SHIPDECK_DATA_DIR)."""
    return project.paths.dir / "data" / name


def project_python(
    project: Project, config: Config | None = None, environment: Environment | None = None
) -> interpreter.Interpreter:
    """``{python}``: the environment's ``python:``, the config's, else the one found."""
    config = project.config if config is None else config
    configured = (environment.python if environment else None) or config.python
    return interpreter.find(project.root, configured)


def step_environ(python: interpreter.Interpreter) -> dict[str, str]:
    """What build and test steps run with: shipdeck's environment with the project's
    venv activated, and ``SHIPDECK_PYTHON`` (which ``{python}`` is, lifecycle/stages/work.py)."""
    return python.activate(os.environ) | {"SHIPDECK_PYTHON": python.python}


def _plain_fields(
    project: Project, name: str, environment: Environment, config: Config
) -> dict[str, object]:
    """An environment's template fields but ``{python}`` (see :class:`_Fields`)."""
    out: dict[str, object] = {
        "env": name,
        "project": config.project,
        "data_dir": str(data_dir(project, name)),
    }
    if environment.port is not None:
        out["port"] = environment.port
    return out


class _Fields(Mapping[str, object]):
    """An environment's template fields, with ``{python}`` named only when a template asks: a
    pyenv shim takes ~0.1 s to say which interpreter it runs, and a target made for its
    status, logs or a stop never renders the command that names it."""

    def __init__(
        self, project: Project, name: str, environment: Environment, config: Config
    ) -> None:
        self._args = (project, config, environment)
        self._fields = _plain_fields(project, name, environment, config)
        self._python: interpreter.Interpreter | None = None

    @property
    def python(self) -> interpreter.Interpreter:
        if self._python is None:
            self._python = project_python(*self._args)
        return self._python

    def __getitem__(self, key: str) -> object:
        return self.python.python if key == "python" else self._fields[key]

    def image_for(self, template: str | None) -> Callable[[str], str] | None:
        """The image of a version, by ``template`` (None: none is configured)."""
        if template is None:
            return None
        # ChainMap is typed for mutable maps; it only reads here
        return lambda version: render(template, ChainMap({"version": version}, self))  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._fields, "python"])

    def __len__(self) -> int:
        return len(self._fields) + 1


def _journal_recovery(project: Project, message: str, data: dict[str, object]) -> None:
    """A deploy a killed shipdeck left half done was finished or reversed: journal it."""
    project.journal.append(ev.Event(ev.DEPLOY_RECOVERED, None, {**data, "message": message}))


def make_target(project: Project, name: str, config: Config | None = None) -> DeployTarget:
    """The deploy target of environment ``name``, built from ``config`` (default: the
    project's)."""
    from shipdeck.lifecycle.config.errors import (
        UnknownEnvironment,  # pydantic: loaded with the config
    )

    config = project.config if config is None else config
    try:
        environment = config.environment(name)
    except UnknownEnvironment as exc:
        raise UsageError(str(exc)) from None
    secrets = {s: os.environ[s] for s in environment.secrets if s in os.environ}
    fields = _Fields(project, name, environment, config)
    if environment.target == "local":
        from shipdeck.backends.local.target import LocalTarget

        assert environment.run is not None  # the config requires it for local
        run = environment.run
        health = environment.health

        def launch() -> tuple[str, interpreter.Interpreter]:
            return render_command(run, fields), fields.python

        return LocalTarget(
            name,
            root=project.root,
            launch=launch,
            data_dir=data_dir(project, name),
            workdir=render(environment.workdir, fields) if environment.workdir else None,
            port=environment.port,
            health_url=render(health.url, fields) if health else None,
            health_timeout=health.timeout if health else 30,
            health_interval=health.interval if health else 0.5,
            env=dict(environment.env),
            secrets=secrets,
            also_masked=config.secret_names(),
            on_recovered=lambda message, data: _journal_recovery(project, message, data),
            log_rotate=(config.retention.log_size, config.retention.log_files),
        )
    if environment.target == "docker":
        from shipdeck.backends.docker.target import DockerTarget

        health = environment.health
        image = environment.image
        return DockerTarget(
            name,
            project=config.project,
            host=environment.docker_host,
            image_for=fields.image_for(image),
            ports=dict(environment.ports),
            env=dict(environment.env),
            secrets=secrets,
            restart_policy=environment.restart_policy,
            labels=dict(environment.labels),
            health_url=render(health.url, fields) if health else None,
            health_timeout=health.timeout if health else 30,
            health_interval=health.interval if health else 0.5,
            health_expect=health.expect if health else None,
            lock_path=project.paths.state / f"{name}.lock",
            on_recovered=lambda message, data: _journal_recovery(project, message, data),
        )
    from shipdeck.backends.swarm.spec import Rollout, ServiceSettings
    from shipdeck.backends.swarm.target import SwarmTarget

    health, update = environment.health, environment.update
    swarm_image = environment.image
    resources = environment.resources
    settings = ServiceSettings(
        project=config.project,
        env=name,
        replicas=environment.replicas,
        ports=dict(environment.ports),
        publish_mode=environment.publish_mode,
        environment=dict(environment.env),
        labels=dict(environment.labels),
        constraints=tuple(environment.constraints),
        cpus=resources.cpus if resources else None,
        memory=resources.memory if resources else None,
        restart_policy=environment.restart_policy,
        rollout=Rollout(
            parallelism=update.parallelism,
            delay=update.delay,
            order=update.order,
            failure_action=update.failure_action,
            monitor=update.monitor,
            max_failure_ratio=update.max_failure_ratio,
        ),
    )
    return SwarmTarget(
        name,
        settings,
        host=environment.docker_host,
        image_for=fields.image_for(swarm_image),
        secrets=secrets,
        health_url=render(health.url, fields) if health else None,
        health_timeout=health.timeout if health else 30,
        health_interval=health.interval if health else 0.5,
        health_expect=health.expect if health else None,
        lock_path=project.paths.state / f"{name}.lock",
    )


def _images() -> Images:
    from shipdeck.backends.docker.images import (
        DockerImages,  # the docker SDK only when a step needs it
    )

    return DockerImages()


def _git(project: Project) -> Vcs:
    from shipdeck.backends.git import GitRepo  # only when git is first asked

    return GitRepo(project.root)


class _Parts:
    """What the engine gets from one config: its targets (made on first use) and its
    webhook. Replaced whole on a reload, so no target outlives its config."""

    def __init__(self, project: Project, config: Config) -> None:
        self.project = project
        self.config = config
        self.targets: dict[str, DeployTarget] = {}
        self.send = _webhook(project, config)
        self._making = threading.Lock()  # one target per name, whichever thread asks first

    def target_for(self, name: str) -> DeployTarget:
        with self._making:
            if name not in self.targets:
                self.targets[name] = make_target(self.project, name, self.config)
            return self.targets[name]


class _Live:
    """An engine's current parts, and the runs it has going, learnt from its own events:
    ``Engine.running()`` does not count environment operations (deploy, rollback)."""

    def __init__(self, parts: _Parts) -> None:
        self.parts = parts
        self.runs: set[str] = set()
        self._lock = threading.Lock()

    def target_for(self, name: str) -> DeployTarget:
        return self.parts.target_for(name)

    def notify(self, event: ev.Event) -> None:
        send = self.parts.send
        if send is not None:
            send(event)

    def __call__(self, event: EngineEvent) -> None:  # a listener: from the run's thread
        with self._lock:
            if isinstance(event, RunStarted):
                self.runs.add(event.run_id)
            elif isinstance(event, RunFinished):
                self.runs.discard(event.run_id)

    def busy(self) -> bool:
        with self._lock:
            return bool(self.runs)


_LIVE: weakref.WeakKeyDictionary[Engine, _Live] = weakref.WeakKeyDictionary()


def _webhook(project: Project, config: Config) -> Callable[[ev.Event], None] | None:
    if not config.notify.webhook:
        return None
    from shipdeck.backends.notify import WebhookFailure, WebhookNotifier

    def journal_failure(failure: WebhookFailure) -> None:  # from the sender thread
        project.journal.append(ev.Event(ev.WEBHOOK_FAILED, failure.item, failure.journal_data()))

    return WebhookNotifier(
        config.notify.webhook,
        timeout=config.notify.timeout,
        project=config.project,
        on_failure=journal_failure,
    ).send


def build_engine(project: Project, *, will_run_steps: bool = False) -> Engine:
    """The project's engine. ``will_run_steps``: start naming the project's interpreter
    now (a pyenv shim takes ~0.1 s), for a caller that runs steps soon, as the open
    board does; one that only reads or stops environments never asks the shim."""
    from shipdeck.backends.local.runner import LocalProcessRunner
    from shipdeck.project.gc import AutoPrune

    if will_run_steps:
        interpreter.prefetch(project.root)  # a shim's answer comes while the config parses
    config = project.config
    live = _Live(_Parts(project, config))
    engine = Engine(
        root=project.root,
        config=config,
        store=project.store,
        journal=project.journal,
        runner=LocalProcessRunner(),
        vcs=lambda: _git(project),
        target_for=live.target_for,
        work=WORK,  # what each stage does
        notify=live.notify,
        images=_images,
        environ=lambda: step_environ(project_python(project, config)),  # at the first step
    )
    engine.subscribe(live)
    engine.subscribe(AutoPrune(project, engine))  # retention: after runs and deploys
    _LIVE[engine] = live
    return engine


def busy(engine: Engine) -> bool:
    """Whether any run or environment operation is going on ``engine`` (any thread)."""
    live = _LIVE.get(engine)
    return bool(engine.running()) or (live is not None and live.busy())


def reconfigure(engine: Engine, config: Config) -> None:
    """Make ``engine`` work from ``config``: call it only while :func:`busy` is False,
    as runs read ``engine.config`` all along and must keep the config they began with.

    Mirrors what ``Engine.__init__`` derives from the config (the secret masker and the
    board's and journal's scrub); the targets and the webhook follow with new parts. The
    masker keeps the old config's secrets as well: a service started under the old config
    may still print them, and masking too much is the safe failure."""
    names = engine.config.secret_names() | config.secret_names()
    before = {f"{k} (before)": v for k, v in engine.config.url_passwords().items()}
    passwords = before | config.url_passwords()
    masker = SecretMasker({n: engine.environ[n] for n in names if n in engine.environ} | passwords)
    live = _LIVE.get(engine)
    if live is not None:
        live.parts = _Parts(live.parts.project, config)
        if config.python != engine.config.python:
            engine.environ = lambda: step_environ(project_python(live.parts.project, config))
    engine.masker = masker
    if masker:
        engine.store.scrub = masker.scrub
        engine.journal.scrub = masker.scrub
    engine.config = config
