"""The journal's index (lifecycle/history.py): kept current by appends, rebuilt when
missing, corrupt or of another journal, safe with two processes, and giving what
reading the whole file gives (Journal.read/tail/for_item/newest and DORA)."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipdeck.lifecycle import dora
from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.events import Event
from shipdeck.lifecycle.journal import Journal, JournalWarning, encode_event

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def index_rows(journal: Journal) -> int:
    with sqlite3.connect(journal.paths.state / "journal.sqlite") as db:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])


def file_only(journal: Journal) -> Journal:
    """The same journal read without its index: what every query must agree with."""
    plain = Journal(journal.paths.root)
    plain._index = None
    return plain


def history(
    n: int, seed: int = 7, envs: tuple[str, ...] = ("staging", "production")
) -> list[Event]:
    """A mixed journal with times out of order and ties, as clocks and merges give;
    deploys go to the first two ``envs``, failures and alerts to any."""
    rnd = random.Random(seed)
    kinds = [
        ev.ITEM_CREATED,
        ev.ITEM_MOVED,
        ev.STAGE_FINISHED,
        ev.DEPLOYED,
        ev.DEPLOY_FAILED,
        ev.ROLLED_BACK,
        ev.ALERT_RAISED,
        ev.ALERT_CLEARED,
    ]
    out = []
    for k in range(n):
        kind = rnd.choice(kinds)
        data: dict[str, object] = {"k": k}
        if kind in (ev.DEPLOYED, ev.DEPLOY_FAILED, ev.ROLLED_BACK, ev.ALERT_RAISED):
            data["env"] = rnd.choice(envs[:2] if kind == ev.DEPLOYED else envs)
        if kind == ev.ALERT_CLEARED and rnd.random() < 0.3:
            data["env"] = rnd.choice(envs)  # most clears name no environment
        if kind == ev.DEPLOYED:
            data["lead_time"] = rnd.choice([None, True, -1, rnd.randint(0, 9000)])
        if kind in (ev.ALERT_RAISED, ev.ALERT_CLEARED):
            data["alert_id"] = f"A-{rnd.randint(1, 4)}"
        item = None if kind.startswith(("alert", "deploy")) else f"SD-{rnd.randint(1, 9)}"
        out.append(Event(kind, item, data, at(k * 7 + rnd.choice([0, 0, -30, 5]))))
    return out


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path)


def test_an_append_is_in_the_index_at_the_next_query(journal: Journal) -> None:
    journal.append(Event(ev.ITEM_CREATED, "SD-1", {"title": "a"}, at(0)))
    assert [e.item for e in journal.tail(5)] == ["SD-1"]
    assert index_rows(journal) == 1  # read through the index, not the file
    other = Journal(journal.paths.root)  # another process, say
    later = other.append(Event(ev.DEPLOYED, "SD-1", {"env": "staging"}, at(1)))
    assert journal.tail(1) == [later]
    assert journal.for_item("sd-1")[-1] == later
    assert journal.newest(1) == [later]
    assert journal.read(types=[ev.DEPLOYED]) == [later]
    assert index_rows(journal) == 2


def test_queries_agree_with_reading_the_file(journal: Journal) -> None:
    events = history(400)
    for event in events:
        journal.append(event)
    plain = file_only(journal)
    assert journal.read() == plain.read() == events
    since = at(900)
    assert journal.read(since=since) == plain.read(since=since)
    kinds = {ev.DEPLOYED, ev.ALERT_RAISED}
    assert journal.read(since=since, types=kinds) == plain.read(since=since, types=kinds)
    assert journal.tail(17) == plain.tail(17)
    assert journal.for_item("5") == plain.for_item("SD-5")
    by_time = sorted(range(len(events)), key=lambda i: (events[i].ts, i), reverse=True)
    for skip in (0, 100, 390):  # pages, each oldest first
        page = journal.newest(100, skip)
        assert page == [events[i] for i in reversed(by_time[skip : skip + 100])]
        assert page == plain.newest(100, skip)
    assert journal.newest(100, 400) == []


@pytest.mark.parametrize("envs", [("staging", "production"), ("staging", "production", "qa")])
@pytest.mark.parametrize("seed", range(6))
def test_dora_from_the_index_is_dora_from_the_events(
    journal: Journal, seed: int, envs: tuple[str, ...]
) -> None:
    """The index replays from the last deploy before the window (or from the start
    when an environment, qa here, never deployed): the same report either way."""
    events = history(600, seed=seed, envs=envs)
    for event in events:
        journal.append(event)
    now = at(600 * 7 - 900)  # some events after now: not counted
    for env in (None, "production", "qa", "nowhere"):
        for days in (1, 2, 3, 30):
            expected = dora.compute(events, now, window_days=days, env=env)
            got = dora.from_journal(journal, now, window_days=days, env=env)
            assert got.to_dict() == expected.to_dict(), (env, days)
            assert got.restore_times == pytest.approx(expected.restore_times)
    assert dora.from_journal(journal, now, window_days=2).deployments > 0  # measures something


def test_dora_reads_no_event_objects(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    for event in history(50):
        journal.append(event)

    def refused(*_args: object) -> None:
        raise AssertionError("the whole journal was parsed")

    monkeypatch.setattr(Journal, "_refresh", refused)
    monkeypatch.setattr("shipdeck.lifecycle.journal.decode_line", refused)
    report = dora.from_journal(journal, at(10_000), window_days=30)
    assert report.attempts > 0


def test_rebuilt_when_missing_or_corrupt(journal: Journal) -> None:
    events = history(50)
    for event in events:
        journal.append(event)
    assert journal.read() == events
    db = journal.paths.state / "journal.sqlite"
    journal._index.close()  # type: ignore[union-attr]
    db.unlink()
    assert Journal(journal.paths.root).read() == events  # missing: rebuilt
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)  # corrupt: rebuilt
    fresh = Journal(journal.paths.root)
    assert fresh.read() == events
    assert index_rows(fresh) == 50


def test_a_rewritten_or_replaced_journal_is_indexed_again(journal: Journal) -> None:
    first = [Event(ev.ITEM_CREATED, f"SD-{n}", {"title": "x" * 10}, at(n)) for n in range(5)]
    for event in first:
        journal.append(event)
    assert journal.read() == first
    # Rewritten in place (same file, same length, other content), then longer.
    other = [Event(ev.ITEM_CREATED, f"SD-{n}", {"title": "y" * 10}, at(n)) for n in range(6)]
    with open(journal.path, "r+b") as f:
        f.write(b"".join(encode_event(e) for e in other))
    assert journal.read() == other
    # Truncated.
    with open(journal.path, "r+b") as f:
        f.truncate(len(encode_event(other[0])))
    assert journal.read() == other[:1]
    # Replaced by another file (a restored backup).
    journal.path.unlink()
    journal.path.write_bytes(encode_event(first[3]))
    assert journal.read() == [first[3]]
    assert index_rows(journal) == 1


def test_undo_is_followed_by_the_index(journal: Journal) -> None:
    for event in history(30):
        journal.append(event)
    assert len(journal.read()) == 30
    _, undo = journal.append_undoable(Event(ev.ITEM_MOVED, "SD-1", ts=at(1000)))
    kept = journal.append(Event(ev.ITEM_CREATED, "SD-2", ts=at(1001)))
    assert len(journal.read()) == 32
    undo()
    assert journal.read() == file_only(journal).read()
    assert journal.tail(1) == [kept] and len(journal.read()) == 31
    assert index_rows(journal) == 31


def test_undecodable_lines_are_warned_of_by_every_reader(journal: Journal) -> None:
    journal.paths.ensure()
    good = encode_event(Event(ev.ITEM_CREATED, "SD-1", {}, at(0)))
    journal.path.write_bytes(good + b"\n" + b"not json\n" + good)
    for reader in (journal, Journal(journal.paths.root)):  # the second reads the index
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert len(reader.read()) == 2
        found = [str(w.message) for w in caught if issubclass(w.category, JournalWarning)]
        assert found == [
            ".shipdeck/journal.jsonl:3: skipped an undecodable line"
            " (Expecting value: line 1 column 1 (char 0))"
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once per reader, not at every query
            assert len(reader.tail(5)) == 2


def test_without_a_writable_state_dir_the_file_is_read(journal: Journal) -> None:
    events = history(20)
    for event in events:
        journal.append(event)
    journal.paths.state.write_text("not a directory")  # the index cannot be made
    fresh = Journal(journal.paths.root)
    assert fresh.read() == events
    assert fresh.newest(3) == sorted(events, key=lambda e: e.ts)[-3:]
    now = at(10_000)
    assert dora.from_journal(fresh, now).to_dict() == dora.compute(events, now).to_dict()


READER = r"""
import sys, warnings
from pathlib import Path
from shipdeck.lifecycle.journal import Journal
warnings.simplefilter("error")
root, count = Path(sys.argv[1]), int(sys.argv[2])
journal = Journal(root)
seen = 0
while seen < count:
    events = journal.read()
    ks = [e.get("k") for e in events]
    assert ks == sorted(ks) and len(set(ks)) == len(ks), "a reader saw a torn or doubled index"
    seen = len(events)
print(seen)
"""

WRITER = r"""
import sys
from pathlib import Path
from shipdeck.lifecycle.events import Event
from shipdeck.lifecycle.journal import Journal
root, start, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
journal = Journal(root)
for k in range(start, start + count):
    journal.append(Event("item.moved", "SD-1", {"k": k}))
    if k % 50 == 0:
        journal.tail(1)  # a writer that also reads: it indexes too
"""


def test_processes_appending_and_indexing_at_once(tmp_path: Path) -> None:
    """A big journal without an index, two processes indexing it while a third appends:
    every reader sees whole prefixes, and the index holds each line once."""
    journal = Journal(tmp_path)
    journal.paths.ensure()
    journal.path.write_bytes(
        b"".join(encode_event(Event("item.moved", "SD-1", {"k": k})) for k in range(20_000))
    )
    total = 20_300
    cmd = [sys.executable, "-c"]
    procs = [
        subprocess.Popen(
            [*cmd, READER, str(tmp_path), str(total)],
            cwd=REPO,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    procs.append(
        subprocess.Popen(
            [*cmd, WRITER, str(tmp_path), "20000", "300"],
            cwd=REPO,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    )
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert [e.get("k") for e in journal.read()] == list(range(total))
    assert index_rows(journal) == total


def test_a_torn_last_line_is_read_at_each_query_but_indexed_once_ended(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipdeck.lifecycle.history import HistoryIndex

    journal.append(Event(ev.ITEM_CREATED, "SD-1", {}, at(0)))
    assert len(journal.read()) == 1
    whole = encode_event(Event(ev.ITEM_MOVED, "SD-1", {}, at(1)))
    with open(journal.path, "ab") as f:
        f.write(whole[:-1])  # whole but for its newline: a writer killed just then
    calls: list[int] = []
    indexing = HistoryIndex._index

    def counted(self: HistoryIndex, *args: object) -> object:
        calls.append(1)
        return indexing(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(HistoryIndex, "_index", counted)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a whole line without its newline reads as an event
        assert [e.type for e in journal.read()] == [ev.ITEM_CREATED, ev.ITEM_MOVED]
        assert journal.tail(1)[0].type == ev.ITEM_MOVED
    assert calls == []  # no write transaction for a line that is not finished
    later = journal.append(Event(ev.ITEM_ARCHIVED, "SD-1", {}, at(2)))
    assert journal.tail(1) == [later]
    assert len(calls) == 1 and index_rows(journal) == 3


@pytest.mark.parametrize("seed", range(4))
def test_what_runs_on_each_environment_reads_only_its_last_events(
    journal: Journal, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cards' "what runs there now" from each environment's last few events is what
    all of them say, with the index and without it; and it decodes a few, not all."""
    from shipdeck.lifecycle.events import ENV_EVENTS, env_versions

    events = history(600, seed=seed, envs=("staging", "production", "qa"))
    events.append(Event(ev.STOPPED, None, {"env": "qa"}, at(5000)))
    for event in events:
        journal.append(event)
    envs = ("staging", "production", "qa", "nowhere")
    everything = env_versions(file_only(journal).read(types=ENV_EVENTS))
    assert env_versions(journal.latest_for_envs(envs, ENV_EVENTS)) == everything
    assert env_versions(file_only(journal).latest_for_envs(envs, ENV_EVENTS)) == everything
    assert everything["qa"] == ("", "stopped")
    decoded: list[bytes] = []
    import shipdeck.lifecycle.journal as journal_module

    original = journal_module._decoded
    monkeypatch.setattr(
        journal_module, "_decoded", lambda raws: decoded.extend(raws) or original(raws)
    )
    journal.latest_for_envs(envs, ENV_EVENTS)
    assert 0 < len(decoded) <= 4 * len(envs)
