"""The service relay (``backends/mask_relay.py``) under the signals shipdeck sends.

``shipdeck stop`` sends SIGTERM to the relay's whole process group, so the service
and the relay get it at once: the service may be reaped just before the relay's
handler forwards the signal to it. That must end quietly with the shell's exit code,
however the two interleave (CI caught a ``ProcessLookupError`` traceback once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shipdeck.backends import mask_relay

pytestmark = pytest.mark.slow  # fresh interpreters

ROUNDS = 25


def _relay(tmp_path: Path, n: int, command: list[str]) -> subprocess.Popen[str]:
    argv = [sys.executable, *mask_relay.FLAGS, mask_relay.__file__]
    argv += [str(tmp_path / f"{n}.out"), str(tmp_path / f"{n}.err"), "--", *command]
    return subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 10
    while not (path.exists() and path.stat().st_size):
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.002)


def test_a_sigterm_to_the_group_ends_service_and_relay_quietly(tmp_path: Path) -> None:
    """The service dies of the SIGTERM (exit 143 through the relay), or traps it and
    exits 0; never a traceback from the relay, whichever is reaped first."""
    for n in range(ROUNDS):
        trap = n % 2 == 0
        script = (
            "trap 'exit 0' TERM; echo up; while :; do sleep 0.01; done"
            if trap
            else ("echo up; exec sleep 30")
        )
        relay = _relay(tmp_path, n, ["/bin/sh", "-c", script])
        _wait_for(tmp_path / f"{n}.out")
        os.killpg(relay.pid, signal.SIGTERM)  # as `shipdeck stop` does
        _, err = relay.communicate(timeout=30)
        assert "Traceback" not in err and err == "", err
        assert relay.returncode == (0 if trap else 128 + signal.SIGTERM), (n, relay.returncode)


def test_a_sigterm_to_the_relay_alone_is_forwarded(tmp_path: Path) -> None:
    relay = _relay(tmp_path, 0, ["/bin/sh", "-c", "echo up; exec sleep 30"])
    _wait_for(tmp_path / "0.out")
    relay.send_signal(signal.SIGTERM)
    _, err = relay.communicate(timeout=30)
    assert err == "" and relay.returncode == 128 + signal.SIGTERM


def test_a_command_that_cannot_start_is_one_line_and_127(tmp_path: Path) -> None:
    relay = _relay(tmp_path, 0, [str(tmp_path / "no-such-program")])
    _, err = relay.communicate(timeout=30)
    assert relay.returncode == 127
    assert err.splitlines() == [
        f"mask_relay: cannot run {tmp_path / 'no-such-program'}: No such file or directory"
    ]
