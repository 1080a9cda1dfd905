"""`shipdeck gc` and the automatic prune on a demo repository after several deploys:
old release exports go, the running one and the one a rollback needs stay, and
`shipdeck rollback` still works after gc (issue #13 step 8)."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import git, processes_under, shipdeck

pytestmark = pytest.mark.slow  # a real demo service deployed four times


def _version(repo: Path) -> str:
    port = next(
        int(line.split(":")[1])
        for line in (repo / "shipdeck.yaml").read_text().splitlines()
        if line.strip().startswith("port:")
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}/", timeout=5) as response:
        return str(json.loads(response.read().decode())["version"])


@pytest.fixture()
def demo(tmp_path: Path) -> Iterator[Path]:
    made = shipdeck("demo", "demo", "--no-open", "--no-docker", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    repo = tmp_path / "demo"
    with (repo / "shipdeck.yaml").open("a") as f:
        f.write("retention:\n  releases: 1\n  runs: 3\n")
    yield repo
    shipdeck("stop", "staging", cwd=repo)
    left = processes_under(tmp_path)
    for proc in left:
        proc.kill()
    assert not left, f"processes left behind: {[p.cmdline() for p in left]}"


def _releases(repo: Path) -> set[str]:
    return {p.name for p in (repo / ".shipdeck" / "releases").iterdir()}


def test_gc_keeps_the_running_release_and_the_rollback_target(demo: Path) -> None:
    versions = ["0.1.0", "0.2.0", "0.3.0", "0.4.0"]
    for version in versions:
        git(demo, "tag", f"v{version}")
        done = shipdeck("deploy", "staging", "--version", version, cwd=demo)
        assert done.returncode == 0, done.stdout + done.stderr
    assert _version(demo) == "0.4.0"
    # pruned after each deploy: only 0.4.0 (running) and 0.3.0 (rollback's) are left
    assert _releases(demo) == {"0.3.0", "0.4.0"}
    runs = {p.name for p in (demo / ".shipdeck" / "runs").glob("*.log")}
    # pruned as each run finished: the newest 3, and the demo item's run (on its card)
    assert len([r for r in runs if r.startswith("env-staging-deploy-")]) == 3
    assert len([r for r in runs if r.startswith("SD-1-code-")]) == 1 and len(runs) == 4
    journal = (demo / ".shipdeck" / "journal.jsonl").read_text().splitlines()
    deployed = [e for e in map(json.loads, journal) if e["type"] == "deployed"]
    assert len(deployed) == 4  # the journal is never pruned

    stale = demo / ".shipdeck" / "releases" / "0.0.9"  # an export nothing needs
    shutil.copytree(demo / ".shipdeck" / "releases" / "0.4.0", stale)
    os.utime(stale, (1_000_000, 1_000_000))
    dry = shipdeck("gc", "--dry-run", "--json", cwd=demo)
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert [e["name"] for e in planned["kinds"]["releases"]["removed"]] == ["0.0.9"]
    assert stale.is_dir()  # --dry-run deletes nothing

    done = shipdeck("gc", "--json", cwd=demo)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["freed"] > 0 and report["kinds"]["releases"]["freed"] > 0
    assert _releases(demo) == {"0.3.0", "0.4.0"}
    text = shipdeck("gc", cwd=demo)
    assert text.returncode == 0 and "removed 0 runs" in text.stdout, text.stdout

    back = shipdeck("rollback", "staging", cwd=demo)
    assert back.returncode == 0, back.stdout + back.stderr
    assert _version(demo) == "0.3.0"
    assert shipdeck("gc", cwd=demo).returncode == 0
    assert _releases(demo) == {"0.3.0", "0.4.0"}  # now 0.4.0 is what a rollback needs
    again = shipdeck("rollback", "staging", cwd=demo)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _version(demo) == "0.4.0"
