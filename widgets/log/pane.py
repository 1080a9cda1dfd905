"""What the app mounts for logs: a ``LogView``, a one-line prompt and a status line.

The view does the work; the pane adds what needs typing (a search, a filter, a file
to save to) and says what state the view is in (following or paused and how many
lines arrived since, matches, filter, wrap), so the user never wonders why the log
stopped moving.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import var
from textual.widget import Widget

from shipdeck.lifecycle.lines import Line
from shipdeck.lifecycle.units import counted
from shipdeck.widgets.component_style import component_style
from shipdeck.widgets.log import ansi
from shipdeck.widgets.log.lines import LogStatus
from shipdeck.widgets.log.view import LogView

if TYPE_CHECKING:
    from textual.widgets import Input

Styles = Mapping[str, Style | str]
STATUS_STYLES = ("following", "paused", "dim", "note")
PROMPTS = {
    "search": ("/", "search (regex, smart case; empty clears)"),
    "filter": ("&", "show only lines matching (regex; empty shows all)"),
    "save": ("save to ", "file to save the whole log to"),
}


# What a narrow status line gives up, in this order, before what answers the user's
# last search or filter: the on-flags, the "(f/end)" hint, "N of", the line count.
_SHORTER = ("flags", "hint", "of", "lines")


def status_text(
    status: LogStatus, message: str = "", styles: Styles | None = None, width: int | None = None
) -> Text:
    """The status line for ``status``, in ``width`` cells if given: pure, so it is
    tested without an app. A narrow pane (the details screen's, half of 120 columns)
    cut "/token: 1 line" off the end; the counts and hints go first now."""
    text = _status_text(status, message, styles, set())
    dropped: set[str] = set()
    for part in _SHORTER:
        if width is None or text.cell_len <= width:
            break
        dropped.add(part)
        text = _status_text(status, message, styles, dropped)
    return text


def _status_text(status: LogStatus, message: str, styles: Styles | None, dropped: set[str]) -> Text:
    style = (styles or {}).get
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    if status.following:
        text.append("● follow", style("following", "green"))
    else:
        text.append("‖ paused", style("paused", "bold yellow"))
        if status.new_since_pause:
            text.append(f" · {status.new_since_pause:,} new lines ↓", style("paused", "yellow"))
        if "hint" not in dropped:
            text.append(" (f/end)", style("dim", "dim"))
    parts = []
    if "lines" not in dropped:
        parts.append(counted(status.lines, "line"))
        if status.total > status.lines:
            whole = counted(status.total, "line")
            parts[0] = whole if "of" in dropped else f"{status.lines:,} of {whole}"
    if status.filter:
        kept = f"&{ansi.plain(status.filter, max_chars=40)}: {status.filter_matches:,} shown"
        if status.filtering is not None:
            kept += f" · filtering the file {status.filtering:.0%}"
        parts.append(kept)
    if status.search:
        pattern = ansi.plain(status.search, max_chars=40)
        found = f"/{pattern}: {counted(status.search_matches, 'line')}"
        if status.searching is not None:
            found += f" · searching the file {status.searching:.0%}"
        parts.append(found)
    flags = [
        name
        for name, on in (
            ("wrap", status.wrap),
            ("time", status.timestamps),
            ("json", status.json),
        )
        if on
    ]
    if flags and "flags" not in dropped:
        parts.append(" ".join(flags))
    for part in parts:
        text.append(" │ ", style("dim", "dim"))
        text.append(part)
    note = message or status.note
    if note:
        text.append(" │ ", style("dim", "dim"))
        text.append(ansi.plain(note, max_chars=200), style("note", "italic"))
    return text


class LogStatusBar(Widget):
    """One line under the log; a plain render, so an update costs no layout."""

    COMPONENT_CLASSES = {f"log-status--{name}" for name in STATUS_STYLES}
    DEFAULT_CSS = """
    LogStatusBar {
        height: 1; padding: 0 1; background: $panel; color: $foreground;
        & > .log-status--following { color: $text-success; }
        & > .log-status--paused { color: $text-warning; text-style: bold; }
        & > .log-status--dim { color: $text-muted; }
        & > .log-status--note { color: $text-accent; text-style: italic; }
    }
    """

    status: var[LogStatus] = var(LogStatus)
    message: var[str] = var("")
    _styles: dict[str, Style] | None = None  # resolved at the first render after a restyle

    def render(self) -> Text:
        """The styles are resolved once per restyle, as the log view's are: 0.6 ms each
        time, and the line is redrawn with each batch of a running stage's output."""
        if self._styles is None:
            self._styles = {n: component_style(self, f"log-status--{n}") for n in STATUS_STYLES}
        width = self.content_region.width or None  # before the first layout: as it is
        return status_text(self.status, self.message, self._styles, width)

    def notify_style_update(self) -> None:
        """Resolved again at the next render: Textual calls this before it recomputes
        the component classes (a theme change, NO_COLOR, a CSS reload)."""
        super().notify_style_update()
        self._styles = None
        self.refresh()

    def watch_status(self) -> None:
        self.refresh()

    def watch_message(self) -> None:
        self.refresh()


class LogPane(Vertical):
    """A log view with search (/), filter (&) and save (s) prompts and a status line;
    copy (y), select lines (V) and JSON (J) are the view's, keyed here for the footer."""

    BINDINGS = [
        Binding("slash", "prompt('search')", "Search", id="log.search"),
        Binding("ampersand", "prompt('filter')", "Filter", id="log.filter"),
        Binding("s", "prompt('save')", "Save", id="log.save"),
        Binding("y", "copy", "Copy", id="log.copy"),
        Binding("V", "select", "Select lines", id="log.select"),
        Binding("J", "toggle_json", "JSON", id="log.json"),
        # Priority, and only while the prompt has the keys: the App reads them before it
        # hands on the keys typed behind them, so those go to the log view ("/err",
        # Enter, n typed fast: n finds the next match, not "errn").
        Binding(
            "escape",
            "close_prompt",
            "Close prompt",
            show=False,
            priority=True,
            id="log.close_prompt",
        ),
        Binding("enter", "submit_prompt", "", show=False, priority=True),  # not in help
    ]
    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    LogPane > LogView { height: 1fr; }
    LogPane > Input#log-prompt {
        display: none; height: 1; border: none; padding: 0 1; background: $boost;
    }
    LogPane.-prompting > Input#log-prompt { display: block; }
    """

    def __init__(
        self,
        *,
        ring_size: int = 100_000,
        source: Path | None = None,
        save_dir: Path | None = None,
        max_line_chars: int = ansi.MAX_CHARS,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """``save_dir`` is where suggested save paths (and relative ones) go; default cwd."""
        super().__init__(name=name, id=id, classes=classes)
        self._view = LogView(ring_size=ring_size, source=source, max_line_chars=max_line_chars)
        self.save_dir = save_dir
        self._prompt: str | None = None
        self._prompt_input: Input | None = None

    def compose(self) -> ComposeResult:
        yield self._view
        # The prompt (an Input) is mounted after the first frame, not in it: the board's
        # first paint does not wait to style a widget nobody has asked for yet, and by
        # the time ``/`` is pressed it is there to take what is typed after it (mounted
        # on the key, the letters typed meanwhile went to the board: ``z`` zoomed it).
        yield LogStatusBar()

    async def _mount_prompt(self) -> Input:
        from shipdeck.widgets.prompt import PromptInput

        found = self.query("#log-prompt")
        if found:
            return found.first(PromptInput)
        prompt = PromptInput(id="log-prompt")
        await self.mount(prompt, before=self.query_one(LogStatusBar))
        self._prompt_input = prompt  # kept: the footer asks check_action at each refresh
        return prompt

    @property
    def log_view(self) -> LogView:
        return self._view

    # The app talks to the pane as if it were the view.
    def write_lines(self, lines: Sequence[Line], when: float | None = None) -> None:
        self._view.write_lines(lines, when)

    def add_marker(self, text: str) -> None:
        self._view.add_marker(text)

    # Another log: what the status line said of the last one ("saved 1,000 lines to
    # ...") goes with it, or it read as said of this one.
    def clear(self) -> None:
        self._say("")
        self._view.clear()

    def set_source(self, path: Path | None) -> None:
        self._say("")
        self._view.set_source(path)

    def add_source(self, path: Path) -> None:
        self._view.add_source(path)

    def load_file(self, path: Path) -> None:
        self._say("")
        self._view.load_file(path)

    def focus(self, scroll_visible: bool = True) -> LogPane:
        self._view.focus(scroll_visible)
        return self

    # --- status ------------------------------------------------------------

    def on_mount(self) -> None:
        self.watch(self._view, "status", self._show_status)
        self.call_after_refresh(self._mount_prompt)

    def _show_status(self, status: LogStatus) -> None:
        self.query_one(LogStatusBar).status = status

    def _say(self, message: str) -> None:
        for bar in self.query(LogStatusBar):  # none yet before the pane is composed
            bar.message = message

    def on_log_view_saved(self, event: LogView.Saved) -> None:
        self._say(f"saved {counted(event.lines, 'line')} to {event.path}")

    def on_log_view_save_failed(self, event: LogView.SaveFailed) -> None:
        self._say(f"could not save: {event.error}")

    # --- prompt --------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "prompt":  # hidden while one is open: its keys type into it (Textual
            return self._prompt is None  # leaves "/ Search" in the footer: no "slash" char)
        if action == "close_prompt":
            return self._prompt is not None  # otherwise escape goes on to the app
        if action == "submit_prompt":  # otherwise Enter is the view's
            shown = self._prompt_input
            return self._prompt is not None and shown is not None and self.screen.focused is shown
        return True

    async def action_prompt(self, kind: str) -> None:
        prompt = await self._mount_prompt()
        label, placeholder = PROMPTS[kind]
        self._prompt = kind
        self._say("")
        prompt.placeholder = f"{label.strip()}  {placeholder}"
        prompt.value = {
            "search": self._view.status.search,
            "filter": self._view.status.filter,
            "save": str(self.default_save_path()),
        }[kind]
        self.add_class("-prompting")
        # At once, not at the next turn of the loop as focus() would: keys typed right
        # behind the / are already queued and go wherever the focus is now.
        self.screen.set_focus(prompt)
        prompt.focus()
        self.refresh_bindings()

    # --- copy, select, JSON: the view's (widgets/log/clipboard.py) -----------------------

    def action_copy(self) -> None:
        self._view.action_copy()

    def action_select(self) -> None:
        self._view.action_select()

    def action_toggle_json(self) -> None:
        self._view.action_toggle_json()

    def action_close_prompt(self) -> None:
        self._prompt = None
        self.remove_class("-prompting")
        self.screen.set_focus(self._view)  # at once: the keys behind Escape are the view's
        self.refresh_bindings()

    def action_submit_prompt(self) -> None:
        if self._prompt_input is None:  # check_action says it is there
            return
        kind, value = self._prompt, self._prompt_input.value
        if kind == "search":  # first: a search of the whole file starts before the layout
            self._view.search(value)
        self.action_close_prompt()
        if kind == "filter":
            self._view.set_filter(value)
        elif kind == "save" and value.strip():
            path = Path(value.strip()).expanduser()
            if not path.is_absolute():
                path = (self.save_dir or Path.cwd()) / path
            self._say(f"saving to {path} …")
            self._view.save(path)

    def default_save_path(self) -> Path:
        """``<save_dir>/<source name or "shipdeck-log">-<local time>.log``."""
        sources = self._view.sources
        stem = sources[-1].stem if sources else "shipdeck-log"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return (self.save_dir or Path.cwd()) / f"{stem}-{stamp}.log"
