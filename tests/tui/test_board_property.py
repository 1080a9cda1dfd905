"""The board survives whatever it is shown and whatever is pressed (issue #11).

A generated case is a board (0 to 500 items, any stage and state, archived and
running ones, wide, combining and right-to-left titles), a terminal size, a
theme, NO_COLOR on or off, and a sequence of key presses, resizes and theme
changes. The real app runs it under Pilot on an in-memory board; the case fails
on any exception, on any frame where the board widget is not on screen, and on
any board line that is not exactly as wide as the board or holds a segment with
no Style (Textual's NO_COLOR filter crashes on those).

Keys come from the app's, the board screen's and the board widget's BINDINGS,
minus :data:`EXCLUDED`. ``benchmarks/board_property.py`` runs the same cases
longer, on new random cases each run. Profiles: ``ci`` (the default: derandomized, so
CI runs the same 300 generated cases every time and a failure reproduces; no example
database; a failure prints a ``@reproduce_failure`` blob) and ``dev`` (random cases,
keeps failing examples in .hypothesis/), picked with ``SHIPDECK_HYPOTHESIS_PROFILE``.
"""

from __future__ import annotations

import asyncio
import os
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.color import Color
from textual.geometry import Region
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.theme import BUILTIN_THEMES
from textual.worker import Worker, WorkerState

from shipdeck.lifecycle.board import Board
from shipdeck.lifecycle.board_index import CardBook
from shipdeck.lifecycle.items import Item, Kind, RunState, StageState
from shipdeck.lifecycle.stages import ORDER, Stage
from shipdeck.lifecycle.store import CardsRead
from shipdeck.project.repo import Project
from shipdeck.tui import app as tui_app
from shipdeck.tui import settings as tui_settings
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.board_screen import BoardScreen
from shipdeck.widgets.board.columns import RULER, BoardColumns

pytestmark = pytest.mark.slow  # property tests of the board, and the app under many terminals

# --- the keys -----------------------------------------------------------------------------

# Keys a case never presses, and why. Every other key bound on the app, the board
# screen or the board widget is drawn. Checked against the BINDINGS below, so a
# renamed or removed binding shows up here.
EXCLUDED: dict[str, str] = {
    "q": "quits the app",
    "ctrl+p": "the command palette runs any command on enter: quit, deploy, roll back",
    "enter": "opens the details screen: it replaces the board and runs git (engine.vcs.log)",
    "a": "advance starts a real stage run (processes, git, a deploy)",
    "b": "back rewrites the item through the engine and git",
    "r": "re-run starts a real stage run",
    "x": "cancel acts on real runs",
    "d": "deploy starts a real deploy",
    "R": "rollback starts a real rollback",
}


def bound_keys() -> list[str]:
    """Every key of the app's, the board screen's and the board widget's bindings."""
    keys: list[str] = []
    for owner in (ShipdeckApp, BoardScreen, BoardColumns):
        for binding in owner.BINDINGS:
            key = binding.key if isinstance(binding, Binding) else binding[0]
            keys += [k.strip() for k in key.split(",")]
    return sorted(set(keys))


KEYS = [k for k in bound_keys() if k not in EXCLUDED]
THEMES = sorted(BUILTIN_THEMES)
LIGHT_THEMES = sorted(name for name, theme in BUILTIN_THEMES.items() if not theme.dark)

# --- the boards ---------------------------------------------------------------------------

T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
STATES = list(RunState)
KINDS = list(Kind)

NASTY_TITLES = [
    "発表の準備をする長いタイトル 🚀🚀🚀 and more words",
    "全角スペース　と　半角",
    "e\u0301\u0301\u0301 combining a\u0308\u0323 ",
    "שלום עולם: תיקון באג בעגלה",
    "مرحبا بالعالم إصلاح السلة",
    "mixed \u202eright-to-left\u202c override \u2066isolate\u2069",
    "zero\u200bwidth\u200djoiner 👩\u200d💻",
    "\x1b[31mred\x1b[0m\ttab\nnewline\rreturn",
    "x" * 300,
    "w" * 2 + "\u0301" * 40,
    "한국어 제목 " * 10,
]
ALPHABET = sorted(set("".join(NASTY_TITLES) + "abc XYZ-_/:.0123456789"))
TITLES = st.one_of(
    st.sampled_from(NASTY_TITLES),
    st.text(st.sampled_from(ALPHABET), min_size=1, max_size=120),
    st.text(min_size=1, max_size=60),
).filter(lambda t: bool(t.strip()))  # a blank title is refused before any board holds it
LABELS = st.text(min_size=1, max_size=24)  # versions and environment names


@st.composite
def boards(draw: st.DrawFn) -> list[Item]:
    """0 to 500 items. Each item is one drawn number whose bits pick its stage, state,
    kind and the rest: big boards stay cheap to draw and shrink towards Plan, idle."""
    count = draw(st.one_of(st.integers(0, 12), st.integers(0, 500)))
    titles = draw(st.lists(TITLES, min_size=1, max_size=6))
    labels = draw(st.lists(LABELS, min_size=1, max_size=3))
    codes = draw(st.lists(st.integers(0, 2**23 - 1), min_size=count, max_size=count))
    return [make_item(n + 1, code, titles, labels) for n, code in enumerate(codes)]


def make_item(number: int, code: int, titles: list[str], labels: list[str]) -> Item:
    """Item SD-``number`` as ``code`` says. Bits 0-2 stage, 3-5 state, 6-8 title,
    9-10 kind, 11 breaking, 12-14 version, 15-17 environment, 18 sha, 19 a stage state
    even when idle, 20-22 archived (all three set)."""
    stage = ORDER[code & 7]
    state = STATES[(code >> 3) % len(STATES)]
    item_id = f"SD-{number}"
    states: dict[Stage, StageState] = {}
    if state is not RunState.IDLE or code >> 19 & 1:
        start = T0 + timedelta(minutes=number)
        end = None if state is RunState.RUNNING else start + timedelta(seconds=5)
        run_id = f"{item_id}-{stage.value}-1"
        states[stage] = StageState(state, start, end, run_id, "3f2c1a9abcdef0123", None)
    return Item(
        id=item_id,
        title=titles[(code >> 6) % len(titles)],
        kind=KINDS[(code >> 9) % len(KINDS)],
        breaking=bool(code >> 11 & 1),
        stage=stage,
        states=states,
        version=labels[(code >> 12) % len(labels)] if code >> 14 & 1 else None,
        env=labels[(code >> 15) % len(labels)] if code >> 17 & 1 else None,
        sha="9a8b7c6d5e4f" if code >> 18 & 1 else None,
        archived=(code >> 20) & 7 == 7,
        created_at=T0,
        updated_at=T0,
        uid=f"{number:016x}",
    )


# --- the cases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Press:
    key: str


@dataclass(frozen=True)
class Resize:
    width: int
    height: int


@dataclass(frozen=True)
class Theme:
    name: str


Step = Press | Resize | Theme


@dataclass
class Case:
    items: list[Item] = field(repr=False)
    size: tuple[int, int]
    theme: str
    no_color: bool
    steps: list[Step]

    def __repr__(self) -> str:
        """Short enough to read in a failure report; print_blob reproduces the items."""
        stages = {s.value: sum(1 for i in self.items if i.stage is s) for s in ORDER}
        return (
            f"Case(items={len(self.items)} {stages}, size={self.size}, theme={self.theme!r}, "
            f"no_color={self.no_color}, steps={self.steps!r})"
        )


SIZES = st.tuples(st.integers(20, 300), st.integers(8, 100))
STEPS = st.one_of(
    st.sampled_from(KEYS).map(Press),
    st.sampled_from(KEYS).map(Press),
    st.sampled_from(KEYS).map(Press),  # keys three times as often as resizes and themes
    SIZES.map(lambda s: Resize(*s)),
    st.sampled_from(THEMES).map(Theme),
)
CASES = st.builds(
    Case,
    items=boards(),
    size=SIZES,
    theme=st.one_of(st.sampled_from(LIGHT_THEMES), st.sampled_from(THEMES)),
    no_color=st.booleans(),
    steps=st.lists(STEPS, max_size=10),
)

# --- the app on an in-memory board --------------------------------------------------------


class MemoryStore:
    """What the app asks of a board store, on a list of items: no git, no files."""

    def __init__(self, items: list[Item]) -> None:
        self.board = Board(next_id=len(items) + 1, items=items)
        self.notices: list[str] = []
        self.scrub: Callable[[Any], Any] | None = None
        self.version = 0

    def stamp(self) -> str:
        return str(self.version)

    def changed_since(self, stamp: str | None) -> bool:
        return stamp != self.stamp()

    def load(self) -> Board:
        return self.board

    def cards(self, known: str | None = None) -> CardsRead:
        """The whole board at every read: the app draws every card again."""
        board = [(i.number, i.stage.value, i.running) for i in self.board.active()]
        return CardsRead(self.stamp(), known, board)

    def book(self) -> CardBook:
        def read(ids: list[str]) -> dict[str, Item]:
            wanted = set(ids)
            return {i.id: i for i in self.board.items if i.id in wanted}

        return CardBook(read)

    def get(self, item_id: str) -> Item:
        return self.board.get(item_id)

    def add(self, title: str, kind: Kind = Kind.FEATURE, body: str = "", breaking: bool = False,
            links: Any = (), **_: Any) -> Item:  # fmt: skip
        self.version += 1
        return self.board.add(title, kind, body, breaking, links)

    def update(self, item_id: str, fn: Callable[[Item], object], **_: Any) -> Item:
        item = self.board.get(item_id)
        fn(item)
        self.version += 1
        return item


class PropertyApp(ShipdeckApp):
    """The app, recording worker errors (the app turns them into notifications)."""

    CSS_PATH = str(Path(tui_app.__file__).with_name("app.tcss"))  # not beside this file
    worker_errors: list[BaseException]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.worker_errors.append(event.worker.error)
        super().on_worker_state_changed(event)


@contextmanager
def no_color(on: bool) -> Iterator[None]:
    """NO_COLOR as the app reads it: from the environment, in ``App.__init__``."""
    before = os.environ.pop("NO_COLOR", None)
    if on:
        os.environ["NO_COLOR"] = "1"
    try:
        yield
    finally:
        os.environ.pop("NO_COLOR", None)
        if before is not None:
            os.environ["NO_COLOR"] = before


def make_app(
    root: Path, items: list[Item], *, no_colour: bool = False, theme: str = "textual-dark"
) -> PropertyApp:
    """The app on ``items``, in ``theme`` from its first frame. Its engine is real, but
    settles no run: the running cards belong to a live shipdeck elsewhere, as they do
    when two are open. The theme is saved where the caller pointed XDG_CONFIG_HOME."""
    from shipdeck.project.wiring import build_engine

    assert os.environ.get("XDG_CONFIG_HOME"), "the theme would be saved in the user's settings"
    tui_settings.save({"theme": theme})  # what the app starts in, not the last case's
    project = Project(root)
    project.__dict__["store"] = MemoryStore(items)  # the cached_property, filled in
    engine = build_engine(project)
    engine.recover = lambda: []  # type: ignore[method-assign]
    with no_color(no_colour):
        app = PropertyApp(project, engine)
    app.worker_errors = []
    return app


CHARACTERS = {"question_mark": "?", "escape": "\x1b", "slash": "/"}  # "/" opens the filter prompt


async def settle(pilot: Pilot[Any]) -> None:
    """Until the app has handled what it was sent and drawn a frame of it. Three rounds
    of the screen's queues (a key goes app -> focused widget -> the action's messages),
    no idle waits: ``pilot.press`` waits twice 20 ms or more per key."""
    for _ in range(2):
        await pilot._wait_for_screen()
    await pilot.pause(0)  # the third round, then the frame


async def press(pilot: Pilot[Any], key: str) -> None:
    """The key as ``pilot.press`` sends it, then :func:`settle`."""
    app = pilot.app
    character = CHARACTERS.get(key, key if len(key) == 1 else None)
    event = events.Key(key, character)
    event.set_sender(app)
    app.post_message(event)
    await settle(pilot)


async def step(pilot: Pilot[Any], app: ShipdeckApp, what: Step) -> None:
    if isinstance(what, Press):
        await press(pilot, what.key)
    elif isinstance(what, Resize):
        await pilot.resize_terminal(what.width, what.height)
        await settle(pilot)
    else:
        app.theme = what.name
        await settle(pilot)


# A short terminal shrinks the board and the panes (tui/app.tcss): the screen never
# scrolls, so focusing a pane (L, m, v, o) cannot scroll the board out of view.
# test_a_short_terminal_keeps_the_board_in_view_with_a_pane_focused is the
# regression test; nothing is tolerated here any more.
PANES_SCROLL_THE_BOARD_AWAY = False


def scrolled_by_the_panes(app: ShipdeckApp) -> bool:
    """The board screen is taller than the terminal and scrolled down (only a focused
    pane scrolls it: nothing else moves the screen)."""
    screen = app.board
    return screen.scroll_offset.y > 0 and screen.virtual_size.height > app.size.height


def check_frame(app: PropertyApp, case: object) -> None:
    """The board is on screen (unless zoomed away) and every line of it is whole."""
    if app._exception is not None:
        raise app._exception
    assert not app.worker_errors, f"{case!r}: worker failed: {app.worker_errors[0]!r}"
    screen = app.screen
    board_screen = app.board
    assert screen is board_screen or isinstance(screen, ModalScreen), f"{case!r}: on {screen}"
    columns = board_screen.board_columns
    width, height = app.size
    if board_screen.has_class("-zoomed"):
        assert not columns.display
        return
    # On a short terminal the screen scrolls (a scrollbar beside the board): the board
    # must still show its whole width, and its top: the ruler and the column titles.
    region = columns.region
    assert columns.display and columns.size.width >= width - 2, f"{case!r}: {region}"
    top = Region(region.x, region.y, region.width, min(RULER + 1, region.height))
    if not (PANES_SCROLL_THE_BOARD_AWAY and scrolled_by_the_panes(app)):
        assert Region(0, 0, width, height).contains_region(top), (
            f"{case!r}: board at {region} on a {width}x{height} screen, focus on {app.focused}"
        )
    drawn = [columns.render_line(y) for y in range(columns.size.height)]
    for y, strip in enumerate(drawn):
        cells = sum(segment.cell_length for segment in strip)
        assert cells == columns.size.width, f"{case!r}: line {y} is {cells} cells"
        assert all(s.style is not None for s in strip), f"{case!r}: line {y} has no style"
    # A column's lines are kept until it is repainted: what a repaint of any line would
    # draw now is what drawing it afresh draws (nothing changed a column unannounced).
    columns._drawn.clear()
    for y, strip in enumerate(drawn):
        fresh = columns.render_line(y)
        stale = [(a, b) for a, b in zip(strip, fresh, strict=False) if a != b]
        assert not stale and len(strip) == len(fresh), f"{case!r}: line {y} stale: {stale!r}"


class CaseFailed(Exception):
    """A case failed; the message holds the original traceback. One exception raised
    from one place, with no context: what the app raised can surface at different
    points of a replay, and Hypothesis calls that flaky."""


async def run_case(root: Path, case: Case) -> None:
    """Run one case; raises :class:`CaseFailed` if the app raised or a frame was wrong."""
    failure: BaseException | None = None
    try:
        await play(root, case)
    except Exception as exc:  # noqa: BLE001 - re-raised below, without its context
        failure = exc
    if failure is not None:
        trace = "".join(traceback.format_exception(failure))
        raise CaseFailed(f"{case!r}\n{trace}")


async def play(root: Path, case: Case) -> None:
    """Run one case, raising what the app raised or AssertionError for a wrong frame."""
    app = make_app(root, case.items, no_colour=case.no_color, theme=case.theme)
    async with app.run_test(size=case.size) as pilot:
        await settle(pilot)
        check_frame(app, case)
        for what in case.steps:
            await step(pilot, app, what)
            check_frame(app, case)
    if app._exception is not None:
        raise app._exception


# --- profiles -----------------------------------------------------------------------------

SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,  # the same 300 cases each run: a red CI reproduces exactly
    print_blob=True,
    suppress_health_check=SUPPRESSED,
)
settings.register_profile(
    "dev", max_examples=300, deadline=None, print_blob=True, suppress_health_check=SUPPRESSED
)
PROFILE = settings.get_profile(os.environ.get("SHIPDECK_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="module")
def root(static_root: Path) -> Path:
    """One repository for every case (its config, journal and one run log); the board
    itself is each case's own, in memory."""
    return static_root


@pytest.mark.slow
@pytest.mark.timeout(900)  # 300 cases take about 3 minutes here; shrinking a failure, up to 5 more
@settings(PROFILE)
@given(case=CASES)
def test_the_board_survives_any_board_size_theme_and_keys(root: Path, case: Case) -> None:
    asyncio.run(run_case(root, case))


def test_the_excluded_keys_are_bound() -> None:
    """A key renamed in BINDINGS must not slip out of EXCLUDED into the drawn keys."""
    assert set(EXCLUDED) <= set(bound_keys())
    assert {"j", "k", "h", "l", "escape", "question_mark", "n", "e", "z"} <= set(KEYS)


# --- named regressions --------------------------------------------------------------------


def the_demo_board() -> list[Item]:
    from tests.tui.static_board import items

    return items()


async def test_empty_plan_at_start(root: Path) -> None:
    """Plan empty, cards elsewhere: the board started with an IndexError here."""
    board = [i for i in the_demo_board() if i.stage is not Stage.PLAN]
    case = Case(board, (120, 40), "textual-dark", False, [Press("h"), Press("l")])
    await run_case(root, case)
    no_items = Case([], (120, 40), "textual-dark", False, [Press("l"), Press("end")])
    await run_case(root, no_items)


async def test_wider_terminal_while_slid_right(root: Path) -> None:
    """Slid to Monitor on a narrow terminal, then widened: the window of columns
    pointed past the last column (IndexError in ``_columns_shown``)."""
    app = make_app(root, the_demo_board())
    async with app.run_test(size=(40, 24)) as pilot:
        await pilot.pause()
        for _ in range(7):
            await pilot.press("l")
        columns = app.board.board_columns
        assert columns.current.stage is Stage.MONITOR and columns.first_shown > 0
        await pilot.resize_terminal(200, 40)
        await pilot.pause()
        check_frame(app, "widened")
        titles = columns.render_line(2).text
        assert "Plan" in titles and "Monitor" in titles  # all eight fit now
        await pilot.press("h")
        check_frame(app, "widened, then h")


async def test_a_short_terminal_keeps_the_board_in_view_with_a_pane_focused(root: Path) -> None:
    """100x12, L: the log pane takes the focus and the screen scrolls the board away."""
    global PANES_SCROLL_THE_BOARD_AWAY
    app = make_app(root, the_demo_board())
    async with app.run_test(size=(100, 12)) as pilot:
        await pilot.press("L")
        await pilot.pause()
        tolerated, PANES_SCROLL_THE_BOARD_AWAY = PANES_SCROLL_THE_BOARD_AWAY, False
        try:
            check_frame(app, "100x12, L")
        finally:
            PANES_SCROLL_THE_BOARD_AWAY = tolerated


async def test_no_color_draws_monochrome(root: Path) -> None:
    """NO_COLOR=1: every board line goes through Textual's monochrome filter (it
    crashed on segments without a Style) and comes out in greys only."""
    app = make_app(root, the_demo_board(), no_colour=True)
    assert app.no_color
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l", "L", "m", "v", "o")
        await pilot.pause()
        check_frame(app, "NO_COLOR")
        columns = app.board.board_columns
        strips = columns.render_lines(Region(0, 0, *columns.size))  # through the filters
        colours: set[Color] = set()
        for strip in strips:
            for segment in strip:
                assert isinstance(segment, Segment) and segment.style is not None
                for colour in (segment.style.color, segment.style.bgcolor):
                    if colour is not None:
                        colours.add(Color.from_rich_color(colour))
        assert len(colours) > 1
        assert all(c.r == c.g == c.b for c in colours), colours
    if app._exception is not None:
        raise app._exception


@pytest.mark.parametrize("no_colour", [False, True])
async def test_an_ansi_theme_under_a_modal_screen(root: Path, no_colour: bool) -> None:
    """The generator's case, shrunk: ansi-light, then `e` (the edit form over the board).
    Textual dims a colour against the background's RGB, which an ANSI theme's terminal
    default lacks; the board's dim card words crashed the app."""
    app = make_app(root, the_demo_board(), no_colour=no_colour)
    async with app.run_test(size=(105, 40)) as pilot:
        app.theme = "ansi-light"
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause(0.3)
        app.theme = "gruvbox"
        await pilot.pause()
    if app._exception is not None:
        raise app._exception
