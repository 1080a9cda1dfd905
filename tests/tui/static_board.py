"""A board with fixed content (items in every stage, runs, journal) for SVG snapshots.

Nothing shown depends on the clock, a port or a commit sha (the board's ref and
the repository's first commit are made now, but no screen shows them), so the
snapshots only change when the screens do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.items import Item, Kind, RunState, StageState, TestReport
from shipdeck.lifecycle.journal import Journal
from shipdeck.lifecycle.paths import ShipdeckPaths
from shipdeck.lifecycle.stages import Stage
from tests.helpers import board_store

T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

CONFIG = """\
version: 1
project: hello
stages:
  build:
    - run: "{python} -m compileall -q app"
  test:
    - run: "{python} -m pytest -q --junitxml=.shipdeck/reports/junit.xml"
      junit: .shipdeck/reports/junit.xml
environments:
  staging:
    run: "{python} -m app --port {port}"
    port: 1
    health: {url: "http://127.0.0.1:1/health", timeout: 1}
"""

RUN_LOG = [
    ("i", "Test of feature/SD-3-search-the-catalogue at 3f2c1a9"),
    ("i", "$ python -m pytest -q --junitxml=.shipdeck/reports/junit.xml"),
    ("o", "\x1b[32m.\x1b[0m\x1b[32m.\x1b[0m\x1b[31mF\x1b[0m\x1b[32m.\x1b[0m      [100%]"),
    ("o", "=================== FAILURES ==================="),
    ("o", "___________ test_search_is_case_blind ___________"),
    ("e", "AssertionError: assert 0 == 2"),
    ("o", "\x1b]0;pwned\x07\x1b[2J\x1b[H a hostile line stays text"),
    ("o", "\x1b[31m1 failed\x1b[0m, \x1b[32m3 passed\x1b[0m in 0.41s"),
    ("e", "test(s) failed: 1"),
]


def _state(state: RunState, minutes: int, run_id: str | None = None) -> StageState:
    start = T0 + timedelta(minutes=minutes)
    end = start + timedelta(seconds=12) if state is not RunState.RUNNING else None
    return StageState(state, start, end, run_id, "3f2c1a9abcdef0123", None)


def items() -> list[Item]:
    def item(n: int, title: str, kind: Kind, stage: Stage, **kw: object) -> Item:
        return Item(
            id=f"SD-{n}",
            title=title,
            kind=kind,
            stage=stage,
            created_at=T0,
            updated_at=T0,
            uid=f"{n:016x}",  # fixed, like everything else here
            **kw,  # type: ignore[arg-type]
        )

    return [
        item(1, "Dark mode for the dashboard", Kind.FEATURE, Stage.PLAN),
        item(2, "Crash when the cart is empty", Kind.BUG, Stage.PLAN),
        item(
            3,
            "Search the catalogue",
            Kind.FEATURE,
            Stage.TEST,
            branch="feature/SD-3-search-the-catalogue",
            sha="3f2c1a9abcdef0123",
            states={
                Stage.CODE: _state(RunState.PASSED, 0, "SD-3-code-1"),
                Stage.BUILD: _state(RunState.PASSED, 2, "SD-3-build-1"),
                Stage.TEST: _state(RunState.FAILED, 3, "SD-3-test-1"),
            },
            tests=TestReport(3, 1, 0, 0, ["tests/test_search.py::test_search_is_case_blind"]),
        ),
        item(
            4,
            "Upgrade the HTTP client",
            Kind.CHORE,
            Stage.CODE,
            branch="chore/SD-4-upgrade-the-http-client",
            sha="9a8b7c6d5e4f",
            states={Stage.CODE: _state(RunState.PASSED, 5, "SD-4-code-1")},
        ),
        item(
            5,
            "Rate-limit the login form",
            Kind.FEATURE,
            Stage.RELEASE,
            version="0.3.0",
            states={Stage.RELEASE: _state(RunState.PASSED, 8, "SD-5-release-1")},
        ),
        item(
            6,
            "Health check reports uptime",
            Kind.BUG,
            Stage.OPERATE,
            version="0.2.1",
            env="staging",
            states={Stage.OPERATE: _state(RunState.PASSED, 9)},
        ),
        item(
            7,
            "Greet in French as well",
            Kind.FEATURE,
            Stage.MONITOR,
            version="0.2.0",
            env="staging",
            states={Stage.MONITOR: _state(RunState.PASSED, 10)},
        ),
        item(
            8,
            "New pricing API",
            Kind.FEATURE,
            Stage.DEPLOY,
            breaking=True,
            version="1.0.0",
            env="staging",
            states={Stage.DEPLOY: _state(RunState.FAILED, 11, "SD-8-deploy-1")},
        ),
    ]


def build(root: Path) -> Path:
    """A repository at ``root`` whose board (``refs/shipdeck/board``) holds :func:`items`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "shipdeck.yaml").write_text(CONFIG)
    paths = ShipdeckPaths(root)
    paths.ensure()
    with board_store(root).edit() as board:
        board.next_id, board.items = 9, items()
    paths.runs.mkdir(exist_ok=True)
    lines = [
        f"2026-11-02T09:33:{i:02d}.000Z {code} {text}\n" for i, (code, text) in enumerate(RUN_LOG)
    ]
    paths.run_log("SD-3-test-1").write_text("".join(lines))
    journal = Journal(root)
    for minutes, etype, item_id, data in (
        (1, ev.ITEM_CREATED, "SD-3", {"title": "Search the catalogue", "kind": "feature"}),
        (8, ev.RELEASE_CUT, "SD-5", {"version": "0.3.0", "tag": "v0.3.0"}),
        (9, ev.DEPLOYED, "SD-6", {"env": "staging", "version": "0.2.1"}),
        (11, ev.DEPLOY_FAILED, "SD-8", {"env": "staging", "version": "1.0.0", "reason": "health"}),
        (11, ev.ROLLED_BACK, "SD-8", {"env": "staging", "to_version": "0.2.1"}),
        (
            12,
            ev.ALERT_RAISED,
            None,
            {
                "alert_id": "AL-1",
                "env": "staging",
                "metric": "probe:staging",
                "value": 3.0,
                "threshold": 3.0,
                "message": "probe staging failed 3 times in a row: connection refused",
                "version": "0.2.1",
            },
        ),
    ):
        journal.append(ev.Event(etype, item_id, data, ts=T0 + timedelta(minutes=minutes)))
    return root
