"""History benchmark: ``shipdeck dora --json`` and the events pane opening, on journals
of 10k, 100k and 1M events, with the journal's index (``lifecycle/history.py``) next
to the tree before it (the baseline, which parses the whole journal), in one run.

Run ``python benchmarks/history.py`` (full) or ``--quick`` (10k and 100k only, fewer
repeats); prints one JSON object. Nothing here asserts: ``meets_targets`` compares
with issue #15's targets: ``dora --json`` and the events pane opening on 1M events
under 0.5 s and under 150 MB peak RSS each.

- The baseline is commit 4ede4ca (``--baseline`` to choose another), exported with
  ``git archive`` into a temp dir; its code runs with ``PYTHONPATH`` there, this
  tree's with ``PYTHONPATH`` at the repository, so the two never share a process.
- Journals are generated as the engine writes them (``lifecycle/events.py``): items
  created and moved through the stages, stage started/finished with run ids, shas
  and durations, releases cut, deploys to staging and production (lead times; some
  fail and roll back), monitoring alerts raised and cleared, autoscaling, webhook
  failures; one event every ~20 s up to now, so 1M events span about seven months.
  About 11% are of the five types DORA reads; the last 30 days (DORA's default
  window) hold about 130k of them at 1M.
- ``dora_*``: wall time and peak RSS (``wait4``'s ``ru_maxrss``) of ``python -m
  shipdeck dora --json`` in a fresh process, median of ``--runs``. For the index,
  ``index_build_s`` is the first run on a journal without an index (it indexes the
  whole journal once; later runs index only what was appended), and ``dora_append_s``
  a run right after 100 events were appended by another process (what a user sees
  after working: the index catches up by 100 lines). Both sides must print the same
  report (``same_report``; but for the window's ends and, on a journal younger than
  the window, the rate per day: each run has its own now).
- ``pane_*``: a headless Textual app (``run_test``, 120x40) with the events pane
  mounted: the time from asking for the events to the rows shown, and the child's
  peak RSS. The baseline does what its ``tui/panes.py`` did (``journal.tail(500)`` on
  the UI thread); this tree what its feed does (``Journal.newest(EVENTS_PAGE)`` in a
  worker thread). Measured with the index built (the board has usually indexed it);
  ``pane_ui_stall_s`` is the longest gap between ticks of a 10 ms timer on the UI
  thread meanwhile (the baseline reads on the UI thread: it stalls the whole time).
  ``pane_cold_*``: once, the same on a journal without an index (deleted first), so
  the worker indexes the whole journal before the first page shows.
- Children write bytecode to a temp ``PYTHONPYCACHEPREFIX`` and run once before
  timing, so no figure includes compiling.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from benchmarks._trees import export_tree  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
BASELINE = "4ede4ca"
TARGETS = {"seconds": 0.5, "rss_mb": 150.0}
CONFIG = "version: 1\nproject: bench\nbase_branch: main\nstages:\n  build: []\n  test: []\n"
STEP = 20.0  # seconds between events, on average: the journal ends about now

PANE_CHILD = r"""
import json, resource, sys, time
from pathlib import Path

side, root = sys.argv[1], Path(sys.argv[2])
from textual.app import App
from shipdeck.lifecycle.journal import Journal
from shipdeck.widgets.ops.events import EventsPane


class Bench(App[None]):
    def compose(self):
        yield EventsPane(id="events-pane")

    def show(self) -> None:
        pane = self.query_one(EventsPane)
        if side == "old":
            pane.set_events(Journal(root).tail(500))
        else:
            from shipdeck.tui.panes import EVENTS_PAGE
            self.run_worker(lambda: self._page(pane, EVENTS_PAGE), thread=True)

    def _page(self, pane, n):
        events = Journal(root).newest(n)
        self.call_from_thread(pane.set_events, events)


async def main() -> None:
    app = Bench()
    ticks = []
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(EventsPane)
        app.set_interval(0.01, lambda: ticks.append(time.perf_counter()))
        await pilot.pause(0.05)
        start = time.perf_counter()
        ticks.append(start)
        app.show()
        while not pane.table.row_count:
            await pilot.pause(0.005)
        await pilot.pause()
        took = time.perf_counter() - start
        rows = pane.table.row_count
        top = pane.events[0].to_dict()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    during = [t for t in ticks if t >= start]
    stall = max(b - a for a, b in zip(during, during[1:])) if len(during) > 1 else took
    out = {"open_s": took, "rss_mb": rss, "rows": rows, "top": top, "stall_s": stall}
    print(json.dumps(out))


import asyncio
asyncio.run(main())
"""


def _event(ts: float, event_type: str, item: str | None, /, **data: Any) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    out: dict[str, Any] = {"ts": stamp, "type": event_type}
    if item is not None:
        out["item"] = item
    out.update(data)
    return json.dumps(out, separators=(",", ":"))


def _lines(count: int, start: float, seed: int = 15) -> list[str]:
    """``count`` journal lines in time order from ``start``, as a project's months would
    write them."""
    rnd = random.Random(seed)
    lines: list[str] = []
    ts = start
    item = 0
    version = [1, 0, 0]
    alert = 0
    stages = ("code", "build", "test", "release")

    def tick() -> float:
        nonlocal ts
        ts += rnd.uniform(0.2, 2 * STEP)
        return ts

    while len(lines) < count:
        item += 1
        sd = f"SD-{item}"
        start = tick()
        lines.append(_event(start, "item.created", sd, title=f"change {item}", kind="feature"))
        if rnd.random() < 0.3:
            lines.append(_event(tick(), "item.edited", sd, fields=["title"]))
        previous = "plan"
        for stage in stages:
            lines.append(_event(tick(), "item.moved", sd, **{"from": previous, "to": stage}))
            run = f"{sd}-{stage}-{item}"
            sha = f"{rnd.getrandbits(160):040x}"
            lines.append(_event(tick(), "stage.started", sd, stage=stage, run_id=run, sha=sha))
            took = rnd.uniform(1, 300)
            lines.append(
                _event(
                    tick(),
                    "stage.finished",
                    sd,
                    stage=stage,
                    run_id=run,
                    status="passed",
                    duration=round(took, 2),
                    sha=sha,
                    message=f"{stage} passed",
                )
            )
            previous = stage
        version[2] += 1
        tag = "v{}.{}.{}".format(*version)
        lines.append(
            _event(
                tick(),
                "release.cut",
                sd,
                version=tag,
                tag=tag,
                sha=sha,
                image=f"registry.local/bench:{tag}",
            )
        )
        lines.append(_event(tick(), "item.moved", sd, **{"from": "release", "to": "deploy"}))
        for env in ("staging", "production"):
            run = f"{sd}-deploy-{env}"
            lines.append(_event(tick(), "deploy.started", sd, env=env, version=tag, run_id=run))
            if rnd.random() < 0.06:
                lines.append(
                    _event(
                        tick(),
                        "deploy.failed",
                        sd,
                        env=env,
                        version=tag,
                        reason="health check failed",
                    )
                )
                lines.append(
                    _event(
                        tick(),
                        "rolled_back",
                        sd,
                        env=env,
                        from_version=tag,
                        to_version="previous",
                        reason="deploy failed",
                    )
                )
                break
            lead = round(tick() - start, 1)
            lines.append(_event(ts, "deployed", sd, env=env, version=tag, sha=sha, lead_time=lead))
        lines.append(_event(tick(), "item.moved", sd, **{"from": "deploy", "to": "operate"}))
        if rnd.random() < 0.15:
            alert += 1
            env = rnd.choice(("staging", "production"))
            aid = f"A-{alert}"
            lines.append(
                _event(
                    tick(),
                    "alert.raised",
                    None,
                    alert_id=aid,
                    env=env,
                    metric="latency_ms",
                    value=812.0,
                    threshold=500.0,
                    message=f"{env} latency over 500 ms",
                    version=tag,
                )
            )
            if rnd.random() < 0.1:
                lines.append(
                    _event(
                        tick(),
                        "webhook.failed",
                        None,
                        event="alert.raised",
                        env=env,
                        alert_id=aid,
                        error="timed out",
                        attempts=3,
                        webhook="https://hooks.example.invalid/x",
                    )
                )
            lines.append(_event(tick(), "alert.cleared", None, alert_id=aid))
        if rnd.random() < 0.1:
            lines.append(
                _event(
                    tick(),
                    "autoscaled",
                    None,
                    env="production",
                    **{"from": 2},
                    to=3,
                    reason="cpu over 80%",
                    cpu=91.5,
                    latency_ms=120.0,
                )
            )
        if rnd.random() < 0.05:
            lines.append(_event(tick(), "restarted", None, env="staging", version=tag))
        lines.append(_event(tick(), "item.moved", sd, **{"from": "operate", "to": "monitor"}))
    return lines[:count]


def make_repo(base: Path, count: int) -> Path:
    repo = base / f"events-{count}"
    (repo / ".shipdeck").mkdir(parents=True)
    (repo / "shipdeck.yaml").write_text(CONFIG)
    with open(repo / ".shipdeck" / "journal.jsonl", "w", encoding="utf-8") as f:
        f.write("\n".join(_lines(count, time.time() - count * STEP)) + "\n")
    return repo


def append_events(repo: Path, count: int, at: float) -> None:
    with open(repo / ".shipdeck" / "journal.jsonl", "a", encoding="utf-8") as f:
        for n in range(count):
            f.write(_event(at + n, "item.moved", f"SD-{n + 1}", **{"from": "plan", "to": "code"}))
            f.write("\n")


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def export_old(rev: str, into: Path) -> Path:
    """The baseline's package in ``into`` (``git archive``: no checkout, no worktree)."""
    parts = ("shipdeck", "lifecycle", "backends", "tui", "widgets", "cli", "project", "examples")
    export_tree(rev, into, *parts)
    if (into / "lifecycle" / "history.py").exists():
        raise SystemExit(f"{rev} already has the index: pass --baseline REV")
    return into


class Side:
    """One tree's code (new: this repository; old: the export) and how to run it."""

    def __init__(self, kind: str, code: Path, base: Path) -> None:
        self.kind = kind
        self.code = code
        self.base = base
        self.env = dict(os.environ, PYTHONPATH=str(code))
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPYCACHEPREFIX"] = str(base / f"pycache-{kind}")
        self.env["XDG_CONFIG_HOME"] = str(base / "config")

    def check(self) -> None:
        """That the child imports this side's package, not the installed one."""
        code = "import shipdeck.lifecycle.dora as d; print(d.__file__)"
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=self.base,  # not the checkout: python -c puts the working directory first
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not out.startswith(str(self.code)):
            raise SystemExit(f"{self.kind}: shipdeck imported from {out}")

    def dora(self, repo: Path) -> tuple[dict[str, Any], float, float]:
        out, took, rss = self.run_measured(["-m", "shipdeck", "dora", "--json"], repo)
        return json.loads(out), took, rss

    def pane(self, repo: Path) -> dict[str, Any]:
        out, _, _ = self.run_measured(["-c", PANE_CHILD, self.kind, str(repo)], repo)
        result: dict[str, Any] = json.loads(out)
        return result

    def run_measured(self, args: list[str], cwd: Path) -> tuple[str, float, float]:
        """As :meth:`run`, with the child's peak RSS from ``wait4``."""
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # the child: exec python with its output in a pipe-less temp file
            try:
                out = os.open(str(cwd / ".bench-out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                err = os.open(str(cwd / ".bench-err"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.chdir(cwd)
                os.dup2(out, 1)
                os.dup2(err, 2)
                os.execve(sys.executable, [sys.executable, *args], self.env)
            finally:
                os._exit(127)
        _, status, usage = os.wait4(pid, 0)
        took = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status):
            tail = (cwd / ".bench-err").read_text()[-2000:]
            raise SystemExit(f"{self.kind} {args[:3]} failed: {tail}")
        return (cwd / ".bench-out").read_text(), took, usage.ru_maxrss / 1024


def measure(sides: dict[str, Side], repo: Path, runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    index = repo / ".shipdeck" / "state"
    reports: dict[str, Any] = {}
    # The first run of the index side on a journal it never saw: the whole journal indexed.
    report, took, rss = sides["new"].dora(repo)
    out["new"] = {"index_build_s": round(took, 3), "index_build_rss_mb": round(rss, 1)}
    out["old"] = {}
    times: dict[str, list[float]] = {"new": [], "old": []}
    peaks: dict[str, list[float]] = {"new": [], "old": []}
    for _ in range(runs):
        for kind in ("new", "old"):  # interleaved: the machine's load hits both alike
            report, took, rss = sides[kind].dora(repo)
            times[kind].append(took)
            peaks[kind].append(rss)
            reports[kind] = report
    for kind in ("new", "old"):
        out[kind]["dora_s"] = round(statistics.median(times[kind]), 3)
        out[kind]["dora_min_s"] = round(min(times[kind]), 3)
        out[kind]["dora_rss_mb"] = round(max(peaks[kind]), 1)
    append_events(repo, 100, time.time() - 100)
    _, took, rss = sides["new"].dora(repo)
    out["new"]["dora_append_s"] = round(took, 3)
    out["new"]["dora_append_rss_mb"] = round(rss, 1)
    out["same_report"] = _same(reports["new"], reports["old"])
    panes: dict[str, list[dict[str, Any]]] = {"new": [], "old": []}
    for _ in range(runs):
        for kind in ("new", "old"):
            panes[kind].append(sides[kind].pane(repo))
    for kind in ("new", "old"):
        got = panes[kind]
        out[kind]["pane_open_s"] = round(statistics.median(p["open_s"] for p in got), 3)
        out[kind]["pane_rss_mb"] = round(max(p["rss_mb"] for p in got), 1)
        out[kind]["pane_ui_stall_s"] = round(max(p["stall_s"] for p in got), 3)
        out[kind]["pane_rows"] = got[0]["rows"]
    out["same_top_event"] = panes["new"][0]["top"] == panes["old"][0]["top"]
    # The board opened on a journal never indexed: its worker indexes it all first.
    for name in os.listdir(index):
        os.unlink(index / name)
    cold = sides["new"].pane(repo)
    out["new"]["pane_cold_open_s"] = round(cold["open_s"], 3)
    out["new"]["pane_cold_rss_mb"] = round(cold["rss_mb"], 1)
    out["new"]["pane_cold_ui_stall_s"] = round(cold["stall_s"], 3)
    out["index_mb"] = round(sum(f.stat().st_size for f in index.iterdir()) / 2**20, 1)
    out["journal_mb"] = round((repo / ".shipdeck" / "journal.jsonl").stat().st_size / 2**20, 1)
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same report but for what depends on each run's own now: the window's ends,
    and on a journal younger than the window its age (so the rate per day)."""
    skip = {"since", "until", "period_days", "deployment_frequency"}
    return {k: v for k, v in a.items() if k not in skip} == {
        k: v for k, v in b.items() if k not in skip
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k, fewer repeats")
    parser.add_argument("--runs", type=int, default=None, help="repeats per figure")
    parser.add_argument("--baseline", default=BASELINE, help="the tree before the index")
    parser.add_argument("--sizes", default=None, help="comma-separated event counts")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else None
    sizes = sizes or list(QUICK_SIZES if args.quick else SIZES)
    runs = args.runs or (2 if args.quick else 3)
    rev = git("rev-parse", "--verify", f"{args.baseline}^{{commit}}")
    with tempfile.TemporaryDirectory(prefix="shipdeck-history-") as tmp:
        base = Path(tmp)
        sides = {
            "new": Side("new", ROOT, base),
            "old": Side("old", export_old(rev, base / "old"), base),
        }
        for side in sides.values():
            side.check()
        warm = make_repo(base / "warm", 200)
        for side in sides.values():  # bytecode written before anything is timed
            side.dora(warm)
            side.pane(warm)
        results: dict[str, Any] = {}
        for count in sizes:
            repo = make_repo(base, count)
            results[str(count)] = measure(sides, repo, runs)
    largest = results[str(max(sizes))]["new"]
    meets = {
        "dora_seconds": largest["dora_s"] < TARGETS["seconds"],
        "dora_rss": largest["dora_rss_mb"] < TARGETS["rss_mb"],
        "pane_seconds": largest["pane_open_s"] < TARGETS["seconds"],
        "pane_rss": largest["pane_rss_mb"] < TARGETS["rss_mb"],
        "same_results": all(r["same_report"] and r["same_top_event"] for r in results.values()),
    }
    print(
        json.dumps(
            {
                "benchmark": "history",
                "baseline": rev[:12],
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "runs": runs,
                "sizes": results,
                "targets": {**TARGETS, "measured_at": max(sizes)},
                "meets_targets": meets,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
