"""The output relay of a local service SIGKILLed on its own (the OOM killer, a stray
``kill -9``): the service runs on in the relay's process group, holding the port.

Found by killing the relay of a demo deploy: ``status`` said "stopped" while the
service still answered, ``stop`` said "nothing is running", and ``restart`` (and a
deploy) failed on "Address already in use", for good: the failed restart's record
replaced the one that knew the orphan's group. Real processes, the real CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.helpers import processes_under, served_version, shipdeck
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def _staging(repo: Path) -> dict[str, object]:
    out = shipdeck("status", "--json", cwd=repo)
    assert out.returncode == 0, out.stderr
    env: dict[str, object] = json.loads(out.stdout)["environments"]["staging"]
    return env


def _running(pid: int) -> bool:
    """Running, not a zombie (this container's init may never reap an orphan)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _kill_relay(repo: Path) -> list[int]:
    """SIGKILL the relay alone; the service's pids, still running."""
    relay = _staging(repo)["pid"]
    assert isinstance(relay, int)
    service = [p.pid for p in psutil.Process(relay).children(recursive=True)]
    assert service, "the relay has no service under it"
    os.kill(relay, signal.SIGKILL)
    wait_until(lambda: not _running(relay))
    assert all(_running(pid) for pid in service)
    return service


@pytest.fixture()
def demo(tmp_path: Path) -> Iterator[Path]:
    assert shipdeck("demo", "demo", "--no-open", "--no-docker", cwd=tmp_path).returncode == 0
    repo = tmp_path / "demo"
    done = shipdeck("advance", "SD-1", "--to", "deploy", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    yield repo
    shipdeck("stop", "staging", cwd=repo)
    left = processes_under(tmp_path)
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    assert not left, [p.cmdline() for p in left]


def test_status_names_the_orphans_and_restart_stop_and_deploy_end_them(demo: Path) -> None:
    orphans = _kill_relay(demo)
    env = _staging(demo)
    assert env["state"] == "stopped"
    reason = str(env.get("detail", {}).get("reason", ""))  # type: ignore[union-attr]
    assert "run on without it" in reason and all(str(p) in reason for p in orphans), env

    restarted = shipdeck("restart", "staging", cwd=demo)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert not any(_running(p) for p in orphans)
    assert served_version(demo) == "0.1.0" and _staging(demo)["state"] == "running"

    orphans = _kill_relay(demo)
    deployed = shipdeck("deploy", "staging", "--version", "0.1.0", cwd=demo)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "did not start" not in deployed.stdout + deployed.stderr
    assert not any(_running(p) for p in orphans)
    assert served_version(demo) == "0.1.0"

    orphans = _kill_relay(demo)
    stopped = shipdeck("stop", "staging", cwd=demo)
    assert stopped.returncode == 0, stopped.stderr
    assert "nothing is running" not in stopped.stdout
    assert not any(_running(p) for p in orphans)
    assert not processes_under(demo.parent)
