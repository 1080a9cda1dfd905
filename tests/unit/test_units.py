"""lifecycle/units.py: the one home of duration and byte-size text."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from shipdeck.lifecycle.units import byte_rate, byte_size, counted, duration


def test_durations_read_the_same_everywhere() -> None:
    seconds = (None, 0, 45, 120, 725, 3600, 12000, 90000)
    assert [duration(s) for s in seconds] == [
        "-", "0s", "45s", "2m", "12m 05s", "1h", "3h 20m", "1d 01h"
    ]  # fmt: skip
    assert duration(75, compact=True) == "1m15s" and duration(3720, compact=True) == "1h02m"
    assert duration(-3) == "0s"


@given(st.floats(0, 10**8, allow_nan=False))
def test_a_duration_is_at_most_two_units_largest_first(seconds: float) -> None:
    text = duration(seconds)
    parts = text.split(" ")
    assert 1 <= len(parts) <= 2
    assert all(re.fullmatch(r"\d+[dhms]", p) for p in parts)
    order = "dhms"
    units = [order.index(p[-1]) for p in parts]
    assert units == sorted(units) and (len(units) == 1 or units[1] == units[0] + 1)
    assert duration(seconds, compact=True) == text.replace(" ", "")


def test_byte_sizes_are_powers_of_1024() -> None:
    sizes = (0, 1023, 1024, 1_572_864, 5 * 1024**3, -5)
    assert [byte_size(n) for n in sizes] == ["0 B", "1023 B", "1.0 KB", "1.5 MB", "5.0 GB", "0 B"]
    assert byte_rate(1024) == "1.0 KB/s"


def test_a_count_agrees_with_its_noun() -> None:
    assert [counted(n, "line") for n in (0, 1, 2, 1_000_005)] == [
        "0 lines",
        "1 line",
        "2 lines",
        "1,000,005 lines",
    ]
