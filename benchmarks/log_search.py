"""Log search benchmark: the log pane on a finished 1M-line run log, against the tree
before whole-log search (baseline, commit 4ede4ca) and against toolong.

Run ``python benchmarks/log_search.py`` (1,000,000 lines, 3 runs) or ``--quick``
(200,000 lines, 1 run); prints one JSON object. The run log is written in shipdeck's
format (``<UTC time> <o|e|i> <text>``, ~80-byte texts, a timestamp per 100-line
batch as ``RunLog`` writes them); one line 90% of the way up holds a unique token and
the last line another. Each side runs headless (``App.run_test``, 120x40) in a fresh
interpreter, in turn:

- open: from the app's start (or, for shipdeck, from ``load_file``) until the view
  renders the log's last line (``render_line`` of its rows);
- search: ``/``, the token (lower case, so smart case ignores case), then Enter
  (shipdeck) or ``up`` (toolong's "previous match" from the bottom: its find moves a
  pointer), timed from the key until the view renders the token's line; a side that
  has not shown it after ``--give-up`` seconds did not find it (the baseline searches
  only its ring, the last 100,000 lines). ``count_s`` is when the status first
  counted a match (shipdeck).

The baseline is ``git archive`` of 4ede4ca into a temp dir, run with ``PYTHONPATH``
there (as benchmarks/board_store.py does). toolong is imported from a private venv
under /tmp (``pip install toolong`` if missing); if it cannot be installed the JSON
says so. ``meets_targets`` compares shipdeck with issue #15's targets: the match
900,000 lines up shown in under 0.5 s, the last line within 0.5 s of opening.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from benchmarks._trees import export_tree  # noqa: E402

BASELINE = "4ede4ca"
TOOLONG_VENV = Path("/tmp/toolong-venv")
TOKEN = "zq7needle"
LAST = "the-last-line-of-the-log"
OPEN_TARGET = 0.5
SEARCH_TARGET = 0.5

CHILD = r"""
import asyncio, json, sys, time
t_start = time.perf_counter()
from pathlib import Path
from textual.app import App

kind, path, token, last, give_up = sys.argv[1:6]
give_up = float(give_up)

def shown(view, text):
    rows = range(view.scrollable_content_region.height)
    return any(text in view.render_line(y).text.lower() for y in rows)

async def wait(pilot, check, limit):
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > limit:
            return None
        await pilot.pause(0.002)
    return time.perf_counter()

if kind == "toolong":
    from toolong.ui import UI
    from toolong.log_lines import LogLines
    app = UI([path])
    t_load = None
else:
    from shipdeck.widgets.log.pane import LogPane
    from shipdeck.widgets.log.view import LogView

    class Bench(App):
        t_load = None
        def compose(self):
            yield LogPane()
        def on_mount(self):
            pane = self.query_one(LogPane)
            Bench.t_load = time.perf_counter()
            pane.load_file(Path(path))
            pane.focus()
    app = Bench()

async def main():
    out = {}
    async with app.run_test(size=(120, 40)) as pilot:
        if kind == "toolong":
            await wait(pilot, lambda: app.screen.query(LogLines), 30)
            view = app.screen.query_one(LogLines)
        else:
            view = app.query_one(LogView)
        shown_at = await wait(pilot, lambda: shown(view, last), 60)
        out["open_s"] = None if shown_at is None else shown_at - t_start
        if kind != "toolong" and shown_at is not None:
            out["open_from_load_s"] = shown_at - Bench.t_load
        await pilot.pause(1.0)  # the rest of the open (the ring's 100k lines, toolong's scan)
        await pilot.press("slash", *token)
        t0 = time.perf_counter()
        await pilot.press("up" if kind == "toolong" else "enter")
        counted = None
        if kind != "toolong":
            def any_count():
                return view.status.search_matches > 0 or shown(view, token)
            counted = await wait(pilot, any_count, give_up)
        found = await wait(pilot, lambda: shown(view, token), give_up)
        out["found"] = found is not None
        out["search_s"] = None if found is None else found - t0
        out["count_s"] = None if counted is None else counted - t0
    print(json.dumps(out))

asyncio.run(main())
"""


def make_log(path: Path, lines: int) -> int:
    """A run log of ``lines`` lines; returns the token's line number."""
    target = lines - lines * 9 // 10
    with path.open("w", encoding="utf-8") as f:
        for start in range(0, lines, 100):
            stamp = f"2026-12-03T{start // 3_600_000 % 24:02d}:{start // 60_000 % 60:02d}:"
            stamp += f"{start // 1000 % 60:02d}.{start % 1000:03d}Z"
            batch = []
            for i in range(start, min(lines, start + 100)):
                text = f"worker[{i % 17:02d}] handled GET /api/items/{i * 7919 % 1000003:07d} 200"
                if i == target:
                    text += f" {TOKEN.upper()}"  # found by a lower-case search (smart case)
                elif i == lines - 1:
                    text += f" {LAST}"
                batch.append(f"{stamp} o {text} in {i % 97}ms\n")
            f.write("".join(batch))
    return target


def export_baseline(into: Path) -> Path:
    """The tree at ``BASELINE`` (``git archive``: no checkout, no worktree)."""
    return export_tree(BASELINE, into)


def toolong_python() -> tuple[str | None, str]:
    """A Python that imports toolong (a private venv, installed once), or why not."""
    python = TOOLONG_VENV / "bin" / "python"
    if python.exists() and run_ok([str(python), "-c", "import toolong"]):
        return str(python), ""
    try:
        subprocess.run([sys.executable, "-m", "venv", str(TOOLONG_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "toolong"], check=True, timeout=600
        )
    except (subprocess.SubprocessError, OSError) as error:
        return None, f"toolong could not be installed: {error}"
    if not run_ok([str(python), "-c", "import toolong"]):
        return None, "toolong installed but does not import"
    return str(python), ""


def run_ok(cmd: list[str]) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


def child(python: str, kind: str, log: Path, code: Path | None, give_up: float) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(log.parent / "pycache")
    if code is not None:
        env["PYTHONPATH"] = str(code)
    cmd = [python, "-c", CHILD, kind, str(log), TOKEN, LAST, str(give_up)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=log.parent, timeout=300)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of each figure over the runs (None if any run lacks it)."""
    keys = [k for k in runs[0] if k not in ("found", "error")]
    out: dict[str, Any] = {"runs": len(runs)}
    if any("error" in r for r in runs):
        out["error"] = next(r["error"] for r in runs if "error" in r)
        return out
    out["found"] = all(r["found"] for r in runs)
    for key in keys:
        values = [r[key] for r in runs]
        out[key] = None if None in values else round(statistics.median(values), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 lines, 1 run")
    parser.add_argument("--lines", type=int, help="lines in the run log")
    parser.add_argument("--runs", type=int, help="runs per side (median)")
    parser.add_argument("--give-up", type=float, default=5.0, help="seconds before 'not found'")
    parser.add_argument("--no-toolong", action="store_true", help="skip toolong")
    args = parser.parse_args()
    lines = args.lines or (200_000 if args.quick else 1_000_000)
    runs = args.runs or (1 if args.quick else 3)
    result: dict[str, Any] = {
        "benchmark": "log_search",
        "quick": args.quick,
        "lines": lines,
        "runs": runs,
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cpus",
        "baseline_rev": BASELINE,
    }
    with tempfile.TemporaryDirectory(prefix="shipdeck-log-search-") as tmp:
        base = Path(tmp)
        log = base / "run.log"
        target = make_log(log, lines)
        result["token_line"] = target
        result["lines_up"] = lines - 1 - target
        result["log_mb"] = round(log.stat().st_size / 2**20, 1)
        sides: dict[str, tuple[str, Path | None]] = {
            "shipdeck": (sys.executable, ROOT),
            "baseline": (sys.executable, export_baseline(base / "baseline")),
        }
        if args.no_toolong:
            result["toolong_note"] = "skipped (--no-toolong)"
        else:
            python, why = toolong_python()
            if python is None:
                result["toolong_note"] = why
            else:
                sides["toolong"] = (python, None)
        measured: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
        for _ in range(runs):  # interleaved, so a busy moment hits every side alike
            for name, (python, code) in sides.items():
                kind = "toolong" if name == "toolong" else "shipdeck"
                measured[name].append(child(python, kind, log, code, args.give_up))
        for name, values in measured.items():
            result[name] = summary(values)
    new = result["shipdeck"]
    result["meets_targets"] = {
        "search_found_under_0_5_s": bool(
            new.get("found") and new.get("search_s") is not None and new["search_s"] < SEARCH_TARGET
        ),
        "open_last_line_under_0_5_s": bool(
            new.get("open_from_load_s") is not None and new["open_from_load_s"] < OPEN_TARGET
        ),
        "open_from_app_start_under_0_5_s": bool(
            new.get("open_s") is not None and new["open_s"] < OPEN_TARGET
        ),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
