"""One atomic file write: a temporary file in the same directory, renamed over the target.

A reader (another shipdeck, or this one after a kill) sees the old file or the new
one, never half of one, and whatever fails takes the temporary file with it (a full
disk would otherwise leave one per attempt). Callers keep their own error policy:
this raises what the OS raised.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path


def temp_name(path: Path) -> Path:
    """``<name>.<pid>.<thread>.<random>.tmp`` next to ``path``: unique per writer."""
    unique = f"{os.getpid()}.{threading.get_ident()}.{os.urandom(3).hex()}"
    return path.with_name(f"{path.name}.{unique}.tmp")


def write_chunks(
    path: Path,
    chunks: Iterable[bytes],
    *,
    fsync: bool = True,
    check: Callable[[Path], object] | None = None,
) -> None:
    """Write ``chunks`` to ``path`` atomically.

    ``fsync`` makes the bytes durable before the rename (state another process relies
    on); a cache may skip it. ``check`` is called with the finished temporary file
    before the rename; what it raises leaves ``path`` untouched.
    """
    tmp = temp_name(path)
    try:
        # Created like open(..., "w") would (0o666 less the umask), never over another.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            if fsync:
                os.fsync(out.fileno())
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def write_bytes(
    path: Path,
    data: bytes,
    *,
    fsync: bool = True,
    check: Callable[[Path], object] | None = None,
) -> None:
    """Write ``data`` to ``path`` atomically (see ``write_chunks``)."""
    write_chunks(path, (data,), fsync=fsync, check=check)


def write_text(
    path: Path,
    text: str,
    *,
    encoding: str = "utf-8",
    fsync: bool = True,
    check: Callable[[Path], object] | None = None,
) -> None:
    """Write ``text`` to ``path`` atomically (see ``write_chunks``)."""
    write_chunks(path, (text.encode(encoding),), fsync=fsync, check=check)
