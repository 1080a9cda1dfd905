#!/usr/bin/env python3
"""Container logs into the board's log pane: throughput, stalls and memory, side by side.

Two measurements against a real engine (DOCKER_HOST), each in fresh child
interpreters so no run inherits another's heap; prints one JSON object:

- ingest: a scratch+busybox container prints N lines (default 300,000, ~57
  bytes each) and exits. Each round times ``docker -H $DOCKER_HOST logs NAME >
  /dev/null`` (the CLI's start-up included), then a headless Textual app
  (``run_test(size=(120, 40))``, ``gc.freeze()`` after mount as the board does)
  holding a ``LogPane(ring_size=100_000)``: a worker thread iterates
  ``backends.docker.logs.container_logs(follow=False, tail=None)`` and calls
  ``pane.write_lines(batch)`` per batch; the clock stops when the view's model
  has taken every line (``LogStatus.total``, i.e. ``model.end - model.origin``,
  as the view publishes it after a fold: lines the ring would drop at once are
  counted there without being stored). A 5 ms ``set_interval`` records how late
  it fires (the event loop's stalls: max, p99). The same reader draining into a
  counter (no app) is the third column. Rounds are interleaved; medians reported,
  with each thread's CPU time (the UI thread's and the reader's share one GIL).
- follow: a container printing about 50,000 lines a second (an awk loop paced
  by /proc/uptime) is followed for 60 s (``follow=True``) by the same app and
  pane, then (a fresh container) by the reader alone. RSS is sampled every
  second; reported at the warm-up mark (10 s) and the end, with the growth in
  between, the lines received and the rate the container actually achieved (and
  lines the engine sent twice: its follow repeats some when the log file rotates).

Targets (issue 5): board >= 0.7x ``docker logs`` with no stall over 25 ms; RSS
growth under 50 MB after the first 10 s. Containers and images carry this run's
``shipdeck.test`` label and are removed at the end, even on error.

    eval "$(scripts/docker-up.sh)"; .venv/bin/python benchmarks/docker_board.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration")]

import docker_images as di  # noqa: E402

PROBE = 0.005  # the stall probe's interval (seconds)
SIZE = (120, 40)
RING = 100_000
STALL_LIMIT_MS = 25.0
RATIO_TARGET = 0.7
RSS_LIMIT_MB = 50.0


# --- helpers shared by parent and children ------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def counter_of(text: str) -> int | None:
    """The streamer's line number (``line 000012345 ...``)."""
    parts = text.split(" ", 2)
    if len(parts) > 1 and parts[0] == "line" and parts[1].isdigit():
        return int(parts[1])
    return None


def streamer_context(dest: Path, rate: int) -> Path:
    """An image whose CMD prints ``rate`` numbered lines a second, forever.

    awk prints a chunk, reads /proc/uptime (10 ms resolution) and sleeps (busybox
    ``usleep`` through ``system``) while it is ahead of ``rate``; so the pace holds
    over seconds and the container uses little CPU beyond the printing itself.
    """
    chunk = max(1, rate // 50)
    script = (
        f"BEGIN {{ rate = {rate}; i = 0; "
        'getline u < "/proc/uptime"; close("/proc/uptime"); split(u, a, " "); t0 = a[1]; '
        f"while (1) {{ for (k = 0; k < {chunk}; k++) {{ i++; "
        'printf "line %09d the quick brown fox jumps over the lazy dog\\n", i } '
        'getline u < "/proc/uptime"; close("/proc/uptime"); split(u, a, " "); '
        "ahead = i / rate - (a[1] - t0); "
        'if (ahead > 0.005) system("usleep " int(ahead * 1000000)) } }'
    )
    return Path(di.make_context(dest, cmd=["awk", script]))


class GcWatch:
    """Collections (and how long each took) while installed: a stall's usual suspect."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []  # (generation, seconds)
        self._start = 0.0

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self._cb)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._cb)

    def _cb(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._start))

    def report(self) -> dict[str, Any]:
        gen2 = [s for g, s in self.pauses if g == 2]
        return {
            "collections": len(self.pauses),
            "gen2": len(gen2),
            "max_ms": round(max((s for _, s in self.pauses), default=0) * 1000, 2),
            "gen2_max_ms": round(max(gen2, default=0) * 1000, 2),
        }


def connect_source(container: str) -> tuple[Any, Any]:
    """The low-level API client and the container as a ``LogSource``."""
    from shipdeck.backends.docker.engine import connect
    from shipdeck.backends.docker.logs import source_of

    api = connect().api
    return api, source_of(api.inspect_container(container))


# --- children: what runs in a fresh interpreter ----------------------------------------


def make_app(ring: int) -> Any:
    """A headless app holding one LogPane, with the 5 ms stall probe."""
    from textual.app import App, ComposeResult

    from shipdeck.widgets.log.pane import LogPane

    class BoardBench(App[None]):
        def __init__(self) -> None:
            super().__init__()
            self.pane = LogPane(ring_size=ring)
            self.lateness: list[tuple[float, float]] = []  # (when, how late)
            self._last = 0.0

        def compose(self) -> ComposeResult:
            yield self.pane

        def start_probe(self) -> None:
            self._last = time.perf_counter()
            self.lateness.clear()
            self.set_interval(PROBE, self._probe)

        def _probe(self) -> None:
            now = time.perf_counter()
            self.lateness.append((now, max(0.0, now - self._last - PROBE)))
            self._last = now

    return BoardBench()


def stalls(lateness: Sequence[tuple[float, float]], since: float = 0.0) -> dict[str, float]:
    late = [x for t, x in lateness if t >= since]
    return {
        "stall_max_ms": round(max(late, default=0) * 1000, 2),
        "stall_p99_ms": round(percentile(late, 0.99) * 1000, 2),
        "stalls_over_25ms": sum(1 for x in late if x * 1000 > STALL_LIMIT_MS),
        "probe_ticks": len(late),
    }


async def child_board_ingest(container: str, expected: int, ring: int) -> dict[str, Any]:
    from shipdeck.backends.docker.logs import container_logs
    from shipdeck.lifecycle.ports import CancelToken
    from shipdeck.widgets.log.lines import LogStatus

    api, source = connect_source(container)
    app = make_app(ring)
    read: dict[str, Any] = {"lines": 0, "batches": 0, "done": None, "error": None, "cpu": 0.0}
    folds = {"count": 0, "skipped": 0}
    done_at: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.pane.log_view
        gc.collect()
        gc.freeze()  # as the board does after its first paint
        finished = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_status(status: LogStatus) -> None:
            folds["count"] += 1
            if status.total >= expected and not done_at:
                done_at.append(time.perf_counter())
                finished.set()

        app.watch(view, "status", on_status, init=False)
        skip = view.model.skip

        def counted_skip(count: int) -> None:
            folds["skipped"] += count
            skip(count)

        view.model.skip = counted_skip
        write = app.pane.write_lines

        def pump() -> None:
            cpu = time.thread_time()
            try:
                for batch in container_logs(
                    api, [source], follow=False, tail=None, cancel=CancelToken()
                ):
                    read["lines"] += len(batch)
                    read["batches"] += 1
                    write(batch)
            except Exception as exc:  # noqa: BLE001 - reported in the JSON, which must print
                read["error"] = repr(exc)
                loop.call_soon_threadsafe(finished.set)
            read["done"] = time.perf_counter()
            read["cpu"] = time.thread_time() - cpu

        with GcWatch() as gcw:
            app.start_probe()
            ui_cpu = time.thread_time()
            started = time.perf_counter()
            thread = threading.Thread(target=pump, name="bench-logs", daemon=True)
            thread.start()
            try:
                await asyncio.wait_for(finished.wait(), timeout=300)
            except TimeoutError:
                read["error"] = read["error"] or "timed out waiting for the pane"
            stopped = done_at[0] if done_at else time.perf_counter()
            ui_cpu = time.thread_time() - ui_cpu
            lateness = [(t, x) for t, x in app.lateness if t <= stopped]
            thread.join(timeout=10)
        model = view.model
        last = model.texts[-1] if model.texts else ""
    elapsed = stopped - started
    return {
        "seconds": round(elapsed, 3),
        "lines": model.end - model.origin,
        "lines_per_s": round((model.end - model.origin) / elapsed),
        "reader_seconds": round((read["done"] or stopped) - started, 3),
        "reader_lines": read["lines"],
        "cpu_s": {"ui_thread": round(ui_cpu, 3), "reader_thread": round(read["cpu"], 3)},
        "batches": read["batches"],
        "mean_batch": round(read["lines"] / max(1, read["batches"])),
        "folds": folds["count"],
        "skipped_by_ring": folds["skipped"],
        "in_ring": len(model),
        "last_line_ok": last.startswith(f"line {expected:07d} "),
        **stalls(lateness),
        "gc": gcw.report(),
        "error": read["error"],
    }


def child_reader_ingest(container: str) -> dict[str, Any]:
    from shipdeck.backends.docker.logs import container_logs
    from shipdeck.lifecycle.ports import CancelToken

    api, source = connect_source(container)
    n = 0
    cpu = time.thread_time()
    started = time.perf_counter()
    for batch in container_logs(api, [source], follow=False, tail=None, cancel=CancelToken()):
        n += len(batch)
    elapsed = time.perf_counter() - started
    return {
        "seconds": round(elapsed, 3),
        "lines": n,
        "lines_per_s": round(n / elapsed),
        "cpu_s": round(time.thread_time() - cpu, 3),
    }


class Follower:
    """Follows a container on a thread; a second thread samples RSS and counts each second."""

    def __init__(self, container: str, write: Callable[[Any], None] | None) -> None:
        from shipdeck.lifecycle.ports import CancelToken

        self.api, self.source = connect_source(container)
        self.write = write
        self.cancel = CancelToken()
        self.progress: tuple[int, str] = (0, "")  # lines received, the last one (one read)
        self.repeated = self.skipped = 0  # net, from each batch's first and last numbers
        self.error: str | None = None
        self.samples: list[dict[str, Any]] = []
        self.folded: Callable[[], int] = lambda: self.progress[0]

    def pump(self) -> None:
        from shipdeck.backends.docker.logs import container_logs

        write = self.write
        received = 0
        expect = 1  # the next line number; batches are runs, so their ends tell
        try:
            for batch in container_logs(
                self.api, [self.source], follow=True, tail=None, cancel=self.cancel
            ):
                received += len(batch)
                self.progress = (received, batch[-1].text)
                first, last = counter_of(batch[0].text), counter_of(batch[-1].text)
                if first is not None and last is not None:
                    if first > expect:
                        self.skipped += first - expect
                    new = max(0, last + 1 - max(expect, first))  # numbers not seen before
                    if len(batch) > new:
                        self.repeated += len(batch) - new
                    else:
                        self.skipped += new - len(batch)
                    expect = max(expect, last + 1)
                if write is not None:
                    write(batch)
        except Exception as exc:  # noqa: BLE001 - reported in the JSON, which must print
            self.error = repr(exc)

    def sample(self, seconds: float) -> None:
        start = time.perf_counter()
        k = 0
        while not self.cancel.cancelled:
            now = time.perf_counter()
            received, last = self.progress
            self.samples.append(
                {
                    "t": round(now - start, 2),
                    "rss_mb": round(rss_mb(), 1),
                    "received": received,
                    "folded": self.folded(),
                    "counter": counter_of(last),
                }
            )
            if now - start >= seconds:
                return
            k += 1
            self.cancel.wait(max(0.0, start + k - time.perf_counter()))

    def start(self, seconds: float) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self.pump, name="bench-follow", daemon=True),
            threading.Thread(target=self.sample, args=(seconds,), name="bench-rss", daemon=True),
        ]
        for thread in threads:
            thread.start()
        return threads

    def report(self, warmup: float) -> dict[str, Any]:
        s = self.samples
        if not s:
            return {"error": self.error or "no samples"}
        at_warm = min(s, key=lambda x: abs(x["t"] - warmup))
        end = s[-1]
        after = [x for x in s if x["t"] >= at_warm["t"]]
        span = end["t"] - at_warm["t"] or 1.0
        produced = None
        if end["counter"] is not None and at_warm["counter"] is not None:
            produced = round((end["counter"] - at_warm["counter"]) / span)
        return {
            "seconds": end["t"],
            "rss_start_mb": s[0]["rss_mb"],
            "rss_at_warmup_mb": at_warm["rss_mb"],
            "rss_end_mb": end["rss_mb"],
            "rss_max_after_warmup_mb": max(x["rss_mb"] for x in after),
            "rss_growth_after_warmup_mb": round(end["rss_mb"] - at_warm["rss_mb"], 1),
            "rss_peak_growth_after_warmup_mb": round(
                max(x["rss_mb"] for x in after) - at_warm["rss_mb"], 1
            ),
            "lines_received": end["received"],
            "lines_folded": end["folded"],
            "received_per_s_after_warmup": round((end["received"] - at_warm["received"]) / span),
            "container_printed_per_s": produced,
            "container_counter_at_end": end["counter"],
            # sent twice by the engine (its follow re-reads lines when the log file
            # rotates; ``docker logs -f`` gets them too) / never sent
            "lines_repeated": self.repeated,
            "lines_skipped": self.skipped,
            "pane_behind_at_end": end["received"] - end["folded"],
            "rss_every_5s_mb": [x["rss_mb"] for x in s if round(x["t"]) % 5 == 0],
            "error": self.error,
        }


async def child_board_follow(container: str, seconds: float, warmup: float) -> dict[str, Any]:
    app = make_app(RING)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        gc.collect()
        gc.freeze()
        view = app.pane.log_view
        follower = Follower(container, app.pane.write_lines)
        follower.folded = lambda: view.model.end - view.model.origin
        with GcWatch() as gcw:
            app.start_probe()
            started = time.perf_counter()
            threads = follower.start(seconds)
            while threads[1].is_alive():
                await asyncio.sleep(0.1)
            follower.cancel.cancel()
            lateness = list(app.lateness)
            threads[0].join(timeout=10)
    return {
        **follower.report(warmup),
        **stalls(lateness),
        "after_warmup": stalls(lateness, started + warmup),
        "gc": gcw.report(),
        "in_ring": len(view.model),
    }


def child_reader_follow(container: str, seconds: float, warmup: float) -> dict[str, Any]:
    follower = Follower(container, None)
    threads = follower.start(seconds)
    threads[1].join()
    follower.cancel.cancel()
    threads[0].join(timeout=10)
    return follower.report(warmup)


def run_child(args: argparse.Namespace) -> dict[str, Any]:
    if args.child == "board-ingest":
        return asyncio.run(child_board_ingest(args.container, args.lines, RING))
    if args.child == "reader-ingest":
        return child_reader_ingest(args.container)
    if args.child == "board-follow":
        return asyncio.run(child_board_follow(args.container, args.follow_seconds, args.warmup))
    return child_reader_follow(args.container, args.follow_seconds, args.warmup)


# --- the parent: images, containers, rounds, the report -------------------------------


def child(args: argparse.Namespace, kind: str, container: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, "--container", container]
    command += ["--lines", str(args.lines), "--follow-seconds", str(args.follow_seconds)]
    command += ["--warmup", str(args.warmup)]
    print(f"docker_board: {kind}", file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    except (IndexError, ValueError):
        return {"error": f"child {kind} exited {done.returncode}: {done.stderr.strip()[-600:]}"}


def docker_cli_seconds(docker: str, host: str, name: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [docker, "-H", host, "logs", name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def median_of(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None and not r.get("error")]
    return statistics.median(values) if values else None


def measure(args: argparse.Namespace, client: Any, report: dict[str, Any]) -> None:
    from shipdeck.backends.docker.engine import engine_address, log_config_for

    host = engine_address()
    docker = shutil.which("docker")
    printer = f"shipdeck-test/board-printer:{args.lines}"
    streamer = f"shipdeck-test/board-streamer:{args.rate}"
    with tempfile.TemporaryDirectory() as tmp:
        di.build(client, di.printer_context(Path(tmp) / "printer", args.lines), printer)
        di.build(client, streamer_context(Path(tmp) / "streamer", args.rate), streamer)
    log_config = log_config_for(client)
    if args.log_driver != "auto":
        log_config = {"Type": args.log_driver, "Config": {}}
    report["log_driver"] = (log_config or {}).get("Type") or client.info().get("LoggingDriver")
    labels = {**di.LABELS, "shipdeck.bench": "docker_board"}

    # 1. ingest: docker logs vs the board's pane vs the reader alone, rounds interleaved.
    printed = client.containers.run(printer, detach=True, labels=labels, log_config=log_config)
    printed.wait()
    cli: list[float] = []
    board: list[dict[str, Any]] = []
    reader: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        if docker:
            cli.append(docker_cli_seconds(docker, host, printed.name))
        board.append(child(args, "board-ingest", printed.id))
        reader.append(child(args, "reader-ingest", printed.id))
    printed.remove(force=True)
    cli_s = statistics.median(cli) if cli else None
    cli_rate = round(args.lines / cli_s) if cli_s else None
    board_rate = median_of(board, "lines_per_s")
    worst_stall = max((r.get("stall_max_ms", 0) for r in board), default=None)
    report["ingest"] = {
        "lines": args.lines,
        "rounds": args.rounds,
        "docker_logs": {
            "seconds": round(cli_s, 3) if cli_s else None,
            "lines_per_s": cli_rate,
            "samples": [round(s, 3) for s in cli],
            "note": "docker -H $DOCKER_HOST logs NAME > /dev/null, the CLI's start-up included",
        },
        "board_pane": {
            "seconds": median_of(board, "seconds"),
            "lines_per_s": board_rate,
            "stall_max_ms_median": median_of(board, "stall_max_ms"),
            "stall_max_ms_worst": worst_stall,
            "stall_p99_ms_median": median_of(board, "stall_p99_ms"),
            "rounds": board,
        },
        "reader_alone": {
            "seconds": median_of(reader, "seconds"),
            "lines_per_s": median_of(reader, "lines_per_s"),
            "rounds": reader,
        },
        "board_vs_docker_logs": round(board_rate / cli_rate, 2)
        if board_rate and cli_rate
        else None,
        "reader_vs_docker_logs": round((median_of(reader, "lines_per_s") or 0) / cli_rate, 2)
        if cli_rate
        else None,
    }

    # 2. follow: a fresh ~50k lines/s container for each of the pane and the reader alone.
    follow: dict[str, Any] = {
        "target_rate": args.rate,
        "seconds": args.follow_seconds,
        "warmup_seconds": args.warmup,
    }
    for kind, name in (("board-follow", "board_pane"), ("reader-follow", "reader_alone")):
        c = client.containers.run(streamer, detach=True, labels=labels, log_config=log_config)
        try:
            follow[name] = child(args, kind, c.id)
        finally:
            c.remove(force=True)
    report["follow"] = follow

    ratio = report["ingest"]["board_vs_docker_logs"]
    growth = follow["board_pane"].get("rss_growth_after_warmup_mb")
    report["targets"] = {
        f"board_vs_docker_logs >= {RATIO_TARGET}": ratio is not None and ratio >= RATIO_TARGET,
        f"ingest stall_max (worst round) <= {STALL_LIMIT_MS:g} ms": worst_stall is not None
        and worst_stall <= STALL_LIMIT_MS,
        f"follow rss growth after {args.warmup:g} s < {RSS_LIMIT_MB:g} MB": growth is not None
        and growth < RSS_LIMIT_MB,
    }
    report["ok"] = all(report["targets"].values())


def main(args: argparse.Namespace) -> int:
    import psutil
    import textual

    from shipdeck.backends.docker.engine import connect
    from shipdeck.lifecycle.ports import TargetError

    why = di.busybox_missing()
    if why:
        print(json.dumps({"benchmark": "docker_board", "error": why}))
        return 2
    try:
        client = connect()
    except TargetError as exc:
        print(json.dumps({"benchmark": "docker_board", "error": str(exc)}))
        return 2
    report: dict[str, Any] = {
        "benchmark": "docker_board",
        "mode": "quick" if args.quick else "full",
        "python": platform.python_version(),
        "textual": textual.__version__,
        "machine": f"{platform.machine()} {psutil.cpu_count()} cpus",
        "engine": os.environ.get("DOCKER_HOST", "default"),
        "server_version": client.version().get("Version"),
        "ring_size": RING,
    }
    status = 0
    try:
        measure(args, client, report)
    except Exception as exc:  # noqa: BLE001 - the JSON says what failed; cleanup still runs
        report["error"] = f"{type(exc).__name__}: {exc}"
        status = 2
    finally:
        di.cleanup(client)
    print(json.dumps(report, indent=2))
    return status


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50k lines, 15 s follow")
    parser.add_argument("--lines", type=int, help="lines the printer prints (300,000)")
    parser.add_argument("--rounds", type=int, default=3, help="ingest rounds (3)")
    parser.add_argument("--rate", type=int, default=50_000, help="streamer lines/s (50,000)")
    parser.add_argument("--follow-seconds", type=float, help="follow length (60)")
    parser.add_argument("--warmup", type=float, help="RSS baseline after this (10)")
    parser.add_argument("--log-driver", default="auto", help="auto: the one shipdeck deploys with")
    parser.add_argument(
        "--child",
        choices=("board-ingest", "reader-ingest", "board-follow", "reader-follow"),
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--container", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.lines = args.lines or (50_000 if args.quick else 300_000)
    args.follow_seconds = args.follow_seconds or (15.0 if args.quick else 60.0)
    args.warmup = args.warmup or (5.0 if args.quick else 10.0)
    return args


if __name__ == "__main__":
    arguments = parse()
    if arguments.child:
        print(json.dumps(run_child(arguments)))
        sys.exit(0)
    sys.exit(main(arguments))
