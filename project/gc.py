"""Pruning ``.shipdeck/`` by the ``retention:`` block: ``shipdeck gc`` and the automatic
prune after a run (run logs) and after a deploy (release exports, builds).

The decisions are ``lifecycle/retention.py``'s (pure); this module lists the folders,
finds what is in use (the board, the local environments' state files) and deletes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from shipdeck.lifecycle.items import RunState
from shipdeck.lifecycle.paths import ShipdeckPaths
from shipdeck.lifecycle.retention import KINDS, Entry, Prune, over_limit, plan
from shipdeck.lifecycle.runs import RunFinished
from shipdeck.lifecycle.stages import Stage

if TYPE_CHECKING:
    from shipdeck.lifecycle.board import Board
    from shipdeck.lifecycle.config.schema import Retention
    from shipdeck.lifecycle.engine import Engine
    from shipdeck.lifecycle.runs import EngineEvent
    from shipdeck.project.repo import Project


def folder(paths: ShipdeckPaths, kind: str) -> Path:
    return {"runs": paths.runs, "releases": paths.releases, "builds": paths.work}[kind]


def _name(kind: str, path: Path) -> str | None:
    """The entry's name (a run id, a version, an item id); None for what is not one."""
    if kind == "runs":
        return path.stem if path.suffix == ".log" and path.is_file() else None
    return path.name if path.is_dir() and not path.is_symlink() else None


def listing(paths: ShipdeckPaths, kind: str) -> list[Entry]:
    """What ``kind``'s folder holds, sizes left 0 (measured only for what goes)."""
    found = []
    with suppress(OSError), os.scandir(folder(paths, kind)) as it:
        for item in it:
            name = _name(kind, Path(item.path))
            if name is not None:
                with suppress(OSError):
                    found.append(Entry(name, item.stat(follow_symlinks=False).st_mtime))
    return found


def _path(paths: ShipdeckPaths, kind: str, name: str) -> Path:
    return folder(paths, kind) / (f"{name}.log" if kind == "runs" else name)


def size_of(path: Path) -> int:
    """Bytes on disk of a file or a tree (symlinks not followed)."""
    if not path.is_dir() or path.is_symlink():
        with suppress(OSError):
            return path.lstat().st_size
        return 0
    total = 0
    for base, _dirs, files in os.walk(path):
        for name in files:
            with suppress(OSError):
                total += os.lstat(os.path.join(base, name)).st_size
    return total


def in_use(paths: ShipdeckPaths, board: Board | None) -> dict[str, set[str]]:
    """What no pruning may delete: each item's runs on the board (not archived), the
    builds of items in Build or Test or running, the releases local environments need."""
    from shipdeck.backends.local.target import releases_in_use

    runs: set[str] = set()
    builds: set[str] = set()
    for item in board.items if board is not None else []:
        if item.archived:
            continue
        runs |= {s.run_id for s in item.states.values() if s.run_id}
        running = any(s.state is RunState.RUNNING for s in item.states.values())
        if running or item.stage in (Stage.BUILD, Stage.TEST):
            builds.add(item.id)
    releases = {
        Path(w).name
        for w in releases_in_use(paths.state)
        if Path(w).parent.resolve() == paths.releases.resolve()
    }
    return {"runs": runs, "releases": releases, "builds": builds}


def _limits(retention: Retention) -> dict[str, int]:
    return {"runs": retention.runs, "releases": retention.releases, "builds": retention.builds}


def collect(
    paths: ShipdeckPaths,
    retention: Retention,
    board: Board | None,
    kinds: Iterable[str] = KINDS,
) -> list[Prune]:
    """What pruning ``kinds`` would delete now, with the sizes of what goes."""
    listed = {kind: listing(paths, kind) for kind in kinds}
    prunes = plan(listed, _limits(retention), in_use(paths, board))
    return [
        replace(
            p,
            delete=[replace(e, size=size_of(_path(paths, p.kind, e.name))) for e in p.delete],
        )
        for p in prunes
    ]


def delete(paths: ShipdeckPaths, prunes: list[Prune]) -> list[Prune]:
    """Delete what ``prunes`` say; returns what was deleted (a vanished entry is not)."""
    done = []
    for p in prunes:
        gone = []
        for entry in p.delete:
            path = _path(paths, p.kind, entry.name)
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue
            except OSError:
                continue  # left for the next gc; never fails a run or a deploy
            gone.append(entry)
        done.append(replace(p, delete=gone))
    return done


def gc(project: Project, *, dry_run: bool = False) -> list[Prune]:
    """``shipdeck gc``: every kind pruned now (``dry_run``: only said)."""
    prunes = collect(project.paths, project.config.retention, project.store.load())
    return prunes if dry_run else delete(project.paths, prunes)


class AutoPrune:
    """An engine listener: after a run, its logs are pruned; after a passed deploy (or
    rollback), release exports and builds. Cheap: a folder is listed in full, and the
    board read, only when it holds more than its limit. Never raises."""

    def __init__(self, project: Project, engine: Engine) -> None:
        self.project, self.engine = project, engine

    def __call__(self, event: EngineEvent) -> None:
        if not isinstance(event, RunFinished):
            return
        kinds = ["runs"]
        if event.state is RunState.PASSED and event.stage in (Stage.DEPLOY, Stage.OPERATE):
            kinds += ["releases", "builds"]
        with suppress(Exception):  # disk hygiene must never fail the run it follows
            self.prune(kinds)

    def prune(self, kinds: list[str]) -> list[Prune]:
        paths, retention = self.project.paths, self.engine.config.retention
        limits = _limits(retention)
        due = [k for k in kinds if over_limit(_count(folder(paths, k)), limits[k])]
        if not due:
            return []
        return delete(paths, collect(paths, retention, self.project.store.load(), due))


def _count(path: Path) -> list[Entry]:
    """Placeholders, one per name in ``path``: the cheap count :func:`over_limit` needs."""
    try:
        return [Entry(name, 0.0) for name in os.listdir(path) if not name.startswith(".")]
    except OSError:
        return []
