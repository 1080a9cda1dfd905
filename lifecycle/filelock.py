"""One inter-process lock: ``flock`` on a file, polled so a stuck holder gives an error.

The board, the runs of an item and an environment's deploys each take one; this is
the only place that knows how.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def hold(path: Path, timeout: float, refused: Callable[[], Exception]) -> Iterator[None]:
    """Hold ``path``'s lock for the block; raise ``refused()`` after ``timeout`` seconds.

    Closing the descriptor releases the lock, so a killed holder never leaves it
    taken; the file itself stays (deleting it would let two holders in).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise refused() from None
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
        yield
    finally:
        os.close(fd)
