#!/usr/bin/env python3
"""Drive the real app on a fresh demo repository and write screenshots/*.svg, at two
sizes and in a dark and a light theme (each pass its own demo and deploy).

    .venv/bin/python scripts/screenshots.py [--out screenshots]

The demo service is told to warm up for a few seconds so the board can be
caught mid-deploy. Every service started here is stopped before exit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (columns, rows, theme, file suffix): every screen at each
PASSES = (
    (120, 40, "textual-dark", ""),
    (80, 24, "textual-light", "-80x24-light"),
    (240, 70, "textual-dark", "-240x70"),
    (120, 40, "textual-light", "-light"),
)


async def until(pilot, check, timeout: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("screenshots: timed out waiting for the app")
        await pilot.pause(0.1)


async def shoot(
    out: Path, work: Path, size: tuple[int, int], theme: str, suffix: str
) -> list[Path]:
    from shipdeck.cli.demo import create
    from shipdeck.lifecycle.items import RunState
    from shipdeck.lifecycle.stages import Stage
    from shipdeck.tui.app import ShipdeckApp

    os.environ["HELLO_WARMUP"] = "4"  # the service inherits shipdeck's environment
    project = create(work / "hello")
    app = ShipdeckApp(project)
    written: list[Path] = []

    def save(name: str) -> None:
        written.append(Path(app.save_screenshot(f"{name}{suffix}.svg", str(out))))

    def state(item_id: str) -> tuple[Stage, RunState]:
        item = project.store.get(item_id)
        return item.stage, item.current.state

    async with app.run_test(size=size) as pilot:
        app.theme = theme
        await pilot.pause(0.5)
        await pilot.press("l", "a")
        await until(pilot, lambda: state("SD-1") == (Stage.DEPLOY, RunState.RUNNING))
        await pilot.pause(1.5)
        save("board-mid-deploy")
        await until(pilot, lambda: state("SD-1") == (Stage.DEPLOY, RunState.PASSED))
        await pilot.pause(1.0)
        await pilot.press("L", "slash", *"GET", "enter")
        await pilot.pause(0.5)
        save("logs-search")
        await pilot.press("escape")
        await pilot.press("m")
        await pilot.pause(4.5)
        save("metrics")
        await pilot.press("escape")
        app.board.select("SD-1")
        await pilot.press("enter")
        await pilot.pause(1.0)
        save("item-details")
        await pilot.press("escape", "question_mark")
        await pilot.pause(0.3)
        save("help")
        await pilot.press("escape")
        app.engine.target_for("staging").stop(lambda _lines: None)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for cols, rows, theme, suffix in PASSES:
        with tempfile.TemporaryDirectory(prefix="shipdeck-shots-") as tmp:
            for path in asyncio.run(shoot(out, Path(tmp), (cols, rows), theme, suffix)):
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
