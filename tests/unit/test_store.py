"""The board file: round trips, stable text, refusals that never overwrite, locking."""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle.board import SCHEMA, Board, dump_board, parse_board
from lifecycle.items import Item, Kind, RunState, StageState, TestReport
from lifecycle.paths import GITIGNORE, ShipdeckPaths
from lifecycle.stages import Stage
from lifecycle.store import BoardError, BoardLocked, BoardStore, ItemNotFound

NASTY_TITLES = [
    "$(touch /tmp/pwned); rm -rf ~",
    "`id` && echo $HOME > /dev/null",
    "line one\nline two",
    "trailing newline\n",
    "  leading and trailing spaces  ",
    "quotes ' \" and \\ backslash",
    "emoji 🚀 and ünïcödé and 中文",
    "yes",
    "no",
    "null",
    "~",
    "true",
    "1.5",
    "0x1F",
    "2024-01-01",
    "- x",
    ": ",
    "a: b",
    "# not a comment",
    "&anchor *alias !tag",
    "<<",
    "{flow: map}",
    "[flow, seq]",
    "%YAML 1.2",
    "---",
    "...",
    "tab\there",
    "\r\nwindows\r\n",
    "nul \x00 and bell \x07",
    "\x85 next line \u2028 sep \u2029 para",
    "\ufeffbom",
    "| block",
    ">- folded",
]


@pytest.fixture
def store(tmp_path: Path) -> BoardStore:
    return BoardStore(tmp_path)


def board_bytes(store: BoardStore) -> bytes:
    return store.path.read_bytes()


# --- basics ----------------------------------------------------------------------


def test_missing_board_is_empty_and_creates_nothing(store: BoardStore, tmp_path: Path) -> None:
    board = store.load()
    assert board == Board(next_id=1, items=[])
    assert board.stamp is None
    assert not (tmp_path / ".shipdeck").exists()
    assert store.stamp() is None


def test_first_write_creates_dir_gitignore_and_lock(store: BoardStore, tmp_path: Path) -> None:
    item = store.add("first")
    assert item.id == "SD-1"
    paths = ShipdeckPaths(tmp_path)
    assert paths.board.is_file()
    assert paths.gitignore.read_text() == GITIGNORE
    for pattern in ("runs/", "journal.jsonl", "releases/", "reports/", "*.lock", "state/"):
        assert pattern in GITIGNORE.splitlines()
    paths.gitignore.write_text("# mine\n")
    store.add("second")
    assert paths.gitignore.read_text() == "# mine\n"  # never overwritten


def test_file_layout_is_schema_next_id_items(store: BoardStore) -> None:
    store.add("one", body="first paragraph\n\nsecond paragraph\n")
    store.add("ship it 🚀 — ünïcödé")
    text = store.path.read_text(encoding="utf-8")
    assert text.startswith("schema: 1\nnext_id: 3\nitems:\n- id: SD-1\n  title: one\n")
    assert "  body: |\n    first paragraph\n\n    second paragraph\n" in text
    assert "  title: ship it 🚀 — ünïcödé\n" in text  # readable, not escaped


@pytest.mark.parametrize("title", NASTY_TITLES)
def test_titles_and_bodies_round_trip_exactly(store: BoardStore, title: str) -> None:
    item = store.add(title, kind=Kind.BUG, body=title + "\n" + title, links=[title])
    again = BoardStore(store.path.parent.parent).load().get(item.id)
    assert again.title == title
    assert again.body == title + "\n" + title
    assert again.links == [title]
    assert again == item


@pytest.mark.parametrize("title", ["", "   ", "\n\t "])
def test_empty_title_is_refused(store: BoardStore, title: str) -> None:
    store.add("keep")
    before = board_bytes(store)
    with pytest.raises(ValueError, match="title"):
        store.add(title)
    with pytest.raises(ValueError, match="title"):
        store.update("SD-1", lambda it: setattr(it, "title", title))
    assert board_bytes(store) == before


def test_round_trip_of_a_full_item(store: BoardStore) -> None:
    t0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    t1 = datetime(2024, 5, 1, 12, 3, 7, tzinfo=UTC)
    with store.edit() as board:
        item = board.add("Add /metrics", kind=Kind.FEATURE, body="why\n", breaking=True)
        item.stage = Stage.TEST
        item.branch, item.sha, item.version, item.env = "feature/SD-1-x", "a" * 40, "1.2.0", "prod"
        item.states = {
            Stage.BUILD: StageState(RunState.PASSED, t0, t1, "run-1", "a" * 40, "ok"),
            Stage.TEST: StageState(RunState.FAILED, t0, None, "run-2", None, None),
        }
        item.tests = TestReport(passed=3, failed=1, failures=["test_x"])
        item.artifacts = {"image": "sha256:abc", "archive": "dist/x.tgz"}
        item.created_at, item.updated_at = t0, t1
        expected = Item.from_dict(item.to_dict())
    assert store.load().items == [expected]


def test_saving_twice_gives_identical_bytes(store: BoardStore) -> None:
    for title in NASTY_TITLES[:10]:
        store.add(title, body="a\nb\n")
    first = board_bytes(store)
    with store.edit() as board:
        board.items.reverse()  # order in memory does not matter
    assert board_bytes(store) == first
    text = first.decode()
    assert dump_board(parse_board(text)) == text
    store.path.unlink()
    with store.edit() as board:
        fresh = parse_board(text)
        board.next_id, board.items = fresh.next_id, fresh.items
    assert board_bytes(store) == first


def test_items_are_written_in_id_order(store: BoardStore) -> None:
    with store.edit() as board:
        for n in (10, 2, 33):
            board.items.append(Item(f"SD-{n}", f"t{n}"))
    text = store.path.read_text()
    assert text.index("SD-2\n") < text.index("SD-10\n") < text.index("SD-33\n")
    assert store.load().next_id == 34


def test_ids_are_never_reused(store: BoardStore) -> None:
    for n in range(3):
        store.add(f"item {n}")
    store.update("SD-3", lambda it: setattr(it, "archived", True))
    assert store.add("after archive").id == "SD-4"
    with store.edit() as board:
        board.remove("SD-4")
        board.remove("SD-3")
    assert [i.id for i in store.load().items] == ["SD-1", "SD-2"]
    assert store.add("after delete").id == "SD-5"
    assert [i.id for i in store.load().active()] == ["SD-1", "SD-2", "SD-5"]


def test_get_update_and_missing_items(store: BoardStore) -> None:
    item = store.add("x")
    before = item.updated_at
    moved = store.update("sd-1", lambda it: setattr(it, "stage", Stage.CODE))
    assert moved.stage is Stage.CODE and moved.updated_at >= before
    board = store.load()
    assert board.get("1").stage is Stage.CODE
    with pytest.raises(ItemNotFound) as err:
        board.get("SD-9")
    assert str(err.value) == "no item SD-9"
    with pytest.raises(KeyError):
        store.update("SD-9", lambda it: None)


def test_by_stage_and_active(store: BoardStore) -> None:
    for n in range(4):
        store.add(f"i{n}")
    store.update("SD-2", lambda it: setattr(it, "stage", Stage.BUILD))
    store.update("SD-3", lambda it: setattr(it, "archived", True))
    columns = store.load().by_stage()
    assert list(columns) == list(Stage)
    assert [i.id for i in columns[Stage.PLAN]] == ["SD-1", "SD-4"]
    assert [i.id for i in columns[Stage.BUILD]] == ["SD-2"]


def test_a_failing_edit_writes_nothing(store: BoardStore) -> None:
    store.add("x")
    before = board_bytes(store)
    with pytest.raises(RuntimeError, match="boom"), store.edit() as board:
        board.add("never saved")
        raise RuntimeError("boom")
    assert board_bytes(store) == before


def test_a_board_that_would_not_load_is_never_written(store: BoardStore) -> None:
    store.add("x")
    before = board_bytes(store)
    with pytest.raises(ValueError, match="would not load"):
        store.update("SD-1", lambda it: setattr(it, "version", 1.5))
    with pytest.raises(ValueError, match="SD-1"), store.edit() as board:
        board.items.append(Item("SD-1", "duplicate"))
    assert board_bytes(store) == before


def test_edit_is_not_reentrant(store: BoardStore) -> None:
    with pytest.raises(RuntimeError, match="re-entrant"), store.edit():
        store.add("nested")
    assert store.add("after").id == "SD-1"


def test_changes_by_another_process_are_reloaded_not_overwritten(tmp_path: Path) -> None:
    ours, theirs = BoardStore(tmp_path), BoardStore(tmp_path)
    ours.add("ours")
    board = ours.load()
    assert not ours.changed_since(board.stamp)
    theirs.add("theirs")
    assert ours.changed_since(board.stamp)
    ours.update("SD-1", lambda it: setattr(it, "body", "edited"))
    fresh = ours.load()
    assert [(i.title, i.body) for i in fresh.items] == [("ours", "edited"), ("theirs", "")]
    assert not ours.changed_since(fresh.stamp)


def test_concurrent_threads_adding(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        store = BoardStore(tmp_path, fsync=False)
        try:
            for k in range(15):
                store.add(f"t{n}-{k}")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    board = BoardStore(tmp_path).load()
    assert [i.id for i in board.items] == [f"SD-{n}" for n in range(1, 121)]
    assert {i.title for i in board.items} == {f"t{n}-{k}" for n in range(8) for k in range(15)}
    assert board.next_id == 121


def test_lock_timeout_is_a_clear_error(store: BoardStore) -> None:
    store.add("x")
    before = board_bytes(store)
    fd = os.open(store.lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        slow = BoardStore(store.path.parent.parent, lock_timeout=0.2)
        with pytest.raises(BoardLocked, match="held the lock"):
            slow.add("y")
        assert slow.load().items[0].title == "x"  # readers never wait
    finally:
        os.close(fd)
    assert board_bytes(store) == before


def test_leftover_temp_files_are_ignored_then_cleaned(store: BoardStore) -> None:
    store.add("x")
    leftover = store.path.parent / ".board.yaml.999.deadbeef.tmp"
    leftover.write_text("schema: 1\nnext_id: 1\nitems: [half")
    assert [i.title for i in store.load().items] == ["x"]
    store.add("y")
    assert not leftover.exists()
    assert not list(store.path.parent.glob("*.tmp"))


# --- refusals ------------------------------------------------------------------------

FUTURE = b"schema: 2\nnext_id: 7\nitems: []\nsprints: [a, b]\n"


def _refused(store: BoardStore, content: bytes) -> BoardError:
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_bytes(content)
    with pytest.raises(BoardError) as err:
        store.load()
    with pytest.raises(BoardError):
        store.add("new")
    with pytest.raises(BoardError):
        store.update("SD-1", lambda it: setattr(it, "title", "changed"))
    with pytest.raises(BoardError), store.edit():
        pass  # pragma: no cover
    assert store.path.read_bytes() == content  # never overwritten
    assert "\n" not in str(err.value)
    return err.value


def test_future_schema_is_refused_and_untouched(store: BoardStore) -> None:
    err = _refused(store, FUTURE)
    assert str(err) == (
        ".shipdeck/board.yaml: written by a newer shipdeck (schema 2; this one reads schema 1)"
    )
    assert SCHEMA == 1


VALID_ITEM = "- id: SD-1\n  title: ok\n  kind: feature\n  stage: plan\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"schema: 1\nnext_id: 2\nitems:\n- id: SD-1\n  title: [unclosed\n",
            r"board\.yaml:\d+:\d+: ",
        ),
        (b"schema: 1\nnext_id: 2\nitems:\n  - a\n - b\n", r"board\.yaml:\d+:\d+: "),
        (b"- just\n- a list\n", r"board\.yaml:1:1: expected a mapping"),
        (b"next_id: 2\nitems: []\n", r"expected 'schema: 1', found None"),
        (b"schema: one\nnext_id: 2\nitems: []\n", r"board\.yaml:1:9: expected 'schema: 1'"),
        (b"schema: 1\nnext_id: 0\nitems: []\n", r"next_id must be a whole number"),
        (b"schema: 1\nnext_id: 2\nitems: {}\n", r"items must be a list"),
        (b"schema: 1\nnext_id: 2\nitems: []\nextra: 1\n", r"unknown key 'extra'"),
        (b"schema: 1\nnext_id: 2\nitems:\n- 42\n", r"board\.yaml:4:3: item 1 is invalid"),
        (
            ("schema: 1\nnext_id: 2\nitems:\n" + VALID_ITEM.replace("feature", "rocket")).encode(),
            r"board\.yaml:6:9: item 1 \(SD-1\) is invalid: unknown kind 'rocket'",
        ),
        (
            ("schema: 1\nnext_id: 3\nitems:\n" + VALID_ITEM + VALID_ITEM).encode(),
            r"item 2 \(SD-1\) is invalid: SD-1 appears twice",
        ),
        (
            ("schema: 1\nnext_id: 2\nitems:\n" + VALID_ITEM + "  titel: typo\n").encode(),
            r"board\.yaml:8:10: item 1 \(SD-1\) is invalid: unknown key 'titel'",
        ),
        (
            ("schema: 1\nnext_id: 2\nitems:\n" + VALID_ITEM + "  archived: 'no'\n").encode(),
            r"item 1 \(SD-1\) is invalid: archived must be true or false",
        ),
        (
            (
                "schema: 1\nnext_id: 2\nitems:\n" + VALID_ITEM.replace("title: ok", "title: ''")
            ).encode(),
            r"the title is empty",
        ),
        (
            ("schema: 1\nnext_id: 2\nitems:\n" + VALID_ITEM + "  created_at: yesterday\n").encode(),
            r"item 1 \(SD-1\) is invalid: Invalid isoformat",
        ),
        (
            (
                "schema: 1\nnext_id: 2\nitems:\n" + VALID_ITEM + "  states: {code: {state: wat}}\n"
            ).encode(),
            r"unknown state 'wat' in states\.code",
        ),
        (
            b"schema: 1\nnext_id: 2\nitems:\n- id: SD-x\n  title: t\n",
            r"id must look like SD-<number>",
        ),
        (b"schema: 1\nnext_id: 2\nitems:\n- title: t\n", r"item 1 is invalid: missing 'id'"),
        (b"", r"board\.yaml: the file is empty"),
        (b"schema: 1\nnext_id: 2\nitems: []\n# \xff\xfe\n", r"not UTF-8 text"),
        (b"<<<<<<< HEAD\nschema: 1\n=======\n", r"board\.yaml:\d+:\d+: "),
    ],
)
def test_corrupt_board_is_refused_and_untouched(
    store: BoardStore, content: bytes, message: str
) -> None:
    err = _refused(store, content)
    assert str(err).startswith(".shipdeck/board.yaml")
    assert re.search(message, str(err)), str(err)


def test_hand_written_times_without_zone_mean_utc(store: BoardStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(
        "schema: 1\nnext_id: 5\nitems:\n- id: sd-3\n  title: hand made\n"
        "  created_at: 2024-01-02T03:04:05\n  updated_at: 2024-01-02 03:04:05\n"
    )
    (item,) = store.load().items
    assert item.id == "SD-3"
    assert item.created_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert item.updated_at == item.created_at
    assert store.add("next").id == "SD-5"


# --- property: any board survives save and load ----------------------------------------

times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
maybe_text = st.none() | st.text()
stage_states = st.builds(
    StageState,
    state=st.sampled_from(RunState),
    started_at=st.none() | times,
    finished_at=st.none() | times,
    run_id=maybe_text,
    sha=maybe_text,
    message=maybe_text,
)
reports = st.builds(
    TestReport,
    passed=st.integers(0, 10**6),
    failed=st.integers(0, 10**6),
    skipped=st.integers(0, 10**6),
    errors=st.integers(0, 10**6),
    failures=st.lists(st.text(), max_size=3),
)


@st.composite
def boards(draw: st.DrawFn) -> Board:
    numbers = draw(st.lists(st.integers(1, 10**6), unique=True, max_size=5))
    items = [
        Item(
            id=f"SD-{n}",
            title=draw(st.text(min_size=1).filter(lambda s: s.strip() != "")),
            kind=draw(st.sampled_from(Kind)),
            body=draw(st.text()),
            breaking=draw(st.booleans()),
            stage=draw(st.sampled_from(Stage)),
            states=draw(st.dictionaries(st.sampled_from(Stage), stage_states, max_size=3)),
            branch=draw(maybe_text),
            sha=draw(maybe_text),
            version=draw(maybe_text),
            env=draw(maybe_text),
            links=draw(st.lists(st.text(), max_size=3)),
            tests=draw(st.none() | reports),
            artifacts=draw(st.dictionaries(st.text(), st.text(), max_size=3)),
            created_at=draw(times),
            updated_at=draw(times),
            archived=draw(st.booleans()),
        )
        for n in numbers
    ]
    next_id = max(numbers, default=0) + draw(st.integers(1, 5))
    return Board(next_id=next_id, items=sorted(items, key=lambda i: i.number))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(boards())
def test_any_board_round_trips_through_the_file(board: Board) -> None:
    text = dump_board(board)
    assert parse_board(text) == board
    assert dump_board(parse_board(text)) == text
    with tempfile.TemporaryDirectory() as root:
        store = BoardStore(Path(root), fsync=False)
        with store.edit() as disk:
            disk.next_id, disk.items = board.next_id, list(board.items)
        assert store.load() == board
        assert store.path.read_text(encoding="utf-8") == text
