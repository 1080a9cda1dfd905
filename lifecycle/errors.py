"""The errors every layer shares: :class:`ShipdeckError`, the one base of each error
shipdeck raises (core, backends, composition root, command line), and
:class:`StorageError`, a file shipdeck keeps that could not be written.

At the bottom of the core: it imports nothing of shipdeck, so the journal, the board
store, the engine and the backends can all raise these without importing each other.
"""

from __future__ import annotations


class ShipdeckError(Exception):
    """Any error shipdeck raises on purpose, as opposed to a bug.

    Each kind says what it is besides: a missing item or environment is also a
    ``LookupError``, a bad template a ``ValueError``, a storage failure an ``OSError``.
    No shipdeck error is a ``KeyError``: ``str()`` of one is quoted, and catching
    ``KeyError`` would catch a bug's dictionary lookup with it.
    """


class EngineError(ShipdeckError):
    """A run could not start (refused move, unknown environment, busy item)."""


class StorageError(ShipdeckError, OSError):
    """A file shipdeck keeps could not be written (read-only, disk full, ...).

    An ``OSError``, so code that skips optional files (caches) still skips it. A run or
    an environment operation whose bookkeeping cannot be written fails with this one
    line, as a failed stage does. The CLI reports it as an environment failure (exit 1):
    ``cannot write .shipdeck/journal.jsonl: no space left on device``.
    """

    def __init__(
        self, shown: str, cause: OSError | str, *, errno: int | None = None, context: str = ""
    ) -> None:
        if isinstance(cause, OSError):
            errno = cause.errno if errno is None else errno
            reason = (cause.strerror or str(cause)).strip()
        else:
            reason = cause.strip()
        reason = reason[:1].lower() + reason[1:]
        OSError.__init__(self, errno, reason)
        self.shown = shown
        self.reason = reason
        self.context = context  # what could not be done, before the cause

    def __str__(self) -> str:
        return f"{self.context}cannot write {self.shown}: {self.reason}"

    @classmethod
    def wrap(cls, exc: OSError, shown: str) -> StorageError:
        """``exc`` as a StorageError about ``shown`` (one already is: kept as it is)."""
        return exc if isinstance(exc, StorageError) else cls(shown, exc)
