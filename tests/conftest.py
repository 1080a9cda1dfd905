"""Shared fixtures. Tests never depend on the developer's own git identity."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

for _key, _value in (
    ("GIT_AUTHOR_NAME", "shipdeck tests"),
    ("GIT_AUTHOR_EMAIL", "tests@shipdeck.invalid"),
    ("GIT_COMMITTER_NAME", "shipdeck tests"),
    ("GIT_COMMITTER_EMAIL", "tests@shipdeck.invalid"),
):
    os.environ.setdefault(_key, _value)

# Nor on their time zone: the details, events and history show local times, and the
# snapshots are pictures of them (a developer in UTC+1 saw 10:30 where 09:30 was kept).
os.environ["TZ"] = "UTC"
time.tzset()

# Nor on the developer's own shipdeck settings: a theme saved there (the board saves
# one when it is switched) changed what a tmux test saw of the board's colours. Every
# shipdeck the tests start reads and writes a settings file of the run's own; a test
# may still point XDG_CONFIG_HOME elsewhere.
_CONFIG_HOME = tempfile.mkdtemp(prefix="shipdeck-tests-config-")
os.environ["XDG_CONFIG_HOME"] = _CONFIG_HOME
atexit.register(shutil.rmtree, _CONFIG_HOME, True)

# A run started in the background of a script (``cmd &`` in a shell without job
# control) inherits SIGINT ignored, and so does every shipdeck the tests start: the
# ones that press ctrl+c on it then wait out their timeouts (a CI run failed four that
# way). shipdeck rightly keeps an ignored SIGINT ignored, as a background job should;
# the tests want the terminal's ctrl+c, so their children get the default back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


PODMAN_WHY: list[str] = []  # why the podman_host fixture has no service (for the skip)


@pytest.fixture(scope="session")
def podman_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """The address of a Podman service's Docker-compatible API: SHIPDECK_PODMAN_HOST, else
    one started with scripts/podman-up.sh (podman installed, as root) in a directory of
    this session's and stopped by its pid at the end; None when there is none (why in
    ``PODMAN_WHY``)."""
    given = os.environ.get("SHIPDECK_PODMAN_HOST")
    if given:
        yield given
        return
    if shutil.which("podman") is None:
        PODMAN_WHY.append("podman is not installed (apt-get install podman)")
        yield None
        return
    if os.geteuid() != 0:
        PODMAN_WHY.append("the test podman service runs as root; or set SHIPDECK_PODMAN_HOST")
        yield None
        return
    scripts = Path(__file__).resolve().parent.parent / "scripts"
    env = {**os.environ, "SHIPDECK_PODMAN_DIR": str(tmp_path_factory.mktemp("podman"))}
    try:
        up = subprocess.run(
            [str(scripts / "podman-up.sh")], env=env, capture_output=True, text=True, timeout=120
        )
        lines = [x for x in up.stdout.splitlines() if "SHIPDECK_PODMAN_HOST=" in x]
        if not lines:
            PODMAN_WHY.append(f"scripts/podman-up.sh failed: {up.stderr.strip()[-300:]}")
        yield lines[0].split("=", 1)[1] if lines else None
    finally:
        subprocess.run([str(scripts / "podman-down.sh")], env=env, capture_output=True, timeout=60)
