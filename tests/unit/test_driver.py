"""tui/driver.py without a terminal: its input loop fed through a pipe.

What its sleeping must not break: a character split across two reads, a lone
Escape (told from the start of a sequence only by the parser's timeout), and an
exit that wakes the thread at once although no key comes."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from textual import events

from shipdeck.tui.driver import FALLBACK_TICK, QuietDriver, input_timeout
from tests.waiting import wait_until


class _Recording(QuietDriver):
    def __init__(self) -> None:
        super().__init__(None)  # type: ignore[arg-type]  # no app: messages are kept here
        self.keys: list[str] = []

    def process_message(self, message: Any) -> None:
        if isinstance(message, events.Key):
            self.keys.append(message.key)


def test_the_input_thread_sleeps_until_input_or_the_parsers_timeout() -> None:
    class Parser:
        _timeout_time: float | None = None

    parser = Parser()
    assert input_timeout(parser, now=100.0) is None  # nothing pending: wait for input
    parser._timeout_time = 100.25  # an Escape waiting to be told from a sequence
    assert input_timeout(parser, now=100.0) == 0.25
    assert input_timeout(parser, now=101.0) == 0.0  # overdue: look now
    assert input_timeout(object(), now=0.0) == FALLBACK_TICK  # another parser: as Textual


async def test_split_characters_a_lone_escape_and_a_prompt_exit() -> None:
    driver = _Recording()
    read, write = os.pipe()
    driver.fileno = read
    thread = threading.Thread(target=driver.run_input_thread, daemon=True)
    thread.start()
    try:
        os.write(write, "é".encode()[:1])  # half a character: not the end of input
        time.sleep(0.05)
        os.write(write, "é".encode()[1:] + b"q")
        wait_until(lambda: driver.keys[-1:] == ["q"], what=lambda: f"keys {driver.keys}")
        assert driver.keys == ["é", "q"]
        os.write(write, b"\x1b")  # Escape alone: only the parser's timeout ends it
        wait_until(lambda: driver.keys[-1:] == ["escape"], what=lambda: f"keys {driver.keys}")
        driver.exit_event.set()  # no key follows: the pipe wakes the thread
        thread.join(timeout=10)
        assert not thread.is_alive()  # asleep with no timeout, it would wait forever
    finally:
        driver.exit_event.set()
        driver.close()
        os.close(read)
        os.close(write)
