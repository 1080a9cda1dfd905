"""Durations and byte sizes as people read them: the one home of these formats, so
the board, the panes, the CLI and DORA say "12m 05s" and "1.5 MB" the same way."""

from __future__ import annotations

_UNITS = ((86400, "d"), (3600, "h"), (60, "m"), (1, "s"))


def duration(seconds: float | None, *, compact: bool = False) -> str:
    """``45s``, ``2m``, ``12m 05s``, ``3h 20m``, ``1d 01h``: the two largest units, the
    second zero-padded and left out when zero; ``compact`` drops the space (``12m05s``:
    a card's foot, a chart's axis). None is ``-``."""
    if seconds is None:
        return "-"
    s = max(0, round(seconds))
    index = next((i for i, (size, _) in enumerate(_UNITS) if s >= size), len(_UNITS) - 1)
    size, unit = _UNITS[index]
    first, rest = divmod(s, size)
    text = f"{first}{unit}"
    if index < len(_UNITS) - 1:
        next_size, next_unit = _UNITS[index + 1]
        second = rest // next_size
        if second:
            text += ("" if compact else " ") + f"{second:02d}{next_unit}"
    return text


def byte_size(n: float) -> str:
    """``812 B``, ``1.2 KB``, ``3.4 MB``, ``1.0 GB``: powers of 1024, as ``docker stats``."""
    value = max(0.0, float(n))
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def byte_rate(bytes_per_second: float) -> str:
    """Throughput: ``812 B/s``, ``1.2 KB/s``."""
    return byte_size(bytes_per_second) + "/s"


def counted(n: int, noun: str) -> str:
    """``1 line``, ``2 lines``, ``1,000,005 lines``: a count and its noun, agreeing."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
