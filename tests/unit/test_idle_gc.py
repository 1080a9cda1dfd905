"""The board's full garbage collections wait for quiet input, but never forever."""

from __future__ import annotations

import gc

import pytest

from shipdeck.tui import idle_gc
from shipdeck.tui.idle_gc import (
    DUE,
    MAX_SHARE,
    MIN_GAP_S,
    NEVER,
    OVERDUE,
    QUIET_S,
    IdleCollector,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def collector():
    clock = Clock()
    before = gc.get_threshold()
    c = IdleCollector(clock)
    c.install()
    try:
        yield c, clock
    finally:
        c.uninstall()
        assert gc.get_threshold() == before


def make_young_collections(count: int) -> None:
    """Run ``count`` generation-1 collections, which is what makes a full one due."""
    for _ in range(count):
        gc.collect(1)


def test_install_takes_the_full_collection_over(collector):
    del collector  # installed by the fixture
    assert gc.get_threshold()[2] == NEVER
    assert gc.get_freeze_count() > 0


def test_due_collection_waits_for_quiet_input(collector):
    c, clock = collector
    gc.collect()
    make_young_collections(DUE)
    clock.now += MIN_GAP_S
    c.touched()
    clock.now += QUIET_S / 2
    assert c.tick() is False  # typing: wait
    assert gc.get_count()[2] >= DUE
    clock.now += QUIET_S
    assert c.tick() is True  # quiet now
    assert gc.get_count()[2] == 0
    assert c.full_collections == 1


def test_due_collections_keep_a_gap_between_them(collector):
    c, clock = collector
    clock.now += MIN_GAP_S
    gc.collect()
    make_young_collections(DUE)
    assert c.tick() is True
    make_young_collections(DUE)
    clock.now += MIN_GAP_S / 2
    assert c.tick() is False  # due and quiet, but the last pass is recent
    assert gc.get_count()[2] >= DUE
    clock.now += MIN_GAP_S / 2
    assert c.tick() is True
    assert c.full_collections == 2


def test_a_costly_pass_spaces_the_next_due_one_by_its_cost(collector, monkeypatch):
    c, clock = collector
    cost = 0.05  # a pass over a big heap: due passes then wait cost / MAX_SHARE
    full = gc.collect

    def slow_collect(*generation: int) -> int:
        if not generation:  # the full pass the collector runs; young ones stay free
            clock.now += cost
        return full(*generation)

    monkeypatch.setattr(idle_gc.gc, "collect", slow_collect)
    clock.now += MIN_GAP_S
    make_young_collections(DUE)
    assert c.tick() is True
    gap = cost / MAX_SHARE
    assert gap > MIN_GAP_S
    make_young_collections(DUE)
    clock.now += gap - 1
    assert c.tick() is False  # due and quiet, but the last pass would make this >MAX_SHARE
    clock.now += 2  # past the gap, whatever the float sums round to
    assert c.tick() is True
    make_young_collections(OVERDUE)
    assert c.tick() is True  # overdue: memory stays bounded whatever the passes cost
    assert c.full_collections == 3


def test_overdue_collection_runs_even_while_typing(collector):
    c, _clock = collector
    gc.collect()
    make_young_collections(OVERDUE)
    c.touched()
    assert c.tick() is True
    assert gc.get_count()[2] == 0


def test_nothing_due_means_no_collection(collector):
    c, clock = collector
    gc.collect()
    clock.now += 10
    assert c.tick() is False
    assert c.full_collections == 0


def test_hold_stops_collections_until_install() -> None:
    c = IdleCollector(Clock())
    assert gc.isenabled()
    c.hold()
    try:
        assert not gc.isenabled()
        c.install()
        assert gc.isenabled()
    finally:
        c.uninstall()
    assert gc.isenabled()


def test_an_app_that_never_painted_gives_collections_back() -> None:
    c = IdleCollector(Clock())
    c.hold()
    c.uninstall()  # on_unmount without a first paint
    assert gc.isenabled()
