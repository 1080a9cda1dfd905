"""The CLI's plain text: lines a person reads in a terminal of any width."""

from __future__ import annotations

import contextlib
import io
import json

from hypothesis import given
from hypothesis import strategies as st

from shipdeck.cli.ops import json_lines
from shipdeck.cli.text import fit_words, json_line
from shipdeck.lifecycle.lines import Line, Stream

IDS = st.lists(st.integers(1, 10**6).map(lambda n: f"SD-{n}"), max_size=300)


@given(IDS, st.integers(20, 300))
def test_fit_words_keeps_to_the_width_and_says_how_many_it_left_out(
    ids: list[str], width: int
) -> None:
    line = fit_words(ids, width)
    if not ids:
        assert line == "-"
        return
    assert len(line) <= width
    if not line.endswith(" more"):
        assert line.split(" ") == ids  # everything fitted: no count
        return
    shown, _, count = line.rpartition("… ")
    shown_ids = shown.split()
    left_out = int(count.removesuffix(" more"))
    assert left_out > 0 and shown_ids == ids[: len(ids) - left_out]  # the first, in order
    longer = " ".join([*shown_ids, ids[len(shown_ids)], f"… {left_out - 1} more"])
    assert len(longer) > width  # not one more would have fitted beside the count


def test_fit_words_on_a_stage_of_nine_thousand_cards() -> None:
    ids = [f"SD-{n}" for n in range(2, 9006)]
    assert fit_words(ids, 60) == "SD-2 SD-3 SD-4 SD-5 SD-6 SD-7 SD-8 SD-9 SD-10 … 8995 more"
    assert fit_words(ids[:3], 60) == "SD-2 SD-3 SD-4"


TEXTS = st.text(
    st.one_of(
        st.characters(blacklist_categories=["Cs"]), st.sampled_from('"\\\x1b\x9b\u202e\n\u2028\x85')
    ),
    max_size=20,
)


@given(
    st.lists(st.tuples(st.sampled_from(list(Stream)), TEXTS), max_size=8),
    st.dictionaries(st.sampled_from(["item", "run", "env"]), TEXTS, max_size=3),
)
def test_a_batch_of_json_lines_is_each_line_as_json_line_writes_it(
    lines: list[tuple[Stream, str]], fields: dict[str, str]
) -> None:
    """``json_lines`` encodes what its lines share once per batch: the same bytes as
    ``json_line`` of each line's whole object, escapes for a terminal included."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        json_lines([Line(stream, text) for stream, text in lines], **fields)
    expected = "".join(
        json_line({"event": "line", **fields, "stream": stream.value, "text": text}) + "\n"
        for stream, text in lines
    )
    assert out.getvalue() == expected
    for got, (stream, text) in zip(out.getvalue().split("\n")[:-1], lines, strict=True):
        assert json.loads(got) == {"event": "line", **fields, "stream": stream.value, "text": text}
