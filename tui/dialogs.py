"""Small modal screens: confirm, pick an environment, help."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList, Static
from textual.widgets.option_list import Option

from shipdeck.tui.host import Question


class ConfirmScreen(Question[bool]):
    """Yes or no; ``y``/``n`` or the buttons. Dismisses with the answer."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", variant="warning", id="yes")
                yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class EnvPickerScreen(Question[str | None]):
    """Choose an environment; each row says its target and whether it needs approval."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, envs: Sequence[tuple[str, str]]) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.envs = envs

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-question")
            yield OptionList(
                *(Option(Text.assemble((n, "bold"), "  ", (d, "dim")), id=n) for n, d in self.envs),
                id="env-options",
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Every key, read from the BINDINGS tables themselves (shown in the footer or not),
    so it cannot go stale: navigation, the board, each pane, details, the app."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, sections: Sequence[tuple[str, Sequence[BindingType]]]) -> None:
        super().__init__(classes="dialog-screen")
        self.sections = sections

    def rows(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(section, [(keys, what they do)]): each key once, in the first section that has
        it, shown as the footer shows it."""
        out = []
        seen: set[tuple[str, str]] = set()
        for title, bindings in self.sections:
            rows = []
            for b in bindings:
                if not isinstance(b, Binding) or not b.description:
                    continue
                row = (", ".join(self._key_label(k) for k in b.key.split(",")), b.description)
                if row not in seen:
                    seen.add(row)
                    rows.append(row)
            out.append((title, rows))
        return out

    def _key_label(self, key: str) -> str:
        key = key.strip()
        if key in _WORDS:
            return _WORDS[key]
        return self.app.get_key_display(Binding(key, ""))

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for title, rows in self.rows():
            table.add_row(Text(title, style="bold underline"), "")
            for keys, description in rows:
                table.add_row(keys, description)
            table.add_row("", "")
        with Vertical(classes="dialog help-dialog"):
            yield Label("shipdeck keys", classes="dialog-question")
            with VerticalScroll():
                yield Static(table)
            yield Label("escape or ? closes · : or ctrl+p finds any command", classes="dim")

    def action_close(self) -> None:
        self.dismiss(None)


# Keys whose glyph (⏎) reads less well than their name in a table of keys.
_WORDS = {"enter": "enter", "escape": "esc", "tab": "tab"}
