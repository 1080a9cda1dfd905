"""Errors the CLI turns into one line on stderr and an exit code."""

from __future__ import annotations

from shipdeck.lifecycle.errors import ShipdeckError

EXIT_OK = 0
EXIT_FAILED = 1  # a stage or an operation failed, or a move was refused
EXIT_USAGE = 2  # bad arguments, bad config, bad board file
EXIT_INTERRUPTED = 130


class UsageError(ShipdeckError):
    """The user asked for something that cannot be done as asked: exit 2."""


class OperationFailed(ShipdeckError):
    """A stage, a deploy or a move did not succeed: exit 1."""
