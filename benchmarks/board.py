"""Board benchmark: startup, cursor moves on a big board, and idle cost, each next
to a baseline measured in the same run.

Run ``python benchmarks/board.py`` (full) or ``--quick``; prints one JSON object.
Nothing here asserts: ``meets_targets`` only compares with the targets of issue 4.

- startup: a fresh process per run (``_startup_child.py``), headless at 120x40;
  time from just before the process was spawned to the end of the screen's first
  compositor refresh (the first frame: layout done, every visible card rendered;
  Textual posts ``Ready`` right then), for a minimal app (a Static and a Footer)
  and for the board on a 200-item demo repository, interleaved. The frame's text
  is checked for cards. ``ready_handled`` is also reported: when ``Ready`` reached
  the app, after the second layout Textual queues behind the first frame. Also
  which of docker, git, psutil and httpx were imported by the first paint.
- cursor: in-process (``run_test``) on a 2,000-item board, ``j`` 200 times then
  ``l``/``h`` 50 times; the same presses on a plain ``OptionList`` of 2,000 options
  are the baseline for Pilot's and Textual's own cost. Per press:
  ``pilot_ms`` the wall time of ``await pilot.press()`` (at least two of Pilot's
  20 ms idle waits); ``busy_ms`` the time the event loop was not waiting in
  ``select()`` during it (everything the UI thread did, Pilot included);
  ``handled_ms`` the loop's busy time from the key being sent to the end of the
  last repaint it caused (handlers, layout, render: the 16 ms target);
  ``app_handlers_ms`` the time inside the actions and message handlers that move
  the cursor (``BoardColumns.action_cursor``/``action_column``, the screen's
  highlight handler, which includes the log pane's reload; ``OptionList``'s
  cursor actions for the baseline).
- idle: children (``_board_children.py``) on the 200-item repository with
  ``monitor.interval: 1`` and its demo service running, so the probe is healthy:
  the metrics pane shown, the log pane shown, metrics shown then hidden, and the
  minimal app; CPU (user + system) over the window after a warm-up, and samples.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

SIZE = (120, 40)
WATCHED = ("docker", "git", "psutil", "httpx")
TARGETS = {
    "startup_ratio": 1.5,
    "cursor_ms": 16.0,
    "idle_visible_percent": 1.0,
}

# --- repositories -------------------------------------------------------------------

BOARD_200 = {  # share of the board per stage
    "plan": 0.40,
    "code": 0.20,
    "build": 0.08,
    "test": 0.08,
    "release": 0.06,
    "deploy": 0.06,
    "operate": 0.06,
    "monitor": 0.06,
}
BOARD_BIG = {"plan": 0.45, "code": 0.35, **{s: 0.2 / 6 for s in list(BOARD_200)[2:]}}

TITLES = (
    "Return the service version on /",
    "Cache the item list for thirty seconds",
    "Retry webhook deliveries with backoff",
    "Show uptime on the health endpoint",
    "Log requests as JSON lines",
    "Rotate the staging credentials",
    "Paginate the search results",
    "Fix the off-by-one in the rate limiter",
)


def stage_counts(total: int, shares: dict[str, float]) -> dict[str, int]:
    counts = {stage: int(total * share) for stage, share in shares.items()}
    counts["plan"] += total - sum(counts.values())
    return counts


def make_repo(path: Path, total: int, shares: dict[str, float], interval: float | None) -> Path:
    """``shipdeck demo`` at ``path``, then items added in one ``BoardStore.edit()``
    until the board holds ``total``, spread over the stages (states stay idle)."""
    from shipdeck.cli import demo
    from shipdeck.lifecycle.items import Kind
    from shipdeck.lifecycle.stages import Stage

    project = demo.create(path)
    if interval is not None:
        config = project.config_path
        text = re.sub(r"(?m)^(\s*interval:)\s*\S+", rf"\1 {interval:g}", config.read_text())
        config.write_text(text)
    kinds = (Kind.FEATURE, Kind.BUG, Kind.CHORE)
    with project.store.edit() as board:
        wanted = stage_counts(total, shares)
        for item in board.items:
            wanted[item.stage.value] -= 1
        plan = [stage for stage, n in wanted.items() for _ in range(max(0, n))]
        for n, stage in enumerate(plan):
            title = f"{TITLES[n % len(TITLES)]} ({n})"
            item = board.add(title, kind=kinds[n % len(kinds)])
            item.stage = Stage(stage)
    return path


def child_env(config_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
    env["XDG_CONFIG_HOME"] = str(config_home)  # the user's theme setting is not touched
    # As installed: pip writes .pyc files, and the warm-up run writes ours. With this set
    # (some CI images do), shipdeck's own ~30 modules would be compiled at every start
    # while Textual's come precompiled from site-packages.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


# --- statistics ----------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def dist(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.50), 3),
        "p95": round(percentile(values, 0.95), 3),
        "max": round(max(values, default=0.0), 3),
    }


# --- startup -------------------------------------------------------------------------


def start_once(kind: str, repo: Path, env: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / "_startup_child.py"), kind, str(repo)]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        raise RuntimeError(f"startup child {kind} failed:\n{proc.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(lines[-1])
    out["ms"] = 1000 * (out["t_first_frame"] - t0)
    out["ready_ms"] = 1000 * (out["t_first_paint"] - t0)
    return out


def startup(repo: Path, runs: int, env: dict[str, str]) -> dict[str, Any]:
    for kind in ("minimal", "board"):  # compile caches, page cache: not counted
        start_once(kind, repo, env)
    got: dict[str, list[dict[str, Any]]] = {"minimal": [], "board": []}
    for i in range(runs):
        order = ("minimal", "board") if i % 2 == 0 else ("board", "minimal")
        for kind in order:
            got[kind].append(start_once(kind, repo, env))

    def summary(kind: str) -> dict[str, Any]:
        ms = [r["ms"] for r in got[kind]]
        ready = [r["ready_ms"] for r in got[kind]]
        proc = [1000 * r["since_proc_start"] for r in got[kind] if r["since_proc_start"]]
        return {
            "median": round(statistics.median(ms), 1),
            "min": round(min(ms), 1),
            "runs": [round(v) for v in ms],
            "ready_handled_median": round(statistics.median(ready), 1),
            "kernel_clock_median": round(statistics.median(proc), 1) if proc else None,
        }

    minimal, board = summary("minimal"), summary("board")
    imported = sorted({m for r in got["board"] for m in r["modules"]})
    ratio = board["median"] / minimal["median"]
    return {
        "runs": runs,
        "minimal_ms": minimal,
        "board_ms": board,
        "ratio": round(ratio, 2),
        "ratio_of_mins": round(board["min"] / minimal["min"], 2),
        "ratio_ready_handled": round(
            board["ready_handled_median"] / minimal["ready_handled_median"], 2
        ),
        "target_ratio": TARGETS["startup_ratio"],
        "cards_on_board": got["board"][-1]["cards"],
        "cards_in_first_frame": min(r["frame_cards"] for r in got["board"]),
        "imported_at_first_paint": imported,
        "lazy_imports_ok": not imported,
        "meets_targets": {
            "ratio": ratio <= TARGETS["startup_ratio"],
            "cards_in_first_frame": min(r["frame_cards"] for r in got["board"]) > 0,
            "lazy_imports": not imported,
        },
    }


# --- cursor --------------------------------------------------------------------------


class LoopClock:
    """Busy time of the running event loop: wall time minus time spent in select()."""

    def __init__(self) -> None:
        self.idle = 0.0

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        selector = loop._selector  # type: ignore[attr-defined]
        original = selector.select

        def select(timeout: float | None = None) -> Any:
            t0 = time.perf_counter()
            try:
                return original(timeout)
            finally:
                self.idle += time.perf_counter() - t0

        selector.select = select

    def mark(self) -> tuple[float, float]:
        return time.perf_counter(), self.idle

    def busy(self, start: tuple[float, float], end: tuple[float, float] | None = None) -> float:
        end = end or self.mark()
        return (end[0] - start[0]) - (end[1] - start[1])


class Probes:
    """Class-level wrappers (this process only) that time handlers and see repaints."""

    def __init__(self, clock: LoopClock) -> None:
        self.clock = clock
        self.handlers = 0.0
        self.depth = 0
        self.last_paint: tuple[float, float] | None = None
        self.gc_ms = 0.0
        self._gc_t0 = 0.0

    def time_handler(self, cls: type, name: str) -> None:
        original = cls.__dict__[name]

        @wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.depth += 1
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self.handlers += time.perf_counter() - t0

        setattr(cls, name, timed)

    def watch_paints(self) -> None:
        from textual.screen import Screen

        original = Screen._compositor_refresh

        def refresh(screen: Any) -> None:
            original(screen)
            self.last_paint = self.clock.mark()

        Screen._compositor_refresh = refresh  # type: ignore[method-assign]

    def watch_gc(self) -> None:
        def callback(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                self._gc_t0 = time.perf_counter()
            else:
                self.gc_ms += 1000 * (time.perf_counter() - self._gc_t0)

        gc.callbacks.append(callback)


def install_probes(clock: LoopClock) -> Probes:
    from textual.widgets import OptionList

    from shipdeck.tui.board_screen import BoardScreen
    from shipdeck.widgets.board.columns import BoardColumns

    probes = Probes(clock)
    for cls, name in (
        (OptionList, "action_cursor_down"),  # the baseline's
        (OptionList, "action_cursor_up"),
        (BoardColumns, "action_cursor"),  # the board's (they call highlight_moved)
        (BoardColumns, "action_column"),
        (BoardScreen, "on_board_columns_card_highlighted"),
    ):
        probes.time_handler(cls, name)
    probes.watch_paints()
    probes.watch_gc()
    return probes


async def press_all(
    pilot: Any, keys: Sequence[str], clock: LoopClock, probes: Probes
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {
        "pilot_ms": [],
        "busy_ms": [],
        "handled_ms": [],
        "app_handlers_ms": [],
        "cpu_ms": [],
    }
    unpainted = 0
    for key in keys:
        probes.last_paint = None
        handlers0, cpu0 = probes.handlers, time.process_time()
        start = clock.mark()
        await pilot.press(key)
        end = clock.mark()
        handlers = probes.handlers - handlers0
        out["pilot_ms"].append(1000 * (end[0] - start[0]))
        out["busy_ms"].append(1000 * clock.busy(start, end))
        out["cpu_ms"].append(1000 * (time.process_time() - cpu0))
        out["app_handlers_ms"].append(1000 * handlers)
        if probes.last_paint is None:
            unpainted += 1
            out["handled_ms"].append(1000 * handlers)
        else:
            out["handled_ms"].append(1000 * clock.busy(start, probes.last_paint))
    out["presses_without_repaint"] = [unpainted]
    return out


def summarise(raw: dict[str, list[float]]) -> dict[str, Any]:
    out: dict[str, Any] = {k: dist(v) for k, v in raw.items() if k != "presses_without_repaint"}
    out["presses"] = len(raw["pilot_ms"])
    out["presses_without_repaint"] = raw["presses_without_repaint"][0]
    return out


def column_keys(count: int) -> list[str]:
    """``l`` seven times (Plan to Monitor), ``h`` seven times, and so on: every press moves."""
    return ["l" if (i // 7) % 2 == 0 else "h" for i in range(count)]


async def cursor_board(repo: Path, downs: int, sideways: int, probes: Probes) -> dict[str, Any]:
    from _board_children import board_app_class

    from shipdeck.lifecycle.stages import Stage
    from shipdeck.project.repo import Project

    clock = probes.clock
    clock.install(asyncio.get_running_loop())
    app = board_app_class()(Project(repo))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        board = app.board
        columns = {s.value: len(c.item_ids) for s, c in board.columns.items()}
        for key in ("j", "j", "k", "k"):  # warm caches
            await pilot.press(key)
        plan = board.columns[Stage.PLAN]
        start_ok = board.board_columns.current is plan and plan.highlighted == 0
        gc0 = probes.gc_ms
        down = await press_all(pilot, ["j"] * downs, clock, probes)
        row = plan.highlighted
        side = await press_all(pilot, column_keys(sideways), clock, probes)
        focused = board.board_columns.current
        return {
            "items": sum(columns.values()),
            "columns": columns,
            "started_on_first_plan_card": start_ok,
            "row_after_j": row,
            "current_column_at_end": getattr(focused, "id", None),
            "j": summarise(down),
            "l_h": summarise(side),
            "gc_ms_total": round(probes.gc_ms - gc0, 1),
        }


async def cursor_baseline(count: int, downs: int, sideways: int, probes: Probes) -> dict[str, Any]:
    from textual.app import App, ComposeResult
    from textual.binding import Binding
    from textual.widgets import OptionList

    class Options(OptionList):
        BINDINGS = [
            Binding("j", "cursor_down", "Down", show=False),
            Binding("k", "cursor_up", "Up", show=False),
        ]

    class Baseline(App[None]):
        def compose(self) -> ComposeResult:
            yield Options(*(f"SD-{i} {TITLES[i % len(TITLES)]}" for i in range(count)))

    clock = probes.clock
    clock.install(asyncio.get_running_loop())
    app = Baseline()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for key in ("j", "j", "k", "k"):
            await pilot.press(key)
        gc0 = probes.gc_ms
        down = await press_all(pilot, ["j"] * downs, clock, probes)
        up = await press_all(pilot, ["k"] * sideways, clock, probes)
        return {
            "options": count,
            "j": summarise(down),
            "k": summarise(up),
            "gc_ms_total": round(probes.gc_ms - gc0, 1),
        }


def cursor(repo: Path, items: int, downs: int, sideways: int) -> dict[str, Any]:
    probes = install_probes(LoopClock())  # once: the wrappers are on the classes
    gc.collect()
    board = asyncio.run(cursor_board(repo, downs, sideways, probes))
    gc.collect()  # the board app's garbage is not the baseline's to collect
    baseline = asyncio.run(cursor_baseline(items, downs, sideways, probes))
    worst = max(board["j"]["handled_ms"]["max"], board["l_h"]["handled_ms"]["max"])
    p95 = max(board["j"]["handled_ms"]["p95"], board["l_h"]["handled_ms"]["p95"])
    return {
        "board": board,
        "baseline_optionlist": baseline,
        "target_ms": TARGETS["cursor_ms"],
        "worst_handled_ms": worst,
        "meets_targets": {
            "every_move": worst < TARGETS["cursor_ms"],
            "p95": p95 < TARGETS["cursor_ms"],
        },
    }


# --- idle ----------------------------------------------------------------------------


def start_service(repo: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    """The demo service on the port its probe watches, so the probe answers 200."""
    from shipdeck.project.repo import Project

    monitor = Project(repo).config.monitor
    probe = monitor.probes[0]
    port = int(re.findall(r":(\d+)/", probe.url)[0])
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "--port", str(port)],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(probe.url, timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.1)
    return proc, probe.url, monitor.interval


def idle_children(
    repo: Path, batch: Sequence[tuple[str, float]], warmup: float, env: dict[str, str]
) -> dict[str, Any]:
    script = str(HERE / "_board_children.py")
    children = {
        mode: subprocess.Popen(
            [sys.executable, script, "idle", mode, str(repo), str(seconds), str(warmup)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for mode, seconds in batch
    }
    got: dict[str, Any] = {}
    for mode, child in children.items():
        stdout, stderr = child.communicate(timeout=max(s for _, s in batch) + warmup + 120)
        lines = stdout.strip().splitlines()
        if child.returncode or not lines:
            raise RuntimeError(f"idle child {mode} failed:\n{stderr[-2000:]}")
        got[mode] = json.loads(lines[-1])
    return got


def idle(repo: Path, visible_s: float, hidden_s: float, warmup: float, env: dict[str, str]) -> Any:
    load = [round(x, 2) for x in os.getloadavg()]
    service, url, interval = start_service(repo)
    try:
        got: dict[str, Any] = {}
        # The metrics child runs with only the (near idle) baseline beside it; the two
        # hidden-pane children run together afterwards.
        for batch in (
            (("metrics", visible_s), ("minimal", visible_s)),
            (("logs", hidden_s), ("toggled", hidden_s)),
        ):
            got.update(idle_children(repo, batch, warmup, env))
    finally:
        service.terminate()
        service.wait(timeout=10)
    visible, logs, toggled = got["metrics"], got["logs"], got["toggled"]
    expected = visible["window_s"] / interval
    return {
        "load_average_at_start": load,
        "interval_s": interval,
        "warmup_s": warmup,
        "probe_url": url,
        "metrics_visible": visible,
        "logs_visible": logs,
        "metrics_shown_then_hidden": toggled,
        "baseline_minimal_app": got["minimal"],
        "target_percent_of_core": TARGETS["idle_visible_percent"],
        "meets_targets": {
            "visible_cpu": visible["cpu_percent_of_core"] <= TARGETS["idle_visible_percent"],
            "visible_samples_at_interval": visible["samples_in_window"] >= 0.8 * expected,
            "hidden_no_sampling": logs["samples_total"] == 0,
            "stops_when_hidden": toggled["samples_in_window"] == 0,
        },
    }


# --- main ----------------------------------------------------------------------------


def main(args: argparse.Namespace) -> dict[str, Any]:
    import psutil
    import textual

    quick = args.quick
    runs = args.runs or (3 if quick else 7)
    items = args.items or (500 if quick else 2000)
    visible_s = args.idle_seconds or (10.0 if quick else 60.0)
    hidden_s = args.hidden_seconds or (5.0 if quick else 20.0)
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "textual": textual.__version__,
        "machine": f"{platform.machine()} {psutil.cpu_count()} cpus",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "quick": quick,
    }
    sections: dict[str, Callable[[], Any]] = {}
    with tempfile.TemporaryDirectory(prefix="shipdeck-bench-") as tmp:
        base = Path(tmp)
        os.environ["XDG_CONFIG_HOME"] = str(base / "config")
        env = child_env(base / "config")
        small = make_repo(base / "board200", 200, BOARD_200, interval=1)
        sections["startup"] = lambda: startup(small, runs, env)
        sections["cursor"] = lambda: cursor(
            make_repo(base / "board-big", items, BOARD_BIG, interval=None), items, 200, 50
        )
        sections["idle"] = lambda: idle(small, visible_s, hidden_s, args.warmup, env)
        for name, run in sections.items():
            if args.only and name not in args.only:
                continue
            t0 = time.perf_counter()
            result[name] = run()
            result[name]["section_seconds"] = round(time.perf_counter() - t0, 1)
    result["meets_targets"] = {
        name: all(result[name]["meets_targets"].values()) for name in sections if name in result
    }
    return result


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (about half a minute)")
    parser.add_argument("--only", action="append", choices=("startup", "cursor", "idle"))
    parser.add_argument("--runs", type=int, help="startup runs of each app (7)")
    parser.add_argument("--items", type=int, help="items on the cursor board (2,000)")
    parser.add_argument("--idle-seconds", type=float, help="metrics-visible window (60)")
    parser.add_argument("--hidden-seconds", type=float, help="metrics-hidden window (20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="idle warm-up seconds (3)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(main(parse()), indent=2))
