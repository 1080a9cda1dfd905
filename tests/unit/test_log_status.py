"""The log's status line in a narrow pane: what answers the last search or filter
stays, the counts and hints give way (the details screen's log is half of 120
columns, and "/token: 1 line" was cut off its end)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from shipdeck.widgets.log.lines import LogStatus
from shipdeck.widgets.log.pane import status_text

WORDS = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12)
STATUSES = st.builds(
    LogStatus,
    following=st.booleans(),
    new_since_pause=st.integers(0, 10**6),
    lines=st.integers(0, 10**6),
    total=st.integers(0, 10**7),
    search=st.one_of(st.just(""), WORDS),
    search_matches=st.integers(0, 10**6),
    filter=st.one_of(st.just(""), WORDS),
    filter_matches=st.integers(0, 10**6),
    wrap=st.booleans(),
    timestamps=st.booleans(),
    json=st.booleans(),
)


@given(STATUSES, st.integers(20, 260))
def test_a_narrow_status_keeps_the_search_and_filter_and_drops_the_counts_first(
    status: LogStatus, width: int
) -> None:
    full = status_text(status).plain
    fitted = status_text(status, width=width).plain
    if cell_len(full) <= width:  # cells, not characters: 々 is two
        assert fitted == full  # room for everything: nothing given up
        return
    answers = [
        part
        for part in full.split(" │ ")
        if part.startswith(("/", "&"))  # the search's and the filter's counts
    ]
    state = fitted.split(" │ ")[0]
    if cell_len(fitted) <= width:  # it fits once counts and hints are gone
        for answer in answers:
            assert answer in fitted
        assert state.startswith(("● follow", "‖ paused"))
    else:  # still too wide (two long answers in a tiny pane): only then is text cut
        assert "(f/end)" not in fitted and " of " not in fitted


def test_the_details_pane_shows_the_search_result_at_58_columns() -> None:
    status = LogStatus(
        following=False, lines=20_000, total=1_000_007, search="token-100000 ", search_matches=1
    )
    wide = status_text(status).plain
    assert wide == "‖ paused (f/end) │ 20,000 of 1,000,007 lines │ /token-100000 : 1 line"
    narrow = status_text(status, width=58).plain
    assert narrow == "‖ paused │ 1,000,007 lines │ /token-100000 : 1 line"
