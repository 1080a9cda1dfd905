"""The store's JSON copy of board.yaml: a shortcut that can never change what is read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lifecycle.store import BoardStore

ROOT = Path(__file__).resolve().parents[2]


def store_with_items(tmp_path: Path, n: int = 3) -> BoardStore:
    store = BoardStore(tmp_path, fsync=False)
    for i in range(n):
        store.add(f"Item {i}")
    return store


def cache_of(store: BoardStore) -> Path:
    return store.paths.state / "board-cache.json"


def test_a_second_load_reads_the_cache_and_gives_the_same_board(tmp_path: Path) -> None:
    store = store_with_items(tmp_path)
    first = store.load()
    assert cache_of(store).is_file()
    again = BoardStore(tmp_path).load()
    assert [i.to_dict() for i in again.items] == [i.to_dict() for i in first.items]
    assert again.next_id == first.next_id


def test_the_cached_board_opens_without_pyyaml(tmp_path: Path) -> None:
    store_with_items(tmp_path).load()
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from lifecycle.store import BoardStore\n"
        f"board = BoardStore(Path({str(tmp_path)!r})).load()\n"
        "print(len(board.items), 'yaml' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    assert out == ["3", "False"]


def test_an_edited_file_is_read_from_the_file(tmp_path: Path) -> None:
    store = store_with_items(tmp_path)
    store.load()
    text = store.path.read_text().replace("Item 1", "Renamed by hand")
    store.path.write_text(text)
    titles = [i.title for i in BoardStore(tmp_path).load().items]
    assert "Renamed by hand" in titles and "Item 1" not in titles


def test_a_damaged_or_tampered_cache_is_ignored(tmp_path: Path) -> None:
    store = store_with_items(tmp_path)
    expected = [i.title for i in store.load().items]
    cache_of(store).write_text("{not json")
    assert [i.title for i in BoardStore(tmp_path).load().items] == expected
    store.load()  # writes a good cache again
    cached = json.loads(cache_of(store).read_text())
    cached["data"]["items"][0]["stage"] = "nowhere"  # same hash, data that is not a board
    cache_of(store).write_text(json.dumps(cached))
    assert [i.title for i in BoardStore(tmp_path).load().items] == expected
