"""First paint in a real terminal: the 200-item board against a bare Textual app, in tmux.

Run ``python benchmarks/first_paint_tmux.py`` (7 runs of each, alternating) or
``--runs N``; prints one JSON object. Nothing here asserts: ``meets_target`` only
compares the median ratio with issue 11's 1.5x.

Each run starts a fresh tmux session of 120x40 running the app, then reads the
pane (``tmux capture-pane``) every few milliseconds until the app's text is on
it: for the board, a card id of the Plan column *and* the Monitor column's
title (the whole board is drawn, not only its first column); for the bare app
(one ``Static`` and a ``Footer``, started with the same interpreter) its
Static's text and its footer key. The time is from just before ``tmux
new-session`` to the first capture showing it, so it includes the interpreter's
start, imports, the first frame and the terminal's own parsing of it: what a
person waits for. The headless figure of ``benchmarks/board.py`` leaves the
terminal out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.board import BOARD_200, child_env, make_repo  # noqa: E402

TARGET = 1.5
SIZE = (120, 40)
POLL = 0.004
SOCKET = f"shipdeck-paint-{os.getpid()}"  # a tmux server of our own, kept up by a "keep" session

BARE_APP = """\
from textual.app import App, ComposeResult
from textual.widgets import Footer, Static


class Bare(App[None]):
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Static("bare app ready")
        yield Footer()


Bare().run()
"""


def _capture(session: str) -> str:
    done = subprocess.run(
        ["tmux", "-L", SOCKET, "capture-pane", "-p", "-t", session], capture_output=True, text=True
    )
    return done.stdout


def _shell_words(argv: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def time_to_text(
    argv: Sequence[str], cwd: Path, env: dict[str, str], seen: Callable[[str], bool]
) -> float:
    """Seconds from launching ``argv`` in a new tmux session until ``seen(pane text)``."""
    session = f"sd-paint-{os.getpid()}-{time.monotonic_ns()}"
    t0 = time.perf_counter()
    size = ["-x", str(SIZE[0]), "-y", str(SIZE[1])]
    new = ["tmux", "-L", SOCKET, "new-session", "-d", "-s", session, *size, "-c", str(cwd)]
    subprocess.run([*new, _shell_words(argv)], check=True, env=env)
    try:
        deadline = t0 + 60
        while time.perf_counter() < deadline:
            if seen(_capture(session)):
                return time.perf_counter() - t0
            time.sleep(POLL)
        raise RuntimeError(f"{argv[0]} never drew its text:\n{_capture(session)}")
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], capture_output=True)


def board_drawn(text: str) -> bool:
    return "SD-" in text and "Monitor" in text


def bare_drawn(text: str) -> bool:
    return "bare app ready" in text and "Quit" in text


def main(args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("tmux") is None:
        raise SystemExit("first_paint_tmux: tmux is not installed")
    shipdeck = Path(sys.executable).with_name("shipdeck")
    with tempfile.TemporaryDirectory(prefix="shipdeck-paint-") as tmp:
        base = Path(tmp)
        os.environ["XDG_CONFIG_HOME"] = str(base / "config")
        env = child_env(base / "config") | {"TERM": "xterm-256color"}
        repo = make_repo(base / "board200", 200, BOARD_200, interval=None)
        bare = base / "bare.py"
        bare.write_text(BARE_APP)
        apps: dict[str, tuple[list[str], Callable[[str], bool]]] = {
            "bare": ([sys.executable, str(bare)], bare_drawn),
            "board": ([str(shipdeck)], board_drawn),
        }
        keep = ["tmux", "-L", SOCKET, "new-session", "-d", "-s", "keep", "sleep 3600"]
        subprocess.run(keep, check=True, env=env)
        try:
            for argv, seen in apps.values():  # warm caches: not counted
                time_to_text(argv, repo, env, seen)
            got: dict[str, list[float]] = {"bare": [], "board": []}
            for i in range(args.runs):
                order = ("bare", "board") if i % 2 == 0 else ("board", "bare")
                for name in order:
                    argv, seen = apps[name]
                    got[name].append(1000 * time_to_text(argv, repo, env, seen))
        finally:
            subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
    medians = {name: statistics.median(ms) for name, ms in got.items()}
    ratio = medians["board"] / medians["bare"]
    return {
        "runs": args.runs,
        "size": f"{SIZE[0]}x{SIZE[1]}",
        "bare_ms": {"median": round(medians["bare"], 1), "runs": [round(v) for v in got["bare"]]},
        "board_ms": {
            "median": round(medians["board"], 1),
            "runs": [round(v) for v in got["board"]],
        },
        "ratio": round(ratio, 2),
        "target_ratio": TARGET,
        "meets_target": ratio <= TARGET,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each app (7)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(main(parse()), indent=2))
