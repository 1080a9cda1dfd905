"""CLI commands that run the engine: advance, deploy, rollback, restart, scale,
stop, logs, dora and monitor. Output streams as it comes; Ctrl-C cancels the
run cleanly (no process left behind) and exits 130.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from shipdeck.cli.text import json_line
from shipdeck.lifecycle import runlog
from shipdeck.lifecycle.engine import Engine
from shipdeck.lifecycle.items import is_item_id
from shipdeck.lifecycle.ports import CancelToken, Line, Stream
from shipdeck.lifecycle.runs import EngineError, EngineEvent, RunFinished, RunOutput, RunStarted
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.text import (
    colour_source,
    shows_colour,
    step_colour_env,
    terminal_text,
)
from shipdeck.lifecycle.text import escape_controls as printable
from shipdeck.project.errors import (
    EXIT_FAILED,
    EXIT_OK,
    OperationFailed,
    UsageError,
)
from shipdeck.project.repo import Project
from shipdeck.project.wiring import build_engine

if TYPE_CHECKING:
    from shipdeck.lifecycle.sampling import Sample

T = TypeVar("T")
# Seconds between two reads of a followed run log, each after a look at the board (is
# the run still going? a card's blob, ~1 ms): a follower ends within a poll of its run.
FOLLOW_POLL = 0.2


def _project() -> Project:
    return Project.discover(Path.cwd())


def print_lines(lines: tuple[Line, ...] | list[Line], prefix: str = "") -> None:
    """Step output on the terminal: stderr lines to stderr, shipdeck's own as ``==>``;
    SGR colours kept where they show (lifecycle/text.py), every other control escaped."""
    out = []
    err = []
    colour_out, colour_err = shows_colour(sys.stdout), shows_colour(sys.stderr)
    for line in lines:
        if line.stream is Stream.STDERR:
            text = terminal_text(line.text, colour=colour_err)
            err.append(prefix + (colour_source(text) if colour_err else text))
        elif line.stream is Stream.INFO:
            out.append("==> " + prefix + terminal_text(line.text, colour=colour_out))
        else:
            text = terminal_text(line.text, colour=colour_out)
            out.append(prefix + (colour_source(text) if colour_out else text))
    if out:
        sys.stdout.write("\n".join(out) + "\n")
        sys.stdout.flush()
    if err:
        sys.stderr.write("\n".join(err) + "\n")
        sys.stderr.flush()


def emit(data: dict[str, Any]) -> None:
    """One JSON line on stdout, flushed: the ``--json`` form of a stream."""
    sys.stdout.write(json_line(data) + "\n")
    sys.stdout.flush()


def json_lines(lines: tuple[Line, ...] | list[Line], **fields: Any) -> None:
    """A batch of lines as JSON lines, written and flushed together. Each is
    ``json_line({"event": "line", **fields, "stream": ..., "text": ...})`` to the byte,
    with the part every line shares encoded once per batch (a million-line log printed
    in 1.9 s, not 5.1)."""
    if not lines:
        return
    head = json_line({"event": "line", **fields})[:-1]  # its closing brace comes last
    streams = {stream: json_line(stream.value) for stream in Stream}
    sys.stdout.write(
        "".join(
            f'{head}, "stream": {streams[line.stream]}, "text": {json_line(line.text)}}}\n'
            for line in lines
        )
    )
    sys.stdout.flush()


def stream_to_terminal(event: EngineEvent) -> None:
    if isinstance(event, RunStarted):
        print(f"==> {event.item_id}: {event.stage.label} (run {event.run_id})", flush=True)
    elif isinstance(event, RunOutput):
        print_lines(event.lines)
    elif isinstance(event, RunFinished):
        took = f"{event.duration:.1f}s"
        print(f"==> {event.item_id}: {event.stage.label} {event.state.value} in {took}", flush=True)


def stream_json(event: EngineEvent) -> None:
    """The engine's events as JSON lines (``--json``): started, line, finished."""
    if isinstance(event, RunStarted):
        emit(
            {
                "event": "started",
                "item": event.item_id,
                "stage": event.stage.value,
                "run": event.run_id,
            }
        )
    elif isinstance(event, RunOutput):
        json_lines(event.lines, item=event.item_id, run=event.run_id)
    elif isinstance(event, RunFinished):
        emit(
            {
                "event": "finished",
                "item": event.item_id,
                "stage": event.stage.value,
                "run": event.run_id,
                "state": event.state.value,
                "duration": round(event.duration, 3),
                "message": event.message,
            }
        )


def _terminate(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_cancellable(work: Callable[[CancelToken], T], cancel: CancelToken) -> T:
    """Run ``work`` in a thread so Ctrl-C (or SIGTERM) cancels it and waits for cleanup."""
    box: dict[str, Any] = {}
    done = threading.Event()  # not thread.is_alive(): a join interrupted by Ctrl-C can lie

    def target() -> None:
        try:
            box["result"] = work(cancel)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name="shipdeck-run", daemon=True)
    previous = signal.signal(signal.SIGTERM, _terminate)
    interrupted = False
    try:
        thread.start()
        while True:
            try:
                if done.wait(0.2):
                    break
            except KeyboardInterrupt:
                interrupted = True
                sys.stderr.write("shipdeck: cancelling...\n")
                cancel.cancel()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if "error" in box and not isinstance(box["error"], KeyboardInterrupt):
        raise box["error"]
    if interrupted:
        raise KeyboardInterrupt
    return box["result"]  # type: ignore[no-any-return]


def _engine(project: Project, as_json: bool = False) -> Engine:
    engine = build_engine(project)
    engine.recover()
    # Steps may colour only when their output reaches a terminal that shows it.
    engine.add_environ(step_colour_env(pane=False, stream=None if as_json else sys.stdout))
    engine.subscribe(stream_json if as_json else stream_to_terminal)
    return engine


def advance(args: argparse.Namespace) -> int:
    from shipdeck.cli.items import _item_id

    project = _project()
    engine = _engine(project, args.json)
    item_id = _item_id(args.id)
    try:
        to = Stage.parse(args.to) if args.to else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.env:
        project.config.environment(args.env)
    board = project.store.load()
    board.get(item_id)
    if args.dry_run:
        plan = engine.plan_advance(item_id, to=to, env=args.env)
        if args.json:
            emit(
                {"event": "plan", "item": item_id, "refusal": plan.refusal, "plan": plan.describe()}
            )
        if plan.refusal:
            raise OperationFailed(printable(plan.refusal))
        if not args.json:
            print(printable(plan.describe()))
        return EXIT_OK
    try:
        outcome = run_cancellable(
            lambda c: engine.advance(item_id, to=to, env=args.env, approve=args.yes, cancel=c),
            CancelToken(),
        )
    except EngineError as exc:
        raise OperationFailed(str(exc)) from None
    item = outcome.item
    where = f"{item.stage.label} ({outcome.state.value})"
    if args.json:
        emit(
            {
                "event": "result",
                "ok": outcome.ok,
                "item": item.id,
                "stage": item.stage.value,
                "state": outcome.state.value,
                "version": item.version,
                "message": outcome.message,
            }
        )
    if not outcome.ok:
        raise OperationFailed(f"{item.id} stopped in {where}: {printable(outcome.message)}")
    if not args.json:
        print(f"{item.id} is in {where}" + (f": {outcome.message}" if outcome.message else ""))
    return EXIT_OK


def _environment(project: Project, name: str) -> Any:
    """The named environment; where an item's id stands in its place (``shipdeck deploy
    SD-3``, as ``advance`` is spelled), the error says which command moves an item."""
    try:
        return project.config.environment(name)
    except LookupError as exc:
        if not is_item_id(name):
            raise
        raise UsageError(
            f"{exc}; {name} is an item: `shipdeck advance {name} --to deploy` deploys it"
        ) from None


def _env_op(args: argparse.Namespace, op: Callable[[Engine], Any]) -> int:
    project = _project()
    _environment(project, args.env)
    engine = _engine(project, args.json)
    result = run_cancellable(lambda c: op(engine), CancelToken())
    if args.json:
        emit(
            {
                "event": "result",
                "ok": result.ok,
                "env": args.env,
                "operation": args.command,
                "run": result.run_id,
                "message": result.message,
            }
        )
    if not result.ok:
        raise OperationFailed(printable(result.message))
    return EXIT_OK


def deploy(args: argparse.Namespace) -> int:
    from shipdeck.lifecycle import operations

    project = _project()
    if _environment(project, args.env).approval and not args.yes:
        raise OperationFailed(f"{args.env} needs approval: add --yes")
    return _env_op(args, lambda e: operations.deploy_version(e, args.env, args.version))


def rollback(args: argparse.Namespace) -> int:
    from shipdeck.lifecycle import operations

    return _env_op(args, lambda e: operations.rollback(e, args.env))


def restart(args: argparse.Namespace) -> int:
    from shipdeck.lifecycle import operations

    return _env_op(args, lambda e: operations.restart(e, args.env))


def scale(args: argparse.Namespace) -> int:
    from shipdeck.lifecycle import operations

    if args.replicas < 0:
        raise UsageError("replicas must be 0 or more")
    target = _environment(_project(), args.env).target
    if target != "swarm" and args.replicas != 1:  # refused by the config, before any run
        raise UsageError(
            f"{args.env} is target {target}, which runs one copy; scaling needs target swarm"
        )
    return _env_op(args, lambda e: operations.scale(e, args.env, args.replicas))


def stop(args: argparse.Namespace) -> int:
    from shipdeck.lifecycle import operations

    return _env_op(args, lambda e: operations.stop(e, args.env))


def logs(args: argparse.Namespace) -> int:
    from shipdeck.lifecycle.paths import is_run_file_name
    from shipdeck.lifecycle.runs import run_subject

    project = _project()
    run_id: str | None = None
    if not args.env and args.id and not is_item_id(args.id):
        if args.id in project.config.environments:
            args.env, args.id = args.id, None  # `shipdeck logs staging`, as `docker logs NAME`
        elif run_subject(args.id) is not None and is_run_file_name(args.id):
            run_id = args.id  # as `item show` lists it
        else:
            known = ", ".join(project.config.environments) or "none"
            raise UsageError(
                f"no item, run or environment {args.id!r} (an item id is SD-<number>;"
                f" a run id as `shipdeck item show ID` lists it; the environments: {known})"
            )
    if args.env:
        if args.stage:
            raise UsageError("--stage picks an item's run; an environment has none")
        return _env_logs(project, args)
    if not args.id:
        raise UsageError("name an item (shipdeck logs SD-3) or an environment (--env ENV)")
    if run_id is None:
        run_id = _item_run(project, args.id, args.stage)
    elif args.stage:
        raise UsageError(f"{run_id} is one run: leave out --stage")
    return _run_logs(project, run_id, args)


def _item_run(project: Project, item_id: str, stage_name: str | None) -> str:
    """The run ``logs ID`` prints: the item's latest, or its stage's latest (--stage)."""
    from shipdeck.cli.items import _get

    item = _get(project, item_id)
    if stage_name is None:
        runs = sorted(project.paths.runs.glob(f"{item.id}-*.log"), key=lambda p: p.stat().st_mtime)
        if not runs:
            raise OperationFailed(f"{item.id} has no runs yet")
        return runs[-1].stem
    try:
        stage = Stage.parse(stage_name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    run_id = item.state_of(stage).run_id
    if run_id is None:
        raise OperationFailed(f"{item.id} has no {stage.label} run yet")
    return run_id


def _run_logs(project: Project, run_id: str, args: argparse.Namespace) -> int:
    """One run's log: all of it streamed, or its last ``--tail`` lines read from the end
    (the size of the log does not matter); ``--follow`` then prints what the run
    writes until it ends (or Ctrl-C: exit 130)."""
    from shipdeck.lifecycle.runs import run_subject

    path = project.paths.run_log(run_id)
    subject = run_subject(run_id) or ""
    if args.follow and not is_item_id(subject):
        raise UsageError(f"--follow follows an item's run; {run_id} is not one")
    fields = {"item": subject, "run": run_id} if is_item_id(subject) else {"run": run_id}

    def show(lines: list[Line]) -> None:
        if args.json:
            json_lines(lines, **fields)
        else:
            print_lines(lines)

    try:
        f = path.open("rb")
    except FileNotFoundError:
        raise OperationFailed(f"{run_id}: no log (pruned by retention, or never written)") from None
    with f:
        end = runlog.complete_end(f) if args.follow else f.seek(0, os.SEEK_END)
        if args.tail is not None:
            show(runlog.tail_lines(f, end, args.tail))
        else:
            for batch in runlog.lines_between(f, 0, end):
                show(batch)
    if args.follow:  # the Follower opens the log at each read: this one is closed
        follow = partial(_follow_run, project, path, end, subject, run_id, show)
        run_cancellable(follow, CancelToken())  # Ctrl-C: main() reports it, exit 130
    return EXIT_OK


def _follow_run(
    project: Project,
    path: Path,
    offset: int,
    item_id: str,
    run_id: str,
    show: Callable[[list[Line]], None],
    cancel: CancelToken,
) -> None:
    """Print the lines ``run_id`` appends from ``offset`` on, until the board no longer
    shows it running (what it wrote meanwhile is printed first). The environment logs'
    ``Follower`` reads only what was appended since the last poll."""
    from shipdeck.backends.local.supervise import Follower
    from shipdeck.lifecycle.items import RunState
    from shipdeck.lifecycle.runs import run_id_parts

    parts = run_id_parts(run_id)
    try:
        stage: Stage | None = Stage.parse(parts[0]) if parts is not None else None
    except ValueError:  # an item's run that is no stage's: nothing to wait for
        stage = None
    follower = Follower(path, offset)
    while True:
        state = project.store.get(item_id).state_of(stage) if stage is not None else None
        over = state is None or state.run_id != run_id or state.state is not RunState.RUNNING
        while texts := follower.read():  # at most 4 MB a read
            show([runlog.record_line(text) for text in texts])
        if over:
            if texts := follower.flush():  # a last line without its newline
                show([runlog.record_line(text) for text in texts])
            return
        if cancel.wait(FOLLOW_POLL):
            return


def _env_logs(project: Project, args: argparse.Namespace) -> int:
    """An environment's output; ``--follow`` until Ctrl-C, which exits 130 as every
    interrupted command does (README, exit codes)."""
    from shipdeck.project.wiring import make_target

    target = make_target(project, args.env)
    engine = build_engine(project)
    cancel = CancelToken()

    def pump(c: CancelToken) -> None:
        for batch in target.logs(follow=args.follow, tail=args.tail, cancel=c):
            masked = list(engine.masker.mask_lines(batch))
            if args.json:
                json_lines(masked, env=args.env)
            else:
                print_lines(masked)

    run_cancellable(pump, cancel)  # KeyboardInterrupt: main() reports it, exit 130
    return EXIT_OK


def dora(args: argparse.Namespace) -> int:
    from shipdeck.cli.items import _dump
    from shipdeck.lifecycle.dora import from_journal

    project = _project()
    now = datetime.now(UTC)
    report = from_journal(project.journal, now, window_days=args.days, env=args.env)
    if args.json:
        _dump(report.to_dict())
    else:
        print(report.format_text())
    return EXIT_OK


def monitor(args: argparse.Namespace) -> int:
    from shipdeck.backends.metrics import HostMetrics
    from shipdeck.backends.probe import HttpProber
    from shipdeck.lifecycle.sampling import Sampler

    project = _project()
    engine = build_engine(project)
    sampler = Sampler(engine, HttpProber(), HostMetrics(str(project.root)))
    interval = project.config.monitor.interval
    deadline = time.monotonic() + args.duration if args.duration else None

    def loop(c: CancelToken) -> int:
        while True:
            sample = sampler.sample()
            if args.json:
                emit(_sample_dict(sample))
            else:
                print(_sample_text(sample), flush=True)
            for alert in sample.alerts:
                word = "cleared" if alert.cleared else "ALERT"
                if args.json:
                    emit(
                        {
                            "event": "alert",
                            "state": word.lower(),
                            "id": alert.id,
                            "metric": alert.metric,
                            "env": alert.env,
                            "message": alert.message,
                        }
                    )
                else:
                    print(f"{word} {alert.id}: {printable(alert.message)}", flush=True)
            for env, decision in sample.scaled:
                if args.json:
                    emit({"event": "autoscaled", **decision.event_data(env)})
                else:
                    change = f"{decision.before} -> {decision.after} replicas"
                    print(f"AUTOSCALED {env}: {change} ({printable(decision.reason)})", flush=True)
            if args.once or (deadline and time.monotonic() >= deadline):
                return EXIT_FAILED if sampler.tracker.active else EXIT_OK
            if c.wait(interval):
                return EXIT_OK

    return run_cancellable(loop, CancelToken())


def _sample_text(sample: Sample) -> str:
    h = sample.host
    cpu = "-" if h.cpu is None else f"{h.cpu:.0f}%"  # ASCII: a pipe may not be UTF-8
    parts = [f"cpu {cpu}", f"mem {h.memory:.0f}%", f"disk {h.disk:.0f}%"]
    for p in sample.probes:
        state = "ok" if p.ok else "FAIL"
        ms = f" {p.latency_ms:.0f}ms" if p.latency_ms is not None else ""
        parts.append(f"{printable(p.name)} {state}{ms}{' slow' if p.slow else ''}")
    return datetime.now().strftime("%H:%M:%S") + " " + "  ".join(parts)


def _sample_dict(sample: Sample) -> dict[str, Any]:
    """One ``monitor --json`` sample line."""
    h = sample.host
    return {
        "event": "sample",
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {
            "cpu": h.cpu,
            "memory": h.memory,
            "disk": h.disk,
            "net_sent": h.net_sent,
            "net_recv": h.net_recv,
        },
        "probes": [
            {
                "name": p.name,
                "url": p.url,
                "ok": p.ok,
                "status": p.status,
                "latency_ms": p.latency_ms,
                "slow": p.slow,
                "error": p.error,
            }
            for p in sample.probes
        ],
    }
