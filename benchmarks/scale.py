"""Issue #15's figures in one run: each benchmark below, one after another, and one
table of what they measured against their baselines (toolong, Textual's ``Log``, a
bare Textual app, the tree before, a shell script).

Run ``python benchmarks/scale.py`` (each benchmark at its own defaults; about 13
minutes on a quiet 2-core machine) or ``--quick`` (their ``--quick``); ``--only NAME`` runs some.
Prints one JSON document: ``runs`` (each benchmark's own JSON, its command and its
wall time) and ``table`` (the rows the README's Performance section shows). Nothing
asserts; ``meets_targets`` gathers what each benchmark compared with its target.

Each benchmark runs in its own process with this interpreter, so one's heap and
caches never colour the next; they run in sequence, never side by side, since each
one's figures are times and CPU shares on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

BENCHMARKS: dict[str, list[str]] = {
    "first_paint_tmux": [],
    "board_scale": [],
    "history": [],
    "log_search": [],
    "log_pane": [],
    "pipeline": [],
    "idle_tmux": [],
}


def run(name: str, quick: bool) -> dict[str, Any]:
    argv = [sys.executable, str(HERE / f"{name}.py"), *BENCHMARKS[name]]
    if quick:
        argv.append("--runs=3" if name == "idle_tmux" else "--quick")
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=HERE.parent, check=False)
    took = round(time.perf_counter() - t0, 1)
    try:
        figures = json.loads(done.stdout[done.stdout.index("{") :])
    except ValueError:
        return {"command": argv[1:], "seconds": took, "error": done.stderr[-2000:]}
    return {"command": argv[1:], "seconds": took, "figures": figures}


def _get(doc: Any, *path: str | int) -> Any:
    for key in path:
        try:
            doc = doc[key]
        except (KeyError, IndexError, TypeError):
            return None
    return doc


Row = tuple[str, str, Callable[[Any], str]]


ROWS: dict[str, Row] = {
    "first_paint_tmux": (
        "board first paint in tmux, 20k and 50k items",
        "1.5x and 2x the 200-item board",
        lambda f: json.dumps(
            {k: v for k, v in f.items() if "ratio" in k or k.endswith("_ms")}, default=str
        )[:400],
    ),
    "board_scale": (
        "CLI `item add` while the board shows 20k items; `item list`/`status --json` at 50k",
        "key press <= 50 ms, RSS +30 MB; 1.5x of 200 items",
        lambda f: json.dumps(f.get("meets_targets"), default=str),
    ),
    "history": (
        "`dora --json` and the events pane on 1M journal events",
        "< 0.5 s, < 150 MB",
        lambda f: json.dumps(f.get("meets_targets"), default=str),
    ),
    "log_search": (
        "a match 900,000 lines up; a finished 1M-line log's last line (vs toolong)",
        "< 0.5 s each",
        lambda f: json.dumps(f.get("meets_targets"), default=str),
    ),
    "log_pane": (
        "log pane ingest against Textual's Log",
        "3x Textual's Log",
        lambda f: json.dumps(f.get("meets_targets"), default=str),
    ),
    "pipeline": (
        "the demo's Plan -> Deploy against a shell script",
        "1.15x the script",
        lambda f: json.dumps(
            {k: f.get(k) for k in ("ratio", "cpu_ratio", "meets_targets")}, default=str
        ),
    ),
    "idle_tmux": (
        "idle, metrics pane at 1 Hz, in tmux (vs a bare app)",
        "< 1% of a core, 5 of 5 runs",
        lambda f: (
            f"board {f.get('board_percent_of_core')} % of a core; "
            f"bare {f.get('bare_percent_of_core')}"
        ),
    ),
}


def main(args: argparse.Namespace) -> dict[str, Any]:
    names = args.only or list(BENCHMARKS)
    out: dict[str, Any] = {
        "quick": args.quick,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "runs": {},
    }
    for name in names:
        out["runs"][name] = run(name, args.quick)
    table = []
    for name in names:
        what, target, summary = ROWS[name]
        got = out["runs"][name]
        measured = summary(got["figures"]) if "figures" in got else f"failed: {got['error'][-200:]}"
        table.append({"benchmark": name, "what": what, "target": target, "measured": measured})
    out["table"] = table
    out["meets_targets"] = {
        name: _get(out["runs"][name], "figures", "meets_targets")
        or _get(out["runs"][name], "figures", "meets_target")
        or _get(out["runs"][name], "figures", "targets")  # log_pane.py's name for it
        for name in names
    }
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's --quick")
    parser.add_argument("--only", action="append", choices=list(BENCHMARKS))
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(main(parse()), indent=2, default=str))
