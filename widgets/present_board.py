"""Cards and column titles as Rich ``Text``: pure functions, tested without an app."""

from __future__ import annotations

import textwrap

from rich.text import Text

from lifecycle.items import Item, Kind, RunState
from lifecycle.stages import Stage
from lifecycle.text import escape_controls

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


def card_words(item: Item, frame: int = 0) -> tuple[list[Word], str, list[Word]]:
    """A card's parts: the head's words, the title, the foot's words."""
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
    foot = [(icon + label, icon_style if label != "idle" else "dim")]
    where = item.version or item.short_sha
    if where:
        foot.append((where, "dim"))
    if item.env and item.stage.position >= Stage.DEPLOY.position:
        foot.append((f"@{item.env}", "green"))
    return head, clean(item.title), foot


def card_text(item: Item, *, frame: int = 0, width: int = 24) -> Text:
    """A card: id and kind; the title in at most two lines; the stage state with
    sha/version and env. Every line fits ``width`` cells already, so the board
    never has to wrap a card."""
    width = max(width, 4)
    head, title, foot = card_words(item, frame)
    body = [Text(line) for line in title_lines(title, width)]
    for line in body:  # wide characters: textwrap counts characters, not cells
        line.truncate(width, overflow="ellipsis")
    foot_words = [Text(text, style) for text, style in foot]
    icon = foot_words[0]  # the icon in its colour, the label dim when idle
    icon.stylize(state_icon(item.current.state, frame)[1], 0, 1)
    return Text("\n").join(
        [*pack([Text(t, s) for t, s in head], width), *body, *pack(foot_words, width)]
    )


def card_height(item: Item, width: int) -> int:
    """How many lines :func:`card_text` gives, without building it (cheap: a column
    needs every card's height above the cursor, but draws only what is in view)."""
    width = max(width, 4)
    head, title, foot = card_words(item)
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


def column_title(stage: Stage, count: int) -> str:
    return f"{stage.label} {count}"
