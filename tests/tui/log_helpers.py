"""Shared pieces of the log pane's Pilot tests (waiting is tests/waiting.py's)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from textual.pilot import Pilot

from shipdeck.lifecycle.ports import Line, Stream
from shipdeck.widgets.log.view import LogView

SIZE = (80, 20)


def run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(scenario)


def out(*texts: str) -> list[Line]:
    return [Line(Stream.STDOUT, t) for t in texts]


def numbered(n: int, start: int = 0, word: str = "line") -> list[Line]:
    return out(*(f"{word} {i}" for i in range(start, start + n)))


def screen_lines(view: LogView) -> list[str]:
    return [view.render_line(y).text for y in range(view.scrollable_content_region.height)]


async def settle(pilot: Pilot[None], view: LogView) -> None:
    view.flush()
    await pilot.pause()
