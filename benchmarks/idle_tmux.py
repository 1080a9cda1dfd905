"""Idle cost in a real terminal: the board with its metrics pane at 1 Hz, in tmux.

``benchmarks/board.py`` measures idle headless, where Textual's driver writes no
frames; a person's terminal receives every repainted chart. This runs the installed
``shipdeck`` in a tmux session (a real pty, ``TERM=xterm-256color``) on the 200-item
benchmark repository with a live service for its probe, presses ``m`` for the
metrics pane, waits ``--warmup`` seconds, and reads the process's CPU time (user +
system, all threads, and its waited-for children's, psutil) over ``--seconds``. A
bare Textual app (a Static and a Footer) runs beside it in its own session over the
same window as the baseline, and so does an app of Textual's own widgets doing a
metrics pane's job (``CHARTS_APP``: six Sparklines fed once a second from psutil and
a GET of the probe URL): the floor that Textual's widgets set for such a pane
(``--no-charts`` leaves it out).
``--runs`` rounds (5); the target of issues #11 and #15 is under 1% of a core in
every round. ``--size`` sets the terminal (120x40; 250x70 draws wider charts).
``--baseline REV`` runs that commit's board too, in a third session over the same
windows, so a change is told from the machine's noise.

Run ``python benchmarks/idle_tmux.py``; prints one JSON object. Nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._trees import export_tree  # noqa: E402
from benchmarks.board import BOARD_200, child_env, make_repo, start_service  # noqa: E402
from benchmarks.first_paint_tmux import BARE_APP  # noqa: E402

TARGET_PERCENT = 1.0

# Textual's own widgets doing a metrics pane's job, as a floor for it: six Sparklines
# (host CPU, memory, disk, net in, net out, the probe's latency) with a label each,
# fed once a second from psutil and an HTTP GET of the same probe URL.
CHARTS_APP = """\
import collections, sys, time, urllib.request

import psutil
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Sparkline, Static

NAMES = ("cpu", "memory", "disk", "net in", "net out", "probe ms")


class Charts(App[None]):
    CSS = "Horizontal { height: 1; } Static.label { width: 22; } Sparkline { width: 1fr; }"

    def compose(self) -> ComposeResult:
        yield Static("charts app ready", id="top")
        with Vertical():
            for n, name in enumerate(NAMES):
                with Horizontal():
                    yield Static(name, classes="label", id=f"l{n}")
                    yield Sparkline([], id=f"s{n}")
        yield Footer()

    def on_mount(self) -> None:
        self.data = [collections.deque(maxlen=60) for _ in NAMES]
        self.net = psutil.net_io_counters()
        self.set_interval(1.0, self.sample)

    def sample(self) -> None:
        net = psutil.net_io_counters()
        t0 = time.perf_counter()
        try:
            urllib.request.urlopen(sys.argv[1], timeout=2).read()
        except OSError:
            pass
        values = (
            psutil.cpu_percent(), psutil.virtual_memory().percent,
            psutil.disk_usage("/").percent, net.bytes_recv - self.net.bytes_recv,
            net.bytes_sent - self.net.bytes_sent, 1000 * (time.perf_counter() - t0),
        )
        self.net = net
        for n, value in enumerate(values):
            self.data[n].append(value)
            self.query_one(f"#l{n}", Static).update(f"{NAMES[n]:>9} {value:10.1f}")
            self.query_one(f"#s{n}", Sparkline).data = list(self.data[n])


Charts().run()
"""
SOCKET = f"shipdeck-idle-{os.getpid()}"


def _tmux(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["tmux", "-L", SOCKET, *args], capture_output=True, text=True, env=env, check=False
    )
    return done.stdout


def _start(name: str, argv: Sequence[str], cwd: Path, env: dict[str, str], size: str) -> int:
    """A session running ``argv``; returns the pid of the process tmux started."""
    x, y = size.split("x")
    command = " ".join(shlex.quote(a) for a in argv)
    _tmux(
        "new-session",
        "-d",
        "-s",
        name,
        "-x",
        x,
        "-y",
        y,
        "-c",
        str(cwd),
        f"exec {command}",
        env=env,
    )
    return int(_tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip())


def _wait_for(name: str, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in _tmux("capture-pane", "-p", "-t", name):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} never showed {text!r}:\n{_tmux('capture-pane', '-p', '-t', name)}")


def _cpu(pid: int) -> float:
    """User + system CPU of the process, all threads, and of the children it waited for
    (a ``git`` it ran is its cost too)."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)


def _main_thread_cpu(pid: int) -> float:
    """The UI's share: the event loop runs on the main thread (its id is the pid)."""
    import psutil

    for thread in psutil.Process(pid).threads():
        if thread.id == pid:
            return float(thread.user_time + thread.system_time)
    return 0.0


def one_round(
    repo: Path,
    bare: Path,
    env: dict[str, str],
    args: argparse.Namespace,
    old: Path | None,
    charts: Path | None = None,
    probe_url: str = "",
) -> dict[str, Any]:
    shipdeck = Path(sys.executable).with_name("shipdeck")
    pids = {"board": _start("board", [str(shipdeck)], repo, env, args.size)}
    pids["bare"] = _start("bare", [sys.executable, str(bare)], repo, env, args.size)
    if charts is not None:
        argv = [sys.executable, str(charts), probe_url]
        pids["charts"] = _start("charts", argv, repo, env, args.size)
    if old is not None:  # through env(1): a tmux session gets the server's environment
        argv = ["env", f"PYTHONPATH={old}", sys.executable, "-m", "shipdeck"]
        pids["old"] = _start("old", argv, repo, env, args.size)
    boards = [n for n in pids if n not in ("bare", "charts")]
    try:
        for name in boards:
            _wait_for(name, "Monitor")
        _wait_for("bare", "bare app ready")
        if charts is not None:
            _wait_for("charts", "charts app ready")
        for name in boards:
            _tmux("send-keys", "-t", name, "m")
            _wait_for(name, "Probes")
        time.sleep(args.warmup)
        t0 = time.monotonic()
        cpu0 = {n: _cpu(pid) for n, pid in pids.items()} | {"ui": _main_thread_cpu(pids["board"])}
        time.sleep(args.seconds)
        wall = time.monotonic() - t0
        cpu1 = {n: _cpu(pid) for n, pid in pids.items()} | {"ui": _main_thread_cpu(pids["board"])}
        screen = _tmux("capture-pane", "-p", "-t", "board")
    finally:
        for name in pids:
            _tmux("kill-session", "-t", name)
    return {name: round(100 * (cpu1[name] - cpu0[name]) / wall, 3) for name in cpu0} | {
        "window_s": round(wall, 2),
        "pane_shows_latency": "ms" in screen,
    }


def main(args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("tmux") is None:
        raise SystemExit("idle_tmux: tmux is not installed")
    with tempfile.TemporaryDirectory(prefix="shipdeck-idle-") as tmp:
        base = Path(tmp)
        os.environ["XDG_CONFIG_HOME"] = str(base / "config")
        env = child_env(base / "config") | {"TERM": "xterm-256color"}
        repo = make_repo(base / "board200", 200, BOARD_200, interval=1)
        bare = base / "bare.py"
        bare.write_text(BARE_APP)
        charts = None
        if not args.no_charts:
            charts = base / "charts.py"
            charts.write_text(CHARTS_APP)
        service, url, interval = start_service(repo)
        old = export_tree(args.baseline, base / "old") if args.baseline else None
        _tmux("new-session", "-d", "-s", "keep", "sleep 3600", env=env)
        try:
            rounds = [one_round(repo, bare, env, args, old, charts, url) for _ in range(args.runs)]
        finally:
            _tmux("kill-server")
            service.terminate()
            service.wait(timeout=10)
    board = [r["board"] for r in rounds]
    return {
        "size": args.size,
        "interval_s": interval,
        "probe_url": url,
        "seconds_per_round": args.seconds,
        "board_percent_of_core": board,
        "board_median": round(statistics.median(board), 3),
        "board_ui_thread_percent": [r["ui"] for r in rounds],
        "bare_percent_of_core": [r["bare"] for r in rounds],
        "textual_sparklines_percent_of_core": None
        if args.no_charts
        else [r["charts"] for r in rounds],
        "baseline": args.baseline,
        "baseline_percent_of_core": [r["old"] for r in rounds] if args.baseline else None,
        "pane_showed_latency": all(r["pane_shows_latency"] for r in rounds),
        "target_percent": TARGET_PERCENT,
        "meets_target": all(v < TARGET_PERCENT for v in board),
        "rounds_under_target": sum(v < TARGET_PERCENT for v in board),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds (5)")
    parser.add_argument("--seconds", type=float, default=60.0, help="window per round (60)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before the window (5)")
    parser.add_argument("--size", default="120x40", help="terminal size (120x40)")
    parser.add_argument(
        "--no-charts", action="store_true", help="leave out the Textual Sparkline app"
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also run that commit's board over the same windows (tells a change from noise)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(main(parse()), indent=2))
