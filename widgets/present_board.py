"""Cards and column titles as Rich ``Text``: pure functions, tested without an app."""

from __future__ import annotations

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


def card_text(item: Item, *, frame: int = 0, width: int = 24) -> Text:
    """A card: id and kind; the title; the stage state with sha/version and env."""
    state = item.current.state
    icon, icon_style = state_icon(state, frame)
    failed = state is RunState.FAILED
    head = Text(no_wrap=True, overflow="ellipsis")
    head.append(item.id, "bold reverse red" if failed else "bold")
    head.append(" ")
    head.append(item.kind.value, KIND_STYLE[item.kind])
    if item.breaking:
        head.append(" !", "bold red")
    title = clean(item.title)
    if len(title) > 2 * width:
        title = title[: 2 * width - 1] + "…"
    body = Text(title)  # failed cards stand out by their id badge and state, readable on the cursor
    foot = Text(no_wrap=True, overflow="ellipsis")
    foot.append(icon, icon_style)
    label = state.value
    if state is RunState.RUNNING:
        label = "running"
    foot.append(f" {label}", icon_style if state is not RunState.IDLE else "dim")
    where = item.version or item.short_sha
    if where:
        foot.append(f" {where}", "dim")
    if item.env and item.stage.position >= Stage.DEPLOY.position:
        foot.append(f" @{item.env}", "green")
    return Text("\n").join([head, body, foot])


def column_title(stage: Stage, count: int) -> str:
    return f"{stage.label} {count}"
