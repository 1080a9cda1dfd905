"""Startup child for ``benchmarks/board.py``: start an app, report its first paint, exit.

``python benchmarks/_startup_child.py {minimal|board} REPO`` runs one app headless
at 120x40 and prints one JSON line after it exits:

- ``t_first_paint``: ``time.time()`` when the app got :class:`textual.events.Ready`,
  which Textual posts right after the screen's first layout and compositor update
  (the first frame); the parent subtracts the time it started this process;
- ``since_proc_start``: the same moment measured from the kernel's start time of
  this process (``/proc/self/stat``; 10 ms resolution, a cross-check);
- ``modules``: which of docker, git, psutil and httpx were imported by then;
- ``cards``: how many cards the board's columns held at first paint (board only).

Only the standard library is imported before the app, so both apps pay the same
interpreter start; nothing here may import psutil (it is one of the watched modules).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WATCHED = ("docker", "git", "psutil", "httpx")
SIZE = (120, 40)


def since_process_start() -> float | None:
    """Seconds since the kernel started this process, from ``/proc`` (10 ms ticks).

    Uptime minus the process's start tick, both relative to boot: psutil's
    ``create_time()`` adds ``btime``, which is whole seconds, so differences
    against ``time.time()`` can be off by up to a second.
    """
    try:
        stat = Path("/proc/self/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        start_ticks = int(fields[19])  # field 22 of stat(5), counted after the comm field
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def first_paint(app: Any, cards: int | None) -> None:
    """Called on Ready: record, then leave."""
    app.bench_result = {
        "t_first_paint": time.time(),
        "since_proc_start": since_process_start(),
        "modules": [name for name in WATCHED if name in sys.modules],
        "cards": cards,
    }
    app.exit()


def run_minimal() -> dict[str, Any]:
    from textual.app import App, ComposeResult
    from textual.widgets import Footer, Static

    class Minimal(App[None]):
        bench_result: dict[str, Any] = {}

        def compose(self) -> ComposeResult:
            yield Static("hello")
            yield Footer()

        def on_ready(self) -> None:
            first_paint(self, None)

    app = Minimal()
    app.run(headless=True, size=SIZE)
    return app.bench_result


def run_board(repo: Path) -> dict[str, Any]:
    from tui.app import ShipdeckApp
    from tui.project import Project

    class Board(ShipdeckApp):
        CSS_PATH = str(ROOT / "tui" / "app.tcss")  # relative paths resolve next to the subclass
        bench_result: dict[str, Any] = {}

        def on_ready(self) -> None:
            cards = sum(len(column.item_ids) for column in self.board.columns.values())
            first_paint(self, cards)

    app = Board(Project(repo))
    app.run(headless=True, size=SIZE)
    return app.bench_result


def main(argv: list[str]) -> None:
    kind = argv[1]
    result = run_minimal() if kind == "minimal" else run_board(Path(argv[2]))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
