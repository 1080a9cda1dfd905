"""The store's JSON copy of the board, keyed by the ref's commit: a shortcut that can
never change what is read, brought up to date from the paths changed since."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.store import BOARD_REF, BoardStore
from tests.helpers import board_store, fast_first
from tests.unit.test_store import hand_commit

ROOT = Path(__file__).resolve().parents[2]


def store_with_items(tmp_path: Path, n: int = 3) -> BoardStore:
    store = board_store(tmp_path)
    for i in range(n):
        store.add(f"Item {i}")
    return store


def cache_of(store: BoardStore) -> Path:
    return store.paths.state / "board-cache.json"


def titles(store: BoardStore) -> list[str]:
    return [i.title for i in store.load().items]


class Reads:
    """What a store asked git for: whole-tree reads, and the paths read one by one."""

    def __init__(self, store: BoardStore) -> None:
        self.full = 0
        self.paths: list[str] = []
        read, read_all = store.refs.read, store.refs.read_all

        def counted_read(commit, paths):  # type: ignore[no-untyped-def]
            paths = list(paths)
            self.paths += paths
            return read(commit, paths)

        def counted_read_all(commit):  # type: ignore[no-untyped-def]
            self.full += 1
            return read_all(commit)

        store.refs.read = counted_read  # type: ignore[method-assign]
        store.refs.read_all = counted_read_all  # type: ignore[method-assign]


def test_a_second_load_reads_the_cache_and_gives_the_same_board(tmp_path: Path) -> None:
    store = store_with_items(tmp_path)
    first = store.load()
    cached = json.loads(cache_of(store).read_text())
    assert cached["commit"] == first.stamp == store.stamp()
    again_store = board_store(tmp_path)
    reads = Reads(again_store)
    again = again_store.load()
    assert (reads.full, reads.paths) == (0, [])  # nothing read from git
    assert [i.to_dict() for i in again.items] == [i.to_dict() for i in first.items]
    assert again.next_id == first.next_id
    assert again.stamp == first.stamp


@pytest.mark.slow  # big boards, or a fresh interpreter
def test_a_cache_of_an_older_commit_is_brought_up_to_date_from_the_changes(
    tmp_path: Path,
) -> None:
    store = store_with_items(tmp_path, 40)
    old = store.load().stamp
    other = board_store(tmp_path)  # another process: its writes leave the cache behind
    with other.edit() as board:  # reads the board at ``old``, from the cache
        board.remove("SD-7")
    other.add("Item 40")
    other.update("SD-2", lambda it: setattr(it, "stage", Stage.CODE))
    assert json.loads(cache_of(store).read_text())["commit"] == old
    fresh = board_store(tmp_path)
    reads = Reads(fresh)
    board = fresh.load()
    assert reads.full == 0
    assert sorted(reads.paths) == [
        "items/0/SD-2.json",
        "items/0/SD-41.json",
        "items/0/SD-7.json",
        "meta.json",
    ]
    assert board.get("SD-2").stage is Stage.CODE
    assert "SD-7" not in [i.id for i in board.items]
    assert board.get("SD-41").title == "Item 40"
    assert board.next_id == 42
    assert json.loads(cache_of(store).read_text())["commit"] == board.stamp == other.stamp()
    assert board == board_store(tmp_path).load()
    cache_of(store).unlink()
    assert board == board_store(tmp_path).load()  # the same as a whole read


@pytest.mark.slow  # big boards, or a fresh interpreter
def test_a_big_change_since_the_cache_is_read_whole(tmp_path: Path) -> None:
    store = store_with_items(tmp_path, 10)
    store.load()
    with store.edit() as board:
        for n in range(200):
            board.add(f"bulk {n}")
    fresh = board_store(tmp_path)
    reads = Reads(fresh)
    assert len(fresh.load().items) == 210
    assert reads.full == 1


def test_a_commit_made_by_other_tools_is_read(tmp_path: Path) -> None:
    store = store_with_items(tmp_path)
    store.load()
    data = json.loads(
        subprocess.run(
            ["git", "cat-file", "blob", f"{BOARD_REF}:items/0/SD-2.json"],
            cwd=tmp_path,
            capture_output=True,
            check=True,
        ).stdout
    )
    data["title"] = "Renamed by hand"
    hand_commit(tmp_path, {"items/0/SD-2.json": json.dumps(data).encode()})
    got = titles(board_store(tmp_path))
    assert "Renamed by hand" in got and "Item 1" not in got
    assert titles(store) == got


def test_the_cache_of_another_repository_is_not_believed(tmp_path: Path) -> None:
    ours = store_with_items(tmp_path / "ours")
    ours.load()
    theirs = store_with_items(tmp_path / "theirs", 5)
    theirs.load()
    cache_of(ours).write_bytes(cache_of(theirs).read_bytes())  # a copied .shipdeck
    assert titles(board_store(tmp_path / "ours")) == ["Item 0", "Item 1", "Item 2"]


@pytest.mark.parametrize(
    "damage",
    fast_first(
        [
            "{not json",
            "[1, 2]",
            "null",
            '{"commit": "HEAD", "next_id": 4, "items": {}}',
            '{"commit": "../../x", "next_id": 4, "items": {}}',
            '{"commit": "' + "f" * 40 + '", "next_id": 4, "items": {}}',
            '{"next_id": 4, "items": {}}',
            "stage",  # an item that is not an item, at the right commit
            "list",  # items as a list
        ]
    ),
)
def test_a_damaged_or_tampered_cache_is_ignored(tmp_path: Path, damage: str) -> None:
    store = store_with_items(tmp_path)
    expected = titles(store)
    cached = json.loads(cache_of(store).read_text())
    if damage == "stage":
        cached["items"]["items/0/SD-1.json"]["stage"] = "nowhere"
        damage = json.dumps(cached)
    elif damage == "list":
        cached["items"] = list(cached["items"].values())
        damage = json.dumps(cached)
    cache_of(store).write_text(damage)
    assert titles(board_store(tmp_path)) == expected
    assert json.loads(cache_of(store).read_text())["commit"] == store.stamp()  # rewritten


@pytest.mark.parametrize(
    "fields",
    fast_first([{"commit": 5}, {"commit": ["a"]}, {"next_id": "x"}, {"next_id": None}]),
    ids=["commit-int", "commit-list", "next_id-text", "next_id-null"],
)
def test_a_cache_with_fields_of_the_wrong_type_is_ignored(
    tmp_path: Path, fields: dict[str, object]
) -> None:
    store = store_with_items(tmp_path)
    expected = titles(store)
    cached = json.loads(cache_of(store).read_text())
    cached.update(fields)
    cache_of(store).write_text(json.dumps(cached))
    assert titles(board_store(tmp_path)) == expected


def test_an_unwritable_state_dir_only_costs_the_shortcut(tmp_path: Path) -> None:
    store = store_with_items(tmp_path)
    store.paths.dir.mkdir(exist_ok=True)
    store.paths.state.write_text("not a directory")  # the cache cannot be written
    assert titles(board_store(tmp_path)) == ["Item 0", "Item 1", "Item 2"]


CHILD = """
import subprocess, sys
from pathlib import Path
from shipdeck.backends.git_board import open_board
store = open_board(Path(sys.argv[1]))
if sys.argv[2] == "no-processes":
    def refuse(*a, **k):
        raise AssertionError(f"spawned {a[0]}")
    subprocess.run = subprocess.Popen = refuse
board = store.load()
print(len(board.items), *(m in sys.modules for m in ("yaml", "gitdb", "git")))
"""


def _child(root: Path, mode: str = "") -> list[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(root), mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split()


@pytest.mark.slow  # big boards, or a fresh interpreter
def test_the_cached_board_opens_without_yaml_gitdb_or_gitpython(tmp_path: Path) -> None:
    store = store_with_items(tmp_path)
    store.load()
    # The cache at the head: no git process at all, only the ref's file is read.
    assert _child(tmp_path, "no-processes") == ["3", "False", "False", "False"]
    store.add("one more")  # the cache is now a commit behind
    assert _child(tmp_path) == ["4", "False", "False", "False"]
    cache_of(store).unlink()  # cold: the whole tree through git cat-file
    assert _child(tmp_path) == ["4", "False", "False", "False"]
