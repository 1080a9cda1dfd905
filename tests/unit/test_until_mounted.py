"""The one "hold data until mounted" helper the panes share."""

from __future__ import annotations

from shipdeck.widgets.until_mounted import UntilMounted


def test_the_latest_value_is_held_until_mount_and_handed_back_once() -> None:
    held: UntilMounted[list[int]] = UntilMounted()
    assert held.held is None
    assert held.hold([1]) is True  # not mounted: the caller stops
    assert held.hold([*(held.held or []), 2]) is True  # a caller adding to what is held
    assert held.hold([3]) is True  # ... or replacing it
    assert held.held == [3]
    assert not held.mounted
    assert held.mount() == [3]
    assert held.mounted
    assert held.held is None
    assert held.hold([4]) is False  # mounted: the caller shows it now
    assert held.held is None
    assert held.mount() is None  # handed back once


def test_nothing_held_gives_none_at_mount() -> None:
    held: UntilMounted[str] = UntilMounted()
    assert held.mount() is None
    assert held.mounted
