"""widgets.ops.chart: the metrics pane's full-width time charts, as plain strings."""

from hypothesis import given
from hypothesis import strategies as st

from shipdeck.widgets.ops.chart import (
    BAR,
    BASELINE,
    EIGHTHS,
    FAIL,
    FAIL_MARK,
    HOT,
    columns,
    latency_scale,
    level,
    percent_scale,
    plot,
    rate_scale,
    time_axis,
)


def test_a_fixed_percent_scale_keeps_a_small_change_small() -> None:
    # 6.1% -> 7.3% memory is no spike on 0-100: the same bar, one eighth of a row.
    two_rows = plot([6.1, 7.3], 2, 2, 100.0, window=2)
    assert two_rows.rows == ["  ", EIGHTHS[1] * 2]
    assert abs(level(6.1, 100.0, 3) - level(7.3, 100.0, 3)) <= 1
    full = plot([100.0, 50.0], 2, 2, 100.0, window=2).rows
    assert full == [EIGHTHS[8] + " ", EIGHTHS[8] * 2]


def test_the_chart_fills_the_width_with_the_history_right_aligned() -> None:
    drawn = plot([50.0] * 60, 90, 1, 100.0, window=60)
    assert [len(r) for r in drawn.rows] == [90] and BASELINE not in drawn.rows[0]
    # Ten samples of a sixty-sample window take the right sixth; the rest is baseline.
    young = plot([50.0] * 10, 60, 1, 100.0, window=60).rows[0]
    assert young == BASELINE * 50 + EIGHTHS[4] * 10
    # Narrower than the window: a column is the highest of its samples.
    assert plot([10.0, 90.0] * 30, 30, 1, 100.0, window=60).rows[0] == EIGHTHS[7] * 30


def test_a_none_sample_is_a_gap_or_a_failure_mark() -> None:
    gap = plot([50.0, None, 50.0], 3, 2, 100.0, window=3)
    assert [r[1] for r in gap.rows] == [" ", BASELINE]
    failed = plot([50.0, None, 50.0], 3, 2, 100.0, window=3, mark_none=True)
    assert [r[1] for r in failed.rows] == [" ", FAIL_MARK] and failed.kinds[1] == FAIL


def test_columns_over_the_threshold_are_hot() -> None:
    drawn = plot([50.0, 95.0], 2, 1, 100.0, window=2, threshold=90.0)
    assert drawn.kinds[0] != HOT and drawn.kinds[1] == HOT


def test_time_axis_labels_the_span_and_now() -> None:
    axis = time_axis(90, 120.0)
    assert len(axis) == 90
    assert axis.startswith("-2m") and axis.endswith("now")
    assert "-1m" in axis and "-30s" in axis
    assert time_axis(20, 60.0).startswith("-1m")
    assert time_axis(5, 120.0) == "  now"


def test_scales_are_fixed_or_labelled_with_their_top() -> None:
    assert percent_scale([6.1, 7.3]) == (100.0, "100%")
    assert percent_scale([150.0]) == (200.0, "200%")  # two cores busy
    assert latency_scale([42.0, 212.0, None]) == (250.0, "250 ms")
    assert latency_scale([1800.0]) == (2000.0, "2 s")
    assert rate_scale([950.0]) == (1024.0, "1 KB/s")


def _columns_by_definition(
    values: list[float | None], width: int, window: int
) -> list[tuple[bool, float | None]]:
    """Each column's samples picked one by one: what ``columns`` computes faster."""
    window = max(window, len(values), 1)
    tail = values[-window:]
    missing = window - len(tail)
    out: list[tuple[bool, float | None]] = []
    for col in range(width):
        first = col * window // width
        last = max(first + 1, (col + 1) * window // width)
        picked = [tail[s - missing] for s in range(first, last) if s >= missing]
        real = [v for v in picked if v is not None]
        out.append((bool(picked), max(real) if real else None))
    return out


@given(
    st.lists(st.one_of(st.none(), st.floats(0, 1e6)), max_size=200),
    st.integers(0, 300),
    st.integers(1, 200),
)
def test_columns_pick_each_columns_samples(
    values: list[float | None], width: int, window: int
) -> None:
    assert columns(values, width, window) == _columns_by_definition(values, width, window)


def _plot_by_level(values, width, height, high, window, threshold, mark_none):  # type: ignore[no-untyped-def]
    """``plot`` spelled out with ``level`` per cell, as it was before it was inlined."""
    height, width = max(1, height), max(0, width)
    grid = [[" "] * width for _ in range(height - 1)] + [[BASELINE] * width]
    kinds = [0] * width
    for col, (has_data, value) in enumerate(columns(values, width, window)):
        if not has_data:
            continue
        if value is None:
            if mark_none:
                grid[-1][col], kinds[col] = FAIL_MARK, FAIL
            continue
        filled = level(value, high, height)
        if not filled:
            continue
        for row in range(height):
            grid[row][col] = EIGHTHS[max(0, min(8, filled - (height - 1 - row) * 8))]
        kinds[col] = HOT if threshold is not None and value >= threshold else BAR
    return ["".join(r) for r in grid], kinds


@given(
    values=st.lists(
        st.one_of(st.none(), st.floats(min_value=-10, max_value=1e4, allow_nan=False)),
        max_size=80,
    ),
    width=st.integers(0, 120),
    height=st.integers(1, 3),
    high=st.sampled_from([0.0, 1.0, 10.0, 100.0, 2500.0]),
    window=st.integers(1, 90),
    threshold=st.one_of(st.none(), st.floats(min_value=0, max_value=200)),
    mark_none=st.booleans(),
)
def test_plot_draws_what_level_says_for_every_cell(  # type: ignore[no-untyped-def]
    values, width, height, high, window, threshold, mark_none
) -> None:
    drawn = plot(
        values, width, height, high, window=window, threshold=threshold, mark_none=mark_none
    )
    rows, kinds = _plot_by_level(values, width, height, high, window, threshold, mark_none)
    assert drawn.rows == rows
    assert drawn.kinds == kinds
