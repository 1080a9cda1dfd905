"""Full-width time charts for the metrics pane, as plain strings and column kinds.

Pure functions, no widgets: the pane's rows call them in ``render`` once per sample.

A chart shows the last ``window`` samples (the poller's history size) across the
whole width, newest at the right: each sample gets ``width / window`` columns (a
column takes the highest of its samples when the width is smaller), and a history
not yet full leaves the left empty, so a column always means the same moment and
the time axis under it stays true. Bars are eighth blocks stacked ``height`` rows
high against a fixed scale (``0..high``), so 6.1% and 7.3% of memory are the same
bar, not a spike. ``None`` is a gap (no sample: a container's first CPU reading)
or, for probes, a failure drawn as a mark on the bottom row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from shipdeck.lifecycle.units import duration

EIGHTHS = " ▁▂▃▄▅▆▇█"
BASELINE = "·"  # the bottom row where there is no bar: the chart's extent stays visible
FAIL_MARK = "×"

# column kinds, for colouring
EMPTY, BAR, HOT, FAIL = 0, 1, 2, 3

_NICE = (1.0, 2.0, 2.5, 5.0)


@dataclass(frozen=True)
class Plot:
    """``rows`` top first, each ``width`` characters; ``kinds`` one per column."""

    rows: list[str]
    kinds: list[int]


def columns(
    values: Sequence[float | None], width: int, window: int
) -> list[tuple[bool, float | None]]:
    """One ``(has_data, value)`` per column: ``values`` right-aligned in ``window`` slots.

    ``has_data`` is False left of the first sample; ``value`` None there and for a
    ``None`` sample (when every sample of a column is None)."""
    if width <= 0:
        return []
    window = max(window, len(values), 1)
    tail = list(values)[-window:]
    missing = window - len(tail)
    out: list[tuple[bool, float | None]] = []
    for first, last in _slots(width, window):
        if last <= missing:
            out.append((False, None))
        elif last - first == 1:  # the usual case: a column shows one sample
            out.append((True, tail[first - missing]))
        else:
            shown = tail[max(first, missing) - missing : last - missing]
            real = [v for v in shown if v is not None]
            out.append((True, max(real) if real else None))
    return out


@lru_cache(maxsize=64)
def _slots(width: int, window: int) -> tuple[tuple[int, int], ...]:
    """The samples ``[first, last)`` each of ``width`` columns shows: the same for
    every chart of one width, so computed once, not per column per repaint."""
    return tuple(
        (col * window // width, max(col * window // width + 1, (col + 1) * window // width))
        for col in range(width)
    )


def level(value: float, high: float, height: int) -> int:
    """Eighths of a cell filled, 0..8*height; any value above zero shows at least one."""
    if high <= 0 or value <= 0:
        return 0
    levels = 8 * height
    filled = round(min(value, high) / high * levels)
    return max(1, min(levels, filled))


def plot(
    values: Sequence[float | None],
    width: int,
    height: int,
    high: float,
    *,
    window: int = 60,
    threshold: float | None = None,
    mark_none: bool = False,
) -> Plot:
    """Bars of ``values`` on a ``0..high`` scale, ``height`` rows by ``width`` columns.

    A column at or above ``threshold`` is ``HOT``; a ``None`` sample is a gap (the dotted
    baseline only), or
    a ``FAIL_MARK`` on the bottom row when ``mark_none`` (a failed probe)."""
    height = max(1, height)
    width = max(0, width)
    if width >= max(window, len(values), 1):
        return _plot_by_sample(values, width, height, high, window, threshold, mark_none)
    grid = [[" "] * width for _ in range(height - 1)] + [[BASELINE] * width]
    kinds = [EMPTY] * width
    levels = 8 * height
    bottom = grid[-1]
    hot = threshold if threshold is not None else math.inf
    # level() inlined, and a one-row chart (the usual one) set without the row loop:
    # the pane plots every chart each sample, and this was most of it.
    for col, (has_data, value) in enumerate(columns(values, width, window)):
        if not has_data:
            continue
        if value is None:
            if mark_none:
                bottom[col] = FAIL_MARK
                kinds[col] = FAIL
            continue
        if high <= 0 or value <= 0:
            continue
        filled = round((value if value < high else high) / high * levels)
        filled = 1 if filled < 1 else levels if filled > levels else filled
        if height == 1:
            bottom[col] = EIGHTHS[filled]
        else:
            for row in range(height):
                left = filled - (height - 1 - row) * 8  # eighths above those under this row
                grid[row][col] = EIGHTHS[0 if left < 0 else 8 if left > 8 else left]
        kinds[col] = HOT if value >= hot else BAR
    return Plot(["".join(r) for r in grid], kinds)


def _plot_by_sample(
    values: Sequence[float | None],
    width: int,
    height: int,
    high: float,
    window: int,
    threshold: float | None,
    mark_none: bool,
) -> Plot:
    """``plot`` when every column shows one sample (the pane at 120 columns and wider):
    each of the (at most ``window``) samples is worked out once, and the columns pick
    theirs, instead of each of the ~1.4 times as many columns working it out again."""
    window = max(window, len(values), 1)
    tail = list(values)[-window:]
    levels = 8 * height
    hot = threshold if threshold is not None else math.inf
    filled_of: list[int] = []  # eighths filled; 0 no bar; -1 a failure's mark
    kind_of: list[int] = []
    for value in tail:
        if value is None:
            filled_of.append(-1 if mark_none else 0)
            kind_of.append(FAIL if mark_none else EMPTY)
        elif high <= 0 or value <= 0:
            filled_of.append(0)
            kind_of.append(EMPTY)
        else:
            filled = round((value if value < high else high) / high * levels)
            filled_of.append(1 if filled < 1 else levels if filled > levels else filled)
            kind_of.append(HOT if value >= hot else BAR)
    picks = _picks(width, window, window - len(tail))
    kind_of.append(EMPTY)  # index -1: the columns left of the first sample
    rows: list[str] = []
    for row in range(height):
        under = (height - 1 - row) * 8  # eighths in the rows under this one
        bottom = row == height - 1
        glyphs = [
            (FAIL_MARK if bottom else " ")
            if filled < 0
            else (BASELINE if bottom else " ")
            if filled == 0
            else EIGHTHS[0 if filled <= under else 8 if filled - under > 8 else filled - under]
            for filled in filled_of
        ]
        glyphs.append(BASELINE if bottom else " ")  # index -1, as above
        rows.append("".join([glyphs[i] for i in picks]))
    return Plot(rows, [kind_of[i] for i in picks])


@lru_cache(maxsize=64)
def _picks(width: int, window: int, missing: int) -> tuple[int, ...]:
    """The sample each column shows (``width >= window``), -1 left of the first one."""
    return tuple(max(-1, first - missing) for first, _ in _slots(width, window))


def nice_ceiling(value: float, floor: float = 1.0) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value``."""
    value = max(float(value), floor)
    power = 10.0 ** math.floor(math.log10(value))
    for step in (*_NICE, 10.0):
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10.0 * power  # pragma: no cover - the loop ends at 10


def time_axis(width: int, span_seconds: float) -> str:
    """``-2m      -1m30s      -1m  ...  now`` under a ``width``-column chart.

    Ticks at quarters of the span (fewer when they would not fit), each label
    ending or starting where its moment is; always the oldest and ``now``."""
    if width <= 0:
        return ""
    line = [" "] * width
    now = "now"
    oldest = f"-{duration(span_seconds, compact=True)}"
    if width < len(oldest) + len(now) + 1:
        return now.rjust(width)[:width]

    def put(text: str, start: int) -> None:
        for i, ch in enumerate(text):
            line[start + i] = ch

    put(oldest, 0)
    put(now, width - len(now))
    taken = [(0, len(oldest)), (width - len(now), width)]
    for parts in (4, 2):
        ticks: list[tuple[str, int, int]] = []
        for k in range(1, parts):
            label = f"-{duration(span_seconds * (parts - k) / parts, compact=True)}"
            centre = round(width * k / parts)
            start = max(0, min(width - len(label), centre - len(label) // 2))
            ticks.append((label, start, start + len(label)))
        spans = taken + [(s, e) for _, s, e in ticks]
        if all(
            a == b or e1 + 2 <= s2 or e2 + 2 <= s1
            for a, (s1, e1) in enumerate(spans)
            for b, (s2, e2) in enumerate(spans)
        ):
            for label, start, _ in ticks:
                put(label, start)
            break
    return "".join(line)


def latency_scale(values: Sequence[float | None]) -> tuple[float, str]:
    """A probe chart's top: the nice ceiling of its highest latency (ms), and its label."""
    high = nice_ceiling(max((v for v in values if v is not None), default=0.0), floor=10.0)
    return high, (f"{high:g} ms" if high < 1000 else f"{high / 1000:g} s")


def rate_scale(values: Sequence[float | None]) -> tuple[float, str]:
    """A byte rate chart's top (bytes/s) and its label, nice in B, KB, MB or GB per second."""
    top = max((v for v in values if v is not None), default=0.0)
    units = ("B/s", "KB/s", "MB/s", "GB/s")
    for power, unit in enumerate(units):
        base = 1024.0**power
        nice = nice_ceiling(top / base, floor=1.0)
        if nice < 1000 or unit == units[-1]:
            return nice * base, f"{nice:g} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def percent_scale(values: Sequence[float | None]) -> tuple[float, str]:
    """0–100% fixed; a container using more than one core gets 200%, 300%, ..."""
    top = max((v for v in values if v is not None), default=0.0)
    high = 100.0 * max(1, math.ceil(top / 100.0 - 1e-9))
    return high, f"{high:g}%"
