"""What moving an item into Deploy, Operate and Monitor does (docs/architecture.md section 4).

Also the pieces environment operations share with a deploy: exporting a
release tag and journaling a deploy's outcome.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.config.templates import render
from shipdeck.lifecycle.items import Item, parse_time
from shipdeck.lifecycle.ports import Cancelled, Release
from shipdeck.lifecycle.runs import Reporter, RunContext, RunHost, StageFailed
from shipdeck.lifecycle.stages import Stage

if TYPE_CHECKING:  # pydantic: only the types, so the engine's modules load without it
    from shipdeck.lifecycle.config.schema import Config, Environment


# --- Deploy -----------------------------------------------------------------------------


def export_release(engine: RunHost, version: str, tag: str) -> Path:
    """``.shipdeck/releases/<version>/``: exactly the tagged code, exported once."""
    dest = engine.paths.releases / version
    if not dest.exists():
        tmp = engine.paths.releases / f".{version}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        engine.vcs.export(tag, str(tmp))
        link_node_modules(tmp, engine.paths.root)
        tmp.rename(dest)
    else:  # used again: the newest again, so retention keeps it (lifecycle/retention.py)
        with contextlib.suppress(OSError):
            os.utime(dest)
    return dest


def link_node_modules(export: Path, repo: Path) -> list[str]:
    """Link the repository's ``node_modules`` of each project folder (``frontend/``) into
    ``export``: Node looks for packages in the folders above a script, and an export
    below the repository finds the root's ``node_modules`` that way, not a folder's.
    The folders linked (relative); a folder the export has its own for is left alone."""
    linked = []
    for child in sorted(export.iterdir()) if export.is_dir() else ():
        modules = repo / child.name / "node_modules"
        own = child / "node_modules"
        if child.is_symlink():
            continue  # a link the repository holds: never written through
        if (child / "package.json").is_file() and modules.is_dir() and not own.exists():
            own.symlink_to(modules, target_is_directory=True)
            linked.append(child.name)
    return linked


def local_image(project: str, version: str) -> str:
    """The tag a release's image gets on the engine that built it when nothing is pushed."""
    return f"{project}:{version}"


def release_of(engine: RunHost, version: str) -> Release:
    tag = render(engine.tag_template(), {"version": version, "project": engine.config.project})
    if not engine.vcs.tag_exists(tag):
        raise StageFailed(f"no release {version} (tag {tag} does not exist)")
    sha = engine.vcs.head_sha(tag)
    push = engine.config.stages.release.push
    fields_ = {"version": version, "project": engine.config.project}
    image = f"{render(push, fields_)}:{version}" if push else None
    if image is None and engine.config.stages.builds_image:
        image = local_image(engine.config.project, version)
    workdir = str(export_release(engine, version, tag))
    return Release(version, sha, tag, image=image, workdir=workdir)


def lead_time(item: Item) -> float | None:
    """Seconds from the item's first commit (recorded at release) to now."""
    first = parse_time(item.artifacts.get("first_commit"))
    if first is None:
        return None
    return round((datetime.now(UTC) - first).total_seconds(), 1)


def environment(config: Config, named: str | None, approve: bool) -> tuple[str, Environment]:
    """Where a deploy goes: ``named`` (the one asked for, else the auto one), else the only
    one there is; StageFailed saying why it cannot go. The engine asks too, so the card
    shows the environment from the deploy's start (``Engine._run_locked``)."""
    name = named
    if not name:
        if len(config.environments) == 1:
            name = next(iter(config.environments))
        else:
            raise StageFailed("no environment named (use --env or set auto: true on one)")
    try:
        env = config.environment(name)
    except LookupError as exc:  # UnknownEnvironment, naming the environments there are
        raise StageFailed(str(exc)) from None
    if env.approval and not approve:
        raise StageFailed(f"{name} needs approval (--yes on the CLI, confirm on the board)")
    return name, env


def deploy(ctx: RunContext) -> str:
    item = ctx.item
    name, _env = environment(ctx.engine.config, ctx.env_name or ctx.engine.auto_env(), ctx.approve)
    ctx.env_name = name
    if not item.version:
        raise StageFailed("the item has no release to deploy")
    rel = release_of(ctx.engine, item.version)  # item.env is name: Engine._run_locked wrote it
    moved = _moved_since_release(ctx)
    if moved:
        ctx.say(moved)
    return deploy_release(ctx.engine, name, rel, ctx, item)


def _moved_since_release(ctx: RunContext) -> str | None:
    """A deploy of the release, said to be without the commits its branch got after it
    was cut (a fix for a failed deploy committed on the item's merged branch): the release
    is the tested commit, and a later one goes through Build and Test as a new item."""
    item = ctx.item
    tested = item.state_of(Stage.TEST).sha
    if not item.branch or not tested:
        return None
    tip = ctx.engine.vcs.branch_tip(item.branch)
    if tip is None or tip == tested:
        return None
    base = ctx.engine.config.base_branch
    return (
        f"{item.branch} moved to {tip[:7]} after {item.version} was cut from {tested[:7]}:"
        f" this deploys {item.version} without it; a fix goes in a new item from {base}"
        f" (`git switch {base}`, `shipdeck item add --kind bug TITLE`)"
    )


def deploy_release(
    engine: RunHost, name: str, rel: Release, ctx: Reporter, item: Item | None
) -> str:
    """Deploy ``rel`` to ``name``, journal the result; StageFailed when it is not healthy."""
    target = engine.target_for(name)
    item_id = item.id if item else None
    engine.record(ev.Event(ev.DEPLOY_STARTED, item_id, {"env": name, "version": rel.version}))
    ctx.say(f"deploying {rel.version} to {name} ({target.target})")
    result = target.deploy(rel, ctx.emit, ctx.cancel)
    if result.ok:
        lead = lead_time(item) if item else None
        engine.record(
            ev.Event(
                ev.DEPLOYED,
                item_id,
                {"env": name, "version": rel.version, "sha": rel.sha, "lead_time": lead},
            )
        )
        return f"{rel.version} is live on {name}"
    if ctx.cancel.cancelled and not result.unknown:
        # Stopped by its user (Ctrl-C, x): the run is cancelled, as Build's or Test's is,
        # and the change has not failed (DORA counts deploy.failed). What runs now is the
        # release before it, put back, or nothing.
        back = f"; {result.rolled_back_to} runs again" if result.rolled_back_to else ""
        data = {"env": name, "version": rel.version, "reason": f"cancelled{back}"}
        engine.record(ev.Event(ev.DEPLOY_CANCELLED, item_id, data))
        raise Cancelled()
    engine.record(
        ev.Event(
            ev.DEPLOY_UNKNOWN if result.unknown else ev.DEPLOY_FAILED,
            item_id,
            {"env": name, "version": rel.version, "reason": result.message},
        )
    )
    if result.rolled_back_to:
        engine.record(
            ev.Event(
                ev.ROLLED_BACK,
                item_id,
                {
                    "env": name,
                    "from_version": rel.version,
                    "to_version": result.rolled_back_to,
                    "reason": result.message,
                },
            )
        )
        raise StageFailed(f"{result.message}; rolled back to {result.rolled_back_to}")
    raise StageFailed(result.message)


# --- Operate and Monitor ---------------------------------------------------------------------


def operate(ctx: RunContext) -> str:
    """Watch the release for the bake time; it passes when it stays healthy throughout."""
    item = ctx.item
    if not item.env:
        raise StageFailed("the item was not deployed to an environment")
    env = ctx.engine.config.environments[item.env]
    target = ctx.engine.target_for(item.env)
    deadline = time.monotonic() + env.bake
    ctx.say(f"baking {item.version} on {item.env} for {env.bake:g}s")
    while True:
        status = target.status()
        if status.healthy is False or status.state not in ("running", "starting"):
            raise StageFailed(f"{item.env} became unhealthy ({status.state})")
        if time.monotonic() >= deadline:
            break
        if ctx.cancel.wait(min(1.0, max(0.0, deadline - time.monotonic()))):
            ctx.cancel.raise_if_cancelled()
    return f"healthy on {item.env} for {env.bake:g}s"


def monitor(ctx: RunContext) -> str:
    ctx.say("monitoring: probes and alerts run on the board and in `shipdeck monitor`")
    return "monitored"
