"""The board's frame pacer (``tui/pacing.py``): while a run paints and nobody types,
frames are at least ``RUN_FRAME_S`` apart; otherwise every frame is painted at once.
Generated timelines of timer ticks, keys and runs starting and ending."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shipdeck.tui.pacing import RUN_FRAME_S, SLACK_S, FramePacer

TICK = 1 / 60  # Textual's frame timer

steps = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=0.2),  # time to the next thing
        st.sampled_from(["tick", "tick", "tick", "key", "run", "idle"]),
    ),
    max_size=200,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@given(steps)
def test_frames_are_paced_only_while_a_run_paints_and_nobody_types(
    timeline: list[tuple[float, str]],
) -> None:
    clock = Clock()
    pacer = FramePacer(clock)
    painted: float | None = None
    typed_since_paint = False
    for gap, what in timeline:
        clock.now += gap
        if what == "key":
            pacer.touched()
            typed_since_paint = True
        elif what in ("run", "idle"):
            pacer.running = what == "run"
        else:
            due = pacer.due()
            if not pacer.running or typed_since_paint or painted is None:
                assert due  # nothing runs, a key came, or nothing was painted yet: now
            else:
                # held exactly while the last frame is younger than a paced frame
                assert due == (clock.now - painted >= RUN_FRAME_S - SLACK_S)
            if due:
                painted, typed_since_paint = clock.now, False


def test_a_held_frame_is_painted_by_the_first_tick_a_paced_frame_later() -> None:
    """Held, the timer keeps ticking: no change waits longer than a paced frame."""
    clock = Clock()
    pacer = FramePacer(clock)
    pacer.running = True
    assert pacer.due()
    held = 0
    while not pacer.due():
        clock.now += TICK
        held += 1
    assert held == round(RUN_FRAME_S / TICK)  # 3 ticks of 60 Hz: 20 frames a second
    pacer.touched()
    clock.now += 0.001
    assert pacer.due()  # a key's frame is not held
