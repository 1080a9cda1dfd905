"""How the CLI reads a run log (lifecycle/runlog.py): a tail read backwards from the end,
a whole log streamed in batches, both giving what reading every record from the top
gives, and a tail of a huge log costing a few blocks, not the file."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipdeck.lifecycle import runlog
from shipdeck.lifecycle.lines import Line, Stream
from shipdeck.lifecycle.runlog import RunLog, complete_end, lines_between, read_run_log, tail_lines

# What a step can print: any text but the newline RunLog folds (a \r stays in the line).
TEXT = st.text(
    st.one_of(
        st.characters(blacklist_characters="\n", blacklist_categories=["Cs"]),
        st.sampled_from("\r\x1b\t\u2028\x85 "),  # what other readers take for line ends
    ),
    max_size=12,
)
RECORDS = st.lists(st.tuples(st.sampled_from(list(Stream)), TEXT), max_size=40)


def written(path: Path, records: list[tuple[Stream, str]], partial: str) -> None:
    log = RunLog(path)
    for start in range(0, len(records), 5):
        log.write([Line(stream, text) for stream, text in records[start : start + 5]])
    log.close()
    with path.open("ab") as f:
        f.write(partial.encode())  # a line the run is still writing


@settings(max_examples=150, deadline=None)
@given(
    records=RECORDS,
    partial=st.sampled_from(["", "2026-12-07T08:00:00.000Z o half a li", "no stamp"]),
    block=st.integers(1, 64),
    counts=st.lists(st.integers(0, 45), min_size=1, max_size=4),
)
def test_tails_and_streams_read_what_the_records_say(
    records: list[tuple[Stream, str]], partial: str, block: int, counts: list[int]
) -> None:
    old = runlog.BLOCK
    runlog.BLOCK, runlog.BATCH = block, 3  # every boundary of blocks and batches crossed
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "SD-1-build-20261207T080000-abcd.log"
            written(path, records, partial)
            every = [Line(r.stream, r.text) for r in read_run_log(path)]
            with path.open("rb") as f:
                size = f.seek(0, 2)
                streamed = [line for batch in lines_between(f, 0, size) for line in batch]
                assert streamed == every
                end = complete_end(f)
                whole = every[:-1] if partial else every
                assert [x for b in lines_between(f, 0, end) for x in b] == whole
                assert end == size - len(partial.encode())
                for count in counts:
                    assert tail_lines(f, size, count) == (every[-count:] if count else [])
                    assert tail_lines(f, end, count) == (whole[-count:] if count else [])
    finally:
        runlog.BLOCK, runlog.BATCH = old, 4096
    # the records as written, \r and all: the reader splits on \n alone
    assert [(x.stream, x.text) for x in whole] == records


class CountingFile(io.FileIO):
    """A file that counts the bytes read from it."""

    read_bytes = 0

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        data = super().read(size)
        CountingFile.read_bytes += len(data)
        return data


def test_a_tail_of_a_huge_log_reads_a_block_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "SD-1-build-20261207T080000-abcd.log"
    log = RunLog(path)
    for start in range(0, 200_000, 10_000):
        log.write(
            [Line(Stream.STDOUT, f"line {n} of a long build") for n in range(start, start + 10_000)]
        )
    log.close()
    size = path.stat().st_size
    assert size > 4 * runlog.BLOCK
    CountingFile.read_bytes = 0
    with CountingFile(path, "rb") as f:
        tail = tail_lines(f, f.seek(0, 2), 3)  # type: ignore[arg-type]
        assert [line.text for line in tail] == [
            f"line {n} of a long build" for n in (199_997, 199_998, 199_999)
        ]
        assert CountingFile.read_bytes <= runlog.BLOCK
        CountingFile.read_bytes = 0
        assert complete_end(f) == size  # type: ignore[arg-type]
        assert CountingFile.read_bytes <= runlog.BLOCK


@pytest.mark.parametrize(
    ("raw", "stream", "text"),
    [
        ("2026-12-07T08:00:00.000Z e boom", Stream.STDERR, "boom"),
        ("2026-12-07T08:00:00.000Z i ==> note", Stream.INFO, "==> note"),
        ("2026-12-07T08:00:00.000Z o ", Stream.STDOUT, ""),
        ("2026-12-07T08:00:00.000Z x what", Stream.STDOUT, "2026-12-07T08:00:00.000Z x what"),
        ("plain text", Stream.STDOUT, "plain text"),
    ],
)
def test_a_record_that_does_not_parse_is_stdout_text(raw: str, stream: Stream, text: str) -> None:
    assert runlog.record_line(raw) == Line(stream, text)
