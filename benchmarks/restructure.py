"""Restructure benchmark (issue #12): ``benchmarks/board.py`` and
``benchmarks/log_pane.py`` of the tree before the restructure next to this tree's,
in one run, with the ratio current/baseline of each figure.

Run ``python benchmarks/restructure.py`` (both benchmarks with ``--quick``, but the
log pane's ingest at its full 1,000,000 lines; three rounds: about fifteen minutes on
a busy 2-core machine) or ``--full`` (their full sizes); prints one JSON document.
Nothing here asserts: the figures are printed.

- The baseline is the tree of ``--baseline REF`` (default 24c0c2c, the last commit
  before the restructure, when the packages had other paths), exported with
  ``git archive`` into a temporary directory outside the repository (no worktree is
  registered); the directory is removed at the end, also on Ctrl-C or SIGTERM.
  ``--current REF`` exports a commit the same way; by default the current side is
  this working tree.
- Each side runs its own ``benchmarks/board.py`` and ``benchmarks/log_pane.py`` with
  this interpreter, from its own tree (cwd and ``PYTHONPATH`` are the tree, and the
  scripts put their own tree first on ``sys.path``), so each imports its own code;
  ``imports`` in the output shows where each side's packages were loaded from.
  Arguments a side's script does not take (per its ``--help``) are left out for it,
  and listed under ``arguments``.
- ``--rounds`` rounds (3); in each, every benchmark runs on both sides back to back,
  the side that goes first alternating from round to round, so a machine that gets
  busier or quieter shows in both. ``baseline`` and ``current`` hold each round's
  value; ``ratio`` is the median of the current's over the median of the baseline's.
  ``better`` says which way is better. Figures marked ``reference`` measure code that
  is not shipdeck's (Textual's ``Log``, an ``OptionList``, a minimal app): the same on
  both sides, their ratios are the run's noise.
- Bytecode goes to a temporary ``PYTHONPYCACHEPREFIX`` (the benchmarks' children write
  it, as installed code has it), never into either tree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from shutil import rmtree
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from benchmarks._trees import export_tree  # noqa: E402

DEFAULT_BASELINE = "24c0c2c"
BENCHMARKS = ("board", "log_pane")
PACKAGES = ("lifecycle", "backends", "widgets", "tui")  # in both trees
# Without --full. log_pane.py's quick ingest of 100,000 lines takes well under a second,
# mostly the fixed cost of settling the screen: its full 1,000,000 lines are kept.
QUICK = {"board": ["--quick"], "log_pane": ["--quick", "--lines", "1000000"]}

# (dotted path in the benchmark's JSON, which way is better, reference: not shipdeck's code)
HEADLINES: dict[str, list[tuple[str, str, bool]]] = {
    "board": [
        ("startup.board_ms.median", "lower", False),
        ("startup.minimal_ms.median", "lower", True),
        ("startup.ratio", "lower", False),
        ("cursor.board.j.handled_ms.p50", "lower", False),
        ("cursor.board.j.handled_ms.p95", "lower", False),
        ("cursor.board.j.handled_ms.max", "lower", False),
        ("cursor.board.l_h.handled_ms.p50", "lower", False),
        ("cursor.board.l_h.handled_ms.max", "lower", False),
        ("cursor.board.j.app_handlers_ms.p50", "lower", False),
        ("cursor.baseline_optionlist.j.handled_ms.p50", "lower", True),
        ("idle.metrics_visible.cpu_percent_of_core", "lower", False),
        ("idle.logs_visible.cpu_percent_of_core", "lower", False),
        ("idle.metrics_shown_then_hidden.cpu_percent_of_core", "lower", False),
        ("idle.baseline_minimal_app.cpu_percent_of_core", "lower", True),
    ],
    "log_pane": [
        ("ingest.shipdeck.lines_per_second", "higher", False),
        ("ingest.shipdeck_threadsafe.lines_per_second", "higher", False),
        ("ingest.textual_log.lines_per_second", "higher", True),
        ("ingest.shipdeck_vs_textual_log", "higher", False),
        ("ingest.shipdeck.stall_max_ms", "lower", False),
        ("ingest.shipdeck.stall_p99_ms", "lower", False),
        ("ingest_shipdeck_views.filter.lines_per_second", "higher", False),
        ("ingest_shipdeck_views.search.lines_per_second", "higher", False),
        ("ingest_shipdeck_views.wrap.lines_per_second", "higher", False),
        ("memory.shipdeck.lines_per_second", "higher", False),
        ("memory.shipdeck.rss_growth_mb", "lower", False),
        ("latency.shipdeck.p50_ms", "lower", False),
        ("latency.shipdeck.p95_ms", "lower", False),
        ("latency.shipdeck.max_ms", "lower", False),
        ("latency.shipdeck.share_within_50ms", "higher", False),
        ("latency.textual_log.p95_ms", "lower", True),
    ],
}


class Interrupted(Exception):
    """SIGTERM, turned into an exception so the temporary trees are removed."""


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def export(rev: str, into: Path) -> Path:
    """The whole tree of ``rev`` in ``into`` (``git archive``: nothing registered in the repo)."""
    export_tree(rev, into)
    missing = [b for b in BENCHMARKS if not (into / "benchmarks" / f"{b}.py").exists()]
    if missing:
        raise SystemExit(f"{rev[:12]} has no benchmarks/{', '.join(missing)}.py")
    return into


class Side:
    """One tree (the baseline's export, or the current one) and how to run its scripts."""

    def __init__(self, name: str, tree: Path, pycache: Path) -> None:
        self.name = name
        self.tree = tree
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
        self.env["PYTHONPATH"] = str(tree)
        self.env["PYTHONPYCACHEPREFIX"] = str(pycache)
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env.pop("SHIPDECK_DEBUG", None)

    def python(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args],
            cwd=self.tree,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def imports(self) -> dict[str, str]:
        """Where this side's packages load from, as its benchmarks see them."""
        code = (
            "import importlib, json, sys; sys.path.insert(0, sys.argv[1]); print(json.dumps("
            "{p: importlib.import_module(p).__path__[0] for p in sys.argv[2:]}))"
        )
        proc = self.python("-c", code, str(self.tree), *PACKAGES)
        if proc.returncode:
            raise SystemExit(f"{self.name}: cannot import its packages:\n{proc.stderr[-2000:]}")
        found: dict[str, str] = json.loads(proc.stdout)
        stray = {p: d for p, d in found.items() if not Path(d).resolve().is_relative_to(self.tree)}
        if stray:
            raise SystemExit(f"{self.name} would import code from outside {self.tree}: {stray}")
        return found

    def accepted(self, benchmark: str, wanted: Sequence[str]) -> tuple[list[str], list[str]]:
        """``wanted`` without the options this side's script does not take (per ``--help``)."""
        proc = self.python(f"benchmarks/{benchmark}.py", "--help")
        if proc.returncode:
            raise SystemExit(f"{self.name}: {benchmark}.py --help failed:\n{proc.stderr[-2000:]}")
        known = {word.strip("[],") for word in proc.stdout.split() if word.startswith("-")}
        kept: list[str] = []
        dropped: list[str] = []
        args = list(wanted)
        while args:
            arg = args.pop(0)
            option = arg.split("=", 1)[0]
            value = [args.pop(0)] if "=" not in arg and args and not args[0].startswith("-") else []
            (kept if option in known else dropped).extend([arg, *value])
        return kept, dropped

    def run(self, benchmark: str, args: Sequence[str]) -> dict[str, Any]:
        """The benchmark in its own process group: on Ctrl-C or SIGTERM here, the group
        gets SIGINT (so the benchmark removes its temporary repositories and stops the
        demo service it started), then SIGKILL if it is still there after 10 s."""
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, f"benchmarks/{benchmark}.py", *args],
            cwd=self.tree,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(timeout=3600)
        except BaseException:
            stop_group(proc)
            raise
        seconds = round(time.perf_counter() - t0, 1)
        lines = stdout.strip()
        if proc.returncode or not lines:
            return {"error": stderr[-3000:] or f"exit code {proc.returncode}", "s": seconds}
        out: dict[str, Any] = json.loads(lines)
        out["_seconds"] = seconds
        return out


def stop_group(proc: subprocess.Popen[str]) -> None:
    for signum, wait in ((signal.SIGINT, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            return
        try:
            proc.communicate(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        with suppress(ProcessLookupError):  # it ended: what it left in its group goes too
            os.killpg(proc.pid, signal.SIGKILL)
        return


def lookup(data: Any, dotted: str) -> float | None:
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    if isinstance(data, bool) or not isinstance(data, int | float):
        return None
    return float(data)


def leaves(data: Any, prefix: str = "") -> Iterator[str]:
    """Every numeric figure's dotted path (``--all-figures``)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, f"{prefix}{key}.")
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield prefix[:-1]


def figures(benchmark: str, runs: dict[str, list[dict[str, Any]]], every: bool) -> dict[str, Any]:
    wanted = list(HEADLINES[benchmark])
    if every:
        named = {path for path, _b, _r in wanted}
        skip = ("_seconds", "section_seconds", "load_average", "target", "limit", "python")
        paths = {p for side in runs.values() for r in side for p in leaves(r)}
        wanted += [
            (p, "", False)
            for p in sorted(paths - named)
            if not any(s in p for s in skip) and not p.split(".")[-1].isdigit()
        ]
    out: dict[str, Any] = {}
    for path, better, reference in wanted:
        values = {
            side: [v for r in got if (v := lookup(r, path)) is not None]
            for side, got in runs.items()
        }
        if not values["baseline"] and not values["current"]:
            continue
        entry: dict[str, Any] = {}
        if better:
            entry["better"] = better
        if reference:
            entry["reference"] = True
        for side, got in values.items():
            entry[side] = got
            entry[f"{side}_median"] = round(statistics.median(got), 3) if got else None
        base, cur = entry["baseline_median"], entry["current_median"]
        entry["ratio"] = round(cur / base, 3) if base and cur is not None else None
        out[path] = entry
    return out


def raise_on_sigterm(signum: int, frame: Any) -> None:
    raise Interrupted(f"signal {signum}")


def progress(message: str) -> None:
    print(f"[restructure] {message}", file=sys.stderr, flush=True)


def main(args: argparse.Namespace) -> dict[str, Any]:
    baseline_rev = git("rev-parse", "--verify", f"{args.baseline}^{{commit}}")
    current_rev = git("rev-parse", "--verify", f"{args.current}^{{commit}}") if args.current else ""
    wanted = {
        b: ([] if args.full else QUICK[b]) + shlex.split(extra)
        for b, extra in (("board", args.board_args), ("log_pane", args.log_args))
    }
    benchmarks = [b for b in BENCHMARKS if not args.only or b in args.only]
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "rounds": args.rounds,
        "baseline": {"ref": args.baseline, "commit": baseline_rev, "tree": "git archive export"},
    }
    if current_rev:
        result["current"] = {"ref": args.current, "commit": current_rev, "tree": "git archive"}
    else:
        dirty = git("status", "--porcelain", "--untracked-files=no")
        result["current"] = {
            "ref": "working tree",
            "commit": git("rev-parse", "HEAD"),
            "uncommitted_changes": bool(dirty),
        }
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        b: {"baseline": [], "current": []} for b in benchmarks
    }
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with `&`
    tmp = Path(tempfile.mkdtemp(prefix="shipdeck-restructure-"))
    try:
        progress(f"exporting {baseline_rev[:12]} to {tmp / 'baseline'}")
        sides = {"baseline": Side("baseline", export(baseline_rev, tmp / "baseline"), tmp / "pyc")}
        if current_rev:
            sides["current"] = Side("current", export(current_rev, tmp / "current"), tmp / "pyc")
        else:
            sides["current"] = Side("current", ROOT, tmp / "pyc")
        result["imports"] = {name: side.imports() for name, side in sides.items()}
        arguments: dict[str, Any] = {}
        argv: dict[tuple[str, str], list[str]] = {}
        for benchmark in benchmarks:
            arguments[benchmark] = {}
            for name, side in sides.items():
                kept, dropped = side.accepted(benchmark, wanted[benchmark])
                argv[benchmark, name] = kept
                arguments[benchmark][name] = kept
                if dropped:
                    arguments[benchmark][f"{name}_not_taken"] = dropped
        result["arguments"] = arguments
        order: list[list[str]] = []
        for n in range(args.rounds):
            names = ["baseline", "current"] if n % 2 == 0 else ["current", "baseline"]
            order.append(names)
            for benchmark in benchmarks:
                for name in names:
                    progress(f"round {n + 1}/{args.rounds}: {benchmark}.py, {name}")
                    got = sides[name].run(benchmark, argv[benchmark, name])
                    if "error" in got:
                        progress(f"{benchmark}.py failed on the {name}:\n{got['error']}")
                    runs[benchmark][name].append(got)
        result["order_per_round"] = order
    except (KeyboardInterrupt, Interrupted) as stop:
        result["interrupted"] = f"{type(stop).__name__}: partial figures"
    finally:
        rmtree(tmp, ignore_errors=True)
        progress(f"removed {tmp}")
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = {
        b: {side: [r.get("_seconds", r.get("s")) for r in got] for side, got in per.items()}
        for b, per in runs.items()
    }
    errors = {
        f"{b} {side} round {i + 1}": r["error"][-500:]
        for b, per in runs.items()
        for side, got in per.items()
        for i, r in enumerate(got)
        if "error" in r
    }
    if errors:
        result["errors"] = errors
    result["figures"] = {b: figures(b, per, args.all_figures) for b, per in runs.items()}
    if args.raw:
        result["raw"] = runs
    return result


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, metavar="REF", help="(24c0c2c)")
    parser.add_argument("--current", metavar="REF", help="a commit (default: this working tree)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side (3)")
    parser.add_argument("--full", action="store_true", help="the benchmarks' full sizes")
    parser.add_argument("--only", action="append", choices=BENCHMARKS)
    parser.add_argument("--board-args", default="", help="more arguments for board.py")
    parser.add_argument("--log-args", default="", help="more arguments for log_pane.py")
    parser.add_argument("--all-figures", action="store_true", help="every numeric figure")
    parser.add_argument("--raw", action="store_true", help="include each run's whole output")
    return parser.parse_args(argv)


if __name__ == "__main__":
    outcome = main(parse())
    print(json.dumps(outcome, indent=2))
    if "interrupted" in outcome:
        sys.exit(130)
