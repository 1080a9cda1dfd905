"""First paint in a real terminal: boards of 200, 20,000 and 50,000 items against a bare
Textual app, in tmux.

Run ``python benchmarks/first_paint_tmux.py`` (7 runs of each, in turn) or ``--runs N``;
``--quick`` is 3 runs and no 50,000-item board; ``--sizes 200,20000`` chooses the
boards. Prints one JSON object. Nothing here asserts: ``meets_target`` only compares
the 200-item board's median with the bare app's (issue 11's 1.5x), and
``meets_targets`` the big boards' with the 200-item board's (issue 15: 20,000
within 1.5x, 50,000 within 2x).

The 200-item board is ``benchmarks/board.py``'s (``shipdeck demo`` and items over
the stages); the big ones are built in one ``store.edit()`` as
``benchmarks/board_scale.py`` builds them, and opened once before timing (the board's
index is built on the first open after a sync or a big change, as the JSON cache
was).

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
SIZE_TARGETS = {20000: 1.5, 50000: 2.0}  # first paint against the 200-item board's
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
    # "Monit": at five-digit counts a column title shortens its name, never its number.
    return "SD-" in text and "Monit" in text


def bare_drawn(text: str) -> bool:
    return "bare app ready" in text and "Quit" in text


def main(args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("tmux") is None:
        raise SystemExit("first_paint_tmux: tmux is not installed")
    from benchmarks.board_scale import make_big_repo

    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else [200, 20000, 50000]
    if args.quick and not args.sizes:
        sizes = [200, 20000]
    runs = 3 if args.quick else args.runs
    shipdeck = Path(sys.executable).with_name("shipdeck")
    with tempfile.TemporaryDirectory(prefix="shipdeck-paint-") as tmp:
        base = Path(tmp)
        os.environ["XDG_CONFIG_HOME"] = str(base / "config")
        env = child_env(base / "config") | {"TERM": "xterm-256color"}
        repos = {
            n: make_repo(base / "board200", 200, BOARD_200, interval=None)
            if n == 200
            else make_big_repo(base / f"board{n}", n)
            for n in sizes
        }
        bare = base / "bare.py"
        bare.write_text(BARE_APP)
        apps: dict[str, tuple[list[str], Path, Callable[[str], bool]]] = {
            "bare": ([sys.executable, str(bare)], repos[sizes[0]], bare_drawn),
            **{f"board{n}": ([str(shipdeck)], repo, board_drawn) for n, repo in repos.items()},
        }
        keep = ["tmux", "-L", SOCKET, "new-session", "-d", "-s", "keep", "sleep 3600"]
        subprocess.run(keep, check=True, env=env)
        try:
            for argv, cwd, seen in apps.values():  # warm caches: not counted
                time_to_text(argv, cwd, env, seen)
            got: dict[str, list[float]] = {name: [] for name in apps}
            names = list(apps)
            for i in range(runs):
                order = names if i % 2 == 0 else names[::-1]
                for name in order:
                    argv, cwd, seen = apps[name]
                    got[name].append(1000 * time_to_text(argv, cwd, env, seen))
        finally:
            subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
    medians = {name: statistics.median(ms) for name, ms in got.items()}
    out: dict[str, Any] = {"runs": runs, "size": f"{SIZE[0]}x{SIZE[1]}"}
    for name, ms in got.items():
        out[f"{name}_ms"] = {"median": round(medians[name], 1), "runs": [round(v) for v in ms]}
    if 200 in repos:
        ratio = medians["board200"] / medians["bare"]
        out.update(ratio=round(ratio, 2), target_ratio=TARGET, meets_target=ratio <= TARGET)
        size_ratios = {
            str(n): round(medians[f"board{n}"] / medians["board200"], 2) for n in sizes if n != 200
        }
        out["size_ratios"] = size_ratios
        out["size_targets"] = {str(n): t for n, t in SIZE_TARGETS.items() if n in repos}
        out["meets_targets"] = {
            f"board{n}_within_{t:g}x_of_board200": size_ratios[str(n)] <= t
            for n, t in SIZE_TARGETS.items()
            if n in repos
        }
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each app (7)")
    parser.add_argument("--quick", action="store_true", help="3 runs, boards of 200 and 20,000")
    parser.add_argument("--sizes", help="the boards' item counts, e.g. 200,20000 (200 is the base)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(main(parse()), indent=2))
