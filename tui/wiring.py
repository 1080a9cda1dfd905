"""Builds the engine for a project: the one place that picks backends.

Backends are imported here, lazily, so a command that needs no git or no
Docker never pays for importing them.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from lifecycle.engine import Engine, Images
from lifecycle.ports import DeployTarget, Vcs
from lifecycle.templates import render, render_command
from tui.errors import UsageError
from tui.project import Project

if TYPE_CHECKING:
    from lifecycle.config import Environment


def env_fields(project: Project, name: str, environment: Environment) -> dict[str, object]:
    out: dict[str, object] = {
        "env": name,
        "project": project.config.project,
        "python": sys.executable,
    }
    if environment.port is not None:
        out["port"] = environment.port
    return out


def _journal_recovery(project: Project, message: str, data: dict[str, object]) -> None:
    """A deploy a killed shipdeck left half done was finished or reversed: journal it."""
    from lifecycle import events as ev

    project.journal.append(ev.Event(ev.DEPLOY_RECOVERED, None, {**data, "message": message}))


def make_target(project: Project, name: str) -> DeployTarget:
    """The deploy target of environment ``name``, built from its config."""
    try:
        environment = project.config.environment(name)
    except KeyError as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    fields = env_fields(project, name, environment)
    secrets = {s: os.environ[s] for s in environment.secrets if s in os.environ}
    if environment.target == "local":
        from backends.local import LocalTarget

        assert environment.run is not None  # the config requires it for local
        health = environment.health
        return LocalTarget(
            name,
            root=project.root,
            command=render_command(environment.run, fields),
            port=environment.port,
            health_url=render(health.url, fields) if health else None,
            health_timeout=health.timeout if health else 30,
            health_interval=health.interval if health else 0.5,
            env=dict(environment.env),
            secrets=secrets,
            on_recovered=lambda message, data: _journal_recovery(project, message, data),
        )
    if environment.target == "docker":
        from backends.docker import DockerTarget

        health = environment.health
        image = environment.image
        return DockerTarget(
            name,
            project=project.config.project,
            host=environment.docker_host,
            image_for=(lambda v: render(image, {**fields, "version": v})) if image else None,
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
    raise UsageError(f"environment {name}: target {environment.target} is not available yet")


def _images() -> Images:
    from backends.docker_build import DockerImages  # the docker SDK only when a step needs it

    return DockerImages()


def _git(project: Project) -> Vcs:
    from backends.git import GitRepo  # GitPython costs ~30 ms: only when git is first asked

    return GitRepo(project.root)


def build_engine(project: Project) -> Engine:
    from backends.process import LocalProcessRunner

    targets: dict[str, DeployTarget] = {}

    def target_for(name: str) -> DeployTarget:
        if name not in targets:
            targets[name] = make_target(project, name)
        return targets[name]

    notify = None
    if project.config.notify.webhook:
        from backends.notify import WebhookFailure, WebhookNotifier
        from lifecycle.events import WEBHOOK_FAILED, Event

        def journal_failure(failure: WebhookFailure) -> None:  # from the sender thread
            project.journal.append(Event(WEBHOOK_FAILED, failure.item, failure.journal_data()))

        notify = WebhookNotifier(
            project.config.notify.webhook,
            timeout=project.config.notify.timeout,
            project=project.config.project,
            on_failure=journal_failure,
        ).send

    return Engine(
        root=project.root,
        config=project.config,
        store=project.store,
        journal=project.journal,
        runner=LocalProcessRunner(),
        vcs=lambda: _git(project),
        target_for=target_for,
        notify=notify,
        images=_images,
    )
