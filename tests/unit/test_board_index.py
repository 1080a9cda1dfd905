"""The board's index (lifecycle/board_index.py): one row per item, what cards and
listings show, kept at the ref's head row by row; and the CardBook the app holds."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from shipdeck.lifecycle.board_index import (
    CHANGES_KEPT,
    BoardIndex,
    CardBook,
    CardFields,
    number_of,
    row_of,
    summary,
)
from shipdeck.lifecycle.items import Item, Kind, RunState, StageState, TestReport
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.store import BoardStore
from tests.helpers import board_store


def store_with(tmp_path: Path, n: int) -> BoardStore:
    store = board_store(tmp_path)
    with store.edit() as board:
        for i in range(n):
            board.add(f"Item {i}", kind=Kind.BUG if i % 2 else Kind.FEATURE)
        board.items[1].stage = Stage.CODE
    return store


def test_a_summary_keeps_every_field_a_card_and_a_listing_show() -> None:
    t0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    item = Item(
        "SD-12",
        "Ship it",
        Kind.CHORE,
        body="not in the index",
        breaking=True,
        stage=Stage.TEST,
        states={
            Stage.TEST: StageState(RunState.FAILED, t0, step="2/3 unit"),
            Stage.BUILD: StageState(RunState.RUNNING, t0),
        },
        branch="chore/SD-12",
        sha="0123456789abcdef",
        version="1.2.3",
        env="staging",
        tests=TestReport(passed=7, failed=2, errors=1),
    )
    card = summary(row_of(item))
    for field in ("id", "title", "kind", "breaking", "stage", "branch", "sha", "version", "env"):
        assert getattr(card, field) == getattr(item, field), field
    assert card.current == StageState(RunState.FAILED, t0, step="2/3 unit")
    assert card.running  # another stage runs: the card spins
    assert card.tests is not None
    assert (card.tests.passed, card.tests.failed, card.tests.errors) == (7, 2, 1)
    assert card.body == ""  # read from the blob when needed


def test_number_of_reads_item_paths_only() -> None:
    assert number_of("items/12/SD-1234.json") == 1234
    assert number_of("meta.json") is None
    assert number_of("items/1/notes.txt") is None


def test_a_first_read_is_the_whole_board_without_building_items(tmp_path: Path) -> None:
    store = store_with(tmp_path, 5)
    store.update("SD-3", lambda i: setattr(i, "archived", True))
    read = store.cards()
    assert read.full
    assert read.stamp == store.stamp()
    assert read.board == [
        (1, "plan", False),
        (2, "code", False),
        (4, "plan", False),
        (5, "plan", False),
    ]


def test_a_reload_reads_only_what_changed_since_the_stamp_it_knows(tmp_path: Path) -> None:
    store = store_with(tmp_path, 5)
    known = store.cards().stamp
    store.add("Added elsewhere")
    store.update("SD-2", lambda i: setattr(i, "title", "Renamed"))
    store.update("SD-4", lambda i: setattr(i, "archived", True))
    read = store.cards(known)
    assert not read.full
    assert read.since == known and read.stamp == store.stamp()
    assert [(c.id, c.title) for c in read.cards] == [
        ("SD-2", "Renamed"),
        ("SD-6", "Added elsewhere"),
    ]
    assert read.gone == {"SD-4"}
    again = store.cards(read.stamp)
    assert not again.full and again.cards == [] and again.gone == frozenset()


def test_the_index_matches_the_board_after_changes_from_another_store(tmp_path: Path) -> None:
    store = store_with(tmp_path, 8)
    store.cards()  # the index at this head
    other = board_store(tmp_path)  # another process
    other.update("SD-5", lambda i: setattr(i, "stage", Stage.BUILD))
    other.add("New")
    by_stage = store.ids_by_stage()
    expected = {s: [i.id for i in items] for s, items in store.load().by_stage().items()}
    assert by_stage == expected
    assert "SD-5" in by_stage[Stage.BUILD]


def test_a_corrupt_index_is_dropped_and_rebuilt(tmp_path: Path) -> None:
    store = store_with(tmp_path, 3)
    store.cards()
    index = store.paths.state / "board-index.sqlite3"
    index.write_bytes(b"not a database at all" * 100)
    for name in ("board-index.sqlite3-wal", "board-index.sqlite3-shm"):
        (store.paths.state / name).unlink(missing_ok=True)
    first = store.cards()  # falls back to the blobs
    assert [n for n, _, _ in first.board] == [1, 2, 3]
    second = store.cards()  # rebuilt
    assert [n for n, _, _ in second.board] == [1, 2, 3]
    assert index.read_bytes().startswith(b"SQLite format 3")


def test_an_index_deleted_under_a_kept_connection_is_made_again_where_others_read_it(
    tmp_path: Path,
) -> None:
    """The store keeps its index connection between calls: a person deleting the index
    (to rebuild it) must not leave it writing a file no one else can see."""
    store = store_with(tmp_path, 3)
    store.cards()
    for name in ("board-index.sqlite3", "board-index.sqlite3-wal", "board-index.sqlite3-shm"):
        (store.paths.state / name).unlink(missing_ok=True)
    store.add("Four", Kind.FEATURE)
    assert [n for n, _, _ in store.cards().board] == [1, 2, 3, 4]
    other = BoardIndex(store.paths.state / "board-index.sqlite3")  # another process's view
    rows = other.peek([1, 2, 3, 4])
    assert rows is not None and sorted(r[0] for r in rows) == [1, 2, 3, 4]


def test_threads_read_and_write_the_index_each_on_a_connection_of_its_own(
    tmp_path: Path,
) -> None:
    """The board reads it on the UI thread and in workers while the engine writes."""
    store = store_with(tmp_path, 3)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(30):
                known = store.stamp()
                store.cards(known)
                store.cards_of(["SD-1", "SD-2"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for i in range(10):
        store.add(f"More {i}", Kind.FEATURE)
        store.cards()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [n for n, _, _ in store.cards().board] == list(range(1, 14))


def test_card_page_limits_and_counts_and_get_many_reads_full_items(tmp_path: Path) -> None:
    store = store_with(tmp_path, 6)
    store.update("SD-1", lambda i: setattr(i, "body", "the whole story"))
    page, total = store.card_page(limit=4)
    assert [i.id for i in page] == ["SD-1", "SD-2", "SD-3", "SD-4"]
    assert total == 6
    code, total = store.card_page(stage=Stage.CODE)
    assert [i.id for i in code] == ["SD-2"] and total == 1
    full = store.get_many(["SD-1", "SD-99"])
    assert [i.id for i in full] == ["SD-1"]
    assert full[0].body == "the whole story"


def _book(n: int, limit: int = 2048) -> tuple[CardBook, list[list[str]]]:
    calls: list[list[str]] = []

    def load(ids: list[str]) -> dict[str, Item]:
        calls.append(list(ids))
        return {i: Item(i, f"title of {i}") for i in ids}

    book = CardBook(load, limit=limit)
    book.reset([(k, "plan" if k % 2 else "code", k == 3) for k in range(1, n + 1)])
    return book, calls


def test_a_book_reads_cards_when_asked_in_batches_and_keeps_a_bounded_number() -> None:
    book, calls = _book(100, limit=10)
    assert len(book) == 100 and "SD-7" in book and "SD-101" not in book
    assert calls == []  # nothing read to know the board's shape
    assert book.running == {"SD-3"}
    assert book.by_stage()[Stage.CODE][:2] == ["SD-2", "SD-4"]
    book.want([f"SD-{k}" for k in range(1, 21)])
    assert len(calls) == 1
    assert book["SD-20"].title == "title of SD-20"
    assert len(calls) == 1  # held
    assert len(book.cached_values()) == 10  # the oldest ones let go
    assert [c.id for c in book.values()][:3] == ["SD-1", "SD-2", "SD-3"]
    assert len(book.cached_values()) == 10  # streamed, not kept


def test_a_book_applies_a_delta_in_id_order() -> None:
    book, _ = _book(5)
    book.apply([Item("SD-2", "now in test", stage=Stage.TEST)], gone=["SD-4"])
    assert list(book) == ["SD-1", "SD-2", "SD-3", "SD-5"]
    assert book.stages["SD-2"] is Stage.TEST
    assert book["SD-2"].title == "now in test"
    book.apply([Item("SD-4", "back from a sync"), Item("SD-6", "new")], gone=[])
    assert list(book) == ["SD-1", "SD-2", "SD-3", "SD-4", "SD-5", "SD-6"]


def test_a_book_says_which_cards_changed_since_a_version_while_it_remembers() -> None:
    book, _ = _book(5)
    start = book.version
    assert book.changed_since(start) == set()
    book.apply([Item("SD-2", "moved", stage=Stage.TEST)], gone=["SD-4"])
    book.apply([Item("SD-6", "new")], gone=[])
    assert book.changed_since(start) == {"SD-2", "SD-4", "SD-6"}
    assert book.changed_since(start + 1) == {"SD-6"}
    assert book.changed_since(book.version + 1) is None  # a version it never had
    for n in range(CHANGES_KEPT):
        book.apply([Item("SD-1", f"edit {n}")], gone=[])
    assert book.changed_since(start) is None  # further back than it remembers
    assert book.changed_since(book.version - 1) == {"SD-1"}
    before = book.version
    book.reset([(1, "plan", False)])
    assert book.changed_since(before) is None  # a whole read: anything may have changed


def test_cards_of_reads_summaries_and_builds_a_missing_index(tmp_path: Path) -> None:
    store = store_with(tmp_path, 4)
    (store.paths.state / "board-index.sqlite3").unlink(missing_ok=True)
    got = store.cards_of(["SD-2", "SD-3", "SD-9"])
    assert sorted(got) == ["SD-2", "SD-3"]
    assert got["SD-2"].stage is Stage.CODE
    store.cards()  # the index at the head
    store.update("SD-3", lambda i: setattr(i, "title", "Renamed"))
    store.cards(store.cards().stamp)
    assert store.cards_of(["SD-3"])["SD-3"].title == "Renamed"


def test_a_cards_fields_from_the_index_are_those_of_the_item_on_the_board(
    tmp_path: Path,
) -> None:
    """The filter's fields read from the index's columns alone (no item built) say what
    the items read from their blobs say; whole, by ids, with the index gone (read from
    the board), and after changes made elsewhere."""
    store = store_with(tmp_path, 6)
    store.update("SD-2", lambda i: setattr(i, "env", "staging"))
    store.update("SD-3", lambda i: setattr(i, "version", "1.2.0"))
    store.update("SD-3", lambda i: i.states.update({i.stage: StageState(RunState.FAILED)}))
    store.update("SD-4", lambda i: setattr(i, "archived", True))

    def expected() -> list[CardFields]:
        return [CardFields.of(i) for i in store.load().items if not i.archived]

    store.cards()  # the index at the head
    assert store.fields_of(None) == expected()
    assert [f.id for f in store.fields_of(None)] == ["SD-1", "SD-2", "SD-3", "SD-5", "SD-6"]
    by_id = {f.id: f for f in expected()}
    assert store.fields_of(["SD-3", "SD-5"]) == [by_id["SD-3"], by_id["SD-5"]]
    assert by_id["SD-3"].state == "failed" and by_id["SD-3"].version == "1.2.0"
    other = board_store(tmp_path)  # another process
    other.update("SD-5", lambda i: setattr(i, "stage", Stage.BUILD))
    other.add("New", kind=Kind.CHORE)
    store.cards(store.cards().stamp)
    assert store.fields_of(None) == expected()
    (store.paths.state / "board-index.sqlite3").unlink()
    for name in ("board-index.sqlite3-wal", "board-index.sqlite3-shm"):
        (store.paths.state / name).unlink(missing_ok=True)
    assert store.fields_of(None) == expected()  # rebuilt, or read from the board
    book = store.book()
    assert book.fields(["SD-6"]) == [f for f in expected() if f.id == "SD-6"]
