"""``shipdeck logs`` for an item's runs, through the real command line: any stage's last
run (``--stage``), any run by the id ``item show`` lists, and ``--follow`` on a run in
progress, which prints what it writes and ends by itself when the run does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, repo_with_item_in_code, shipdeck
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

CONFIG = """\
version: 1
project: chatty
stages:
  build:
    - run: "echo build one; echo build two >&2; echo build three"
  test:
    - run: "echo before the gate; until [ -f {gate} ]; do sleep 0.05; done;
        echo after one; echo after two >&2; echo after three"
environments:
  staging:
    run: "true"
"""


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "r"
    root.mkdir()
    return repo_with_item_in_code(root, CONFIG.format(gate=tmp_path / "gate"))


def output(text: str) -> list[str]:
    """The step's own lines, without shipdeck's (``==> ...``: the stage, the command)."""
    return [line for line in text.splitlines() if not line.startswith("==> ")]


def states(repo: Path) -> dict[str, dict[str, str]]:
    shown = shipdeck("item", "show", "SD-1", "--json", cwd=repo)
    return json.loads(shown.stdout)["states"]  # type: ignore[no-any-return]


def test_any_stage_and_any_run_of_an_item(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "gate").touch()
    assert shipdeck("advance", "SD-1", "--to", "test", cwd=repo).returncode == 0
    last = shipdeck("logs", "SD-1", cwd=repo)  # the item's last run: Test
    assert last.returncode == 0, last.stderr
    assert "after three" in last.stdout and "build one" not in last.stdout
    build = shipdeck("logs", "SD-1", "--stage", "build", cwd=repo)
    assert build.returncode == 0, build.stderr
    assert output(build.stdout) == ["build one", "build three"]
    assert build.stdout.startswith("==> Build of feature/SD-1-work")
    assert build.stderr.splitlines() == ["build two"]
    every = shipdeck("logs", "SD-1", "--stage", "build", "--json", cwd=repo).stdout.splitlines()
    for count in range(len(every) + 2):  # a tail is the end of the whole log, whatever its length
        tail = shipdeck(
            "logs", "SD-1", "--stage", "build", "--tail", str(count), "--json", cwd=repo
        )
        assert tail.stdout.splitlines() == (every[-count:] if count else []), count
    run = states(repo)["build"]["run_id"]
    by_id = shipdeck("logs", run, "--json", cwd=repo)
    assert by_id.returncode == 0, by_id.stderr
    shown = [json.loads(line) for line in by_id.stdout.splitlines()]
    # two pipes: the order between stdout and stderr is the order they were read in
    assert [x["text"] for x in shown if x["stream"] == "stdout"] == ["build one", "build three"]
    assert [x["text"] for x in shown if x["stream"] == "stderr"] == ["build two"]
    assert {(x["item"], x["run"]) for x in shown} == {("SD-1", run)}
    for args, says in (
        (["SD-1", "--stage", "deploy"], "SD-1 has no Deploy run yet"),
        (["SD-1", "--stage", "shipping"], "unknown stage 'shipping'"),
        ([run, "--stage", "test"], "is one run: leave out --stage"),
        (["staging", "--stage", "build"], "an environment has none"),
        ([run[:-4] + "ffff"], "no log"),
        (["../../etc-build-20261207T080000-abcd"], "no item, run or environment"),
        (["SD-1 x-build-20261207T080000-abcd"], "no item, run or environment"),
    ):
        refused = shipdeck("logs", *args, cwd=repo)
        assert refused.returncode in (1, 2), args
        assert refused.stderr.count("\n") == 1 and says in refused.stderr, (args, refused.stderr)
        assert "Traceback" not in refused.stderr


def test_follow_prints_a_running_stage_and_ends_with_it(repo: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = [sys.executable, "-m", "shipdeck"]
    advance = subprocess.Popen(
        [*run, "advance", "SD-1", "--to", "test"],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    follower = None
    try:
        wait_until(
            lambda: states(repo).get("test", {}).get("state") == "running",
            what="Test to start",
        )
        follower = subprocess.Popen(
            [*run, "logs", "SD-1", "--follow"],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert follower.stdout is not None
        # Test waits at its gate: what it printed before is shown while it runs
        seen = [follower.stdout.readline()]
        while seen[-1] not in ("before the gate\n", "") and len(seen) < 10:
            seen.append(follower.stdout.readline())
        assert seen[0].startswith("==> Test of feature/SD-1-work")
        assert seen[-1] == "before the gate\n", seen
        assert states(repo)["test"]["state"] == "running"
        (tmp_path / "gate").touch()
        out, err = follower.communicate(timeout=60)  # ends by itself, no Ctrl-C
        assert follower.returncode == 0, err
        assert output(out) == ["after one", "after three"]
        assert out.splitlines()[-1].startswith("==> ok")
        assert err.splitlines() == ["after two"]
        assert advance.wait(timeout=60) == 0
        assert states(repo)["test"]["state"] == "passed"
    finally:
        (tmp_path / "gate").touch()
        for proc in (advance, follower):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
