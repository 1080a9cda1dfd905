"""What the board app does when something goes wrong.

Storage errors (the board's ref unreadable, a read-only object store, a board
lock held too long) are the user's to fix: the app shows them as a one-line
notice and goes on. Anything else is a bug: the terminal is restored, the
traceback goes to a crash file (the screen it would be printed on is about to
be cleared), stderr gets one line naming that file, and the exit code says so.
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

from shipdeck.lifecycle.board import BoardError, ItemNotFound

EXIT_CRASHED = 70  # EX_SOFTWARE: an internal error, not the user's input

# What reading or writing the board (or the journal beside it) raises when the
# repository, not shipdeck, is at fault. ItemNotFound: another writer archived it.
STORAGE_ERRORS: tuple[type[Exception], ...] = (BoardError, ItemNotFound, OSError)


def describe(error: BaseException) -> str:
    """The cause on one line: a plain OSError without its ``[Errno n]`` noise or quotes
    (one that words itself, as ``lifecycle.errors.StorageError`` does, is kept as it is)."""
    plain = isinstance(error, OSError) and type(error).__str__ is OSError.__str__
    if plain and isinstance(error, OSError) and error.strerror:
        text = f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    else:
        text = str(error).strip("'\"") or type(error).__name__
    return " ".join(text.split())


def cause(error: BaseException) -> BaseException:
    """The error a Textual ``WorkerFailed`` wraps (it carries no traceback of its own)."""
    inner = getattr(error, "error", None)
    if type(error).__name__ == "WorkerFailed" and isinstance(inner, BaseException):
        return inner
    return error


def _header() -> str:
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "unknown"

    return (
        f"shipdeck {version('shipdeck')} crashed at {time.strftime('%Y-%m-%d %H:%M:%S %z')}\n"
        f"python {platform.python_version()} · textual {version('textual')} · "
        f"{platform.platform()}\n"
        f"argv: {' '.join(sys.argv)}\n\n"
    )


def write_report(error: BaseException, folder: Path) -> Path | None:
    """The traceback in ``folder/crash-<time>.log``, else in the temp dir; None if neither.

    No locals are written (Textual's own report has them): they may hold secrets.
    """
    text = _header() + "".join(traceback.format_exception(cause(error)))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for where, prefix in ((folder, "crash"), (Path(tempfile.gettempdir()), "shipdeck-crash")):
        for n in range(100):
            path = where / (f"{prefix}-{stamp}.log" if n == 0 else f"{prefix}-{stamp}-{n}.log")
            try:
                with open(path, "x", encoding="utf-8") as f:
                    f.write(text)
            except FileExistsError:
                continue  # two crashes in one second
            except OSError:
                break  # not writable here: the next folder
            return path
    return None


def report(error: BaseException, folder: Path) -> int:
    """Write the crash file, say where on one stderr line; the exit code."""
    error = cause(error)
    path = write_report(error, folder)
    what = f"{type(error).__name__}: {describe(error)}"
    if len(what) > 160:
        what = what[:159] + "…"
    if path is None:  # nowhere to write it: the traceback itself is the report
        traceback.print_exception(error, file=sys.stderr)
        sys.stderr.write(f"shipdeck: crashed ({what}); could not write a crash file\n")
    else:
        sys.stderr.write(f"shipdeck: crashed ({what}); the traceback is in {_shown(path)}\n")
    sys.stderr.flush()
    return EXIT_CRASHED


def _shown(path: Path) -> str:
    """Relative to the cwd when inside it, as the user would type it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
