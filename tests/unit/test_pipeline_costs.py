"""The small constant costs of a Plan -> Deploy (issue 15, Build 4), kept without
changing behaviour: the health wait's schedule, the interpreter asked once."""

from __future__ import annotations

from itertools import islice

from shipdeck.backends.probe import pause_schedule


def test_health_wait_looks_again_soon_then_every_interval() -> None:
    pauses = list(islice(pause_schedule(0.5), 12))
    assert pauses[0] == 0.02
    assert pauses == sorted(pauses)  # never sooner than the pause before
    assert max(pauses) == 0.5 and pauses[-1] == 0.5  # settles on the interval
    assert sum(pauses[:4]) < 0.5  # several looks within the old first pause


def test_health_wait_never_pauses_past_a_short_interval() -> None:
    assert list(islice(pause_schedule(0.01), 3)) == [0.01, 0.01, 0.01]
