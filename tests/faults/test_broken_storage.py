"""Broken storage on real filesystems (issue #10 item 5): a read-only ``.shipdeck/``,
a read-only journal, and a full disk under the whole repository (git objects too).

Each command fails with one line naming the path and the cause, exit 1 (an
environment failure), no traceback; nothing is half made (no item without its
journal event, nothing left ``running``); and once the disk is writable again the
same command succeeds. Root ignores ``chmod``, so read-only means a read-only bind
mount, and full means a small tmpfs: the tests skip when mounting is not allowed.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.helpers import free_port, processes_under, shipdeck

pytestmark = pytest.mark.slow

FAULTS = ("ro_dir", "ro_journal", "full")
CAUSE = {
    "ro_dir": "read-only file system",
    "ro_journal": "read-only file system",
    "full": "no space left on device",
}


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


def _umount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    made = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    if made.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.strip()}): needs root and mount")
    try:
        yield path
    finally:
        _umount(path)


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """``path`` (a folder or a file) read-only, even for root: a read-only bind mount."""
    bound = _mount("--bind", str(path), str(path))
    assert bound.returncode == 0, bound.stderr
    try:
        ro = _mount("-o", "remount,bind,ro", str(path))
        assert ro.returncode == 0, ro.stderr
        yield
    finally:
        _umount(path)


@contextlib.contextmanager
def _full(disk: Path) -> Iterator[None]:
    """Fill the tmpfs at ``disk`` to the last byte; freed when the block ends."""
    filler = disk / f"filler-{uuid.uuid4().hex}"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        chunk = b"\0" * (1 << 16)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, chunk)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0")
    finally:
        os.close(fd)
    try:
        yield
    finally:
        filler.unlink()


@contextlib.contextmanager
def broken(repo: Path, disk: Path, fault: str) -> Iterator[None]:
    if fault == "ro_dir":
        with _read_only(repo / ".shipdeck"):
            yield
    elif fault == "ro_journal":
        with _read_only(repo / ".shipdeck" / "journal.jsonl"):
            yield
    else:
        with _full(disk):
            yield


@pytest.fixture()
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MB tmpfs holding the whole demo repository."""
    check = _mount("--version")
    if check.returncode:
        pytest.skip("no mount command")
    with _tmpfs(tmp_path / "disk", "32m") as path:
        try:
            yield path
        finally:
            repo = path / "demo"
            if (repo / "shipdeck.yaml").exists():
                shipdeck("stop", "staging", cwd=repo, timeout=60)
            for proc in processes_under(path):
                with contextlib.suppress(Exception):
                    proc.kill()


@pytest.fixture()
def repo(disk: Path) -> Path:
    made = shipdeck("demo", "demo", "--no-open", "--no-docker", cwd=disk)
    assert made.returncode == 0, made.stderr
    repo = disk / "demo"
    config = repo / "shipdeck.yaml"
    config.write_text(config.read_text().replace("38717", str(free_port())))
    # The demo writes its journal; make sure it exists to be bind-mounted read-only.
    (repo / ".shipdeck" / "journal.jsonl").touch()
    return repo


def _journal(repo: Path) -> list[dict[str, object]]:
    """Every journal line parses: a failed append left no torn line."""
    text = (repo / ".shipdeck" / "journal.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _items(repo: Path) -> dict[str, dict[str, object]]:
    listed = shipdeck("item", "list", "--all", "--json", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    return {i["id"]: i for i in json.loads(listed.stdout)}


def _assert_failed_cleanly(done: subprocess.CompletedProcess[str], fault: str) -> None:
    err = done.stderr
    assert done.returncode == 1, (done.returncode, done.stdout, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("shipdeck: ") and "cannot write " in lines[0], err
    assert CAUSE[fault] in lines[0], err
    assert "Traceback" not in err + done.stdout and "unexpected error" not in err


def _assert_consistent(repo: Path) -> dict[str, dict[str, object]]:
    """Board and journal agree: every item has its creation event and no event names an
    item that is not there; every started run finished; nothing shows running."""
    items = _items(repo)
    journal = _journal(repo)
    created = [e["item"] for e in journal if e["type"] == "item.created"]
    assert len(created) == len(set(created)), created
    assert set(created) <= set(items), (created, list(items))
    for item_id, item in items.items():
        number = int(item_id.split("-")[1])
        if number > 4:  # the demo's own four were made before the journal
            assert item_id in created, item_id
        states = item.get("states") or {}
        assert all(s.get("state") != "running" for s in states.values()), (item_id, states)
        shown = shipdeck("item", "show", item_id, cwd=repo)
        assert shown.returncode == 0 and "running" not in shown.stdout, shown.stdout
    started = {e["run_id"] for e in journal if e["type"] == "stage.started"}
    finished = {e["run_id"] for e in journal if e["type"] == "stage.finished"}
    assert started <= finished, started - finished
    deploys = sum(e["type"] == "deploy.started" for e in journal)
    ended = sum(e["type"] in ("deployed", "deploy.failed") for e in journal)
    assert deploys == ended, journal
    # config-ok.json's temporary file is project/config_stamp.py's (not covered here).
    tmp = (repo / ".shipdeck").rglob("*.tmp")
    leftovers = [p for p in tmp if not p.name.startswith("config-ok.json")]
    assert not leftovers, leftovers
    return items


@pytest.mark.parametrize("fault", FAULTS)
def test_item_add_and_move(repo: Path, disk: Path, fault: str) -> None:
    before = _items(repo)
    with broken(repo, disk, fault):
        listed = shipdeck("item", "list", cwd=repo)  # a cache that cannot be written: skipped
        assert listed.returncode == 0 and listed.stderr == "", listed.stderr
        added = shipdeck("item", "add", "Storage is broken", cwd=repo)
        _assert_failed_cleanly(added, fault)
        moved = shipdeck("item", "move", "SD-2", "code", "--force", "--reason", "t", cwd=repo)
        _assert_failed_cleanly(moved, fault)
    after = _assert_consistent(repo)
    assert after == before
    assert not any(e["type"] == "item.moved" and e["item"] == "SD-2" for e in _journal(repo))

    added = shipdeck("item", "add", "Storage is broken", cwd=repo)
    assert added.returncode == 0, added.stderr
    new_id = added.stdout.strip()
    moved = shipdeck("item", "move", "SD-2", "code", "--force", "--reason", "t", cwd=repo)
    assert moved.returncode == 0, moved.stderr
    items = _assert_consistent(repo)
    assert new_id in items and items["SD-2"]["stage"] == "code"
    journal = _journal(repo)
    assert sum(e["type"] == "item.created" and e["item"] == new_id for e in journal) == 1
    assert sum(e["type"] == "item.moved" and e["item"] == "SD-2" for e in journal) == 1


@pytest.mark.parametrize("fault", FAULTS)
def test_advance_and_deploy(repo: Path, disk: Path, fault: str) -> None:
    before = _items(repo)["SD-1"]
    with broken(repo, disk, fault):
        ran = shipdeck("advance", "SD-1", cwd=repo)
        _assert_failed_cleanly(ran, fault)
    item = _assert_consistent(repo)["SD-1"]
    assert (item["stage"], item["states"]) == (before["stage"], before["states"])

    ran = shipdeck("advance", "SD-1", cwd=repo)  # through Release, and deployed (auto)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert _assert_consistent(repo)["SD-1"]["stage"] == "deploy"

    with broken(repo, disk, fault):
        deployed = shipdeck("deploy", "staging", cwd=repo)
        _assert_failed_cleanly(deployed, fault)
    _assert_consistent(repo)
    deployed = shipdeck("deploy", "staging", cwd=repo)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    _assert_consistent(repo)
    status = json.loads(shipdeck("status", "--json", cwd=repo).stdout)
    assert status["environments"]["staging"]["healthy"] is True


FILL = """\
import os, sys
marker = sys.argv[1]
if os.path.exists(marker):
    os.unlink(marker)
    fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o644)
    for size in (1 << 16, 1):
        try:
            while True:
                os.write(fd, b"\\0" * size)
        except OSError:
            pass
print("filled" if not os.path.exists(marker) else "not filled")
"""


@pytest.mark.parametrize("to", ["build", "test"])
def test_disk_fills_during_a_run(repo: Path, disk: Path, to: str) -> None:
    """The disk fills while Build runs: its result cannot be saved. The run says so, and
    once there is space the item shows Build failed (never running), and runs again.
    On the way to Test, Build's result would go with Test's start: Test never starts."""
    fill, marker, filler = disk / "fill.py", disk / "fill-once", disk / "filler-run"
    fill.write_text(FILL)
    marker.touch()
    config = repo / "shipdeck.yaml"
    step = f'    - run: "{{python}} {fill} {marker} {filler}"\n'
    text = config.read_text()
    compile_step = '    - run: "{python} -m compileall -q app"\n'
    assert compile_step in text
    config.write_text(text.replace(compile_step, compile_step + step, 1))  # fills, then ends
    try:
        ran = shipdeck("advance", "SD-1", "--to", to, cwd=repo)
    finally:
        filler.unlink(missing_ok=True)
    _assert_failed_cleanly(ran, "full")
    assert "Build passed, but its result was not saved" in ran.stderr, ran.stderr
    item = _assert_consistent(repo)["SD-1"]
    build = item["states"]["build"]  # type: ignore[index]
    assert build["state"] == "failed" and "not saved" in build["message"], build
    assert (item["stage"], "test" in item["states"]) == ("build", False)  # type: ignore[operator]
    events = [e for e in _journal(repo) if e["type"] == "stage.finished"]
    assert events and events[-1]["status"] == "failed", events

    again = shipdeck("advance", "SD-1", "--to", "build", cwd=repo)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _assert_consistent(repo)["SD-1"]["states"]["build"]["state"] == "passed"  # type: ignore[index]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


def _deploys(repo: Path, count: int, version: str) -> None:
    """``count`` deploys of the last hours appended to the journal, as runs leave them."""
    now = datetime.now(UTC)
    with (repo / ".shipdeck" / "journal.jsonl").open("a", encoding="utf-8") as f:
        for n in range(count):
            at = (now - timedelta(hours=1, seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
            event = {"ts": at, "type": "deployed", "item": "SD-1", "env": "staging"}
            event |= {"version": f"{version}.{n}", "sha": "0" * 40, "lead_time": 60.0}
            f.write(json.dumps(event) + "\n")


def _dora(repo: Path) -> int:
    done = shipdeck("dora", "--json", cwd=repo)
    assert done.returncode == 0 and not done.stderr, done.stderr
    deployments: int = json.loads(done.stdout)["deployments"]
    return deployments


def test_a_full_disk_keeps_the_journals_index_and_dora_counts_every_deploy(
    repo: Path, disk: Path
) -> None:
    """The journal's index is a cache beside it: with the disk full it cannot take the
    lines appended since, so the query reads them from the journal; the index itself
    stays (it was deleted as if corrupt, a 9.5 s rebuild at 1M events)."""
    index = repo / ".shipdeck" / "state" / "journal.sqlite"
    _deploys(repo, 3000, "1.0")
    before = _dora(repo)
    assert before >= 3000 and index.exists()
    inode = index.stat().st_ino
    _deploys(repo, 500, "2.0")
    with _full(disk):
        assert _dora(repo) == before + 500  # the lines the index could not take, read
    assert index.stat().st_ino == inode  # the same index, not a new one
    assert _dora(repo) == before + 500  # and it takes them now
    assert index.stat().st_ino == inode
