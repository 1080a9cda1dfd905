"""The board on ``refs/shipdeck/board``: round trips, stable blobs, refusals that never
overwrite, locking; and the old ``.shipdeck/board.yaml``, still read for its one import."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipdeck.backends.git_board import GitBoardRefs
from shipdeck.lifecycle.board import SCHEMA as YAML_SCHEMA
from shipdeck.lifecycle.board import Board, dump_board, parse_board
from shipdeck.lifecycle.items import Item, Kind, RunState, StageState, TestReport
from shipdeck.lifecycle.paths import GITIGNORE, ShipdeckPaths
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.store import (
    BOARD_REF,
    SCHEMA,
    BoardError,
    BoardLocked,
    BoardStore,
    ItemNotFound,
    encode_item,
    item_path,
)
from tests.helpers import board_store, fast_first, git

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
    '{"json": "lookalike"}',
    "\ud7ff edge of the BMP \U0010ffff",
]


@pytest.fixture
def store(tmp_path: Path) -> BoardStore:
    return board_store(tmp_path)


def head(store: BoardStore) -> str | None:
    """The ref's commit, asked of git itself (not of the store under test)."""
    out = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", BOARD_REF],
        cwd=store.paths.root,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return out or None


def tree(store: BoardStore, commit: str | None = None) -> dict[str, str]:
    """{path: blob id} of the ref's tree."""
    out = git(store.paths.root, "ls-tree", "-r", "--full-tree", commit or BOARD_REF)
    return {line.split("\t")[1]: line.split()[2] for line in out.splitlines()}


def blob(store: BoardStore, path: str) -> bytes:
    return subprocess.run(
        ["git", "cat-file", "blob", f"{BOARD_REF}:{path}"],
        cwd=store.paths.root,
        check=True,
        capture_output=True,
    ).stdout


def commits(store: BoardStore) -> int:
    return int(git(store.paths.root, "rev-list", "--count", BOARD_REF))


def hand_commit(root: Path, files: Mapping[str, bytes | None], message: str = "by hand") -> str:
    """A commit on the ref made with plain git (``hash-object -w``, a private index,
    ``commit-tree``, ``update-ref``): what another tool, or a bad merge, could push."""
    env = dict(os.environ, GIT_INDEX_FILE=str(root / ".git" / "hand-made-index"))

    def run(*args: str, data: bytes | None = None) -> str:
        return (
            subprocess.run(
                ["git", *args], cwd=root, env=env, input=data, check=True, capture_output=True
            )
            .stdout.decode()
            .strip()
        )

    parent = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", BOARD_REF], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    if parent:
        run("read-tree", parent)
    else:
        run("read-tree", "--empty")
    for path, data in files.items():
        if data is None:
            run("update-index", "--force-remove", path)
        else:
            sha = run("hash-object", "-w", "--stdin", data=data)
            run("update-index", "--add", "--cacheinfo", f"100644,{sha},{path}")
    new = run("commit-tree", run("write-tree"), *(["-p", parent] if parent else []), "-m", message)
    run("update-ref", BOARD_REF, new, parent)
    (root / ".git" / "hand-made-index").unlink()
    return new


# --- basics ----------------------------------------------------------------------


def test_missing_board_is_empty_and_creates_nothing(store: BoardStore, tmp_path: Path) -> None:
    board = store.load()
    assert board == Board(next_id=1, items=[])
    assert board.stamp is None
    assert store.stamp() is None
    assert not (tmp_path / ".shipdeck").exists()
    assert head(store) is None
    with pytest.raises(ItemNotFound):
        store.get("SD-1")


def test_first_write_makes_the_ref_and_nothing_in_the_work_tree(
    store: BoardStore, tmp_path: Path
) -> None:
    user_head = git(tmp_path, "rev-parse", "HEAD")
    index = (tmp_path / ".git" / "index").read_bytes()
    item = store.add("first")
    assert item.id == "SD-1"
    assert store.stamp() == head(store) is not None
    assert set(tree(store)) == {"meta.json", "items/0/SD-1.json"}
    assert git(tmp_path, "status", "--porcelain", "--ignored") == ""  # not even ignored files
    assert git(tmp_path, "rev-parse", "HEAD") == user_head
    assert (tmp_path / ".git" / "index").read_bytes() == index


def test_local_files_are_ignored_whole(store: BoardStore, tmp_path: Path) -> None:
    store.add("first")
    store.load()  # writes the cache, in .shipdeck/state/
    paths = ShipdeckPaths(tmp_path)
    assert (paths.state / "board-cache.json").is_file()
    assert paths.gitignore.read_text() == GITIGNORE
    assert "*" in GITIGNORE.splitlines()
    assert git(tmp_path, "status", "--porcelain") == ""
    paths.gitignore.write_text("# mine\n")
    store.add("second")
    store.load()
    assert paths.gitignore.read_text() == "# mine\n"  # a user's own is never overwritten


def test_tree_layout_is_meta_and_one_blob_per_item(store: BoardStore) -> None:
    with store.edit() as board:
        for n in (1, 2, 99, 100, 101, 250):
            board.items.append(Item(f"SD-{n}", f"t{n}", body="first paragraph\n\nsecond\n"))
    assert set(tree(store)) == {
        "meta.json",
        "items/0/SD-1.json",
        "items/0/SD-2.json",
        "items/0/SD-99.json",
        "items/1/SD-100.json",
        "items/1/SD-101.json",
        "items/2/SD-250.json",
    }
    assert json.loads(blob(store, "meta.json")) == {"schema": SCHEMA, "next_id": 251}
    assert SCHEMA == 2
    data = json.loads(blob(store, "items/1/SD-100.json"))
    assert data == store.get("SD-100").to_dict()
    assert data["body"] == "first paragraph\n\nsecond\n"
    store.add("ship it 🚀 — ünïcödé")
    assert "ship it 🚀 — ünïcödé".encode() in blob(store, "items/2/SD-251.json")  # readable


@pytest.mark.parametrize("title", fast_first(NASTY_TITLES))
def test_titles_and_bodies_round_trip_exactly(store: BoardStore, title: str) -> None:
    item = store.add(title, kind=Kind.BUG, body=title + "\n" + title, links=[title])
    for again in (
        board_store(store.paths.root).get(item.id),
        board_store(store.paths.root).load().get(item.id),  # cold: no cache yet
        board_store(store.paths.root).load().get(item.id),  # from the cache
    ):
        assert again.title == title
        assert again.body == title + "\n" + title
        assert again.links == [title]
        assert again == item


@pytest.mark.parametrize("title", ["", "   ", "\n\t "])
def test_empty_title_is_refused(store: BoardStore, title: str) -> None:
    store.add("keep")
    before = head(store)
    with pytest.raises(ValueError, match="title"):
        store.add(title)
    with pytest.raises(ValueError, match="title"):
        store.update("SD-1", lambda it: setattr(it, "title", title))
    with pytest.raises(ValueError, match="title"), store.edit() as board:
        board.items[0].title = title
    assert head(store) == before


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
    assert expected.uid
    assert store.load().items == [expected]
    assert board_store(store.paths.root).get("SD-1") == expected


@pytest.mark.slow  # many writes
def test_blobs_are_canonical_and_unchanged_boards_write_nothing(store: BoardStore) -> None:
    for title in NASTY_TITLES[:10]:
        store.add(title, body="a\nb\n")
    first, before = tree(store), head(store)
    for item in store.load().items:
        assert blob(store, item_path(item.id)) == encode_item(item)
    again = store.get("SD-3")
    assert encode_item(again) == encode_item(Item.from_dict(again.to_dict()))
    with store.edit() as board:
        board.items.reverse()  # order in memory does not matter
    with store.edit() as board:
        board.items = [Item.from_dict(i.to_dict()) for i in board.items]  # equal copies
    assert store.update("SD-2", lambda it: None).id == "SD-2"  # no change: no commit
    assert head(store) == before
    assert tree(store) == first


def test_importing_the_same_file_gives_the_same_tree_everywhere(tmp_path: Path) -> None:
    """Two clones that import the same board.yaml hold the same items (same uids)."""
    text = dump_board(
        Board(
            next_id=4,
            items=[
                Item("SD-1", "one", created_at=datetime(2024, 1, 1, tzinfo=UTC)),
                Item("SD-3", "three", created_at=datetime(2024, 1, 3, tzinfo=UTC)),
            ],
        )
    )
    trees = []
    for name in ("a", "b"):
        store = board_store(tmp_path / name)
        store.paths.dir.mkdir()
        store.paths.board.write_text(text)
        assert [i.id for i in store.load().items] == ["SD-1", "SD-3"]
        trees.append(git(store.paths.root, "rev-parse", f"{BOARD_REF}^{{tree}}"))
        assert all(i.uid for i in store.load().items)
    assert trees[0] == trees[1]


def test_items_are_read_in_id_order(store: BoardStore) -> None:
    with store.edit() as board:
        for n in (10, 2, 33, 100, 9):
            board.items.append(Item(f"SD-{n}", f"t{n}"))
    assert [i.id for i in store.load().items] == ["SD-2", "SD-9", "SD-10", "SD-33", "SD-100"]
    assert [i.id for i in board_store(store.paths.root).load().items][-1] == "SD-100"
    assert store.load().next_id == 101


def test_ids_are_never_reused(store: BoardStore) -> None:
    for n in range(3):
        store.add(f"item {n}")
    store.update("SD-3", lambda it: setattr(it, "archived", True))
    assert store.add("after archive").id == "SD-4"
    with store.edit() as board:
        board.remove("SD-4")
        board.remove("SD-3")
    assert [i.id for i in store.load().items] == ["SD-1", "SD-2"]
    assert set(tree(store)) == {"meta.json", "items/0/SD-1.json", "items/0/SD-2.json"}
    assert store.add("after delete").id == "SD-5"
    assert [i.id for i in store.load().active()] == ["SD-1", "SD-2", "SD-5"]


def test_deleting_the_last_item_of_a_folder_removes_the_folder(store: BoardStore) -> None:
    with store.edit() as board:
        board.items += [Item("SD-5", "five"), Item("SD-150", "one fifty")]
    with store.edit() as board:
        board.remove("SD-150")
    assert set(tree(store)) == {"meta.json", "items/0/SD-5.json"}
    assert store.load().next_id == 151


def test_get_update_and_missing_items(store: BoardStore) -> None:
    item = store.add("x")
    before = item.updated_at
    moved = store.update("sd-1", lambda it: setattr(it, "stage", Stage.CODE))
    assert moved.stage is Stage.CODE and moved.updated_at >= before
    assert store.get("1").stage is Stage.CODE
    board = store.load()
    assert board.get("1").stage is Stage.CODE
    with pytest.raises(ItemNotFound) as err:
        board.get("SD-9")
    assert str(err.value) == "no item SD-9"
    with pytest.raises(ItemNotFound, match="SD-9"):
        store.get("SD-9")
    with pytest.raises(ItemNotFound):
        store.update("SD-9", lambda it: None)
    with pytest.raises(ValueError, match="id"):
        store.update("SD-1", lambda it: setattr(it, "id", "SD-2"))


def test_each_change_is_one_commit_named_after_it(store: BoardStore) -> None:
    store.add("x", kind=Kind.BUG)
    store.update("SD-1", lambda it: setattr(it, "stage", Stage.CODE))
    store.update("SD-1", lambda it: setattr(it, "body", "more"))
    with store.edit() as board:
        board.add("y")
        board.add("z")
    log = git(store.paths.root, "log", "--format=%s", BOARD_REF).splitlines()
    assert log == [
        "board: edit 2 item(s)",
        "SD-1: body",
        "SD-1: plan -> code",
        'SD-1: add bug "x"',
    ]


def test_by_stage_and_active(store: BoardStore) -> None:
    for n in range(4):
        store.add(f"i{n}")
    store.update("SD-2", lambda it: setattr(it, "stage", Stage.BUILD))
    store.update("SD-3", lambda it: setattr(it, "archived", True))
    columns = store.load().by_stage()
    assert list(columns) == list(Stage)
    assert [i.id for i in columns[Stage.PLAN]] == ["SD-1", "SD-4"]
    assert [i.id for i in columns[Stage.BUILD]] == ["SD-2"]


def test_a_failing_edit_or_update_writes_nothing(store: BoardStore) -> None:
    store.add("x")
    before = head(store)
    with pytest.raises(RuntimeError, match="boom"), store.edit() as board:
        board.add("never saved")
        raise RuntimeError("boom")

    def fail(item: Item) -> None:
        item.title = "half changed"
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        store.update("SD-1", fail)
    assert head(store) == before
    assert store.get("SD-1").title == "x"


def test_two_items_with_one_id_are_never_written(store: BoardStore) -> None:
    store.add("x")
    before = head(store)
    with pytest.raises(ValueError, match="SD-1"), store.edit() as board:
        board.items.append(Item("SD-1", "duplicate"))
    assert head(store) == before


@pytest.mark.parametrize("how", ["update", "edit"])
def test_an_item_that_would_not_load_is_never_written(store: BoardStore, how: str) -> None:
    store.add("x")
    before = head(store)
    with pytest.raises((ValueError, BoardError)):
        if how == "update":
            store.update("SD-1", lambda it: setattr(it, "version", 1.5))
        else:
            with store.edit() as board:
                board.items[0].version = 1.5  # type: ignore[assignment]
    assert head(store) == before
    assert store.load().items[0].version is None


def test_edit_is_not_reentrant(store: BoardStore) -> None:
    with pytest.raises(RuntimeError, match="re-entrant"), store.edit():
        store.add("nested")
    assert store.add("after").id == "SD-1"


def test_changes_by_another_process_are_reloaded_not_overwritten(tmp_path: Path) -> None:
    ours, theirs = board_store(tmp_path), board_store(tmp_path)
    ours.add("ours")
    board = ours.load()
    assert board.stamp == head(ours)
    assert not ours.changed_since(board.stamp)
    theirs.add("theirs")
    assert ours.changed_since(board.stamp)
    ours.update("SD-1", lambda it: setattr(it, "body", "edited"))
    fresh = ours.load()
    assert [(i.title, i.body) for i in fresh.items] == [("ours", "edited"), ("theirs", "")]
    assert not ours.changed_since(fresh.stamp)
    assert fresh.stamp == head(ours)


def test_a_lost_swap_is_retried_on_the_new_head(store: BoardStore) -> None:
    """Another writer (say a sync) moves the ref between our read and our swap."""
    store.add("first")
    other = board_store(store.paths.root)
    swap = store.refs.swap
    raced = []

    def racing_swap(new: str, old: str | None, message: str) -> bool:
        if not raced:
            raced.append(old)
            hand_commit(store.paths.root, {"items/0/SD-7.json": encode_item(Item("SD-7", "x"))})
        return swap(new, old, message)

    store.refs.swap = racing_swap  # type: ignore[method-assign]
    store.update("SD-1", lambda it: setattr(it, "body", "ours"))
    assert raced
    assert [(i.id, i.body) for i in other.load().items] == [("SD-1", "ours"), ("SD-7", "")]


@pytest.mark.slow  # threads and a killed writer
def test_concurrent_threads_adding(tmp_path: Path) -> None:
    board_store(tmp_path)  # the repository, before the threads
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        store = board_store(tmp_path)
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
    store = board_store(tmp_path)
    board = store.load()
    assert [i.id for i in board.items] == [f"SD-{n}" for n in range(1, 121)]
    assert {i.title for i in board.items} == {f"t{n}-{k}" for n in range(8) for k in range(15)}
    assert board.next_id == 121
    assert commits(store) == 120


@pytest.mark.slow  # waits out a lock timeout
def test_lock_timeout_is_a_clear_error(store: BoardStore) -> None:
    store.add("x")
    before = head(store)
    fd = os.open(store.refs.lock_path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        slow = board_store(store.paths.root, lock_timeout=0.2)
        with pytest.raises(BoardLocked, match="held the board lock") as err:
            slow.add("y")
        assert "\n" not in str(err.value)
        assert slow.load().items[0].title == "x"  # readers never wait
        assert slow.get("SD-1").title == "x"
    finally:
        os.close(fd)
    assert head(store) == before
    assert store.add("y").id == "SD-2"  # a released lock is taken again


def test_the_lock_lives_in_the_git_dir_of_every_worktree(store: BoardStore) -> None:
    store.add("x")
    other = store.paths.root.parent / f"{store.paths.root.name}-wt"
    git(store.paths.root, "worktree", "add", "-q", "--detach", str(other))
    linked = board_store(other)
    assert linked.refs.lock_path == store.refs.lock_path
    assert linked.add("from the worktree").id == "SD-2"
    assert [i.title for i in store.load().items] == ["x", "from the worktree"]


def test_a_stale_git_ref_lock_is_removed_by_the_next_write(store: BoardStore) -> None:
    """``refs/shipdeck/board.lock`` left by a ``git update-ref`` that was killed."""
    store.add("x")
    lock = store.refs.common / f"{BOARD_REF}.lock"
    lock.write_text("")
    old = time.time() - 60
    os.utime(lock, (old, old))
    assert store.add("y").id == "SD-2"
    assert not lock.exists()


@pytest.mark.slow  # threads and a killed writer
def test_a_fresh_git_ref_lock_left_by_a_killed_writer_does_not_fail_the_next_write(
    store: BoardStore,
) -> None:
    store.add("x")
    lock = store.refs.common / f"{BOARD_REF}.lock"
    lock.write_text("")  # a writer's git update-ref killed a moment ago
    assert store.add("y").id == "SD-2"


def test_a_leftover_cache_temp_file_is_ignored(store: BoardStore) -> None:
    store.add("x")
    store.load()
    leftover = store.paths.state / "board-cache.json.999.deadbe.tmp"
    leftover.write_text('{"commit": "half')
    assert [i.title for i in board_store(store.paths.root).load().items] == ["x"]
    store.add("y")
    assert [i.title for i in board_store(store.paths.root).load().items] == ["x", "y"]


def test_a_repository_is_required(tmp_path: Path) -> None:
    from shipdeck.backends.git_board import open_board

    with pytest.raises(BoardError, match="git init"):
        open_board(tmp_path)


# --- refusals: the ref ---------------------------------------------------------------

WHERE = "refs/shipdeck/board:items/0/SD-3.json"


def _refused_ref(store: BoardStore, files: Mapping[str, bytes | None]) -> BoardError:
    """Commit ``files`` onto the ref by hand; every read and write of them must refuse,
    in one line, and leave the ref where it is."""
    for n in range(3):
        store.add(f"item {n}")
    store.load()  # a cache of the good board, which must not hide the bad one
    bad = hand_commit(store.paths.root, files)
    with pytest.raises(BoardError) as err:
        store.load()
    with pytest.raises(BoardError):
        board_store(store.paths.root).load()  # no cache
    with pytest.raises(BoardError), store.edit():
        pass  # pragma: no cover
    assert head(store) == bad  # never overwritten
    assert "\n" not in str(err.value)
    return err.value


@pytest.mark.parametrize(
    ("data", "message"),
    fast_first(
        [
            (b"{not json", r": not JSON: "),
            (b"", r": not JSON: "),
            (b"\xff\xfe{}", r": not JSON: "),
            (b"[1, 2]", r"is invalid"),
            (b'"SD-3"', r"is invalid"),
            (b"[" * 100_000 + b"]" * 100_000, r"nested too deeply|not JSON"),
            (b'{"id": "SD-3", "title": "t", "kind": "rocket"}', r"SD-3 is invalid: .*rocket"),
            (b'{"id": "SD-3", "title": "t", "titel": "typo"}', r"SD-3 is invalid: .*'titel'"),
            (b'{"id": "SD-3", "title": ""}', r"SD-3 is invalid: .*title is empty"),
            (b'{"id": "SD-3", "title": "t", "version": 1.5}', r"SD-3 is invalid: version"),
            (b'{"id": "SD-3", "title": "t", "archived": "no"}', r"archived must be true or false"),
            (
                b'{"id": "SD-3", "title": "t", "states": {"code": {"state": "wat"}}}',
                r"unknown state 'wat'",
            ),
            (b'{"id": "SD-3", "title": "t", "created_at": "yesterday"}', r"Invalid isoformat"),
            (b'{"title": "t"}', r"missing 'id'"),
            (b'{"id": "SD-x", "title": "t"}', r"id must look like SD-<number>"),
            (
                b'{"id": "SD-3", "title": "' + b"x" * (1 << 20) + b'"}',
                r"larger than an item can be",
            ),
        ]
    ),
    ids=lambda v: repr(v[:40]) if isinstance(v, bytes) else None,
)
def test_a_corrupt_blob_is_refused_naming_it(store: BoardStore, data: bytes, message: str) -> None:
    err = _refused_ref(store, {"items/0/SD-3.json": data})
    assert str(err).startswith(WHERE + ": "), str(err)
    assert re.search(message, str(err)), str(err)
    with pytest.raises(BoardError, match=re.escape(WHERE)):
        store.get("SD-3")
    with pytest.raises(BoardError, match=re.escape(WHERE)):
        store.update("SD-3", lambda it: setattr(it, "title", "repaired?"))
    assert blob(store, "items/0/SD-3.json") == data


@pytest.mark.parametrize(
    ("path", "holds"),
    fast_first(
        [
            ("items/0/SD-3.json", "SD-4"),  # the blob of another item
            ("items/1/SD-3.json", "SD-3"),  # the right name in the wrong folder
            ("items/0/SD-03.json", "SD-3"),
            ("items/0/sd-3.json", "SD-3"),
        ]
    ),
)
def test_a_blob_at_the_wrong_path_is_refused(store: BoardStore, path: str, holds: str) -> None:
    data = encode_item(Item(holds, "misplaced", uid="0123456789abcdef"))
    err = _refused_ref(store, {path: data})
    assert str(err) == (
        f"refs/shipdeck/board:{path}: holds {holds}, which belongs at {item_path(holds)}"
    )


def test_a_blob_for_another_item_cannot_be_updated_through_its_path(store: BoardStore) -> None:
    _refused_ref(store, {"items/0/SD-3.json": encode_item(Item("SD-4", "misplaced"))})
    before = head(store)
    with pytest.raises(BoardError, match=re.escape("belongs at items/0/SD-4.json")):
        store.update("SD-3", lambda it: setattr(it, "title", "x"))
    assert head(store) == before


FUTURE_META = b'{"schema": 3, "next_id": 7, "sprints": ["a", "b"]}\n'


def test_a_newer_schema_is_refused_and_never_overwritten(store: BoardStore) -> None:
    err = _refused_ref(store, {"meta.json": FUTURE_META})
    assert str(err) == (
        "refs/shipdeck/board:meta.json: written by a newer shipdeck"
        " (schema 3; this one reads schema 2)"
    )
    before = head(store)
    with pytest.raises(BoardError, match="newer shipdeck"):
        store.add("new")
    assert head(store) == before
    assert blob(store, "meta.json") == FUTURE_META


def test_a_newer_schema_refuses_an_update_too(store: BoardStore) -> None:
    _refused_ref(store, {"meta.json": FUTURE_META})
    before = head(store)
    with pytest.raises(BoardError, match="newer shipdeck"):
        store.update("SD-1", lambda it: setattr(it, "title", "changed"))
    assert head(store) == before


@pytest.mark.parametrize(
    ("meta", "message"),
    fast_first(
        [
            (b"{half", r"meta\.json: not JSON"),
            (b"[2, 7]", r"meta\.json: expected an object"),
            (b'{"schema": 1, "next_id": 7}', r"expected schema 2 and a whole next_id"),
            (b'{"schema": 2, "next_id": "7"}', r"expected schema 2 and a whole next_id"),
            (b'{"schema": 2, "next_id": true}', r"expected schema 2 and a whole next_id"),
        ]
    ),
)
def test_a_corrupt_meta_is_refused(store: BoardStore, meta: bytes, message: str) -> None:
    err = _refused_ref(store, {"meta.json": meta})
    assert str(err).startswith("refs/shipdeck/board:meta.json: ")
    assert re.search(message, str(err)), str(err)
    with pytest.raises(BoardError):
        store.add("new")


def test_files_that_are_not_the_board_are_ignored(store: BoardStore) -> None:
    store.add("x")
    hand_commit(store.paths.root, {"README.md": b"# not ours\n", "notes/SD-1.json": b"{"})
    assert [i.title for i in store.load().items] == ["x"]
    assert store.add("y").id == "SD-2"
    assert {"README.md", "notes/SD-1.json"} <= set(tree(store))  # kept as they were


# --- the old board.yaml: its one import ---------------------------------------------


def _import_refused(store: BoardStore, content: bytes) -> BoardError:
    store.paths.dir.mkdir(parents=True, exist_ok=True)
    store.paths.board.write_bytes(content)
    with pytest.raises(BoardError) as err:
        store.load()
    with pytest.raises(BoardError):
        board_store(store.paths.root).add("new")
    with pytest.raises(BoardError), board_store(store.paths.root).edit():
        pass  # pragma: no cover
    assert store.paths.board.read_bytes() == content  # never overwritten
    assert head(store) is None  # nothing imported
    assert "\n" not in str(err.value)
    return err.value


def test_import_of_a_future_yaml_schema_is_refused(store: BoardStore) -> None:
    err = _import_refused(store, b"schema: 2\nnext_id: 7\nitems: []\nsprints: [a, b]\n")
    assert str(err) == (
        ".shipdeck/board.yaml: written by a newer shipdeck (schema 2; this one reads schema 1)"
    )
    assert YAML_SCHEMA == 1


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
        (b"schema: 1\nnext_id: 2\nitems: []\n# \xff\xfe\n", r"UTF-8|utf-8"),
        (b"<<<<<<< HEAD\nschema: 1\n=======\n", r"board\.yaml:\d+:\d+: "),
    ],
)
def test_a_corrupt_board_yaml_is_refused_and_not_imported(
    store: BoardStore, content: bytes, message: str
) -> None:
    err = _import_refused(store, content)
    assert str(err).startswith(".shipdeck/board.yaml")
    assert re.search(message, str(err)), str(err)


def test_import_keeps_everything_and_reads_the_file_once(store: BoardStore) -> None:
    t0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    items = [
        Item("SD-2", "two", kind=Kind.BUG, stage=Stage.CODE, created_at=t0, updated_at=t0),
        Item(
            "SD-7",
            "seven",
            stage=Stage.TEST,
            branch="feature/SD-7-seven",
            states={Stage.TEST: StageState(RunState.FAILED, t0, t0, "r-1", "a" * 40, "no")},
            tests=TestReport(passed=1, failed=1, failures=["t"]),
            created_at=t0,
            updated_at=t0,
            archived=True,
        ),
    ]
    text = dump_board(Board(next_id=12, items=items))
    assert dump_board(parse_board(text)) == text  # the file's text is stable
    store.paths.dir.mkdir()
    store.paths.board.write_text(text)
    board = store.load()
    assert [i.to_dict() | {"uid": ""} for i in board.items] == [
        i.to_dict() | {"uid": ""} for i in items
    ]
    assert all(i.uid for i in board.items)
    assert board.next_id == 12
    assert len(store.notices) == 1
    assert git(store.paths.root, "log", "--format=%s", BOARD_REF) == (
        "board: import .shipdeck/board.yaml (2 items)"
    )
    assert store.paths.board.read_text() == text  # left for the user to remove
    store.paths.board.write_text("schema: 1\nnext_id: 1\nitems: [broken\n")
    again = board_store(store.paths.root)
    assert again.add("new").id == "SD-12"  # the file is no longer read
    assert again.notices == []
    assert commits(store) == 2


def test_hand_written_times_without_zone_mean_utc(store: BoardStore) -> None:
    store.paths.dir.mkdir(parents=True)
    store.paths.board.write_text(
        "schema: 1\nnext_id: 5\nitems:\n- id: sd-3\n  title: hand made\n"
        "  created_at: 2024-01-02T03:04:05\n  updated_at: 2024-01-02 03:04:05\n"
    )
    (item,) = store.load().items
    assert item.id == "SD-3"
    assert item.created_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert item.updated_at == item.created_at
    assert set(tree(store)) == {"meta.json", "items/0/SD-3.json"}
    assert store.add("next").id == "SD-5"


def test_an_empty_board_yaml_with_items_none_imports_nothing_twice(store: BoardStore) -> None:
    store.paths.dir.mkdir(parents=True)
    store.paths.board.write_text("schema: 1\nnext_id: 4\nitems: []\n")
    assert store.load() == Board(next_id=4, items=[])
    assert head(store) is not None  # the import is recorded, so it never runs again
    assert board_store(store.paths.root).add("x").id == "SD-4"


# --- property: any board survives the ref --------------------------------------------

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
            uid=draw(st.text("0123456789abcdef", min_size=16, max_size=16)),
        )
        for n in numbers
    ]
    next_id = max(numbers, default=0) + draw(st.integers(1, 5))
    return Board(next_id=next_id, items=sorted(items, key=lambda i: i.number))


@pytest.fixture(scope="module")
def shared_repo() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as root:
        board_store(Path(root))
        yield Path(root)


@pytest.mark.slow  # a property test
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(board=boards())
def test_any_board_round_trips_through_the_ref(shared_repo: Path, board: Board) -> None:
    text = dump_board(board)
    assert parse_board(text) == board  # the import's reader, too
    assert dump_board(parse_board(text)) == text
    store = board_store(shared_repo)
    with store.edit() as disk:
        disk.next_id, disk.items = board.next_id, list(board.items)
    assert store.load() == board  # brought up to date from the last example's cache
    assert board_store(shared_repo).load() == board
    (store.paths.state / "board-cache.json").unlink()
    assert board_store(shared_repo).load() == board  # read whole
    for item in board.items:
        assert store.get(item.id) == item
    refs = GitBoardRefs(shared_repo)
    files = refs.read_all(store.stamp() or "")
    assert {p: files[p] for p in files if p != "meta.json"} == {
        item_path(i.id): encode_item(i) for i in board.items
    }


def test_a_change_whose_swap_fails_takes_its_journal_line_out(tmp_path: Path) -> None:
    """Write-ahead: the journal line, then the swap; a failed swap undoes the line."""
    from shipdeck.lifecycle import events as ev
    from shipdeck.lifecycle.events import Event
    from shipdeck.lifecycle.journal import Journal

    store = board_store(tmp_path)
    journal = Journal(tmp_path)
    store.add("first", write_ahead=lambda it: journal.append_undoable(
        Event(ev.ITEM_CREATED, it.id))[1])  # fmt: skip

    def broken_swap(new: str, old: str | None, message: str) -> bool:
        raise BoardError("cannot update: disk on fire")

    store.refs.swap = broken_swap  # type: ignore[method-assign]
    with pytest.raises(BoardError):
        store.add("second", write_ahead=lambda it: journal.append_undoable(
            Event(ev.ITEM_CREATED, it.id))[1])  # fmt: skip
    assert [i.id for i in board_store(tmp_path).load().items] == ["SD-1"]
    assert [e.item for e in Journal(tmp_path).read()] == ["SD-1"]


def _git_changed(root: Path, old: str, new: str) -> set[str]:
    out = git(root, "diff-tree", "-r", "-z", "--name-only", "--no-renames", old, new)
    return {p for p in out.split("\0") if p}


@pytest.mark.slow  # a property test: real commits, by two writers
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["ours", "theirs"]), st.sampled_from(["add", "edit", "same"])),
        min_size=1,
        max_size=8,
    )
)
def test_what_changed_between_own_commits_is_known_without_git_and_agrees_with_it(
    steps: list[tuple[str, str]],
) -> None:
    """The open board reloads after each of its engine's writes: between commits this
    store made, the changed paths come from memory (no git process), and they are git's
    answer or more (a path written with the bytes it had); past another writer's commit
    git is asked."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ours, theirs = board_store(root), board_store(root)
        ours.add("first")
        stamps = [(ours.stamp(), "ours")]
        for n, (who, what) in enumerate(steps):
            store = ours if who == "ours" else theirs
            if what == "add":
                store.add(f"item {n}")
            else:
                body = "same" if what == "same" else f"edit {n}"
                store.update("SD-1", lambda it, body=body: setattr(it, "body", body))
            stamps.append((store.stamp(), who))
        diff_trees = []
        run = ours.refs._run

        def counting(*args: str, **kwargs: object):  # type: ignore[no-untyped-def]
            if args[0] == "diff-tree":
                diff_trees.append(args)
            return run(*args, **kwargs)  # type: ignore[arg-type]

        ours.refs._run = counting  # type: ignore[method-assign]
        for i, (old, _) in enumerate(stamps):
            for j in range(i + 1, len(stamps)):
                new = stamps[j][0]
                assert old is not None and new is not None
                before = len(diff_trees)
                said = ours.refs.changed(old, new)
                assert said is not None
                truth = _git_changed(root, old, new)
                assert truth <= set(said)
                for extra in set(said) - truth:  # written again with the same bytes
                    assert ours.refs.read(old, [extra]) == ours.refs.read(new, [extra])
                if all(who == "ours" for _, who in stamps[i + 1 : j + 1]):
                    assert len(diff_trees) == before  # only this store's commits between
