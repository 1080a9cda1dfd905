"""Fixtures of the swarm tests: a real three-node Docker Swarm on this machine.

``swarm`` is the lab CI started (``SHIPDECK_SWARM_HOST`` and the other variables
``eval "$(scripts/swarm-up.sh)"`` sets), or else one this session starts with
scripts/swarm-up.sh and stops with scripts/swarm-down.sh --purge, as root. Without
one the tests skip, or fail under CI's ``SHIPDECK_REQUIRE_DOCKER=1``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.swarm.lab import SCRIPTS, ServiceScope, Swarm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
import docker_images as di  # unavailable(), busybox and this run's test label live there

HERE = Path(__file__).resolve().parent
MARKS = ("slow", "docker", "swarm")
LABEL = f"{di.TEST_LABEL}={di.RUN_ID}"  # on every service a test makes
TOOLS = ("ip", "dockerd", "containerd", "runc", "docker-registry", "unshare", "nsenter")
_numbers = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "swarm: needs the three-node test swarm (scripts/swarm-up.sh as root, or "
        "SHIPDECK_SWARM_HOST); skips without one unless SHIPDECK_REQUIRE_DOCKER=1",
    )


@pytest.hookimpl(tryfirst=True)  # before -m selects on the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is slow, needs docker and needs the swarm."""
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            for mark in MARKS:
                if item.get_closest_marker(mark) is None:
                    item.add_marker(getattr(pytest.mark, mark))


def _cannot_start() -> str | None:
    """Why this session cannot start a lab here, or None when it can."""
    if os.geteuid() != 0:
        return "the test swarm needs root (network namespaces); or set SHIPDECK_SWARM_HOST"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return (
            f"{', '.join(missing)} not found "
            "(apt-get install docker.io docker-registry iproute2 util-linux)"
        )
    busybox: str | None = di.busybox_missing()
    return busybox


@pytest.fixture
def lab_tools() -> None:
    """Skips (fails under CI) where this session cannot start a lab of its own."""
    why = _cannot_start()
    if why:
        di.unavailable(why)


@pytest.fixture(scope="session")
def swarm() -> Iterator[Swarm]:
    """The running lab; services this run made (label shipdeck.test) go at the end."""
    if os.environ.get("SHIPDECK_SWARM_HOST"):
        lab = Swarm.from_env()
        why = di.busybox_missing()
        if why:
            di.unavailable(why)
        yield lab
        lab.remove_services(LABEL)
        return
    why = _cannot_start()
    if why:
        di.unavailable(why)
    env = {**os.environ}
    lab_dir = Path(env.get("SWARM_DIR") or env.get("SHIPDECK_SWARM_DIR") or "/tmp/shipdeck-swarm")
    # A lab someone else started (swarm-up.sh without the eval) is used, and left running.
    ours = not (lab_dir / "state" / "pids").exists()
    try:
        up = subprocess.run(
            [str(SCRIPTS / "swarm-up.sh")], env=env, capture_output=True, text=True, timeout=300
        )
        if up.returncode != 0:
            di.unavailable(f"scripts/swarm-up.sh failed: {up.stderr.strip()[-600:]}")
        lab = Swarm.from_lines(up.stdout)
        try:
            yield lab
        finally:
            if not ours:
                lab.remove_services(LABEL)
    finally:
        if ours:
            subprocess.run(
                [str(SCRIPTS / "swarm-down.sh"), "--purge"],
                env=env,
                capture_output=True,
                timeout=300,
            )


@pytest.fixture
def services(swarm: Swarm) -> Iterator[ServiceScope]:
    """Names (a prefix of this test's) and labels for the services a test makes; they
    are removed, and their containers gone, when it ends."""
    scope = ServiceScope(
        prefix=f"sd{os.getpid()}-{next(_numbers)}-", labels={di.TEST_LABEL: di.RUN_ID}
    )
    yield scope
    swarm.remove_services(scope.prefix)
