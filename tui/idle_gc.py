"""Full garbage collections moved to the moments nobody is typing.

CPython's full (generation 2) collection walks every tracked object; on a big board
Textual's render caches (Strips, each with its own small caches) put tens of
thousands of them there, and a full pass that lands on a key press costs 20-35 ms
of that press, twice the 16 ms a cursor move may take. The young generations stay
automatic (they are cheap); the full pass is run by :meth:`IdleCollector.tick`,
once a second, when input has been quiet for a moment, or regardless once enough
young collections have piled up, so memory is bounded as before.

A due pass also waits until ``MIN_GAP_S`` have passed since the last one. CPython
itself runs a full pass only once the objects waiting for one reach a quarter of
the long-lived heap, which a Python program cannot read; without a floor the
metrics pane's repaints made one due every few seconds, and the passes were an
eighth of the pane's idle cost (issue #11's 1% of a core). The gap also grows with
what the last pass cost, so due passes take at most ``MAX_SHARE`` of a core: with
the metrics pane open a pass took ~35 ms (a fifth of the UI thread's samples in a
60 s profile that held one), 0.12% of a core at one every 30 s, where the whole
idle budget is 1% (issue #15). Overdue passes keep memory bounded as before.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

QUIET_S = 0.5  # no key or mouse event for this long counts as idle
DUE = 10  # young collections since the last full pass: CPython's own default trigger
OVERDUE = 200  # collect even while typing once this many have piled up
MIN_GAP_S = 30.0  # seconds between two due (not overdue) full passes, at least
MAX_SHARE = 0.0005  # of a core that due passes may take: the gap is cost / MAX_SHARE
NEVER = 1_000_000  # a threshold the automatic collector never reaches


class IdleCollector:
    """Owns when full collections happen; :meth:`install` once, then ``tick`` each second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_input = clock()
        self._threshold: tuple[int, int, int] | None = None
        self._last_full = clock()
        self._gap = MIN_GAP_S
        self.full_collections = 0

    def hold(self) -> None:
        """No collections until :meth:`install`: what is made before the first paint
        (modules, styles, the board) lives as long as the app, so collecting it is
        wasted time, and a full pass landing there cost the first frame ~15 ms."""
        gc.freeze()  # what the imports made
        self._was_enabled = gc.isenabled()
        gc.disable()

    _was_enabled = True

    def install(self) -> None:
        """Freeze what exists (the board lives as long as the app) and take over gen 2."""
        if self._was_enabled:
            gc.enable()
        gc.freeze()
        young, middle, _ = self._threshold = gc.get_threshold()
        gc.set_threshold(young, middle, NEVER)

    def uninstall(self) -> None:
        """Give the interpreter its own policy back (tests run many apps in one process)."""
        if self._threshold is not None:
            gc.set_threshold(*self._threshold)
            self._threshold = None
        if self._was_enabled:
            gc.enable()
        gc.unfreeze()

    def touched(self) -> None:
        """A key or mouse event arrived."""
        self._last_input = self._clock()

    def tick(self) -> bool:
        """Run a full collection if one is due, input is quiet and the last one is old
        enough (``MIN_GAP_S``, or longer after a costly one), or if it is overdue."""
        pending = gc.get_count()[2]
        now = self._clock()
        quiet = now - self._last_input >= QUIET_S
        rested = now - self._last_full >= self._gap
        if pending >= OVERDUE or (pending >= DUE and quiet and rested):
            gc.collect()
            self._last_full = self._clock()
            self._gap = max(MIN_GAP_S, (self._last_full - now) / MAX_SHARE)
            self.full_collections += 1
            return True
        return False
