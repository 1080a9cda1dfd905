"""Issue #15's figures in one run: each benchmark below, one after another, and one
table of what they measured against their baselines (toolong, Textual's ``Log``, a
bare Textual app, the tree before, a shell script).

Run ``python benchmarks/scale.py`` (each benchmark at its own defaults; about 13
minutes on a quiet 2-core machine) or ``--quick`` (their ``--quick``); ``--only NAME`` runs some.
Prints one JSON document: ``runs`` (each benchmark's own JSON, its command and its
wall time), ``table`` (a row per benchmark: its figures against the baselines it
measured beside them) and ``table_markdown`` (the same, the README's table line by
line). ``--table FILE`` prints the table of an earlier run's JSON, runs nothing. Nothing
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


def _n(value: Any, fmt: str = "{}") -> str:
    """A figure, or ``?`` where the benchmark did not report it (``--quick``, a failure)."""
    return "?" if value is None else fmt.format(value)


def _span(values: Any) -> str:
    """``low-high`` of a list of percentages."""
    if not values:
        return "?"
    return f"{min(values):.2f}-{max(values):.2f}%"


def _first_paint(f: Any) -> str:
    ms = {n: _get(f, f"board{n}_ms", "median") for n in (200, 20000, 50000)}
    return (
        f"200 / 20k / 50k items: {_n(ms[200], '{:.0f}')} / {_n(ms[20000], '{:.0f}')} /"
        f" {_n(ms[50000], '{:.0f}')} ms, **{_n(_get(f, 'size_ratios', '20000'), '{}x')} /"
        f" {_n(_get(f, 'size_ratios', '50000'), '{}x')}** of 200; a bare Textual app"
        f" {_n(_get(f, 'bare_ms', 'median'), '{:.0f}')} ms (the 200-item board"
        f" {_n(f.get('ratio'), '{}x')} it, target 1.5x)"
    )


def _board_scale(f: Any) -> str:
    shown = _get(f, "add_while_shown", "20000") or {}
    cli = _get(f, "cli") or {}
    return (
        f"key press max **{_n(_get(shown, 'key_busy_ms', 'max'))} ms** (median"
        f" {_n(_get(shown, 'key_busy_ms', 'median'))}), RSS **+{_n(shown.get('rss_growth_mb'))}"
        f" MB**; at 50k `item list` **{_n(_get(cli, 'ratios', 'item_list_ms'), '{}x')}**"
        f" ({_n(_get(cli, 'item_list_ms', '50000'), '{:.0f}')} ms), `status --json`"
        f" **{_n(_get(cli, 'ratios', 'status_json_ms'), '{}x')}**"
        f" ({_n(_get(cli, 'status_json_ms', '50000'), '{:.0f}')} ms)"
    )


def _history(f: Any) -> str:
    size = max((_get(f, "sizes") or {"0": None}), key=int)
    new = _get(f, "sizes", size, "new") or {}
    old = _get(f, "sizes", size, "old") or {}
    return (
        f"{int(size):,} events: `dora --json` **{_n(new.get('dora_s'))} s,"
        f" {_n(new.get('dora_rss_mb'))} MB**, the pane **{_n(new.get('pane_open_s'))} s,"
        f" {_n(new.get('pane_rss_mb'))} MB**; the tree before ({_n(f.get('baseline'))[:7]})"
        f" {_n(old.get('dora_s'))} s, {_n(old.get('dora_rss_mb'))} MB and"
        f" {_n(old.get('pane_open_s'))} s, {_n(old.get('pane_rss_mb'))} MB"
    )


def _log_search(f: Any) -> str:
    me, tl, old = (f.get(k) or {} for k in ("shipdeck", "toolong", "baseline"))
    return (
        f"the match **{_n(me.get('search_s'))} s** (toolong {_n(tl.get('search_s'))} s; the"
        f" tree before: {'found' if old.get('found') else 'not found'}); the last line"
        f" **{_n(me.get('open_from_load_s'))} s** from `load_file`, {_n(me.get('open_s'))} s"
        f" from the app's start (toolong {_n(tl.get('open_s'))} s)"
    )


def _log_pane(f: Any) -> str:
    ingest = _get(f, "ingest") or {}
    rate = {k: _get(ingest, k, "lines_per_second") for k in ("shipdeck", "textual_log", "richlog")}
    return (
        f"**{_n(ingest.get('shipdeck_vs_textual_log'), '{}x')}** Textual's `Log`"
        f" ({_n(rate['shipdeck'], '{:,}')} against {_n(rate['textual_log'], '{:,}')} lines/s;"
        f" RichLog {_n(rate['richlog'], '{:,}')}); longest stall"
        f" {_n(_get(ingest, 'shipdeck', 'stall_max_ms'))} ms; RSS after 5M lines"
        f" +{_n(_get(f, 'memory', 'shipdeck', 'rss_growth_mb'))} MB"
    )


def _pipeline(f: Any) -> str:
    r = f.get("ratio") or {}
    return (
        f"the script {_n(_get(f, 'sides', 'shell', 'total_s'))} s; on the board"
        f" **{_n(r.get('new_board'), '{}x')}**, through the engine's API in one process"
        f" **{_n(r.get('new_in_process'), '{}x')}**, through the CLI"
        f" **{_n(r.get('new'), '{}x')}**; {_n(f.get('baseline'))[:7]}"
        f" {_n(r.get('old_board'), '{}x')}, {_n(r.get('old_in_process'), '{}x')},"
        f" {_n(r.get('old'), '{}x')}"
    )


def _idle(f: Any) -> str:
    runs = f.get("board_percent_of_core") or []
    return (
        f"**{' / '.join(f'{x:.2f}' for x in runs) or '?'}%** of a core; a bare Textual app"
        f" {_span(f.get('bare_percent_of_core'))}, Textual's Sparklines doing the pane's job"
        f" {_span(f.get('textual_sparklines_percent_of_core'))}"
    )


ROWS: dict[str, Row] = {
    "first_paint_tmux": (
        "board first paint in tmux, 20k and 50k items",
        "1.5x and 2x the 200-item board",
        _first_paint,
    ),
    "board_scale": (
        "CLI `item add` while the board shows 20k items; `item list`, `status --json` at 50k",
        "key press <= 50 ms, RSS +30 MB; 1.5x of 200 items",
        _board_scale,
    ),
    "history": (
        "`dora --json` and the events pane on 1M journal events",
        "< 0.5 s, < 150 MB",
        _history,
    ),
    "log_search": (
        "a match 900,000 lines up in a finished 1M-line log; that log's last line",
        "< 0.5 s each",
        _log_search,
    ),
    "log_pane": ("log pane ingest, 1M lines", "3x Textual's `Log`", _log_pane),
    "pipeline": ("the demo's Plan -> Deploy against a shell script", "1.15x the script", _pipeline),
    "idle_tmux": (
        "idle, metrics pane at 1 Hz, in tmux, five 60 s runs",
        "< 1% of a core, 5 of 5 runs",
        _idle,
    ),
}


_CHECKS = {
    "ratio": "through the CLI",
    "ratio_board": "on the board",
    "ratio_in_process": "in one process",
}


def _met(targets: Any) -> str:
    """Every check a benchmark made, as the table's ``met`` cell."""
    if isinstance(targets, bool):
        return "yes" if targets else "**no**"
    if not isinstance(targets, dict) or not targets:
        return "?"
    missed = [_CHECKS.get(k, k) for k, ok in targets.items() if not ok]
    return "yes" if not missed else "**no**: " + ", ".join(missed)


def row(name: str, got: dict[str, Any], targets: Any) -> dict[str, str]:
    """One benchmark's row: what, target, its figures (or why there are none), met."""
    what, target, summary = ROWS[name]
    measured = summary(got["figures"]) if "figures" in got else f"failed: {got['error'][-200:]}"
    return {"benchmark": name, "what": what, "target": target, "measured": measured,
            "met": _met(targets)}  # fmt: skip


def markdown(table: list[dict[str, str]]) -> list[str]:
    """The README's table, a line each: what, target, measured, met."""
    rows = ["| what | target | measured (one run) | met |", "| --- | --- | --- | --- |"]
    rows += [f"| {r['what']} | {r['target']} | {r['measured']} | {r['met']} |" for r in table]
    return rows


def main(args: argparse.Namespace) -> dict[str, Any]:
    names = args.only or list(BENCHMARKS)
    out: dict[str, Any] = {
        "quick": args.quick,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "runs": {},
    }
    for name in names:
        out["runs"][name] = run(name, args.quick)
    out["meets_targets"] = {
        name: _get(out["runs"][name], "figures", "meets_targets")
        or _get(out["runs"][name], "figures", "meets_target")
        or _get(out["runs"][name], "figures", "targets")  # log_pane.py's name for it
        for name in names
    }
    table = [row(name, out["runs"][name], out["meets_targets"][name]) for name in names]
    out["table"] = table
    out["table_markdown"] = markdown(table)
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's --quick")
    parser.add_argument("--only", action="append", choices=list(BENCHMARKS))
    parser.add_argument("--table", type=Path, metavar="FILE", help="an earlier run's JSON")
    return parser.parse_args(argv)


def table_of(path: Path) -> list[str]:
    """The markdown table of a saved run, with today's row wording."""
    doc = json.loads(path.read_text())
    return markdown([row(n, got, doc["meets_targets"].get(n)) for n, got in doc["runs"].items()])


if __name__ == "__main__":
    options = parse()
    if options.table:
        print("\n".join(table_of(options.table)))
    else:
        print(json.dumps(main(options), indent=2, default=str))
