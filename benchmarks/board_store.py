"""Board store benchmark: the board on ``refs/shipdeck/board`` (one blob per item) next
to the old store (``.shipdeck/board.yaml``, from git history) as the baseline, both
measured in the same run on boards of 200, 2,000 and 20,000 items.

Run ``python benchmarks/board_store.py`` (full) or ``--quick`` (fewer repeats); prints
one JSON object; figures are medians (``min`` the fastest repeat, and
``ratios_of_minimums`` the ratios of those: CLI figures on a busy machine vary by a
few hundred ms). Nothing here asserts: ``meets_targets`` only compares with the
targets of the issue: item add and item move on a 20,000-item board within 1.5x of
the same on a 200-item board, and board load and item list on 2,000 items no slower
than the old store.

- The old store is the tree of the parent of the commit that added
  ``backends/git_board.py`` (``--baseline`` to choose another), exported with
  ``git archive`` into a temp dir; its code runs with ``PYTHONPATH`` there, so the
  two stores never share a process.
- Boards are built in one ``store.edit()`` from generated items (``Board.add``
  recomputes the highest id, so adding 20,000 one by one is quadratic), spread
  over Plan, Code and Build; each repository has a ``shipdeck.yaml`` and a commit.
- CLI figures (``cli_*``): wall time of ``python -m shipdeck ...`` in a fresh
  process, median of ``--runs``: ``item add``, ``item show SD-n``, ``item move
  SD-n code --force`` (a Plan item each time; the gate is overridden, so the move
  is the store's update plus the gate's git queries, the same for both stores) and
  ``item list`` twice: right after the move (``cli_list_after_change_ms``: the old
  store parses the changed YAML, the new one reads the changed blobs) and again on
  the unchanged board (``cli_list_ms``). ``cli_version_ms`` (``--version``) is the
  floor: a process that imports the CLI and exits.
- The two stores' repetitions are interleaved at each size (new, old, new, ...).
  Children write bytecode (to a temp ``PYTHONPYCACHEPREFIX``, even where
  ``PYTHONDONTWRITEBYTECODE`` is set) and each command runs once before timing,
  so no figure includes compiling the modules.
- In-process figures (one child process per store and repetition, imports done
  first): ``add_ms`` and ``update_ms`` (``store.add``, ``store.update`` of one
  item's stage); ``reload_after_change_ms``, a new store's ``load()`` right after
  an add (the board's reload when a CLI changed it: the new store reads the changed
  paths into its cache, the old one parses the whole YAML again); ``load_warm_ms``
  (a new store object, the cache at the head; median of 3); ``load_cold_ms`` (the
  cache file deleted first).
- The old store at 20,000 items takes seconds per change (it writes the whole YAML
  file and parses it back), so it gets half the repeats there.
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
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from benchmarks._trees import GIT_ENV, export_tree, tree_env  # noqa: E402

SIZES = (200, 2000, 20000)
TARGETS = {"size_ratio": 1.5, "vs_old_ratio": 1.0}
CONFIG = "version: 1\nproject: bench\nbase_branch: main\nstages:\n  build: []\n  test: []\n"

# Runs with PYTHONPATH at the store's code (new or old): both expose
# ``lifecycle.store.BoardStore``; the new one is opened through ``open_board``.
CHILD = r"""
import json, os, statistics, sys, time
from pathlib import Path

kind, root, mode, count = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
assert mode in ("build", "measure")
if kind == "new":
    from shipdeck.backends.git_board import open_board as make
else:
    from shipdeck.lifecycle.store import BoardStore as make
from shipdeck.lifecycle.items import Item, Kind
from shipdeck.lifecycle.stages import Stage

TITLES = (
    "Return the service version on /",
    "Cache the item list for thirty seconds",
    "Retry webhook deliveries with backoff",
    "Show uptime on the health endpoint",
    "Log requests as JSON lines",
    "Fix the off-by-one in the rate limiter",
)
STAGES = (Stage.PLAN, Stage.PLAN, Stage.CODE, Stage.BUILD)
KINDS = (Kind.FEATURE, Kind.BUG, Kind.CHORE)
cache = root / ".shipdeck" / "state" / "board-cache.json"


def ms(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


if mode == "build":
    t0 = time.perf_counter()
    with make(root).edit() as board:
        board.items = [
            Item(
                f"SD-{n}",
                f"{TITLES[n % len(TITLES)]} ({n})",
                kind=KINDS[n % len(KINDS)],
                body="Why: a customer asked.\n" if n % 5 == 0 else "",
                stage=STAGES[n % len(STAGES)],
            )
            for n in range(1, count + 1)
        ]
        board.next_id = count + 1
    print(json.dumps({"build_s": round(time.perf_counter() - t0, 2)}))
    sys.exit(0)

item_id = sys.argv[5]  # a Plan item to move to Code
make(root).load()  # imports done, the cache at the head
out = {
    "add_ms": ms(lambda: make(root).add("bench add")),
    "reload_after_change_ms": ms(lambda: make(root).load()),
    "load_warm_ms": statistics.median(ms(lambda: make(root).load()) for _ in range(3)),
}
if cache.exists():
    cache.unlink()
out["load_cold_ms"] = ms(lambda: make(root).load())
out["update_ms"] = ms(
    lambda: make(root).update(item_id, lambda it: setattr(it, "stage", Stage.CODE))
)
print(json.dumps(out))
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def baseline_rev(requested: str | None) -> str:
    """The old store's commit: the parent of the one that added the board's ref."""
    if requested:
        return git(ROOT, "rev-parse", "--verify", f"{requested}^{{commit}}")
    added = git(ROOT, "log", "--diff-filter=A", "--format=%H", "--", "backends/git_board.py")
    if not added:
        raise SystemExit("backends/git_board.py is not in git history: pass --baseline REV")
    return git(ROOT, "rev-parse", f"{added.splitlines()[-1]}^")


def export_old(rev: str, into: Path) -> Path:
    """The old tree's packages in ``into`` (``git archive``: no checkout, no worktree)."""
    export_tree(rev, into, "lifecycle", "backends", "tui", "widgets")
    store = (into / "lifecycle" / "store.py").read_text()
    if "board.yaml" not in store or (into / "backends" / "git_board.py").exists():
        raise SystemExit(f"{rev[:12]} does not hold the board.yaml store")
    return into


class Side:
    """One store's code (new: this tree; old: the export) and how to run it."""

    def __init__(self, kind: str, code: Path, base: Path) -> None:
        self.kind = kind
        self.env = tree_env(code, base / "config", base / "pycache")

    def warm_up(self, repo: Path) -> None:
        """Every command once, so their modules' bytecode is written before timing."""
        self.child(repo, "build", 8)
        self.child(repo, "measure", 8, "SD-8")
        for args in (("add", "x"), ("show", "SD-4"), ("move", "SD-4", "code", "--force")):
            self.cli(repo, "item", *args)
        self.cli(repo, "item", "list")

    def child(self, repo: Path, mode: str, count: int, item: str = "") -> dict[str, float]:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, self.kind, str(repo), mode, str(count), item],
            cwd=repo,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"{self.kind} {mode} failed: {out.stderr.strip()[-2000:]}")
        return dict(json.loads(out.stdout.splitlines()[-1]))

    def cli(self, repo: Path, *args: str) -> float:
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "shipdeck", *args],
            cwd=repo,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = (time.perf_counter() - t0) * 1000
        if out.returncode != 0:
            raise SystemExit(f"{self.kind}: shipdeck {' '.join(args)}: {out.stderr.strip()}")
        return elapsed


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "shipdeck.yaml").write_text(CONFIG)
    git(path, "add", "shipdeck.yaml")
    subprocess.run(
        ["git", "commit", "-q", "-m", "bench"],
        cwd=path,
        check=True,
        env=dict(os.environ, **GIT_ENV),
    )
    return path


def median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 1)


def measure(sides: dict[str, Side], base: Path, size: int, runs: dict[str, int]) -> Any:
    """Both stores at one size, their repetitions interleaved (new, old, new, ...), so
    a noisy neighbour slows both alike."""
    repos = {name: make_repo(base / f"{name}-{size}") for name in sides}
    figures: dict[str, dict[str, Any]] = {}
    for name, side in sides.items():
        figures[name] = {"size": size, **side.child(repos[name], "build", size)}
    plan = [n for n in range(size, 0, -1) if n % 4 in (0, 1)]  # STAGES in CHILD
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in sides}
    for k in range(max(runs.values())):
        for name, side in sides.items():
            if k >= runs[name]:
                continue
            repo, got = repos[name], samples[name]
            moved, shown = f"SD-{plan[2 * k]}", f"SD-{plan[2 * k + 1]}"
            for key, value in side.child(repo, "measure", size, moved).items():
                got.setdefault(key, []).append(value)
            got.setdefault("cli_add_ms", []).append(side.cli(repo, "item", "add", f"CLI {k}"))
            got.setdefault("cli_show_ms", []).append(side.cli(repo, "item", "show", shown))
            got.setdefault("cli_move_ms", []).append(
                side.cli(repo, "item", "move", shown, "code", "--force")
            )
            got.setdefault("cli_list_after_change_ms", []).append(side.cli(repo, "item", "list"))
            got.setdefault("cli_list_ms", []).append(side.cli(repo, "item", "list"))
    for name in sides:
        figures[name].update({key: median(v) for key, v in samples[name].items()})
        figures[name]["min"] = {key: round(min(v), 1) for key, v in samples[name].items()}
        figures[name]["repeats"] = runs[name]
    return figures


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("inf")


def main(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    runs = args.runs or (3 if quick else 5)
    sizes = tuple(args.sizes or SIZES)
    rev = baseline_rev(args.baseline)
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "git": git_version.strip().removeprefix("git version "),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "quick": quick,
        "runs": runs,
        "baseline": rev[:12],
        "new": {},
        "old": {},
    }
    with tempfile.TemporaryDirectory(prefix="shipdeck-store-bench-") as tmp:
        base = Path(tmp)
        sides = {
            "new": Side("new", ROOT, base),
            "old": Side("old", export_old(rev, base / "old-code"), base),
        }
        for name, side in sides.items():
            side.warm_up(make_repo(base / f"warm-up-{name}"))
        floor: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(runs):  # a process that imports the CLI and exits: the floor
            for name, side in sides.items():
                floor[name].append(side.cli(base, "--version"))
        for name in sides:
            result[name]["cli_version_ms"] = median(floor[name])
        for size in sizes:
            t0 = time.perf_counter()
            repeats = {
                name: max(1, runs // 2) if name == "old" and size >= 20000 else runs
                for name in sides
            }
            for name, figures in measure(sides, base, size, repeats).items():
                result[name][str(size)] = figures
                print(f"{name} {size}: {figures}", file=sys.stderr)
            result.setdefault("section_seconds", {})[str(size)] = round(time.perf_counter() - t0, 1)
    result["ratios"], result["meets_targets"] = compare(result["new"], result["old"], sizes)
    # The same ratios of the fastest repeat of each figure: what is left without noise.
    result["ratios_of_minimums"], _ = compare(
        {size: figures["min"] for size, figures in result["new"].items() if size.isdigit()},
        {size: figures["min"] for size, figures in result["old"].items() if size.isdigit()},
        sizes,
    )
    return result


def compare(
    new: dict[str, Any], old: dict[str, Any], sizes: Sequence[int]
) -> tuple[dict[str, float], dict[str, bool]]:
    """Ratios of the issue's targets (and a few more for context), and which are met."""
    ratios: dict[str, float] = {}
    meets: dict[str, bool] = {}
    small, big = str(min(sizes)), str(max(sizes))
    if small != big:
        for key in ("cli_add_ms", "cli_move_ms", "add_ms", "update_ms"):
            name = f"{key.removesuffix('_ms')}_{big}_vs_{small}"
            ratios[name] = ratio(new[big][key], new[small][key])
            ratios[f"old_{name}"] = ratio(old[big][key], old[small][key])
            meets[name] = ratios[name] <= TARGETS["size_ratio"]
    mid = "2000" if "2000" in new else small
    for key in (
        "load_warm_ms",
        "load_cold_ms",
        "reload_after_change_ms",
        "cli_list_ms",
        "cli_list_after_change_ms",
    ):
        name = f"{key.removesuffix('_ms')}_{mid}_new_vs_old"
        ratios[name] = ratio(new[mid][key], old[mid][key])
        if "change" not in key:  # reported, not one of the targets
            meets[name] = ratios[name] <= TARGETS["vs_old_ratio"]
    for key in ("cli_add_ms", "cli_move_ms", "cli_show_ms"):
        for size in (small, big):
            ratios[f"{key.removesuffix('_ms')}_{size}_new_vs_old"] = ratio(
                new[size][key], old[size][key]
            )
    return ratios, meets


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 5")
    parser.add_argument("--runs", type=int, help="repeats of each figure (5)")
    parser.add_argument(
        "--sizes", type=int, nargs="+", help="board sizes (200 2000 20000); first and last compared"
    )
    parser.add_argument("--baseline", metavar="REV", help="the old store's commit")
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(main(parse()), indent=2))
