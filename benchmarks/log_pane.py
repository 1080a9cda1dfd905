"""Log pane benchmark: shipdeck's LogView against Textual's Log and RichLog.

Run ``python benchmarks/log_pane.py`` (full sizes) or ``--quick``; prints one JSON
object. Everything runs headless (``App.run_test``) and is fed the way the engine
feeds the pane: batches of ``Line`` from a worker thread through
``app.call_from_thread``. Three measurements:

- ingest: lines per second until every line is in the widget and the screen was
  refreshed, with the event loop's stalls (lateness of a 5 ms timer: max and p99);
- memory: RSS growth after many more lines than the ring holds (fresh strings);
- latency: at a steady 1,000 lines/s, time from a batch reaching the widget to its
  lines being rendered (``render_line`` called for them), p50/p95/max.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
import textual
from textual.app import App, ComposeResult
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Log, RichLog

from shipdeck.lifecycle.ports import Line, Stream
from shipdeck.widgets.log.view import LogView

SIZE = (120, 40)
PROBE = 0.005  # the stall probe's interval


def make_text(i: int) -> str:
    """About 100 bytes, varied like a service log line."""
    return (
        f"2024-05-01T12:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z INFO "
        f"worker[{i % 17:02d}] handled GET /api/items/{i * 7919 % 1000003:07d} 200 in {i % 97}ms"
    )


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


class Bench(App[None]):
    """One widget and a timer that records how late it fires (the event loop's stalls)."""

    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget
        self.lateness: list[float] = []
        self._last = 0.0

    def compose(self) -> ComposeResult:
        yield self.widget

    def start_probe(self) -> None:
        self._last = time.perf_counter()
        self.lateness.clear()
        self.set_interval(PROBE, self._probe)

    def _probe(self) -> None:
        now = time.perf_counter()
        self.lateness.append(max(0.0, now - self._last - PROBE))
        self._last = now


def make_widget(kind: str, ring: int) -> Widget:
    if kind.startswith("shipdeck"):
        return LogView(ring_size=ring)
    if kind == "textual_log":
        return Log(max_lines=ring)
    return RichLog(max_lines=ring)


def feeder(kind: str, widget: Widget) -> Callable[[list[Line]], None]:
    """How each widget takes a batch, as the app would wire it."""
    if isinstance(widget, LogView):
        return widget.write_lines
    if isinstance(widget, Log):
        return lambda lines: widget.write_lines([line.text for line in lines])
    assert isinstance(widget, RichLog)

    def write_rich(lines: list[Line]) -> None:
        for line in lines:
            widget.write(line.text)

    return write_rich


def set_view(view: LogView, mode: str) -> None:
    """Ingest with a filter, a search, wrapping or timestamps on (their indexes grow too)."""
    if mode == "filter":
        view.set_filter(r"worker\[03\]")
    elif mode == "search":
        view.search("GET /api/items/00")
    elif mode == "wrap":
        view.wrap = True
    elif mode == "timestamps":
        view.show_timestamps = True


async def settle(app: Bench, widget: Widget, pilot: Any, expected: int) -> None:
    """Wait until ``widget`` holds every line and the screen caught up."""
    await app.workers.wait_for_complete()
    if isinstance(widget, LogView):
        while widget._inbox or widget.model.end < expected or not widget.model.up_to_date:
            await asyncio.sleep(0.001)
    await pilot.pause()


async def ingest(
    kind: str, lines: int, batch: int, ring: int, fresh: bool, view: str = "plain"
) -> dict[str, Any]:
    widget = make_widget(kind, ring)
    app = Bench(widget)
    # Batches are made up front and sent round-robin, so the producer thread costs next
    # to nothing and the widgets' own work is what is measured; "memory" makes fresh ones.
    pool_size = 0 if fresh else max(1, min(lines, 100_000) // batch)
    pool = [
        [Line(Stream.STDOUT, make_text(k * batch + j)) for j in range(batch)]
        for k in range(pool_size)
    ]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        feed = feeder(kind, widget)
        if isinstance(widget, LogView):
            set_view(widget, view)
        # "shipdeck_threadsafe": the worker calls write_lines itself (no UI round trip).
        hand_over = feed if kind == "shipdeck_threadsafe" else partial(app.call_from_thread, feed)
        gc.collect()
        rss_before = rss_mb()
        app.start_probe()

        def produce() -> None:
            sent = 0
            while sent < lines:
                n = min(batch, lines - sent)
                if fresh:
                    chunk = [Line(Stream.STDOUT, make_text(sent + j)) for j in range(n)]
                else:
                    chunk = pool[(sent // batch) % len(pool)][:n]
                hand_over(chunk)
                sent += n

        started = time.perf_counter()
        thread = threading.Thread(target=produce, daemon=True)
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.01)
        await settle(app, widget, pilot, lines)
        elapsed = time.perf_counter() - started
        lateness = list(app.lateness)
        rss_after = rss_mb()
    return {
        "lines": lines,
        "batch": batch,
        "seconds": round(elapsed, 3),
        "lines_per_second": round(lines / elapsed),
        "stall_max_ms": round(max(lateness, default=0) * 1000, 2),
        "stall_p99_ms": round(percentile(lateness, 0.99) * 1000, 2),
        "rss_growth_mb": round(rss_after - rss_before, 1),
        **({"view": view} if view != "plain" else {}),
    }


class TimedLogView(LogView):
    """Records when each line is first rendered."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rendered_upto = -1
        self.render_times: list[tuple[int, float]] = []

    def render_line(self, y: int) -> Strip:
        found = self.model.locate(round(self.scroll_y) + y)
        if found is not None and found[0] > self.rendered_upto:
            self.rendered_upto = found[0]
            self.render_times.append((found[0], time.perf_counter()))
        return super().render_line(y)


class TimedLog(Log):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rendered_upto = -1
        self.render_times: list[tuple[int, float]] = []

    def render_line(self, y: int) -> Strip:
        index = round(self.scroll_y) + y
        if index < self.line_count and index > self.rendered_upto:
            self.rendered_upto = index
            self.render_times.append((index, time.perf_counter()))
        return super().render_line(y)


async def latency(kind: str, seconds: float, rate: int, per_batch: int) -> dict[str, Any]:
    widget: TimedLogView | TimedLog
    widget = TimedLogView(ring_size=100_000) if kind == "shipdeck" else TimedLog()
    app = Bench(widget)
    arrivals: list[tuple[int, int, float]] = []  # first line, count, when it was handed over
    total = int(seconds * rate)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        feed = feeder(kind, widget)
        app.start_probe()

        def produce() -> None:
            start = time.perf_counter()
            sent = 0
            while sent < total:
                target = start + (sent / rate)
                delay = target - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                chunk = [Line(Stream.STDOUT, make_text(sent + j)) for j in range(per_batch)]
                arrivals.append((sent, per_batch, time.perf_counter()))
                app.call_from_thread(feed, chunk)
                sent += per_batch

        thread = threading.Thread(target=produce, daemon=True)
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.01)
        await pilot.pause(0.2)
        lateness = list(app.lateness)
    delays: list[float] = []
    rendered = iter(widget.render_times)
    current = next(rendered, None)
    for first, count, when in arrivals:
        last = first + count - 1
        while current is not None and current[0] < last:
            current = next(rendered, None)
        if current is None:
            delays.extend([float("inf")] * count)
        else:
            delays.extend([current[1] - when] * count)
    within = sum(1 for d in delays if d <= 0.050) / max(1, len(delays))
    return {
        "lines": total,
        "lines_per_second": rate,
        "batch": per_batch,
        "p50_ms": round(percentile(delays, 0.50) * 1000, 2),
        "p95_ms": round(percentile(delays, 0.95) * 1000, 2),
        "max_ms": round(max(delays, default=0) * 1000, 2),
        "share_within_50ms": round(within, 4),
        "stall_max_ms": round(max(lateness, default=0) * 1000, 2),
    }


def run_scenario(args: argparse.Namespace, scenario: str, kind: str, **extra: Any) -> Any:
    """One measurement in a fresh interpreter, so no run inherits another's heap."""
    command = [sys.executable, __file__, "--scenario", scenario, "--kind", kind]
    for name, value in extra.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    command += ["--batch", str(args.batch), "--ring", str(args.ring)]
    command += ["--latency-batch", str(args.latency_batch)]
    if args.gc_freeze:
        command.append("--gc-freeze")
    print(" ".join(command[2:]), file=sys.stderr)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


async def one(args: argparse.Namespace) -> dict[str, Any]:
    """The measurement ``--scenario`` names, in this process."""
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    if args.scenario == "ingest":
        return await ingest(args.kind, args.lines, args.batch, args.ring, False, args.view)
    if args.scenario == "memory":
        result = await ingest(args.kind, args.lines, args.batch, args.ring, fresh=True)
        result["rss_total_mb"] = round(rss_mb(), 1)
        return result
    return await latency(args.kind, args.latency_seconds, 1000, args.latency_batch)


def main(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "textual": textual.__version__,
        "machine": f"{platform.machine()} {psutil.cpu_count()} cpus",
        "mode": "quick" if args.quick else "full",
        "ring_size": args.ring,
        "feeding": f"worker thread, app.call_from_thread per batch of {args.batch}",
        "gc_freeze": args.gc_freeze,
    }
    ingest_results: dict[str, Any] = {}
    for kind, lines in (
        ("shipdeck", args.lines),
        ("shipdeck_threadsafe", args.lines),
        ("textual_log", args.lines),
        ("richlog", args.richlog_lines),
    ):
        ingest_results[kind] = run_scenario(args, "ingest", kind, lines=lines)
    ingest_results["richlog"]["note"] = (
        f"RichLog fed {args.richlog_lines:,} lines, not {args.lines:,}: it renders every line"
    )
    ratio = ingest_results["shipdeck"]["lines_per_second"] / max(
        1, ingest_results["textual_log"]["lines_per_second"]
    )
    ingest_results["shipdeck_vs_textual_log"] = round(ratio, 2)
    result["ingest"] = ingest_results
    result["ingest_shipdeck_views"] = {
        view: run_scenario(args, "ingest", "shipdeck", lines=args.lines, view=view)
        for view in args.views.split(",")
        if view
    }

    memory = run_scenario(args, "memory", "shipdeck", lines=args.memory_lines)
    result["memory"] = {"shipdeck": memory, "limit_mb": 150}

    latencies = {
        kind: run_scenario(args, "latency", kind, latency_seconds=args.latency_seconds)
        for kind in ("shipdeck", "textual_log")
    }
    result["latency"] = latencies
    result["targets"] = {
        "ingest_3x_textual_log": ratio >= 3,
        "stall_max_under_25ms": ingest_results["shipdeck"]["stall_max_ms"] <= 25,
        "memory_growth_under_150mb": memory["rss_growth_mb"] <= 150,
        "latency_95pct_within_50ms": latencies["shipdeck"]["share_within_50ms"] >= 0.95,
    }
    return result


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--lines", type=int, help="ingest lines (default 1,000,000)")
    parser.add_argument("--richlog-lines", type=int, help="ingest lines for RichLog")
    parser.add_argument("--memory-lines", type=int, help="lines for the RSS test (5,000,000)")
    parser.add_argument("--latency-seconds", type=float, help="length of the latency run")
    parser.add_argument("--batch", type=int, default=2000, help="lines per batch (2000)")
    parser.add_argument("--latency-batch", type=int, default=10, help="lines per batch at 1k/s")
    parser.add_argument("--ring", type=int, default=100_000, help="ring size (100,000)")
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after start-up")
    parser.add_argument(
        "--scenario", choices=("ingest", "memory", "latency"), help=argparse.SUPPRESS
    )
    parser.add_argument("--kind", default="shipdeck", help=argparse.SUPPRESS)
    parser.add_argument("--view", default="plain", help=argparse.SUPPRESS)
    parser.add_argument(
        "--views", help="also ingest into these LogView modes: filter,search,wrap,timestamps"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.lines = args.lines or (100_000 if quick else 1_000_000)
    args.richlog_lines = args.richlog_lines or (10_000 if quick else 50_000)
    args.memory_lines = args.memory_lines or (500_000 if quick else 5_000_000)
    args.latency_seconds = args.latency_seconds or (2.0 if quick else 10.0)
    if args.views is None:
        args.views = "" if quick else "filter,search,wrap"
    return args


if __name__ == "__main__":
    arguments = parse()
    if arguments.scenario:
        print(json.dumps(asyncio.run(one(arguments))))
    else:
        print(json.dumps(main(arguments), indent=2))
