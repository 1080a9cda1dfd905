"""The board's reads without a process: loose objects are read by hand
(``git_files.read_loose``), and whatever is not loose (packed by ``git gc``, or
missing) goes to ``git cat-file``.
Every answer must be the one git itself gives, whichever way it was found."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipdeck.backends import git_board
from shipdeck.backends.git_board import GitBoardRefs, open_board
from shipdeck.lifecycle.items import Item, Kind
from shipdeck.lifecycle.stages import Stage
from tests.helpers import git, git_repo

pytestmark = pytest.mark.slow  # real git repositories


def to_code(item: Item) -> None:
    item.stage = Stage.CODE
    item.branch = f"feature/{item.id}"


def board_repo(path: Path, items: int) -> tuple[Path, GitBoardRefs]:
    repo = git_repo(path)
    store = open_board(repo)
    for n in range(items):
        item = store.add(f"item {n}", Kind.BUG if n % 2 else Kind.FEATURE)
        if n % 3 == 0:
            store.update(item.id, to_code)
    return repo, GitBoardRefs(repo)


def requests_for(refs: GitBoardRefs, head: str) -> list[str]:
    listing = git(refs.root, "ls-tree", "-r", "-t", "--name-only", head).splitlines()
    paths = [*listing, "meta.json", "items", "items/SD-999.json", "nope/deeper", "meta.json/x"]
    shas = git(refs.root, "rev-list", "--objects", head).split()
    shas = [s for s in shas if len(s) == 40]
    return [
        head,
        f"{head}^{{tree}}",
        *(f"{head}:{p}" for p in paths),
        *shas,
        "0" * 40,  # a well-formed id no object has
    ]


def test_loose_packed_and_missing_reads_match_git(tmp_path: Path) -> None:
    repo, refs = board_repo(tmp_path / "r", 7)
    head = refs.head()
    assert head is not None
    requests = requests_for(refs, head)
    loose = refs._batch(requests)
    assert loose == refs._cat_file(requests)
    assert sum(r is not None for r in loose) > 20  # blobs, trees and commits were found

    # The same board after git packs every object: nothing is loose any more.
    git(repo, "gc", "-q", "--prune=now")
    assert not any((repo / ".git" / "objects").glob("[0-9a-f][0-9a-f]/*"))
    assert refs._batch(requests) == loose

    # A board write after the pack: new loose objects on top of packed ones.
    store = open_board(repo)
    store.add("after the pack", Kind.CHORE)
    head2 = refs.head()
    assert head2 is not None and head2 != head
    mixed = requests_for(refs, head2)
    assert refs._batch(mixed) == refs._cat_file(mixed)


def test_a_big_tree_is_left_to_git_and_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, refs = board_repo(tmp_path / "r", 6)
    head = refs.head()
    assert head is not None
    requests = [r for r in requests_for(refs, head) if r != "0" * 40]  # all there, loose
    asked: list[list[str]] = []
    real = refs._cat_file

    def cat_file(wanted: list[str]) -> list[tuple[str, bytes] | None]:
        asked.append(wanted)
        return real(wanted)

    monkeypatch.setattr(refs, "_cat_file", cat_file)
    small = refs._batch(requests)
    assert asked == []  # all loose, all small
    monkeypatch.setattr(git_board, "_TREE_PARSE_MAX", 100)  # items/ is now "big"
    assert refs._batch(requests) == small
    assert asked and all(":items/" in r for r in asked[0] if ":" in r)


def test_a_board_in_use_is_read_and_written_without_starting_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = board_repo(tmp_path / "r", 4)
    store = open_board(repo)
    store.load()
    store.update("SD-3", to_code)  # the store learns the format and the user once
    started: list[list[str]] = []
    real = subprocess.run

    def run(args: list[str], *a: object, **k: object) -> object:
        started.append(list(args))
        return real(args, *a, **k)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "run", run)
    assert store.get("SD-4").title == "item 3"
    store.update("SD-2", to_code)
    assert store.get("SD-2").stage is Stage.CODE
    assert [a for a in started if a[0] == "git"] == []  # the ref moved by git's lock protocol


@pytest.fixture(scope="module")
def five_items(tmp_path_factory: pytest.TempPathFactory) -> GitBoardRefs:
    return board_repo(tmp_path_factory.mktemp("prop"), 5)[1]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    paths=st.lists(
        st.text(alphabet="abc/.-_SDmetajson0123456789", min_size=0, max_size=24), max_size=12
    )
)
def test_any_path_reads_as_git_reads_it(five_items: GitBoardRefs, paths: list[str]) -> None:
    head = five_items.head()
    assert head is not None
    requests = [f"{head}:{p}" for p in paths]
    assert five_items._batch(requests) == five_items._cat_file(requests)


def test_objects_read_once_are_kept_and_answers_do_not_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objects never change, so a board change that reads the same commit and trees
    for each path reads each from disk once; another writer's new head is read anew."""
    repo, refs = board_repo(tmp_path / "r", 5)
    head = refs.head()
    assert head is not None
    requests = [r for r in requests_for(refs, head) if r != "0" * 40]
    reads: list[str] = []
    real = git_board.git_files.read_loose

    def read_loose(objects: Path, sha: str, tree_limit: int | None = None):  # type: ignore[no-untyped-def]
        reads.append(sha)
        return real(objects, sha, tree_limit)

    monkeypatch.setattr(git_board.git_files, "read_loose", read_loose)
    first = refs._batch(requests)
    assert len(reads) == len(set(reads))  # nothing read twice, though requests share trees
    reads.clear()
    assert refs._batch(requests) == first and reads == []  # all kept
    open_board(repo).add("from another writer", Kind.CHORE)
    new = refs.head()
    assert new is not None and new != head
    assert refs.read(new, ["meta.json"]) != refs.read(head, ["meta.json"])  # read anew
