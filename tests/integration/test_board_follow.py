"""The open board follows a board other processes change (issue #15's incremental
reloads), whatever they do and in whatever order.

A generated case is a sequence of what people and shipdeck do to one real
repository's board: three writers (the CLI, another board, the open board's own
engine, which reads its own commits' changes without asking git) add items, move them,
start and end runs, retitle, archive and bring back, add sixty to ninety at once
(past the point where a reload reads the whole board), the board's ref moved back to an
earlier commit (a sync, a user's ``git update-ref``), the shared index deleted or
written over. A reader holds a :class:`CardBook` as the app does
(``BoardStore.cards`` with the stamp it knows, then ``lifecycle.store.follow``); after
each of its reloads, what it holds and reads must be the board as git has it, read
from the blobs by a store that never saw the index.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from shipdeck.backends.git_board import open_board
from shipdeck.lifecycle.board_index import CardBook, CardFields
from shipdeck.lifecycle.items import Item, Kind, RunState, StageState
from shipdeck.lifecycle.stages import ORDER, Stage
from shipdeck.lifecycle.store import INDEX_FILE, BoardStore, follow
from tests.helpers import git, git_repo

pytestmark = pytest.mark.slow  # real git repositories, a few hundred commits a case

WHO = st.integers(0, 2)  # the CLI, another board, the open board itself
PICK = st.integers(0, 10**6)  # which item, modulo how many there are
# mostly one item; one add in ten brings 60-90 at once, past where a reload reads all
MANY = st.integers(0, 9).flatmap(lambda n: st.integers(60, 90) if n == 0 else st.just(1))
TITLES = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(str.strip)


def truth(repo: Path) -> list[Item]:
    """The active items as git has them: a new store, its blobs, no index."""
    store = open_board(repo)
    return store._board_or_empty(store.stamp()).active()


class FollowTheBoard(RuleBasedStateMachine):
    repo: Path

    @initialize()
    def start(self) -> None:
        self.repo = git_repo(Path(tempfile.mkdtemp(prefix="follow-")))
        self.reader: BoardStore = open_board(self.repo)
        # the CLI, another board, and the open board's own engine (it knows what it wrote)
        self.writers = [open_board(self.repo), open_board(self.repo), self.reader]
        self.book: CardBook | None = None
        self.known: str | None = None
        self.reload()

    def teardown(self) -> None:
        if hasattr(self, "repo"):
            shutil.rmtree(self.repo, ignore_errors=True)

    def _pick(self, pick: int) -> str | None:
        ids = [i.id for i in truth(self.repo)]
        return ids[pick % len(ids)] if ids else None

    def _update(self, who: int, pick: int, change: Callable[[Item], None]) -> None:
        item_id = self._pick(pick)
        if item_id is not None:
            self.writers[who].update(item_id, change)

    def _seen(self, seen: bool) -> None:
        """The open board's poller noticed the write before the next one (or not)."""
        if seen:
            self.reload()

    # --- what the writers do -----------------------------------------------------------
    # ``seen``: the reader reloads right after (else writes pile up between its reloads)

    @rule(seen=st.booleans(), who=WHO, title=TITLES, kind=st.sampled_from(list(Kind)), many=MANY)
    def add(self, seen: bool, who: int, title: str, kind: Kind, many: int) -> None:
        """One item (CLI, a board's form), or many in one commit (an import, a sync)."""
        if many == 1:
            self.writers[who].add(title, kind)
        else:
            with self.writers[who].edit() as board:
                for n in range(many):
                    board.add(f"{title} {n}", kind=kind)
        self._seen(seen)

    @rule(seen=st.booleans(), who=WHO, pick=PICK, stage=st.sampled_from(ORDER))
    def move(self, seen: bool, who: int, pick: int, stage: Stage) -> None:
        self._update(who, pick, lambda i: setattr(i, "stage", stage))
        self._seen(seen)

    @rule(seen=st.booleans(), who=WHO, pick=PICK, state=st.sampled_from(list(RunState)))
    def run_state(self, seen: bool, who: int, pick: int, state: RunState) -> None:
        self._update(who, pick, lambda i: i.states.__setitem__(i.stage, StageState(state)))
        self._seen(seen)

    @rule(seen=st.booleans(), who=WHO, pick=PICK, title=TITLES)
    def retitle(self, seen: bool, who: int, pick: int, title: str) -> None:
        self._update(who, pick, lambda i: setattr(i, "title", title))
        self._seen(seen)

    @rule(seen=st.booleans(), who=WHO, pick=PICK, archived=st.booleans())
    def archive(self, seen: bool, who: int, pick: int, archived: bool) -> None:
        """Archive an active item, or bring an archived one back (an id below the last
        one returns to the board)."""
        with self.writers[who].edit() as board:
            some = [i for i in board.items if i.archived is not archived]
            if some:
                some[pick % len(some)].archived = archived
        self._seen(seen)

    @rule(who=WHO, pick=PICK)
    def archived_by_mistake(self, who: int, pick: int) -> None:
        """Archived, seen gone, brought back: an id below the last returns to the board."""
        item_id = self._pick(pick)
        if item_id is not None:
            self.writers[who].update(item_id, lambda i: setattr(i, "archived", True))
            self.reload()
            self.writers[who].update(item_id, lambda i: setattr(i, "archived", False))
            self._seen(True)

    @rule(back=st.integers(1, 5))
    def ref_moved_back(self, back: int) -> None:
        ref = self.reader.refs.ref
        if self.reader.stamp() is None:
            return  # nothing written yet: no ref
        count = int(git(self.repo, "rev-list", "--count", ref))
        if count > back:
            older = git(self.repo, "rev-parse", f"{ref}~{back}")
            git(self.repo, "update-ref", ref, older)

    @rule(garbage=st.booleans())
    def index_lost(self, garbage: bool) -> None:
        path = self.reader.paths.state / INDEX_FILE
        for suffix in ("-wal", "-shm", ""):
            if os.path.exists(f"{path}{suffix}"):
                os.unlink(f"{path}{suffix}")
        if garbage:
            path.write_bytes(b"not a database, written over by someone\n" * 40)

    # --- the reader: the open board ----------------------------------------------------

    @rule()
    def reload(self) -> None:
        read = self.reader.cards(self.known if self.book is not None else None)
        self.book, _ = follow(self.book, read, self.reader.book)
        self.known = read.stamp
        self.check()

    @rule(pick=st.integers(0, 10**6))
    def look_at_a_card(self, pick: int) -> None:
        """A card drawn (its summary read from the index) between reloads."""
        book = self.book
        if book is not None and book.stages:
            ids = list(book.stages)
            with suppress(KeyError):  # gone from the index since the reload: the next drops it
                book[ids[pick % len(ids)]]

    def check(self) -> None:
        book = self.book
        assert book is not None
        items = truth(self.repo)
        assert list(book.stages.items()) == [(i.id, i.stage) for i in items]
        assert book.running == {i.id for i in items if i.running}
        shown = {c.id: c for c in book.stream(list(book.stages))}
        for item in items:
            card = shown[item.id]
            assert (card.title, card.kind, card.stage, card.current.state) == (
                item.title,
                item.kind,
                item.stage,
                item.current.state,
            ), item.id
            assert book[item.id].title == item.title  # the held summary, not a stale one
        assert sorted(book.fields()) == sorted(CardFields.of(i) for i in items)


FollowTheBoard.TestCase.settings = settings(
    max_examples=int(os.environ.get("SHIPDECK_FOLLOW_EXAMPLES", "100")),
    stateful_step_count=25,
    deadline=None,
    derandomize=os.environ.get("SHIPDECK_HYPOTHESIS_PROFILE", "ci") == "ci",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_the_board_follows_what_other_processes_do = pytest.mark.timeout(900)(  # shrinking: minutes
    FollowTheBoard.TestCase
)
