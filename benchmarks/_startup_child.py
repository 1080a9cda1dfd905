"""Startup child for ``benchmarks/board.py``: start an app, report its first paint, exit.

``python benchmarks/_startup_child.py {minimal|board} REPO`` runs one app headless
at 120x40 and prints one JSON line after it exits:

- ``t_first_frame``: ``time.time()`` when the screen's first compositor refresh
  (layout, then the whole screen rendered into the frame a terminal would be sent)
  returned; Textual posts :class:`textual.events.Ready` right then. The parent
  subtracts the time it started this process. ``frame_cards``: how many card ids
  (``SD-n``) that frame's text shows, so a board painted before its cards does not
  count;
- ``t_first_paint``: when the app *handled* ``Ready``, after what Textual queued
  behind it (the layout that the first frame's new sizes cause, and its repaint);
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


FIRST_FRAME: dict[str, Any] = {}


def watch_first_frame() -> None:
    """Time the end of the first compositor refresh and keep the frame's text."""
    import re

    from rich.console import Console
    from textual._compositor import Compositor
    from textual.screen import Screen

    render_update = Compositor.render_update
    refresh = Screen._compositor_refresh

    def keep(self: Any, *args: Any, **kwargs: Any) -> Any:
        update = render_update(self, *args, **kwargs)
        if update is not None and "update" not in FIRST_FRAME:
            FIRST_FRAME["update"] = update
        return update

    def timed(self: Any) -> None:
        refresh(self)
        if "update" in FIRST_FRAME and "t" not in FIRST_FRAME:
            FIRST_FRAME["t"] = time.time()

    Compositor.render_update = keep  # type: ignore[method-assign]
    Screen._compositor_refresh = timed  # type: ignore[method-assign]

    def frame_cards() -> int:
        text = FIRST_FRAME["update"].render_segments(Console(width=SIZE[0], color_system=None))
        return len(set(re.findall(r"SD-\d+", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text))))

    FIRST_FRAME["cards"] = frame_cards


def first_paint(app: Any, cards: int | None) -> None:
    """Called on Ready: record, then leave."""
    app.bench_result = {
        "t_first_frame": FIRST_FRAME.get("t"),
        "frame_cards": FIRST_FRAME["cards"]() if "update" in FIRST_FRAME else None,
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
    from shipdeck.project.repo import Project
    from shipdeck.tui.app import ShipdeckApp

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
    watch_first_frame()
    result = run_minimal() if kind == "minimal" else run_board(Path(argv[2]))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
