"""The new/edit item form: a modal that validates before it dismisses."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, TextArea

from lifecycle.items import Item, Kind


@dataclass(frozen=True)
class ItemDraft:
    title: str
    kind: Kind
    body: str
    breaking: bool


class ItemFormScreen(ModalScreen[ItemDraft | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, item: Item | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.item = item

    def compose(self) -> ComposeResult:
        item = self.item
        heading = f"Edit {item.id}" if item else "New item"
        with Vertical(classes="dialog form-dialog"):
            yield Label(heading, classes="dialog-question")
            yield Input(
                value=item.title if item else "",
                placeholder="Title (what should change?)",
                id="title",
            )
            yield Label("", id="title-error", classes="error-text")
            with Horizontal(classes="form-row"):
                yield Select(
                    [(k.value, k) for k in Kind],
                    value=item.kind if item else Kind.FEATURE,
                    allow_blank=False,
                    id="kind",
                )
                yield Checkbox("breaking change", value=bool(item and item.breaking), id="breaking")
            yield TextArea(item.body if item else "", id="body")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#title", Input).focus()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        title = self.query_one("#title", Input).value
        error = self.query_one("#title-error", Label)
        if not title.strip():
            error.update("A title is required.")
            self.query_one("#title", Input).focus()
            return
        if len(title) > 200:
            error.update("Keep the title under 200 characters; details go in the body.")
            return
        kind = self.query_one("#kind", Select).value
        self.dismiss(
            ItemDraft(
                title=title.strip(),
                kind=kind if isinstance(kind, Kind) else Kind.FEATURE,
                body=self.query_one("#body", TextArea).text,
                breaking=self.query_one("#breaking", Checkbox).value,
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
