"""Frames paced while a run paints, so that the run keeps the cores it reports on.

A run on the board changes the screen many times a second: its card moves from
stage to stage, the spinner turns, and each batch of output reaches the log pane.
Textual paints each change at the next of its 60 frames a second, and each frame is
~3-5 ms of the UI thread (the columns that changed, the log view, its scrollbar and
status line, the compositor around them). On a 2-core machine those frames take the
interpreter and a core from the run's own commands: the demo's Plan -> Deploy on the
open board took 20-22 frames. While anything runs and nobody types, the board paints
at most ``RUN_FPS`` times a second, which still reads as live (a person does not
follow a log faster); a key, a click or a resize is painted at the next frame, as
before, so typing, scrolling and the cursor stay at Textual's rate. Nothing is
dropped: a held frame paints everything that changed since the last one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

RUN_FPS = 20
RUN_FRAME_S = 1 / RUN_FPS
SLACK_S = 0.002  # a timer tick a hair early still paints: 3 ticks of 60 Hz are a frame


class FramePacer:
    """Says whether the screen's frame timer may paint now."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._painted = -math.inf  # when the last frame was painted
        self._typed = False  # a key, click or resize since that frame
        self.running = False  # whether any card runs (the app says, as it reads the board)

    def touched(self) -> None:
        """A key, mouse event or resize arrived: its frame is not held."""
        self._typed = True

    def due(self) -> bool:
        """Paint now? Always, unless something runs, nothing was typed since the last
        frame, and that frame is less than ``RUN_FRAME_S`` old. Counts a yes as a paint."""
        now = self._clock()
        if self.running and not self._typed and now - self._painted < RUN_FRAME_S - SLACK_S:
            return False
        self._painted, self._typed = now, False
        return True
