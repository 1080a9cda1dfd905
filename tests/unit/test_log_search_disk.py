"""The run log on disk (widgets/log/disk.py): the tail read backwards, windows around a
line, and the whole-file search, each checked against reading the file from the top."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipdeck.lifecycle.lines import Line, Stream
from shipdeck.lifecycle.runlog import RunLog, read_run_log
from shipdeck.widgets.log import disk
from shipdeck.widgets.log.disk import (
    Hits,
    RecordReader,
    open_tail,
    raw_pattern,
    read_window,
    search_file,
)
from shipdeck.widgets.log.model import MatchIndex, compile_pattern


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks and chunks of a few lines, so every boundary case is crossed."""
    monkeypatch.setattr(disk, "BLOCK", 64)
    monkeypatch.setattr(disk, "CHUNK", 200)


def write(path: Path, texts: list[str]) -> None:
    log = RunLog(path)
    for start in range(0, len(texts), 7):
        log.write([Line(Stream.STDOUT, t) for t in texts[start : start + 7]])
    log.close()


def texts_of(path: Path) -> list[str]:
    return [record.text for record in read_run_log(path)]


def search_all(path: Path, pattern: str) -> tuple[list[int], list[int], list[float]]:
    rx, _ = compile_pattern(pattern)
    opened = open_tail(path, 1)
    found = Hits()
    done: list[float] = []

    def progress(hits: Hits, at: int) -> None:
        found.add_before(hits)
        done.append(at)

    assert search_file(path, rx, opened.size, opened.lines, progress, lambda: False)
    return found.lines.tolist(), found.offsets.tolist(), done


def expected(path: Path, pattern: str) -> list[int]:
    rx, _ = compile_pattern(pattern)
    matches = MatchIndex(rx, 0, keep_markers=False).matches
    return [i for i, text in enumerate(texts_of(path)) if matches(0, text)]


TEXTS = [f"worker[{i % 5}] GET /items/{i:04d} took {i % 13}ms" for i in range(300)]
TEXTS[17] += " Needle"
TEXTS[250] += " needle \x1b[31mred\x1b[0m"
TEXTS[251] = "2026 looks like a timestamp"


@pytest.mark.parametrize(
    "pattern",
    [
        "needle",  # smart case: both
        "Needle",  # only the capitalised one
        "^worker\\[3\\]",  # anchored to the text, not the record's time
        "took 1[0-2]ms$",
        "2026",  # in every record's time, in one line's text
        "items/00[0-4]\\d",
        "\\bred\\b",  # read line by line (\b)
        "f(x",  # not a regex: searched literally
        "zzz-nowhere",
    ],
)
def test_the_whole_file_search_finds_what_reading_every_line_finds(
    tmp_path: Path, pattern: str
) -> None:
    write(tmp_path / "run.log", TEXTS)
    lines, offsets, done = search_all(tmp_path / "run.log", pattern)
    assert lines == expected(tmp_path / "run.log", pattern)
    raw = (tmp_path / "run.log").read_bytes()
    for line, offset in zip(lines, offsets, strict=True):
        assert raw[:offset].count(b"\n") == line  # the offset is that line's start
        assert offset == 0 or raw[offset - 1 : offset] == b"\n"
    assert done == sorted(done) and done[-1] == len(raw)  # from the end, to the start


def test_a_pattern_with_capitals_or_unicode_is_not_lowered_or_is_read_line_by_line() -> None:
    lowered = raw_pattern(compile_pattern("needle")[0])
    assert lowered is not None and lowered[1] is True
    cased = raw_pattern(compile_pattern("Needle")[0])
    assert cased is not None and cased[1] is False
    assert raw_pattern(compile_pattern("café")[0]) is None
    assert raw_pattern(compile_pattern("^GET")[0]) is None


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.text(st.sampled_from("ab xyéN"), max_size=30), min_size=0, max_size=60),
    st.sampled_from(["a", "ab", "x y", "é", "N", "b$"]),
)
def test_search_matches_the_line_by_line_reading_for_any_lines(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str], pattern: str
) -> None:
    path = tmp_path_factory.mktemp("log") / "run.log"
    write(path, texts)
    assert search_all(path, pattern)[0] == expected(path, pattern)


def test_the_tail_is_numbered_as_in_the_file(tmp_path: Path) -> None:
    write(tmp_path / "run.log", TEXTS)
    opened = open_tail(tmp_path / "run.log", 40)
    assert opened.lines == 300 and opened.tail.first == 260
    assert opened.size == (tmp_path / "run.log").stat().st_size
    batches = RecordReader().batches(opened.tail.records, 0.0)
    assert [t for _, texts, _ in batches for t in texts] == TEXTS[260:]
    assert all(when > 1_000_000 for when, _, _ in batches)  # the records' own times
    assert open_tail(tmp_path / "run.log", 1_000).tail.first == 0


def test_a_last_line_without_a_newline_and_records_that_do_not_parse(tmp_path: Path) -> None:
    path = tmp_path / "odd.log"
    path.write_bytes(b"2026-12-03T00:00:00.000Z e first\nnot a record\n2026-12-03T00:00:01.000Z i")
    opened = open_tail(path, 10)
    assert opened.lines == 3 and opened.tail.first == 0
    batches = RecordReader().batches(opened.tail.records, 5.0)
    assert batches == [
        (pytest.approx(1796256000.0), ["first"], bytes([1])),
        (5.0, ["not a record"], bytes([0])),
        (pytest.approx(1796256001.0), [""], bytes([2])),
    ]
    assert open_tail(path, 1).tail.first == 2
    assert search_all(path, "record")[0] == [1]


def test_an_empty_log_opens_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    opened = open_tail(path, 10)
    assert (opened.size, opened.lines, opened.tail.records) == (0, 0, [])
    assert search_all(path, "x")[0] == []


def test_a_window_around_a_hit_holds_it_and_its_neighbours(tmp_path: Path) -> None:
    write(tmp_path / "run.log", TEXTS)
    lines, offsets, _ = search_all(tmp_path / "run.log", "Needle")
    assert lines == [17]
    size = (tmp_path / "run.log").stat().st_size
    window = read_window(tmp_path / "run.log", 17, offsets[0], 5, 4, size)
    assert window.first == 12
    texts = [t for _, ts, _ in RecordReader().batches(window.records, 0.0) for t in ts]
    assert texts == TEXTS[12:21]
    near_start = read_window(tmp_path / "run.log", 17, offsets[0], 50, 2, size)
    assert near_start.first == 0 and len(near_start.records) == 19


def test_a_cancelled_search_stops(tmp_path: Path) -> None:
    write(tmp_path / "run.log", TEXTS)
    rx, _ = compile_pattern("worker")
    opened = open_tail(tmp_path / "run.log", 1)
    chunks: list[int] = []
    finished = search_file(
        tmp_path / "run.log",
        rx,
        opened.size,
        opened.lines,
        lambda hits, _: chunks.append(len(hits)),
        lambda: len(chunks) >= 2,
    )
    assert not finished and len(chunks) == 2


def test_the_status_line_says_how_far_a_scan_of_the_file_is() -> None:
    from shipdeck.widgets.log.lines import LogStatus
    from shipdeck.widgets.log.pane import status_text

    scanning = status_text(LogStatus(search="needle", search_matches=3, searching=0.4)).plain
    assert "/needle: 3 lines · searching the file 40%" in scanning
    done = status_text(LogStatus(search="needle", search_matches=7)).plain
    assert "/needle: 7 lines" in done and "searching" not in done
    filtering = status_text(LogStatus(filter="keep", filter_matches=2, filtering=0.25)).plain
    assert "&keep: 2 shown · filtering the file 25%" in filtering
