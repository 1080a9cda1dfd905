"""Pipeline benchmark: the demo's Plan -> Deploy on the open board, through the
engine's API and through the CLI, next to a shell script doing the same real work and
next to the baseline tree's same sides, in one run.

Run ``python benchmarks/pipeline.py`` (full) or ``--quick`` (fewer rounds); prints one
JSON object; figures are medians over ``--rounds`` (``min`` the fastest round).
Nothing here asserts: ``meets_targets`` compares with the issue's target, Plan ->
Deploy within 1.15x of the shell script.

- Each round makes fresh demo repositories (``shipdeck demo PATH --no-open
  --no-docker``, untimed; each side's demo is made by that side's code) and then
  times, per side:
  - ``new`` / ``old`` (this tree; the baseline commit, ``--baseline``, default
    40fe6f7, exported with ``git archive`` into a temp dir and run with
    ``PYTHONPATH`` there): ``shipdeck item add "Say hola"``, ``shipdeck advance ID
    --to code`` (the branch), a one-line edit and ``git commit``, then ``shipdeck
    advance ID --to deploy --env staging --json`` (Build, Test, Release, Deploy on
    the embedded ``local`` target, which waits for the health URL);
  - ``shell``: ``git checkout -b``, the same edit and commit, the build and test
    commands of the demo's shipdeck.yaml, ``git checkout main``, ``git merge
    --ff-only``, ``git tag v0.1.0``, the service started in the background and its
    health URL polled with ``curl`` every ``--shell-poll`` seconds (0.1 s: what such
    a script usually sleeps). Same interpreter as shipdeck's ``{python}``.
  - ``new_board`` / ``old_board``: the same steps on the open board itself, the real
    app (headless, 120x40) driven by its keys: opened and settled untimed, the title
    typed untimed, then timed from the form's save: ``a`` (Plan -> Code), the edit and
    commit, ``a`` (Code -> Deploy), until the board shows Deploy passed (the app has
    read the board after its finish; until 2026-12-06, until the app began handling
    the finish's message, which a reload follows at once). This is what a board user
    waits; the screen's work (repaints, reloads, the log pane)
    competes with the run for the interpreter and the cores.
  - ``new_board_deaf``: the board's side again, with the app told nothing of the run
    (``ShipdeckApp._from_engine`` a no-op: no board read, log line, pane or frame for
    it), its end seen from the engine's own events: what the open app costs a run
    without its reactions to it. Against ``new_board``, what those reactions cost.
  - ``new_in_process`` / ``old_in_process``: the same steps in one process through the
    engine's API, which the board's keys call, without the screen: the engine is
    built first (untimed, as the board has it
    built when a key is pressed, with the interpreter named and the repository opened:
    the demo board's card facts read SD-1's branch head at start, in both trees; and
    the HTTP client and psutil loaded, as this tree's board loads them after its first
    paint, ``tui/app.py``'s ``_load_network_and_metrics``; the baseline's board did not,
    so its side is spared an import its board paid), then
    ``store.add``, ``engine.advance(to=CODE)``,
    the edit and commit, ``engine.advance(to=DEPLOY)``. No CLI process starts, no
    config parsed per step: what is left is shipdeck's own work per stage, the floor
    under the board's side.
  - ``new_in_process_beside`` (``--beside SHARE``, default 0.25; 0 leaves it out): the
    one-process side again, next to a process busy that share of a core in 4 ms bursts
    for the timed steps, as the board's UI thread is while a run paints
    (``beside_cpu_s`` what it used; the board side's ``ui_cpu_s`` is its UI thread's
    CPU time, the harness's polling included). Whether CPU spent beside the run costs
    the run wall time on this machine even from another process: if it does, the
    board's gap is its CPU, not the thread or process its engine runs in.
- ``cpu_s``: the CPU time the whole machine spent (busy time in ``/proc/stat``, every
  process: shipdeck, its guards and relay, git, the steps, the service starting) while
  a side ran its timed steps; None where there is no ``/proc/stat``. On a quiet
  machine with cores to spare, work done beside the steps costs no wall time; when the
  other processes of the machine take a core, every CPU-second competes with the
  steps, so ``cpu_s`` next to the shell's says how a side fares on a busy machine.
- ``total_s`` is the wall time of those steps; ``ratio`` is new (or old) over shell,
  medians of the interleaved rounds (the order of the sides rotates);
  ``paired_ratios`` the median of each round's own ratio to that round's script;
  ``overhead_s`` the difference in seconds (what shipdeck adds to the real work).
- ``first_build_step_s``: from launching ``advance --to deploy`` to the arrival of
  the first build step's command line (``$ ...``) on its ``--json`` stream (each
  line is flushed as it is written). ``stages_s``: per stage, the wall time from its
  ``started`` event to its ``finished`` event as they arrive; ``before_build_s`` the
  process's start to Build's ``started``; ``after_deploy_s`` Deploy's ``finished``
  to the process's exit; ``item_add_s``, ``to_code_s``, ``commit_s`` the steps
  before it.
- ``--tree PATH`` measures another tree as ``new`` (a ``git archive`` export with
  some commits applied, to tell their effect from the rest of the checkout's).
- After each round the deployed service is stopped (``shipdeck stop staging``, or
  the shell's ``kill``) and its port checked free; a service still answering is
  killed and reported under ``orphans`` (0 expected).
- Children write bytecode (to a temp ``PYTHONPYCACHEPREFIX``, even where
  ``PYTHONDONTWRITEBYTECODE`` is set) and one warm-up round is not counted, so no
  figure includes compiling modules.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import platform
import re
import signal
import socket
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
from benchmarks._trees import GIT_ENV, export_tree, tree_env  # noqa: E402

TARGETS = {"ratio": 1.15}
# The tree the Plan -> Deploy figures of issue #15 are compared with; older trees
# (4ede4ca) import GitPython, which shipdeck no longer installs.
BASELINE = "40fe6f7"
EDIT = "\n# hola\n"

SHELL = r"""
set -eu
py="$1"; port="$2"; poll="$3"
git checkout -q -b feature/SD-5-say-hola main
printf '\n# hola\n' >> app/__init__.py
git commit -q -am "SD-5: hola"
"$py" -m compileall -q app
"$py" -m unittest discover -s tests -t . 2>/dev/null
git checkout -q main
git merge -q --ff-only feature/SD-5-say-hola
git tag v0.1.0
"$py" -m app --port "$port" >service.log 2>&1 &
echo $! >service.pid
until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep "$poll"; done
"""


# One process that has the engine built (as the open board has), then the same steps
# through the engine's API, which the board's keys call, with no screen.
IN_PROCESS = r"""
import json, os, subprocess, sys, time
from pathlib import Path

from shipdeck.lifecycle.items import Kind
from shipdeck.lifecycle.ports import CancelToken
from shipdeck.lifecycle.stages import Stage
from shipdeck.project.repo import Project
from shipdeck.project.wiring import build_engine

repo, edit = Path(sys.argv[1]), sys.argv[2]
# HELPERS
project = Project(repo)
engine = build_engine(project)
engine.recover()
project.store.load()
engine.environ  # the interpreter, named by the time a board's user presses a key
engine.vcs  # the repository: the board's card facts read the Code cards' branch heads at
# start (the demo's SD-1), so git's backend is loaded and the git dir found by then
import shipdeck.backends.metrics, shipdeck.backends.probe  # loaded after the first paint
beside = start_beside(float(sys.argv[3]) if len(sys.argv) > 3 else 0.0)
c0 = busy_cpu_s()
t0 = time.perf_counter()
go_beside(beside)
item = project.store.add("Say hola", Kind.FEATURE)
t1 = time.perf_counter()
outcome = engine.advance(item.id, to=Stage.CODE, cancel=CancelToken())
assert outcome.ok, outcome.message
t2 = time.perf_counter()
commit_edit(repo, edit, item.id)
t3 = time.perf_counter()
outcome = engine.advance(item.id, to=Stage.DEPLOY, env="staging", cancel=CancelToken())
assert outcome.ok, outcome.message
t4 = time.perf_counter()
c4 = busy_cpu_s()
extra = {"beside_cpu_s": stop_beside(beside)} if beside is not None else {}
print(figures_json(c0, c4, t0, t1, t2, t3, t4, **extra))
"""


# The board itself: the real app (headless, 120x40) on the demo, driven by its keys.
# Opened, painted and settled untimed (as a user looks at the board before pressing a
# key), the new item's title typed untimed; timed from its save (ctrl+s): the card
# appears selected, ``a`` (Plan -> Code), the edit and commit, ``a`` (Code -> Deploy: the
# demo's staging is ``auto``, no dialog), until the board shows Deploy passed. The
# timed keys go to the app as a terminal's do (the driver's message), not by Pilot.press,
# which waits after each key until the process's CPU time stops advancing.
ON_THE_BOARD = r"""
import asyncio, json, os, subprocess, sys, time
from pathlib import Path

from shipdeck.lifecycle.items import RunState
from shipdeck.lifecycle.runs import RunFinished
from shipdeck.lifecycle.stages import Stage
from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.item_form import ItemFormScreen
from textual import events

repo, edit = Path(sys.argv[1]), sys.argv[2]
deaf = sys.argv[4:] == ["deaf"]
# HELPERS
ended = {}  # (item, stage) -> how its run ended, from the engine itself (deaf)
if deaf:
    ShipdeckApp._from_engine = lambda self, event: None


async def until(test, what):
    end = time.perf_counter() + 60
    while not test():
        if time.perf_counter() > end:
            raise SystemExit(f"the board: no {what} in 60 s")
        await asyncio.sleep(0.002)


def press(app, key, char=None):
    app._driver.send_message(events.Key(key, char))


# The board shows the item in the stage, passed: the app has read the board after the
# stage's finish (what its user sees; both trees keep the board in app.items).
def passed(app, item_id, stage):
    def test():
        if deaf:
            state = ended.get((item_id, stage))
        else:
            item = app.items.get(item_id)
            shown = item.states.get(stage) if item is not None and item.stage is stage else None
            state = None if shown is None else shown.state
        if state is None or state in (RunState.IDLE, RunState.RUNNING):
            return False
        if state is not RunState.PASSED:
            raise SystemExit(f"the board: {item_id} {stage.label}: {state}")
        return True
    return test


def record(event):
    if isinstance(event, RunFinished):
        ended[(event.item_id, event.stage)] = event.state


async def main():
    app = ShipdeckApp(Project(repo))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await asyncio.sleep(1.0)  # the first paint's after-work (config, facts, preload)
        if deaf:
            app.engine.subscribe(record)  # the board's own engine (its card facts built it)
        await pilot.press("n")
        await until(lambda: isinstance(app.screen, ItemFormScreen), "form")
        await pilot.press(*"Say hola")
        known = app.board.selected_id()
        c0 = busy_cpu_s()
        u0 = time.thread_time()  # this thread runs the app's event loop: the UI thread
        t0 = time.perf_counter()
        press(app, "ctrl+s")
        await until(lambda: app.board.selected_id() not in (None, known), "new card")
        item = app.board.selected_id()
        t1 = time.perf_counter()
        press(app, "a", "a")
        await until(passed(app, item, Stage.CODE), "Code")
        t2 = time.perf_counter()
        commit_edit(repo, edit, item)
        t3 = time.perf_counter()
        press(app, "a", "a")
        await until(passed(app, item, Stage.DEPLOY), "Deploy")
        t4 = time.perf_counter()
        c4 = busy_cpu_s()
        ui = time.thread_time() - u0
    print(figures_json(c0, c4, t0, t1, t2, t3, t4, ui_cpu_s=ui))


asyncio.run(main())
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def commit_edit(repo: Path, edit: str, item: str) -> None:
    """The person's edit and commit between Code and Deploy (the in-process and board
    sides run it in their child: its source goes there)."""
    with (repo / "app" / "__init__.py").open("a") as f:
        f.write(edit)
    subprocess.run(["git", "commit", "-q", "-am", f"{item}: hola"], cwd=repo, check=True)


def figures_json(c0: float | None, c4: float | None, *t: float, **extra: float) -> str:
    """A child side's JSON line from its CPU readings and its five times."""
    return json.dumps({
        "total_s": t[4] - t[0], "cpu_s": None if c0 is None or c4 is None else c4 - c0,
        "item_add_s": t[1] - t[0], "to_code_s": t[2] - t[1],
        "commit_s": t[3] - t[2], "advance_s": t[4] - t[3], **extra,
    })  # fmt: skip


def start_beside(duty: float) -> subprocess.Popen[str] | None:
    """A process beside the run, busy ``duty`` of a core in 4 ms bursts from ``go``
    until its stdin closes, as the open board's UI thread is while a run paints: what
    that much CPU costs the run when it is not in the run's process. Started (and
    ready) before the timing; None for ``duty`` 0."""
    if duty <= 0:
        return None
    burn = (
        "import select, sys, time\n"
        "on = 0.004; off = on * (1 - DUTY) / DUTY\n"
        "print('ready', flush=True); sys.stdin.readline(); c0 = time.process_time()\n"
        "while True:\n"
        "    end = time.perf_counter() + on\n"
        "    while time.perf_counter() < end: pass\n"
        "    if select.select([sys.stdin], [], [], off)[0]: break\n"
        "print(time.process_time() - c0, flush=True)\n"
    ).replace("DUTY", repr(duty))
    proc = subprocess.Popen(
        [sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def go_beside(proc: subprocess.Popen[str] | None) -> None:
    if proc is not None and proc.stdin is not None:
        proc.stdin.write("go\n")
        proc.stdin.flush()


def stop_beside(proc: subprocess.Popen[str]) -> float:
    """Stop the busy process beside the run: the CPU seconds it used while busy."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    used = float(proc.stdout.readline())
    proc.wait()
    return used


def busy_cpu_s() -> float | None:
    """CPU seconds the machine has spent busy since boot (all cores, every process:
    ``/proc/stat`` less idle and iowait); None without ``/proc``."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(n) for n in f.readline().split()[1:]]
    except OSError:
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def cpu_between(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else end - start


def port_answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def demo_port(repo: Path) -> int:
    match = re.search(r"^\s+port: (\d+)$", (repo / "shipdeck.yaml").read_text(), re.M)
    assert match, "the demo's shipdeck.yaml has no port"
    return int(match.group(1))


class Side:
    """One tree's CLI (new: this checkout; old: the export) and how to run it."""

    def __init__(self, kind: str, code: Path, base: Path) -> None:
        self.kind = kind
        self.env = tree_env(code, base / "config", base / f"pycache-{kind}")

    def python(self, repo: Path, what: str, *args: str) -> str:
        """``python ARGS`` with this side's code, in ``repo``: its stdout."""
        out = subprocess.run(
            [sys.executable, *args], cwd=repo, env=self.env, capture_output=True, text=True
        )
        if out.returncode:
            missing = re.search(r"No module named '([\w.]+)'", out.stderr)
            hint = ""
            if missing and self.kind == "old":  # 40fe6f7 still read the board through gitdb
                name = missing.group(1).split(".")[0]
                hint = f" (the baseline tree needs {name}: pip install {name}, or --no-baseline)"
            raise SystemExit(f"{self.kind}: {what}: {out.stderr.strip()[-2000:]}{hint}")
        return out.stdout

    def cli(self, repo: Path, *args: str) -> str:
        return self.python(repo, f"shipdeck {' '.join(args)}", "-m", "shipdeck", *args)

    def make_demo(self, path: Path) -> Path:
        self.cli(path.parent, "demo", str(path), "--no-open", "--no-docker")
        return path

    def round(self, repo: Path) -> dict[str, Any]:
        c0 = busy_cpu_s()
        t0 = time.perf_counter()
        item = self.cli(repo, "item", "add", "Say hola").strip()
        t1 = time.perf_counter()
        self.cli(repo, "advance", item, "--to", "code")
        t2 = time.perf_counter()
        with (repo / "app" / "__init__.py").open("a") as f:
            f.write(EDIT)
        git(repo, "commit", "-q", "-am", f"{item}: hola")
        t3 = time.perf_counter()
        timeline = self.advance(repo, item)
        t4 = time.perf_counter()
        figures: dict[str, Any] = {
            "total_s": t4 - t0,
            "cpu_s": cpu_between(c0, busy_cpu_s()),
            "item_add_s": t1 - t0,
            "to_code_s": t2 - t1,
            "commit_s": t3 - t2,
            "advance_s": t4 - t3,
        }
        figures.update(breakdown(timeline, t3, t4))
        return figures

    def advance(self, repo: Path, item: str) -> list[tuple[float, dict[str, Any]]]:
        args = ["advance", item, "--to", "deploy", "--env", "staging", "--json"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "shipdeck", *args],
            cwd=repo,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert proc.stdout is not None
        timeline = [(time.perf_counter(), json.loads(line)) for line in proc.stdout]
        err = proc.stderr.read() if proc.stderr else ""
        if proc.wait():
            raise SystemExit(f"{self.kind}: shipdeck {' '.join(args)}: {err.strip()}")
        return timeline

    def in_process(
        self, repo: Path, script: str = IN_PROCESS, beside: float = 0.0, mode: str = ""
    ) -> dict[str, Any]:
        """The same steps in one process with the engine already built (untimed); with
        ``ON_THE_BOARD``, in the open board by its keys; with ``beside``, next to a
        process busy that share of a core (:func:`start_beside`)."""
        # the helpers' own source in place of their marker: the child's path has the
        # measured tree's code, not these benchmarks
        helpers = (busy_cpu_s, commit_edit, figures_json, start_beside, go_beside, stop_beside)
        script = script.replace("# HELPERS\n", "\n".join(map(inspect.getsource, helpers)))
        args = [str(repo), EDIT, str(beside), *([mode] if mode else [])]
        out = self.python(repo, "in process", "-c", script, *args)
        figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return figures

    def stop(self, repo: Path) -> int:
        """Stop the deployed service; 1 if it had to be killed by its port's owner."""
        port = demo_port(repo)
        self.cli(repo, "stop", "staging")
        return kill_listener(port)


def kill_listener(port: int) -> int:
    if not port_answers(port):
        return 0
    out = subprocess.run(
        ["fuser", "-k", f"{port}/tcp"], capture_output=True, text=True, check=False
    )
    return 1 if out.returncode == 0 or port_answers(port) else 0


def breakdown(
    timeline: list[tuple[float, dict[str, Any]]], start: float, end: float
) -> dict[str, Any]:
    stages: dict[str, float] = {}
    opened: dict[str, float] = {}
    first_step = build_started = deploy_finished = None
    running = ""
    for at, event in timeline:
        kind = event.get("event")
        if kind == "started":
            running = event["stage"]
            opened[running] = at
            if running == "build" and build_started is None:
                build_started = at
        elif kind == "finished":
            stages[event["stage"]] = at - opened.get(event["stage"], at)
            if event["stage"] == "deploy":
                deploy_finished = at
        elif kind == "line" and running == "build" and first_step is None:
            first_step = at if str(event.get("text", "")).startswith("$ ") else None
    return {
        "first_build_step_s": None if first_step is None else first_step - start,
        "before_build_s": None if build_started is None else build_started - start,
        "stages_s": stages,
        "after_deploy_s": None if deploy_finished is None else end - deploy_finished,
    }


def shell_round(repo: Path, python: str, poll: float) -> dict[str, Any]:
    port = demo_port(repo)
    env = dict(os.environ, **GIT_ENV)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    c0 = busy_cpu_s()
    t0 = time.perf_counter()
    subprocess.run(
        ["sh", "-c", SHELL, "sh", python, str(port), str(poll)],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
    )
    t1 = time.perf_counter()
    cpu = cpu_between(c0, busy_cpu_s())
    pid = int((repo / "service.pid").read_text())
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if not port_answers(port):
            break
        time.sleep(0.05)
    return {"total_s": t1 - t0, "cpu_s": cpu, "orphan": kill_listener(port)}


def project_python() -> str:
    """The interpreter the demo's ``{python}`` resolves to: the real one under the venv."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "total_s": median([r["total_s"] for r in rounds]),
        "min_total_s": round(min(r["total_s"] for r in rounds), 4),
    }
    cpu = [r["cpu_s"] for r in rounds if r.get("cpu_s") is not None]
    out["cpu_s"] = median(cpu) if cpu else None
    if "advance_s" not in rounds[0]:
        return out
    for key in ("item_add_s", "to_code_s", "commit_s", "advance_s"):
        out[key] = median([r[key] for r in rounds])
    for key in ("ui_cpu_s", "beside_cpu_s"):  # the board's UI thread; the busy process
        if key in rounds[0]:
            out[key] = median([r[key] for r in rounds])
    if "stages_s" not in rounds[0]:
        return out  # in process: no event stream to break down
    for key in ("first_build_step_s", "before_build_s", "after_deploy_s"):
        values = [r[key] for r in rounds if r[key] is not None]
        out[key] = median(values) if values else None
    names = sorted({s for r in rounds for s in r["stages_s"]})
    out["stages_s"] = {
        s: median([r["stages_s"][s] for r in rounds if s in r["stages_s"]]) for s in names
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline", default=BASELINE, metavar="REV")
    parser.add_argument("--no-baseline", action="store_true", help="only this tree and shell")
    parser.add_argument("--shell-poll", type=float, default=0.1, metavar="S")
    parser.add_argument(
        "--beside",
        type=float,
        default=0.25,
        metavar="SHARE",
        help="the new_in_process_beside side's busy process: this share of a core (0: none)",
    )
    parser.add_argument(
        "--tree", type=Path, default=ROOT, metavar="PATH", help="the code measured as new"
    )
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    python = project_python()
    with tempfile.TemporaryDirectory(prefix="shipdeck-pipeline-") as tmp:
        base = Path(tmp)
        sides = [Side("new", args.tree.resolve(), base)]
        rev = ""
        if not args.no_baseline:
            rev = git(ROOT, "rev-parse", "--verify", f"{args.baseline}^{{commit}}")
            sides.append(Side("old", export_tree(rev, base / "old"), base))
        results: dict[str, list[dict[str, Any]]] = {s.kind: [] for s in sides}
        results["shell"] = []
        orphans = 0
        for s in sides:
            results[f"{s.kind}_in_process"] = []
            results[f"{s.kind}_board"] = []
        results["new_board_deaf"] = []
        if args.beside > 0:
            results["new_in_process_beside"] = []
        order = [*results]
        for n in range(rounds + 1):  # round 0 warms up (bytecode, caches) and is dropped
            for kind in order[n % len(order) :] + order[: n % len(order)]:
                if kind == "shell":
                    repo = sides[0].make_demo(base / f"r{n}-{kind}")
                    figures = shell_round(repo, python, args.shell_poll)
                    orphans += figures.pop("orphan")
                else:
                    side = next(s for s in sides if kind.startswith(s.kind))
                    repo = side.make_demo(base / f"r{n}-{kind}")  # as its own code makes it
                    try:
                        if kind.endswith("_in_process"):
                            figures = side.in_process(repo)
                        elif kind.endswith("_beside"):
                            figures = side.in_process(repo, beside=args.beside)
                        elif kind.endswith("_board"):
                            figures = side.in_process(repo, ON_THE_BOARD)
                        elif kind.endswith("_board_deaf"):
                            figures = side.in_process(repo, ON_THE_BOARD, mode="deaf")
                        else:
                            figures = side.round(repo)
                    finally:
                        orphans += side.stop(repo)
                if n:
                    results[kind].append(figures)
        summary = {kind: summarize(r) for kind, r in results.items()}
    shell = summary["shell"]["total_s"]
    ratios = {k: round(summary[k]["total_s"] / shell, 3) for k in summary if k != "shell"}
    min_ratios = {
        k: round(summary[k]["min_total_s"] / summary["shell"]["min_total_s"], 3)
        for k in summary
        if k != "shell"
    }
    # Each side over the script of the same round (the sides of a round run back to
    # back, so a machine that slows for a while slows both): steadier than the ratio of
    # the medians when the machine's speed drifts across the run.
    shells = results["shell"]
    paired = {
        k: median([r["total_s"] / sh["total_s"] for r, sh in zip(results[k], shells, strict=True)])
        for k in ratios
    }
    overhead = {k: round(summary[k]["total_s"] - shell, 3) for k in ratios}
    shell_cpu = summary["shell"]["cpu_s"]
    cpu_ratios = {
        k: round(summary[k]["cpu_s"] / shell_cpu, 3)
        for k in ratios
        if shell_cpu and summary[k]["cpu_s"] is not None
    }
    report = {
        "benchmark": "pipeline",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "rounds": rounds,
        "baseline": rev[:12] or None,
        "tree": str(args.tree.resolve()),
        "shell_poll_s": args.shell_poll,
        "project_python": python,
        "sides": summary,
        "ratio": ratios,
        "overhead_s": overhead,
        "ratios_of_minimums": min_ratios,
        "paired_ratios": paired,
        "cpu_ratio": cpu_ratios,
        "orphans": orphans,
        "targets": TARGETS,
        "meets_targets": {
            "ratio": ratios["new"] <= TARGETS["ratio"],
            "ratio_in_process": ratios["new_in_process"] <= TARGETS["ratio"],
            "ratio_board": ratios["new_board"] <= TARGETS["ratio"],
            "no_orphans": orphans == 0,
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
