"""The event journal: round trips, torn lines, filters, concurrent appenders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.events import Event
from shipdeck.lifecycle.journal import Journal, JournalWarning, encode_event
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path)


def test_missing_journal_reads_empty_and_creates_nothing(journal: Journal, tmp_path: Path) -> None:
    assert journal.read() == []
    assert journal.tail(5) == []
    assert not (tmp_path / ".shipdeck").exists()


def test_events_round_trip(journal: Journal) -> None:
    sent = [
        Event(ev.ITEM_CREATED, "SD-1", {"title": 'emoji 🚀 "q"\nline', "kind": "bug"}, at(0)),
        Event(
            ev.STAGE_FINISHED, "SD-1", {"stage": "test", "status": "passed", "duration": 1.5}, at(1)
        ),
        Event(ev.DEPLOYED, None, {"env": "prod", "version": "1.0.0", "lead_time": None}, at(2)),
        Event(ev.ALERT_RAISED, None, {"nested": {"list": [1, 2, {"x": "y"}]}}, at(3)),
    ]
    for event in sent:
        assert journal.append(event) is event
    assert journal.read() == sent
    assert Journal(journal.paths.root).read() == sent  # a fresh reader agrees


def test_one_compact_utf8_line_per_event(journal: Journal) -> None:
    journal.append(Event(ev.ITEM_CREATED, "SD-1", {"title": "ünï 🚀"}, at(0)))
    raw = journal.path.read_bytes()
    assert (
        raw
        == (
            '{"ts":"2024-06-01T12:00:00Z","type":"item.created","item":"SD-1","title":"ünï 🚀"}\n'
        ).encode()
    )


def test_datetimes_and_paths_in_data_are_written_as_text(journal: Journal) -> None:
    journal.append(Event(ev.RELEASE_CUT, None, {"at": at(5), "where": Path("a/b")}, at(0)))
    (got,) = journal.read()
    assert got.data == {"at": "2024-06-01T12:05:00Z", "where": "a/b"}


def test_reserved_keys_in_data_are_refused(journal: Journal) -> None:
    with pytest.raises(ValueError, match="reserved"):
        journal.append(Event(ev.ITEM_MOVED, "SD-1", {"type": "oops"}))
    assert not journal.path.exists()


def test_torn_last_line_is_skipped_with_a_warning(journal: Journal) -> None:
    good = [Event(ev.ITEM_CREATED, f"SD-{n}", {"title": f"t{n}"}, at(n)) for n in range(3)]
    for event in good:
        journal.append(event)
    whole = encode_event(Event(ev.ITEM_MOVED, "SD-9", {"from": "plan", "to": "code"}, at(9)))
    with open(journal.path, "ab") as f:
        f.write(whole[: len(whole) // 2])  # the writer was killed here
    with pytest.warns(JournalWarning, match=r"journal\.jsonl:4: skipped a torn last line"):
        assert journal.read() == good

    # The next append ends the torn line first, so the new event stays readable.
    later = journal.append(Event(ev.ITEM_ARCHIVED, "SD-1", {}, at(10)))
    with pytest.warns(JournalWarning, match=r"journal\.jsonl:4: skipped an undecodable line"):
        assert Journal(journal.paths.root).read() == [*good, later]


def test_undecodable_lines_anywhere_are_skipped(journal: Journal) -> None:
    journal.paths.ensure()
    lines = [
        encode_event(Event(ev.ITEM_CREATED, "SD-1", {}, at(0))),
        b"not json\n",
        b"\n",
        b'["a list"]\n',
        b'{"no":"type"}\n',
        b"\xff\xfe\n",
        b'{"ts":"garbage","type":"x"}\n',
        encode_event(Event(ev.ITEM_CREATED, "SD-2", {}, at(1))),
    ]
    journal.path.write_bytes(b"".join(lines))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = journal.read()
    assert [e.item for e in got] == ["SD-1", "SD-2"]
    messages = [str(w.message) for w in caught if issubclass(w.category, JournalWarning)]
    for line in (2, 4, 5, 6, 7):
        assert any(f"journal.jsonl:{line}:" in m for m in messages), messages
    assert len(messages) == 5  # the blank line 3 is not a problem


def test_filters_tail_and_item_history(journal: Journal) -> None:
    kinds = [ev.ITEM_CREATED, ev.STAGE_STARTED, ev.STAGE_FINISHED, ev.DEPLOYED]
    for n in range(12):
        journal.append(Event(kinds[n % 4], f"SD-{n % 3 + 1}", {"n": n}, at(n)))
    assert [e.get("n") for e in journal.read(since=at(9))] == [9, 10, 11]
    assert [e.get("n") for e in journal.read(since=at(9).replace(tzinfo=None))] == [9, 10, 11]
    assert [e.get("n") for e in journal.read(types=[ev.DEPLOYED])] == [3, 7, 11]
    assert [e.get("n") for e in journal.read(since=at(4), types={ev.ITEM_CREATED})] == [4, 8]
    assert [e.get("n") for e in journal.tail(2)] == [10, 11]
    assert journal.tail(0) == []
    assert len(journal.tail(100)) == 12
    assert [e.get("n") for e in journal.for_item("sd-2")] == [1, 4, 7, 10]


def test_reads_are_incremental_and_notice_a_replaced_file(journal: Journal) -> None:
    journal.append(Event(ev.ITEM_CREATED, "SD-1", {}, at(0)))
    assert len(journal.read()) == 1
    other = Journal(journal.paths.root)
    other.append(Event(ev.ITEM_CREATED, "SD-2", {}, at(1)))  # another process, say
    assert [e.item for e in journal.read()] == ["SD-1", "SD-2"]
    journal.path.unlink()
    other.append(Event(ev.ITEM_CREATED, "SD-3", {}, at(2)))
    assert [e.item for e in journal.read()] == ["SD-3"]


def test_fsync_flag(tmp_path: Path) -> None:
    journal = Journal(tmp_path, fsync=True)
    journal.append(Event(ev.SCALED, None, {"env": "prod", "replicas": 3}, at(0)))
    assert journal.read()[0].get("replicas") == 3


def test_threads_appending_at_once(journal: Journal) -> None:
    def worker(n: int) -> None:
        for k in range(50):
            journal.append(Event(ev.ITEM_EDITED, f"SD-{n + 1}", {"k": k, "pad": "x" * 300}))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = journal.path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 401
    got = journal.read()
    assert len(got) == 400
    for n in range(8):
        assert [e.get("k") for e in journal.for_item(f"SD-{n + 1}")] == list(range(50))


APPENDER = r"""
import sys, time
from pathlib import Path
from shipdeck.lifecycle.events import Event
from shipdeck.lifecycle.journal import Journal
root, name = Path(sys.argv[1]), sys.argv[2]
(root / f"ready-{name}").touch()
while not (root / "go").exists():
    time.sleep(0.001)
journal = Journal(root)
for k in range(200):
    journal.append(Event("item.edited", None, {"writer": name, "k": k, "pad": "é" * 2000}))
"""


@pytest.mark.slow
def test_two_processes_appending_at_once(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(tmp_path), name],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]

    def ready() -> bool:
        assert all(p.poll() is None for p in procs), "an appender died early"
        return all((tmp_path / f"ready-{n}").exists() for n in "ab")

    wait_until(ready, what="the appenders to start", interval=0.005)
    (tmp_path / "go").touch()
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err

    raw = (tmp_path / ".shipdeck" / "journal.jsonl").read_bytes()
    lines = raw.split(b"\n")
    assert lines[-1] == b""
    assert len(lines) == 401
    decoded = [json.loads(line) for line in lines[:-1]]  # every line is whole, valid JSON
    for name in "ab":
        assert [d["k"] for d in decoded if d["writer"] == name] == list(range(200))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(Journal(tmp_path).read()) == 400


def test_undo_takes_out_only_its_own_lines(journal: Journal) -> None:
    journal.append(Event(ev.ITEM_CREATED, "SD-1", ts=at(0)))
    _, undo = journal.append_undoable(
        Event(ev.ITEM_MOVED, "SD-1", ts=at(1)), Event(ev.STAGE_STARTED, "SD-1", ts=at(2))
    )
    journal.append(Event(ev.ITEM_CREATED, "SD-2", ts=at(3)))  # another writer, after ours
    undo()
    assert [(e.type, e.item) for e in journal.read()] == [
        (ev.ITEM_CREATED, "SD-1"),
        (ev.ITEM_CREATED, "SD-2"),
    ]
    undo()  # twice: ours is not there any more, nothing else is touched
    assert len(Journal(journal.paths.root).read()) == 2
