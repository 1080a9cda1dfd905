"""Typing into a big board: a key in the ``/`` filter and a palette search, at 200 and
20,000 cards, this tree beside a baseline tree in one run.

Run ``python benchmarks/board_typing.py`` (``--quick``: 2,000 cards in place of
20,000); prints one JSON object. Nothing here asserts and the issue names no target
for these: they are what a stranger hit on a 20,000-card board (issue #15's "large
boards stay instant"), kept so that it stays fixed.

- Boards are built as ``benchmarks/board_scale.py`` builds them (``make_big_repo``).
- Each tree (this one, ``--baseline`` REV, default 4182144: the tree before the
  filter and palette changes) runs in a child process of its own, its code first on
  ``PYTHONPATH`` (``benchmarks/_trees.py``), the real app headless at 120x40:
  - ``filter_first_key_ms``: ``/`` then ``w``, the event loop's busy time for that key
    (``benchmarks/board.py``'s LoopClock), which reads every card once;
  - ``filter_key_ms``: median and max of the next keys of ``ebhook`` one at a time;
  - ``palette``: the palette provider's search for ``webhook`` as Textual's palette
    runs it (an async generator on the event loop): ``first_hit_ms``, ``all_ms``,
    ``hits``, and ``loop_stall_ms_max``, how late a 5 ms timer fired meanwhile (how long
    a key typed into the palette would wait);
  - ``rounds`` rounds, the trees alternating; medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._trees import ROOT, export_tree, tree_env  # noqa: E402
from benchmarks.board_scale import make_big_repo  # noqa: E402

BASELINE = "4182144"

CHILD = r"""
import asyncio, json, statistics, sys, time
from pathlib import Path
from benchmarks.board import LoopClock
from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.palette import BoardCommands


async def main(repo):
    app = ShipdeckApp(Project(Path(repo)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        clock = LoopClock()
        clock.install(asyncio.get_running_loop())
        await pilot.press("slash")
        await pilot.pause()
        keys = []
        for key in "webhook":
            start = clock.mark()
            await pilot.press(key)
            await pilot.pause()
            keys.append(1000 * clock.busy(start))
        shown = sum(len(c.item_ids) for c in app.board.columns.values())
        await pilot.press("escape")
        await pilot.pause()
        stalls = []

        async def heartbeat():
            while True:
                t = time.perf_counter()
                await asyncio.sleep(0.005)
                stalls.append(1000 * (time.perf_counter() - t - 0.005))

        beat = asyncio.create_task(heartbeat())
        await asyncio.sleep(0.05)
        provider = BoardCommands(app.screen)
        t0 = time.perf_counter()
        first, hits = None, 0
        async for _hit in provider.search("webhook"):
            hits += 1
            if first is None:
                first = time.perf_counter() - t0
        done = time.perf_counter() - t0
        await asyncio.sleep(0.02)
        beat.cancel()
    print(json.dumps({
        "cards": len(app.items),
        "filter_shown": shown,
        "filter_first_key_ms": round(keys[0], 1),
        "filter_key_ms": {"median": round(statistics.median(keys[1:]), 1),
                          "max": round(max(keys[1:]), 1)},
        "palette": {"first_hit_ms": round(1000 * (first or done), 1),
                    "all_ms": round(1000 * done, 1), "hits": hits,
                    "loop_stall_ms_max": round(max(stalls), 1)},
    }))


asyncio.run(main(sys.argv[1]))
"""


def run_child(code: Path, repo: Path, base: Path) -> dict[str, Any]:
    env = tree_env(code, base / "config", base / "pycache")
    env["PYTHONPATH"] = f"{code}{os.pathsep}{ROOT}"  # the tree's shipdeck, our benchmarks
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(repo)],
        env=env,
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise SystemExit(f"{code}: {out.stderr.strip().splitlines()[-1:]}")
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def _median(rounds: list[dict[str, Any]], *path: str) -> float:
    values = []
    for r in rounds:
        for key in path:
            r = r[key]
        values.append(float(r))  # type: ignore[arg-type]
    return round(statistics.median(values), 1)


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "cards": rounds[0]["cards"],
        "filter_shown": rounds[0]["filter_shown"],
        "filter_first_key_ms": _median(rounds, "filter_first_key_ms"),
        "filter_key_ms": {
            "median": _median(rounds, "filter_key_ms", "median"),
            "max": _median(rounds, "filter_key_ms", "max"),
        },
        "palette": {
            key: _median(rounds, "palette", key)
            for key in ("first_hit_ms", "all_ms", "hits", "loop_stall_ms_max")
        },
    }


def main(args: argparse.Namespace) -> dict[str, Any]:
    sizes = (200, 2000) if args.quick else (200, 20000)
    with tempfile.TemporaryDirectory(prefix="shipdeck-typing-") as tmp:
        base = Path(tmp)
        os.environ["XDG_CONFIG_HOME"] = str(base / "config")
        repos = {n: make_big_repo(base / f"board{n}", n) for n in sizes}
        trees = {"new": ROOT, "old": export_tree(args.baseline, base / "old")}
        rounds: dict[str, dict[int, list[dict[str, Any]]]] = {
            side: {n: [] for n in sizes} for side in trees
        }
        for n in range(args.rounds):
            order = list(trees) if n % 2 == 0 else list(reversed(trees))
            for size, repo in repos.items():
                for side in order:
                    rounds[side][size].append(run_child(trees[side], repo, base))
    out = {
        side: {str(size): summarize(r) for size, r in by_size.items()}
        for side, by_size in rounds.items()
    }
    big = str(sizes[1])
    return {
        "benchmark": "board_typing",
        "baseline": args.baseline,
        "rounds": args.rounds,
        "sides": out,
        "at_the_big_board": {
            "filter_key_ms_median": {s: out[s][big]["filter_key_ms"]["median"] for s in out},
            "palette_first_hit_ms": {s: out[s][big]["palette"]["first_hit_ms"] for s in out},
            "palette_loop_stall_ms_max": {
                s: out[s][big]["palette"]["loop_stall_ms_max"] for s in out
            },
        },
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 cards, 1 round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default=BASELINE, help=f"a commit (default {BASELINE})")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 1
    return args


if __name__ == "__main__":
    print(json.dumps(main(parse()), indent=2))
