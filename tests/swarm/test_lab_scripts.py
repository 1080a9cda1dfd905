"""The lab scripts after a killed run: CI's own clone once failed in 6 s because the run
before it was killed with its lab, leaving the state, the namespaces and the veth but no
process. swarm-up.sh now takes such a lab down itself, and still refuses one whose
processes partly run (another run's, perhaps). A one-node lab of its own (own directory,
names and addresses) is used, so the shared lab the other tests use is not touched."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.swarm.lab import SCRIPTS

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.swarm]


def _script(name: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPTS / name), *args], env=env, capture_output=True, text=True, timeout=300
    )


def _recorded(state: Path) -> dict[str, int]:
    return {
        line.split()[0]: int(line.split()[1]) for line in (state / "pids").read_text().splitlines()
    }


def _netns() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@pytest.fixture
def lab_env(lab_tools: None) -> Iterator[dict[str, str]]:
    """A one-node lab's settings; whatever the test leaves is taken down at the end. Its
    directory is short: containerd's socket paths under it must fit in 108 bytes."""
    env = {
        **os.environ,
        "SWARM_DIR": tempfile.mkdtemp(prefix="swk-", dir="/tmp"),
        "SWARM_N": "1",
        "SWARM_PFX": "swk",
        "SWARM_NET": "10.78.0",
        "SWARM_POOL": "10.211.0.0/16",
    }
    env.pop("SHIPDECK_SWARM_DIR", None)
    yield env
    _script("swarm-down.sh", env, "--purge")
    shutil.rmtree(env["SWARM_DIR"], ignore_errors=True)


def test_swarm_up_takes_down_a_killed_runs_lab_and_refuses_a_running_one(
    lab_env: dict[str, str],
) -> None:
    state = Path(lab_env["SWARM_DIR"]) / "state"
    first = _script("swarm-up.sh", lab_env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert {"swk-hub", "swk-n1"} <= _netns()

    # the run is killed with its lab: every process it started gets SIGKILL, nothing more
    for pid in _recorded(state).values():
        os.kill(pid, signal.SIGKILL)
    again = _script("swarm-up.sh", lab_env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "a killed run's" in again.stderr
    assert "deleted netns swk-n1" in again.stderr  # the old lab went before the new one came
    assert "SHIPDECK_SWARM_HOST=" in again.stdout
    ready = subprocess.run(
        [
            "docker",
            "-H",
            f"unix://{lab_env['SWARM_DIR']}/nodes/n1/docker.sock",
            "node",
            "ls",
            "--format",
            "{{.Status}}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ready.stdout.split() == ["Ready"], ready.stderr

    # one process gone, the rest running: maybe another run's lab, so it is left alone
    os.kill(_recorded(state)["dockerd-n1"], signal.SIGKILL)
    refused = _script("swarm-up.sh", lab_env)
    assert refused.returncode == 1
    assert "still run: run scripts/swarm-down.sh first" in refused.stderr
    assert "swk-n1" in _netns()

    down = _script("swarm-down.sh", lab_env, "--purge")
    assert down.returncode == 0, down.stderr[-2000:]
    clean = _script("swarm-verify-clean.sh", lab_env)
    assert clean.returncode == 0, clean.stdout
