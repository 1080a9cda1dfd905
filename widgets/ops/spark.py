"""A cheap sparkline: one line of block characters in one colour.

Textual's Sparkline blends a colour per cell on every render; with six of them
repainted each second it cost more than the sampling itself. This one maps each
value to one of eight blocks and lets CSS pick the colour (``color``).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

BLOCKS = "▁▂▃▄▅▆▇█"


def spark_text(values: Sequence[float], width: int) -> str:
    """The last ``width`` values as blocks, scaled between their own min and max."""
    if width <= 0 or not values:
        return ""
    tail = list(values)[-width:]
    low, high = min(tail), max(tail)
    span = high - low
    if span <= 0:
        return BLOCKS[0] * len(tail)
    top = len(BLOCKS) - 1
    return "".join(BLOCKS[round((v - low) / span * top)] for v in tail)


class TextSparkline(Widget):
    DEFAULT_CSS = """
    TextSparkline { height: 1; color: $accent; }
    """

    def __init__(self, data: Sequence[float] = (), **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._data: list[float] = list(data)

    @property
    def data(self) -> list[float]:
        return self._data

    @data.setter
    def data(self, values: Sequence[float]) -> None:
        values = list(values)
        if values != self._data:
            self._data = values
            self.refresh()

    def render(self) -> Text:
        return Text(spark_text(self._data, self.size.width).rjust(self.size.width, " "))
