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


def _open(path: Path, mode: int) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)


def _take(fd: int) -> bool:
    """The lock taken now (True), or held by another descriptor (False)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _take_within(fd: int, seconds: float) -> bool:
    """The lock taken within ``seconds`` (polled, 1 to 20 ms apart), or False."""
    deadline = time.monotonic() + seconds
    delay = 0.001
    while not _take(fd):
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
    return True


@contextmanager
def hold(path: Path, timeout: float, refused: Callable[[], Exception]) -> Iterator[None]:
    """Hold ``path``'s lock for the block; raise ``refused()`` after ``timeout`` seconds.

    Closing the descriptor releases the lock, so a killed holder never leaves it
    taken; the file itself stays (deleting it would let two holders in).
    """
    fd = _open(path, 0o666)
    try:
        if not _take_within(fd, timeout):
            raise refused() from None
        yield
    finally:
        os.close(fd)


def try_lock(path: Path, *, mode: int = 0o666, grace: float = 0.0) -> int | None:
    """``path``'s lock taken without waiting beyond ``grace`` seconds: its descriptor,
    or None if another holds it.

    For a holder that keeps the lock beyond one block and uses the file itself (an
    item's run writes into its lock file); closing the descriptor releases it. An
    ``OSError`` (the file cannot be created) is the caller's to word.

    ``grace``: a process forked by any thread of this one shares its open
    descriptors until it execs (``O_CLOEXEC`` acts only then), and an ``flock``
    belongs to the shared description: a lock just released here stays held by such
    a child for the moment it takes to exec, milliseconds on a loaded machine. A
    caller that just let go of the lock, or that runs beside threads starting
    processes, waits that long rather than refusing; a real holder holds it for a
    whole run, far longer.
    """
    fd = _open(path, mode)
    try:
        taken = _take_within(fd, grace)
    except BaseException:
        os.close(fd)
        raise
    if not taken:
        os.close(fd)
        return None
    return fd
