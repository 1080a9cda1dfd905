"""The log pane's ring and indexes, and its file side, without an app."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipdeck.lifecycle.ports import Line, Stream
from shipdeck.lifecycle.runlog import read_run_log
from shipdeck.widgets.log.files import copy_sources, write_records
from shipdeck.widgets.log.lines import Inbox, make_marker, pack
from shipdeck.widgets.log.model import LogModel, compile_pattern


def out(*texts: str) -> list[Line]:
    return [Line(Stream.STDOUT, t) for t in texts]


def numbered(n: int, start: int = 0) -> list[Line]:
    return out(*(f"line {i}" for i in range(start, start + n)))


def add(model: LogModel, *batches: tuple[float, list[Line]]) -> int:
    return model.append([(when, *pack(lines)) for when, lines in batches])


def everything(model: LogModel) -> None:
    assert model.catch_up(60.0, len)


def test_ring_keeps_the_newest_lines_and_counts_every_one() -> None:
    model = LogModel(ring_size=100)
    arrived = add(model, (1.0, numbered(600)), (2.0, numbered(400, 600)))
    assert arrived == 1000
    assert len(model) == 100
    assert (model.first, model.end) == (900, 1000)
    assert model.text(900) == "line 900"
    assert model.time_of(999) == 2.0
    assert model.status().total == 1000


def test_stdout_stderr_and_markers_are_told_apart() -> None:
    model = LogModel()
    add(model, (1.0, [Line(Stream.STDERR, "bad"), Line(Stream.INFO, "$ make")]))
    add(model, (2.0, [make_marker("v2 started")]))
    assert [model.line(s).stream for s in range(2)] == [Stream.STDERR, Stream.INFO]
    assert type(model.line(2)).__name__ == "Marker"


def test_clear_keeps_sequence_numbers_going() -> None:
    model = LogModel()
    add(model, (1.0, numbered(5)))
    model.clear()
    add(model, (2.0, numbered(2)))
    assert (model.first, model.end, len(model)) == (5, 7, 2)
    assert model.status().total == 2


def test_filter_is_built_incrementally_and_follows_the_ring() -> None:
    model = LogModel(ring_size=10)
    model.set_filter(compile_pattern("[05]$")[0])
    add(model, (1.0, numbered(12)))
    everything(model)
    assert model.rows == 2  # "line 5" and "line 10"; "line 0" already left the ring
    add(model, (2.0, numbered(10, 12)), (3.0, [make_marker("deploy")]))
    everything(model)
    shown = [model.line(model.locate(r)[0]).text for r in range(model.rows)]  # type: ignore[index]
    assert shown == ["line 15", "line 20", "deploy"]


def test_search_wraps_around_and_skips_lines_the_filter_hides() -> None:
    model = LogModel()
    add(model, (1.0, out("a x", "b", "a y", "b x")))
    model.set_search(compile_pattern("x")[0])
    everything(model)
    assert model.next_match(-1) == 0
    assert model.next_match(0) == 3
    assert model.next_match(3) == 0  # wraps
    assert model.next_match(0, backwards=True) == 3
    model.set_filter(compile_pattern("a")[0])
    everything(model)
    assert model.next_match(0) == 0  # "b x" is filtered out


def test_wrap_maps_rows_to_lines() -> None:
    model = LogModel()
    add(model, (1.0, out("x" * 25, "short", "y" * 10)))
    model.set_wrap(10)
    everything(model)
    assert model.rows == 3 + 1 + 1
    assert [model.locate(r) for r in range(5)] == [(0, 0), (0, 1), (0, 2), (1, 0), (2, 0)]
    assert model.locate(5) is None
    assert model.row_of(2) == 4


def test_smart_case_and_literal_fallback() -> None:
    assert compile_pattern("error")[0].search("ERROR")
    assert not compile_pattern("Error")[0].search("ERROR")
    pattern, note = compile_pattern("f(x")
    assert note and "literally" in note
    assert pattern.search("call f(x)")


def test_inbox_skips_what_the_ring_would_drop_and_hands_out_bounded_work() -> None:
    inbox = Inbox()
    inbox.put(numbered(50), 1.0)
    inbox.put(numbered(50, 50), 2.0)
    assert inbox.skip_beyond(70) == 30  # the first batch loses its oldest 30
    first = inbox.take(25)
    assert [(when, texts[0], len(texts)) for when, texts, _ in first] == [
        (1.0, "line 30", 20),
        (2.0, "line 50", 5),
    ]
    rest = inbox.take(1000)
    assert [(texts[0], len(texts)) for _, texts, _ in rest] == [("line 55", 45)]
    assert not inbox


def test_ring_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LogModel(ring_size=0)


def test_saving_copies_every_source_whole(tmp_path: Path) -> None:
    first, second = tmp_path / "deploy.log", tmp_path / "live.log"
    first.write_text("a\nb\n")
    second.write_text("c")  # no final newline: one is added
    dest = tmp_path / "out" / "saved.log"
    assert copy_sources([first, second], dest) == 3
    assert dest.read_text() == "a\nb\nc\n"
    with pytest.raises(OSError, match="being shown"):
        copy_sources([first], first)
    assert first.read_text() == "a\nb\n"


def test_records_round_trip_through_the_run_log_format(tmp_path: Path) -> None:
    dest = tmp_path / "ring.log"
    lines = [Line(Stream.STDOUT, "one"), Line(Stream.STDERR, "two")]
    assert write_records([(1_700_000_000.0, lines[0]), (1_700_000_000.5, lines[1])], dest) == 2
    records = list(read_run_log(dest))
    assert [(r.time.timestamp(), Line(r.stream, r.text)) for r in records] == [
        (1_700_000_000.0, lines[0]),
        (1_700_000_000.5, lines[1]),
    ]
