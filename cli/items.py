"""CLI commands over the board: init, check, status and item add/list/show/move."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from shipdeck.cli.text import ITEM_HEADER, fit_words, item_detail, item_rows, table
from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle import verbs
from shipdeck.lifecycle.board import ItemNotFound
from shipdeck.lifecycle.items import Item, Kind, normalise_id
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.text import escape_controls as printable
from shipdeck.lifecycle.text import json_text
from shipdeck.project.errors import EXIT_OK, OperationFailed, UsageError
from shipdeck.project.repo import Project


def _project() -> Project:
    return Project.discover(Path.cwd())


def _dump(data: Any) -> None:
    """JSON on stdout: readable text, with what a terminal would obey escaped."""
    sys.stdout.write(json_text(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")


def _item_id(text: str) -> str:
    try:
        return normalise_id(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _get(project: Project, item_id: str) -> Item:
    """One item, read from its own blob: costs the same on 200 items or 20,000."""
    try:
        return project.store.get(_item_id(item_id))
    except ItemNotFound:
        raise UsageError(f"no item {_item_id(item_id)} on the board") from None


def check(args: argparse.Namespace) -> int:
    from shipdeck.lifecycle.config.errors import ConfigError

    project = _project()
    try:
        cfg = project.config
    except ConfigError as exc:
        if args.json:
            _dump({"config": project._display(project.config_path), "ok": False, "error": str(exc)})
        raise
    steps = len(cfg.stages.build) + len(cfg.stages.test)
    from shipdeck.lifecycle.masking import WEAK, SecretMasker

    passwords = cfg.url_passwords()
    weak = sorted(SecretMasker.for_config(cfg, lambda: os.environ).weak)
    if args.json:
        _dump(
            {
                "config": project._display(project.config_path),
                "ok": True,
                "project": cfg.project,
                "steps": steps,
                "environments": list(cfg.environments),
                "weak_secrets": weak,
                "passwords_in_config": sorted(passwords),
            }
        )
    else:
        envs = ", ".join(cfg.environments) or "none"
        print(f"{project._display(project.config_path)}: ok ({steps} steps; environments: {envs})")
    for name in weak:
        sys.stderr.write(
            f"warning: secret {name} is shorter than {WEAK} characters: masking it"
            " also blanks ordinary text that contains it\n"
        )
    for where in sorted(passwords):
        sys.stderr.write(
            f"warning: {where}: a password in a URL in shipdeck.yaml, which git keeps:"
            " masked in every output, but better set in shipdeck's environment and"
            " named in the environment's secrets:\n"
        )
    return EXIT_OK


def env_statuses(project: Project) -> dict[str, dict[str, Any]]:
    """Each environment's status; a target that cannot answer gives its error."""
    from shipdeck.lifecycle.ports import NodeSource
    from shipdeck.project.wiring import make_target

    out: dict[str, dict[str, Any]] = {}
    for name in project.config.environments:
        try:
            target = make_target(project, name)
            st = target.status()
        except Exception as exc:  # noqa: BLE001 - one unreachable target never hides the others
            out[name] = {"error": str(exc)}
            continue
        stats = []
        if hasattr(target, "stats"):  # docker and swarm targets: one sample per container
            try:
                stats = [s.to_dict() for s in target.stats()]
            except Exception as exc:  # noqa: BLE001 - stats are extra; the status still stands
                stats = [{"error": str(exc)}]
        nodes = []
        if isinstance(target, NodeSource):  # a swarm: its machines and this service's tasks
            try:
                nodes = [n.to_dict() for n in target.nodes()]
            except Exception as exc:  # noqa: BLE001 - extra, as stats are
                nodes = [{"error": str(exc)}]
        out[name] = {
            "target": st.target,
            "containers": stats,
            "nodes": nodes,
            "detail": dict(st.detail),
            "version": st.version,
            "state": st.state,
            "healthy": st.healthy,
            "started_at": st.started_at.isoformat() if st.started_at else None,
            "replicas": st.replicas,
            "replicas_running": st.replicas_running,
            "restarts": st.restarts,
            "pid": st.pid,
        }
    return out


def status(args: argparse.Namespace) -> int:
    project = _project()
    by_stage = project.store.ids_by_stage()  # the board's index: no item is read
    data: dict[str, Any] = {
        "project": project.config.project,
        "environments": env_statuses(project),
        "items": {s.value: by_stage.get(s, []) for s in Stage},
        "counts": {s.value: len(by_stage.get(s, [])) for s in Stage},
    }
    if args.json:
        _dump(data)
        return EXIT_OK
    print(f"project {data['project']}")
    for name, env in data["environments"].items():
        if "error" in env:
            print(f"  {name:<12} error: {printable(env['error'])}")
            continue
        health = {True: "healthy", False: "UNHEALTHY", None: "-"}[env["healthy"]]
        line = f"  {name:<12} {env['version'] or '-':<10} {env['state']:<8} {health}"
        if env["target"] == "swarm":
            running, wanted = env["replicas_running"] or 0, env["replicas"] or 0
            line += f"  {running}/{wanted} replicas"
            for key in ("tasks", "pending", "update"):
                if env["detail"].get(key):
                    line += f"; {key} {printable(env['detail'][key])}"
        print(line)
    width = shutil.get_terminal_size().columns  # COLUMNS, the terminal's, or 80
    digits = max(3, *(len(str(n)) for n in data["counts"].values()))
    for stage in Stage:
        head = f"  {stage.label:<12} {data['counts'][stage.value]:>{digits}}  "
        print(head + fit_words(data["items"][stage.value], max(width - len(head), 20)))
    return EXIT_OK


def item_add(args: argparse.Namespace) -> int:
    project = _project()
    project.check_config()  # a broken config is refused before anything is written
    project.mask_writes()
    store, journal = project.store, project.journal
    if args.from_alert:
        alert = _from_alert(project, args.from_alert)
        release_tag = project.config.stages.release.tag
        item = verbs.add_bug_from_alert(
            store, journal, alert, release_tag=release_tag, title=args.title
        )
    else:
        item = verbs.add(
            store, journal, args.title, kind=Kind(args.kind), body=args.body, breaking=args.breaking
        )
    if args.json:
        _dump(item.to_dict())
    else:
        print(item.id)
    return EXIT_OK


def _from_alert(project: Project, alert_id: str) -> ev.Event:
    try:
        return verbs.find_alert(project.journal, alert_id)
    except verbs.AlertNotFound as exc:
        raise UsageError(f"{exc} (see: shipdeck monitor, events)") from None


def settle_runs(project: Project, items: list[Item]) -> bool:
    """Settle runs that show ``running`` but are not (a killed shipdeck, or a result that
    could not be saved), so a listing never shows a run that is over; True if any was.
    Best effort: a board that cannot be written yet is shown as it is."""
    if not any(i.running for i in items):
        return False
    from shipdeck.lifecycle.errors import StorageError
    from shipdeck.project.wiring import build_engine

    try:
        return bool(build_engine(project).recover())
    except StorageError:
        return False


LIST_LIMIT = 200  # rows of the table unless --limit says otherwise


def item_list(args: argparse.Namespace) -> int:
    """The table from the board's index, the first 200 rows unless told; ``--json`` the
    items in full (every one unless ``--limit`` says), as before."""
    project = _project()
    stage = None
    if args.stage:
        try:
            stage = Stage.parse(args.stage)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    limit = args.limit if args.limit is not None else (0 if args.json else LIST_LIMIT)
    if limit < 0:
        raise UsageError("--limit takes a number from 0 (0: every item)")
    store = project.store
    items, total = store.card_page(archived=args.all, stage=stage, limit=limit)
    if settle_runs(project, items):
        items, total = store.card_page(archived=args.all, stage=stage, limit=limit)
    if args.json:
        if args.limit is None:  # every item, in full: the whole board (cached)
            board = store.load()
            every = board.items if args.all else board.active()
            full = [i for i in every if stage is None or i.stage is stage]
        else:
            full = store.get_many([i.id for i in items])
        _dump([i.to_dict() for i in full])
    elif items:
        print(table(item_rows(items), ITEM_HEADER))
        if total > len(items):
            more = total - len(items)
            print(f"… {more} more (--limit 0 lists every one)")
    else:
        print("no items (add one: shipdeck item add TITLE)")
    return EXIT_OK


def item_show(args: argparse.Namespace) -> int:
    project = _project()
    item = _get(project, args.id)
    if settle_runs(project, [item]):
        item = _get(project, args.id)
    if args.json:
        _dump(item.to_dict())
    else:
        print(item_detail(item))
    return EXIT_OK


def item_move(args: argparse.Namespace) -> int:
    project = _project()
    try:
        target = Stage.parse(args.stage)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    item = _get(project, args.id)
    from shipdeck.project.wiring import build_engine

    engine = build_engine(project)  # what git says, as the engine sees it
    try:
        moved = verbs.move(
            project.store,
            project.journal,
            item.id,
            target,
            facts=engine.facts,
            force=args.force,
            reason=args.reason,
        )
    except verbs.Refused as exc:
        raise OperationFailed(f"{exc} (use --force to override)") from None
    if args.json:
        _dump(
            {
                "id": moved.item.id,
                "from": moved.source.value,
                "to": moved.target.value,
                "forced": moved.forced,
            }
        )
        return EXIT_OK
    note = f" (forced past: {printable(moved.forced)})" if moved.forced is not None else ""
    print(f"{moved.item.id} moved {moved.source.value} -> {moved.target.value}{note}")
    return EXIT_OK


def item_archive(args: argparse.Namespace) -> int:
    project = _project()
    item = _get(project, args.id)
    project.mask_writes()
    verbs.archive(project.store, project.journal, item.id)
    if args.json:
        _dump({"id": item.id, "archived": True})
    else:
        print(f"{item.id} archived")
    return EXIT_OK


def no_terminal() -> str | None:
    """Why the board cannot open here, or None: it reads keys from stdin and draws on stdout,
    so without both being a terminal it would write escape codes into a file and wait."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        return None
    which = "stdin" if not sys.stdin.isatty() else "stdout"
    return (
        f"the board needs a terminal ({which} is not one);"
        " `shipdeck item list` and `shipdeck status` work without"
    )


def open_board(_args: argparse.Namespace) -> int:
    project = _project()
    project.check_config()  # refuse a broken config before the screen opens
    project.store.check_readable()  # and a board that cannot be read (no whole-board read)
    why = no_terminal()
    if why:
        raise UsageError(why)
    from shipdeck.tui.app import run_board

    return run_board(project)


def demo(args: argparse.Namespace) -> int:
    from shipdeck.cli.demo import create

    path = Path(args.path)
    if (path / "shipdeck.yaml").is_file() and (path / ".shipdeck").is_dir():
        project = Project(path.resolve())  # made before: open it again
    else:
        base = None
        if not args.no_docker:
            from shipdeck.cli.demo import docker_base_ready

            engine, unready = docker_base_ready(args.docker_base)
            if engine is None:
                print(f"no container environment: {unready}")
            else:
                base = args.docker_base
                print(f"Docker engine at {engine}: adding the 'container' environment ({base})")
        project = create(path, docker_base=base)
        print(f"made the demo service repository in {printable(str(path))}")
    why = None if args.no_open else no_terminal()
    if args.no_open or why:
        if why:
            print(f"not opening the board: {why}", file=sys.stderr)
        # quoted to paste into a shell: "cd démo 1" would have gone to the wrong place
        print(f"next: cd {printable(shlex.quote(str(path)))} && shipdeck item list")
        return EXIT_OK
    from shipdeck.tui.app import run_board

    return run_board(project)


def sync(args: argparse.Namespace) -> int:
    """Fetch the remote's board, merge it with ours, push the result."""
    from shipdeck.backends.git_sync import SyncError
    from shipdeck.backends.git_sync import sync as sync_board

    project = _project()
    try:
        report = sync_board(project.store, args.remote)
    except SyncError as exc:
        raise OperationFailed(str(exc)) from None
    if args.json:
        _dump(
            {
                "remote": report.remote,
                "merged": report.merged,
                "fast_forward": report.fast_forward,
                "pushed": report.pushed,
                "renumbered": [
                    {"from": r.old_id, "to": r.new_id, "branch": r.new_branch}
                    for r in report.renumbered
                ],
            }
        )
        return EXIT_OK
    print(printable(report.summary()))
    for note in report.notes:
        print(printable(note))
    return EXIT_OK


def item_history(args: argparse.Namespace) -> int:
    """An item's changes, newest first, from the board ref's commits."""
    from shipdeck.lifecycle.store import item_path

    project = _project()
    item = _get(project, _item_id(args.id))
    rows = project.store.refs.history(item_path(item.id))  # type: ignore[attr-defined]
    if args.json:
        _dump(rows)
        return EXIT_OK
    for row in rows:
        print(
            printable(f"{row['time']}  {row['commit'][:9]}  {row['author']:<16}  {row['subject']}")
        )
    return EXIT_OK
