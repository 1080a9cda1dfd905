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


class ConfirmScreen(ModalScreen[bool]):
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


class EnvPickerScreen(ModalScreen[str | None]):
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
    """Every key, read from the same BINDINGS tables the Footer shows."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, sections: Sequence[tuple[str, Sequence[BindingType]]]) -> None:
        super().__init__(classes="dialog-screen")
        self.sections = sections

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for title, bindings in self.sections:
            table.add_row(Text(title, style="bold underline"), "")
            for b in bindings:
                if not isinstance(b, Binding) or not b.description:
                    continue
                keys = ", ".join(_key_label(k) for k in b.key.split(","))
                table.add_row(keys, b.description)
            table.add_row("", "")
        with Vertical(classes="dialog help-dialog"):
            yield Label("shipdeck keys", classes="dialog-question")
            with VerticalScroll():
                yield Static(table)
            yield Label("escape or ? closes", classes="dim")

    def action_close(self) -> None:
        self.dismiss(None)


_NAMES = {"question_mark": "?", "slash": "/", "ampersand": "&", "greater_than_sign": ">"}


def _key_label(key: str) -> str:
    key = key.strip()
    return _NAMES.get(key, key)
