"""shipdeck SIGKILLed at each named step of a local deploy: the next `shipdeck status`
finishes or reverses the switch, exactly one healthy release serves, the journal says
which, and no process is left behind.

The kill is injected with SHIPDECK_FAULT_KILL_AT (read by backends.local.target in tests
only): shipdeck kills itself with SIGKILL at that step, as `kill -9` would.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.helpers import git, served_version, shipdeck

pytestmark = pytest.mark.slow

SWITCH_STEPS = ("stopping-old", "old-stopped", "new-started", "new-checked")
ROLLBACK_STEPS = ("new-stopped",)  # on the failure path: the new release never got healthy


def _release(repo: Path, title: str, old: str, new: str, path: str = "app/__init__.py") -> None:
    item_id = shipdeck("item", "add", title, cwd=repo).stdout.strip()
    assert shipdeck("advance", item_id, "--to", "code", cwd=repo).returncode == 0
    file = repo / path
    file.write_text(file.read_text().replace(old, new))
    git(repo, "commit", "-qam", f"{item_id}: {title}")
    done = shipdeck("advance", item_id, "--to", "release", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr


def _services(root: Path) -> list[psutil.Process]:
    """Live processes whose cwd is a release export of ``root``."""
    found = []
    for proc in psutil.process_iter(["cwd", "status"]):
        cwd = proc.info.get("cwd") or ""
        alive = proc.info.get("status") != psutil.STATUS_ZOMBIE
        if "/.shipdeck/releases/" in cwd and cwd.startswith(str(root)) and alive:
            found.append(proc)
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("kills")
    assert shipdeck("demo", "demo", "--no-open", "--no-docker", cwd=base).returncode == 0
    repo = base / "demo"
    assert shipdeck("advance", "SD-1", "--to", "release", cwd=repo).returncode == 0  # 0.1.0
    _release(repo, "Say hola", "from the shipdeck demo", "(hola!) from the demo")  # 0.2.0
    _release(
        repo,
        "Break startup",
        "    args = parser.parse_args()\n",
        "    args = parser.parse_args()\n    sys.exit('refusing to start: broken release')\n",
        "app/__main__.py",
    )  # 0.3.0, never healthy
    assert shipdeck("deploy", "staging", "--version", "0.1.0", cwd=repo).returncode == 0
    yield repo
    shipdeck("stop", "staging", cwd=repo)
    for proc in _services(base):
        proc.kill()


def _recoveries(repo: Path) -> list[dict[str, object]]:
    lines = (repo / ".shipdeck" / "journal.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["type"] == "deploy.recovered"]


# Started but not yet recorded (a stranger's kill sweep found the window: the service ran
# on, unknown to shipdeck, holding the port from every later deploy): the start is held
# until the record is written, so nothing of it runs.
HELD_STEPS = ("new-spawned", "old-respawned")
CASES = [
    *((step, n) for step, n in itertools.product(SWITCH_STEPS, range(6))),
    *((step, n) for step, n in itertools.product(ROLLBACK_STEPS, range(6))),
    *((step, n) for step, n in itertools.product(HELD_STEPS, range(3))),
]


@pytest.mark.parametrize(("step", "n"), CASES, ids=[f"{s}-{n}" for s, n in CASES])
def test_a_kill_at_each_step_leaves_one_healthy_release(demo: Path, step: str, n: int) -> None:
    before = json.loads(shipdeck("status", "--json", cwd=demo).stdout)["environments"]["staging"]
    running = before["version"]
    assert before["healthy"] is True
    switch_to = "0.2.0" if running == "0.1.0" else "0.1.0"
    target = "0.3.0" if step in (*ROLLBACK_STEPS, "old-respawned") else switch_to
    seen = len(_recoveries(demo))

    killed = shipdeck(
        "deploy", "staging", "--version", target, cwd=demo,
        env={"SHIPDECK_FAULT_KILL_AT": step},
    )  # fmt: skip
    assert killed.returncode == -9, killed.stdout + killed.stderr  # SIGKILL, as kill -9

    status = shipdeck("status", "--json", cwd=demo)
    assert status.returncode == 0, status.stderr
    env = json.loads(status.stdout)["environments"]["staging"]
    assert env["healthy"] is True, env
    assert env["version"] in (running, target)
    assert served_version(demo) == env["version"]
    if step == "new-checked" and target != "0.3.0":
        assert env["version"] == target  # healthy and checked: the switch is finished
    if step in (*ROLLBACK_STEPS, *HELD_STEPS):
        assert env["version"] == running  # 0.3.0 never gets healthy, or never ran: reversed
    recovered = _recoveries(demo)[seen:]
    assert len(recovered) == 1, recovered
    assert recovered[0]["env"] == "staging"
    assert recovered[0]["version"] == env["version"]
    services = _services(demo)
    assert len(services) >= 1
    assert {p.cwd() for p in services} == {p.cwd() for p in services[:1]}, "two releases run"


def test_a_kill_right_after_the_first_start_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    """Nothing deployed yet, shipdeck killed between starting the service and recording
    it: the service ran on, ``status`` said absent, ``stop`` stopped nothing, and every
    later deploy failed on its port ("in use by a process shipdeck did not start")."""
    assert shipdeck("demo", "demo", "--no-open", "--no-docker", cwd=tmp_path).returncode == 0
    repo = tmp_path / "demo"
    try:
        killed = shipdeck(
            "advance", "SD-1", "--to", "deploy", "--env", "staging", cwd=repo,
            env={"SHIPDECK_FAULT_KILL_AT": "new-spawned"},
        )  # fmt: skip
        assert killed.returncode == -9, killed.stdout + killed.stderr
        status = json.loads(shipdeck("status", "--json", cwd=repo).stdout)
        assert status["environments"]["staging"]["version"] is None
        assert _services(repo) == []  # the held start exited: nothing serves unrecorded
        again = shipdeck("advance", "SD-1", "--to", "deploy", "--env", "staging", cwd=repo)
        assert again.returncode == 0, again.stdout + again.stderr
        assert served_version(repo) == "0.1.0"
    finally:
        shipdeck("stop", "staging", cwd=repo)
        for proc in _services(tmp_path):
            proc.kill()
