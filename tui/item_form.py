"""The new/edit item form: a modal that validates, then saves, before it dismisses.

The save runs in a thread worker (the board lock may be held for seconds) and
reports back as a message; a save that fails leaves the form open with what was
typed, so nothing is lost while the user fixes the repository and retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, TextArea

from shipdeck.lifecycle.items import Item, Kind


@dataclass(frozen=True)
class ItemDraft:
    title: str
    kind: Kind
    body: str
    breaking: bool


class ItemFormScreen(ModalScreen[Item | None]):
    """Dismisses with the saved item, or None if cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]
    # Textual focuses the title when the screen is shown: a query in on_mount raised
    # NoMatches when the app was closing around a screen pushed at that moment.
    AUTO_FOCUS = "#title"

    class Saved(Message):
        """The draft is on the board as ``item``."""

        def __init__(self, item: Item) -> None:
            super().__init__()
            self.item = item

    class SaveFailed(Message):
        """The draft could not be saved; ``reason`` is one line naming the cause."""

        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

    def __init__(self, item: Item | None = None, *, save: Callable[[ItemDraft], Item]) -> None:
        super().__init__(classes="dialog-screen")
        self.item = item
        self.save = save  # called in a thread: writes the board, returns the saved item
        self.saving = False

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

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        if self.saving:
            return  # one save at a time: a second would add the item twice
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
        draft = ItemDraft(
            title=title.strip(),
            kind=kind if isinstance(kind, Kind) else Kind.FEATURE,
            body=self.query_one("#body", TextArea).text,
            breaking=self.query_one("#breaking", Checkbox).value,
        )
        self._set_saving(True)
        error.update("")
        self._save(draft)

    @work(thread=True, group="item-form", exit_on_error=False)
    def _save(self, draft: ItemDraft) -> None:
        """Any failure keeps the form: the user's text outlives even a bug in the save."""
        from shipdeck.tui.crash import STORAGE_ERRORS, describe

        try:
            item = self.save(draft)
        except STORAGE_ERRORS as exc:
            self.post_message(self.SaveFailed(describe(exc)))
        except Exception as exc:  # noqa: BLE001 - reported as a notice, the form stays
            self.post_message(self.SaveFailed(f"{type(exc).__name__}: {describe(exc)}"))
        else:
            self.post_message(self.Saved(item))

    @on(Saved)
    def _saved(self, message: Saved) -> None:
        self.dismiss(message.item)

    @on(SaveFailed)
    def _save_failed(self, message: SaveFailed) -> None:
        self._set_saving(False)
        self.query_one("#title-error", Label).update("Not saved; ctrl+s tries again.")
        self.app.notify(
            message.reason, title="Not saved", severity="error", timeout=15, markup=False
        )

    def _set_saving(self, saving: bool) -> None:
        """Said on the button; not disabled, so focus stays where the user was typing."""
        self.saving = saving
        self.query_one("#save", Button).label = "Saving…" if saving else "Save (ctrl+s)"

    def action_cancel(self) -> None:
        self.dismiss(None)
