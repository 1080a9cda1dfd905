"""Cards and column titles as Rich ``Text``: pure functions, tested without an app."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.cells import cell_len
from rich.text import Text

from shipdeck.lifecycle.items import Item, Kind, RunState
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.text import escape_controls
from shipdeck.lifecycle.units import duration

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

STATE_ICON = {
    RunState.IDLE: ("·", "dim"),
    RunState.PASSED: ("✔", "green"),
    RunState.FAILED: ("✘", "bold red"),
    RunState.CANCELLED: ("⊘", "yellow"),
}
KIND_STYLE = {Kind.FEATURE: "cyan", Kind.BUG: "magenta", Kind.CHORE: "blue"}


def clean(text: str) -> str:
    """One line of plain text: control characters can never reach the terminal."""
    return escape_controls(text)


def state_icon(state: RunState, frame: int = 0) -> tuple[str, str]:
    if state is RunState.RUNNING:
        return SPINNER[frame % len(SPINNER)], "bold yellow"
    return STATE_ICON[state]


Word = tuple[str, str]  # text, Rich style


@dataclass(frozen=True)
class CardFacts:
    """What a card shows beyond its item, found outside the board (git, the journal).

    ``head``: the item branch's head commit while in Code (the item holds the base).
    ``env_version``: what runs on the item's environment now, and ``env_how`` how it
    got there ("deployed", "rolled back", "recovered"): a card whose release no longer
    runs says so. ``bake``: the environment's bake seconds, for the Operate countdown.
    """

    head: str | None = None
    env_version: str | None = None
    env_how: str | None = None
    bake: float | None = None


NO_FACTS = CardFacts()


def may_have_facts(item: Item) -> bool:
    """Whether ``item`` can have any: a branch head in Code, or an environment."""
    return bool(item.env or (item.stage is Stage.CODE and item.branch))


def _elapsed(item: Item, now: datetime | None) -> float | None:
    started = item.current.started_at
    if started is None:
        return None
    return ((now or datetime.now(UTC)) - started).total_seconds()


def card_words(
    item: Item, frame: int = 0, facts: CardFacts = NO_FACTS, now: datetime | None = None
) -> tuple[list[Word], str, list[Word]]:
    """A card's parts: the head's words, the title, the foot's words.

    The foot says what is true now: the branch head in Code, the time a run has
    taken (or, in Operate, the bake time left), test counts from Test on, and
    whether the item's release still runs on its environment.
    """
    state = item.current.state
    icon, icon_style = state_icon(state, frame)
    failed = state is RunState.FAILED
    # Failed cards stand out by their id badge and state; the title stays readable.
    head = [
        (item.id, "bold reverse red" if failed else "bold"),
        (item.kind.value, KIND_STYLE[item.kind]),
    ]
    if item.breaking:
        head.append(("!", "bold red"))
    label = "running" if state is RunState.RUNNING else state.value
    if state is RunState.RUNNING:
        elapsed = _elapsed(item, now)
        if item.stage is Stage.OPERATE and facts.bake is not None and elapsed is not None:
            label = f"baking {duration(facts.bake - elapsed, compact=True)} left"
        elif elapsed is not None:
            label = f"running {duration(elapsed, compact=True)}"
    foot = [(icon + label, icon_style if label != "idle" else "dim")]
    if state is RunState.RUNNING and item.current.step:
        foot.append((item.current.step.partition(" ")[0], "bold"))  # "2/3": how far
    if item.stage is Stage.CODE and facts.head:
        foot.append((facts.head[:7], "dim"))
    elif where := item.version or item.short_sha:
        foot.append((where, "dim"))
    tests = item.tests
    if tests is not None and item.stage.position >= Stage.TEST.position:
        foot.append((f"{tests.passed}✔", "green"))
        if tests.failed or tests.errors:
            foot.append((f"{tests.failed + tests.errors}✘", "bold red"))
    if item.env and item.stage.position >= Stage.DEPLOY.position:
        gone = facts.env_version is not None and facts.env_version != item.version
        foot.append((f"@{item.env}", "dim" if gone else "green"))
        if facts.env_how == "stopped":
            foot.append(("stopped", "yellow"))
        elif gone:
            how = "↶ to" if facts.env_how == "rolled back" else "now"  # fits a 14-cell card
            foot.append((f"{how} {facts.env_version}", "yellow"))
    if item.stage is Stage.OPERATE and state is RunState.PASSED:
        foot.append(("a→Monitor", "dim"))  # baked: the next key, said where it applies
    return head, clean(item.title), foot


def card_text(
    item: Item,
    *,
    frame: int = 0,
    width: int = 24,
    facts: CardFacts = NO_FACTS,
    now: datetime | None = None,
) -> Text:
    """A card: id and kind; the title in at most two lines; the stage state with
    sha/version and env. Every line fits ``width`` cells already, so the board
    never has to wrap a card."""
    width = max(width, 4)
    head, title, foot = card_words(item, frame, facts, now)
    body = [Text(line) for line in title_lines(title, width)]
    for line in body:  # wide characters: textwrap counts characters, not cells
        line.truncate(width, overflow="ellipsis")
    foot_words = [Text(text, style) for text, style in foot]
    icon = foot_words[0]  # the icon in its colour, the label dim when idle
    icon.stylize(state_icon(item.current.state, frame)[1], 0, 1)
    return Text("\n").join(
        [*pack([Text(t, s) for t, s in head], width), *body, *pack(foot_words, width)]
    )


def card_height(
    item: Item, width: int, facts: CardFacts = NO_FACTS, now: datetime | None = None
) -> int:
    """How many lines :func:`card_text` gives, without building it (cheap: a column
    needs every card's height above the cursor, but draws only what is in view)."""
    width = max(width, 4)
    head, title, foot = card_words(item, 0, facts, now)
    return pack_count(head, width) + len(title_lines(title, width)) + pack_count(foot, width)


def pack_count(words: list[Word], width: int) -> int:
    """How many lines :func:`pack` puts ``words`` on."""
    lines, used = 0, 0
    for text, _ in words:
        size = min(len(text), width)
        if lines and used + 1 + size <= width:
            used += 1 + size
        else:
            lines, used = lines + 1, size
    return lines


def pack(words: list[Text], width: int) -> list[Text]:
    """``words`` on as few lines of ``width`` cells as they fit, a space apart;
    a word wider than a line is cut with '…'."""
    lines: list[Text] = []
    for word in words:
        word.truncate(width, overflow="ellipsis")
        if lines and lines[-1].cell_len + 1 + word.cell_len <= width:
            lines[-1].append(" ")
        else:
            lines.append(Text())  # no base style: each word keeps its own
        lines[-1].append_text(word)
    return lines


def title_lines(title: str, width: int, most: int = 2) -> list[str]:
    """``title`` wrapped at words into at most ``most`` lines, the last cut with '…'."""
    lines = textwrap.wrap(title, width, break_long_words=True, break_on_hyphens=False) or [""]
    if len(lines) > most:
        rest = " ".join(lines[most - 1 :])
        lines = [*lines[: most - 1], rest[: width - 1] + "…"]
    return lines


def column_title(stage: Stage, count: int, total: int | None, width: int) -> str:
    """`` Plan 40 ``; `` Plan 3/40 `` while a filter shows 3 of its 40 cards (an empty
    stage stays ``Build 0``), in at most ``width`` cells: the name is shortened
    (``Rel… 0/666``) or left out before a number is, and a number is never cut (cut
    to the width, "Release 0/666" read as "Release 0/6")."""
    number = f"{count}" if not total else f"{count}/{total}"
    label = stage.label
    full = f" {label} {number} "
    if cell_len(full) <= width:  # the usual case, at every repaint: nothing else made
        return full
    shortened = (f" {label[:n]}… {number}" for n in range(len(label) - 1, 0, -1))
    return fitting([f" {label} {number}", *shortened, f" {number}", number, f"{count}"], width)


def more_note(above: int, below: int, width: int) -> str:
    """`` ↓ 12 more `` under a column's box (or ``↑`` when its last cards show), in at
    most ``width`` cells; shorter forms before a cut number."""
    if not (above or below):
        return ""
    arrow, n = ("↓", below) if below else ("↑", above)
    full = f" {arrow} {n} more "
    if cell_len(full) <= width:  # the usual case: nothing else made
        return full
    return fitting([f" {arrow} {n} more", f" {arrow} {n} ", f"{arrow}{n}"], width)


def fitting(forms: list[str], width: int) -> str:
    """The first of ``forms`` (the fullest first) that fits in ``width`` cells; "" if none."""
    return next((form for form in forms if cell_len(form) <= width), "")
