"""The service relay (``backends/mask_relay.py``) masking a real service's output on
its way to the log file, where a line's length or a character's bytes cut it.

Found by a stranger's hunt: the relay reads a line in 64 KiB blocks, and a secret
starting at column 65,535 was written to the ``.out`` file in two halves, neither
masked (``shipdeck logs --env`` happened to join and mask them; the file did not)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipdeck.backends import mask_relay

pytestmark = pytest.mark.slow  # fresh interpreters

SECRET = "hunter2-SECRET-9f8e7d-wörd"  # a two-byte character in it, to be cut mid-way


def _relay_output(tmp_path: Path, script: str) -> bytes:
    argv = [sys.executable, *mask_relay.FLAGS, mask_relay.__file__]
    argv += [str(tmp_path / "svc.out"), str(tmp_path / "svc.err"), "API_TOKEN", "--"]
    argv += [sys.executable, "-c", script]
    env = os.environ | {"API_TOKEN": SECRET}
    done = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return (tmp_path / "svc.out").read_bytes()


@pytest.mark.parametrize("column", [65_530, 65_535, 65_536 - len("hunter2-SECRET-9f8e7d-w") - 1])
def test_a_secret_across_the_relays_block_is_masked_in_the_file(
    tmp_path: Path, column: int
) -> None:
    script = (
        "import os, sys; t = os.environ['API_TOKEN'].encode();"
        f" sys.stdout.buffer.write(b'A' * {column} + t + b'B' * 10 + b'\\n' + t + b' end')"
    )
    written = _relay_output(tmp_path, script)
    assert SECRET.encode() not in written
    first, last = written.split(b"\n")
    assert first == b"A" * column + b"***" + b"B" * 10  # nothing lost around it
    assert last == b"*** end"  # the last line, with no newline, masked all the same


def test_a_secret_named_by_another_environment_is_masked_in_this_ones_file(
    tmp_path: Path,
) -> None:
    """Every value the config names secret, not only this environment's: a service
    inherits shipdeck's environment, the other environments' secrets included."""
    from shipdeck.backends.local.target import LocalTarget

    target = LocalTarget(
        "crash",
        root=tmp_path,
        command="true",
        port=None,
        health_url=None,
        secrets={"API_TOKEN": "x"},
        also_masked=["ODD_TOKEN", "API_TOKEN"],
    )
    assert target._masked() == ["API_TOKEN", "ODD_TOKEN"]
