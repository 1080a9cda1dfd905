"""Textual's terminal driver, with an input thread that sleeps until there is input.

Textual's ``LinuxDriver`` reads keys on a thread that wakes every 0.1 s, whether
or not a key came, to look at its exit flag and at the parser's Escape timeout (a
lone Escape is told from the start of an escape sequence by the wait after it).
On the idle board that is ten wakeups a second at ~0.14 ms each: 1.4 ms of CPU a
second, about a seventh of the whole idle cost with the metrics pane showing
(issue #15's budget is 10 ms). :class:`QuietDriver` waits with no timeout unless
the parser is waiting on one, and its exit flag wakes the thread through a pipe.
Everything else is Textual's driver, unchanged.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
from codecs import getincrementaldecoder
from typing import Any

from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

# A parser without the attribute this reads (another Textual) is ticked as
# Textual ticks it: every 0.1 s.
FALLBACK_TICK = 0.1
_NO_ATTRIBUTE = object()


class _WakingEvent(threading.Event):
    """The driver's exit flag: setting it also wakes the input thread's select."""

    def __init__(self, wake_fd: int) -> None:
        super().__init__()
        self.wake_fd: int | None = wake_fd  # None once the driver closed it

    def set(self) -> None:
        super().set()
        if self.wake_fd is not None:
            with contextlib.suppress(BlockingIOError):  # full: the thread is woken already
                os.write(self.wake_fd, b"x")


def input_timeout(parser: object, now: float) -> float | None:
    """How long the input thread may sleep: until the parser's pending timeout (an
    Escape waiting to be told from a sequence), or until input (None)."""
    due = getattr(parser, "_timeout_time", _NO_ATTRIBUTE)
    if due is None:
        return None
    if isinstance(due, int | float):
        return max(0.0, due - now)
    return FALLBACK_TICK


class QuietDriver(LinuxDriver):
    """``LinuxDriver`` whose input thread wakes on input, a parser timeout or exit only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self.exit_event: _WakingEvent = _WakingEvent(self._wake_write)

    def run_input_thread(self) -> None:
        """Read keys and dispatch them, as Textual's thread does, sleeping in between."""
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        with selectors.SelectSelector() as selector:
            selector.register(self.fileno, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            reading = True
            while not self.exit_event.is_set():
                for key, _ in selector.select(input_timeout(parser, get_time())):
                    if key.fd == self._wake_read:
                        with contextlib.suppress(BlockingIOError):
                            os.read(self._wake_read, 512)
                        continue
                    raw = os.read(self.fileno, 4096)
                    if not raw:  # stdin at its end (piped): nothing more will come
                        if reading:
                            selector.unregister(self.fileno)
                            reading = False
                        continue
                    # Half a character decodes to "" until its rest comes, and "" would
                    # tell the parser its input ended: it waits for the rest here.
                    data = decode(raw)
                    for event in parser.feed(data) if data else ():
                        self.process_message(event)
                for event in parser.tick():
                    self.process_message(event)
        with contextlib.suppress(EOFError, ParseError):
            for _ in parser.feed(""):  # end the parser's generator, as Textual does
                pass

    def close(self) -> None:
        super().close()
        self.exit_event.wake_fd = None  # its number may be another file's from now on
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)
