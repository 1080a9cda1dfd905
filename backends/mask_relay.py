"""Run a service with its output masked on the way to its log files.

``python -I backends/mask_relay.py OUT ERR NAME... -- /bin/sh -c COMMAND``

A local service outlives shipdeck, so its output cannot pass through shipdeck's
own masker: this relay leads the service's process group, starts the command
with pipes, and writes each line to OUT or ERR with the values of the named
environment variables (the environment's ``secrets``) masked, as every run log
is. It forwards SIGTERM/SIGINT to the command and exits with its exit code, so
the relay is alive exactly while the service is. Only used when the environment
has secrets; otherwise the service writes its files directly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import BinaryIO

if __name__ == "__main__":  # run by path with -I: the service's PYTHONPATH is not ours
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shipdeck.lifecycle.masking import SecretMasker

_LINE = 1 << 16  # a longer line is masked in pieces (best effort)


def _pump(source: BinaryIO, path: str, masker: SecretMasker) -> None:
    with open(path, "ab", buffering=0) as out:
        for raw in iter(lambda: source.readline(_LINE), b""):
            text = raw.decode("utf-8", "surrogateescape")
            out.write(masker.mask(text).encode("utf-8", "surrogateescape"))


def main(argv: list[str]) -> int:
    if "--" not in argv or len(argv) < 4:
        sys.stderr.write("usage: mask_relay OUT ERR NAME... -- COMMAND...\n")
        return 2
    split = argv.index("--")
    out, err, names, command = argv[0], argv[1], argv[2:split], argv[split + 1 :]
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
        threading.Thread(target=_pump, args=(child.stdout, out, masker), daemon=True),
        threading.Thread(target=_pump, args=(child.stderr, err, masker), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    code = child.wait()
    for pump in pumps:
        pump.join(timeout=2)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
