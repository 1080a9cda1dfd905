"""Run a service with its output masked and rotated on the way to its log files.

``python -I -S backends/mask_relay.py OUT ERR [--rotate=BYTES:FILES] NAME... -- COMMAND...``

A local service outlives shipdeck, so its output cannot pass through shipdeck's
own masker: this relay leads the service's process group, starts the command
with pipes, and writes each line to OUT or ERR with the values of the named
environment variables (the environment's ``secrets``) masked, as every run log
is. With ``--rotate``, a file that would grow past BYTES is renamed to ``OUT.1``
(``OUT.1`` to ``OUT.2``, ... keeping FILES files in all) between two lines, and a
new OUT is begun: a follower finds the rest of the file it read at ``OUT.1``
(``backends.local.supervise.Follower``). It forwards SIGTERM/SIGINT to the command
and exits with its exit code, so the relay is alive exactly while the service is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import BinaryIO

if __name__ == "__main__":
    # Run by path with -I -S: neither the service's PYTHONPATH nor site-packages is on
    # the path, so the directory holding the ``shipdeck`` package is put there (the
    # path shipdeck gave, unresolved: site-packages, or a checkout's root).
    sys.path.insert(0, str(Path(__file__).absolute().parents[2]))

from shipdeck.lifecycle.masking import SecretMasker

_LINE = 1 << 16  # a longer line is masked in pieces (best effort)
# How the relay's interpreter is started: isolated from the service's environment, and
# without site (the relay needs the standard library and this package only, which the
# path above finds): 20 ms less before the service itself starts, as the step guard.
FLAGS = ("-I", "-S")


def rotated(path: str | os.PathLike[str], n: int) -> Path:
    """The ``n``-th older file of ``path`` (``service.log.1``); 0 is ``path`` itself."""
    return Path(f"{os.fspath(path)}.{n}") if n else Path(path)


def rotate(path: str | os.PathLike[str], files: int) -> None:
    """``path.(files-2)`` -> ``path.(files-1)`` ... ``path`` -> ``path.1``; the oldest goes.

    Renames, never copies: a reader holding the old file's inode finds it under its
    new name. ``files`` 1 keeps no older file (``path`` is removed)."""
    if files <= 1:
        rotated(path, 0).unlink(missing_ok=True)
        return
    for n in range(files - 2, -1, -1):
        src = rotated(path, n)
        if src.exists():
            os.replace(src, rotated(path, n + 1))


class RotatingFile:
    """An append-only file that is rotated before a write would take it past ``limit``
    bytes (``limit`` 0: never). Lines are written whole, so no line is split."""

    def __init__(self, path: str, limit: int = 0, files: int = 3) -> None:
        self.path, self.limit, self.files = path, limit, files
        self._fh = open(path, "ab", buffering=0)  # noqa: SIM115 - closed in close()/rotation
        self.size = self._fh.tell()

    def write(self, data: bytes) -> None:
        if self.limit and self.size and self.size + len(data) > self.limit:
            self._fh.close()  # closed before the rename: the renamed file is complete
            rotate(self.path, self.files)
            self._fh = open(self.path, "ab", buffering=0)  # noqa: SIM115
            self.size = 0
        self._fh.write(data)
        self.size += len(data)

    def close(self) -> None:
        self._fh.close()


def _pump(source: BinaryIO, out: RotatingFile, masker: SecretMasker) -> None:
    try:
        for raw in iter(lambda: source.readline(_LINE), b""):
            text = raw.decode("utf-8", "surrogateescape")
            out.write(masker.mask(text).encode("utf-8", "surrogateescape"))
    finally:
        out.close()


def _rotation(arg: str) -> tuple[int, int]:
    """``--rotate=10485760:3`` -> (10485760, 3)."""
    size, _, files = arg.partition("=")[2].partition(":")
    return int(size), max(1, int(files or 3))


def main(argv: list[str]) -> int:
    if "--" not in argv or len(argv) < 4:
        sys.stderr.write("usage: mask_relay OUT ERR [--rotate=BYTES:FILES] NAME... -- COMMAND...\n")
        return 2
    split = argv.index("--")
    out, err, names, command = argv[0], argv[1], argv[2:split], argv[split + 1 :]
    limit, files = 0, 3
    if names and names[0].startswith("--rotate="):
        limit, files = _rotation(names.pop(0))
    masker = SecretMasker({n: os.environ[n] for n in names if os.environ.get(n)})
    child = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    assert child.stdout is not None and child.stderr is not None
    pumps = [
        threading.Thread(
            target=_pump, args=(pipe, RotatingFile(path, limit, files), masker), daemon=True
        )
        for pipe, path in ((child.stdout, out), (child.stderr, err))
    ]
    for pump in pumps:
        pump.start()
    code = child.wait()
    for pump in pumps:
        pump.join(timeout=2)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
