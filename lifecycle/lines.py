"""Lines of output, the unit every run, log and pane deals in.

Apart from :mod:`lifecycle.ports` so the board's log pane can import them without
the ports' dataclasses and Protocols (the board's first frame waits for imports).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import NamedTuple


class Stream(StrEnum):
    STDOUT = "stdout"
    STDERR = "stderr"
    INFO = "info"  # shipdeck's own lines: step headers, markers


class Line(NamedTuple):
    stream: Stream
    text: str


OutputSink = Callable[[Sequence[Line]], None]


def say(sink: OutputSink, text: str) -> None:
    """One line of shipdeck's own narration (``Stream.INFO``) into ``sink``."""
    sink([Line(Stream.INFO, text)])
