"""The new/edit item form: a modal that validates, then saves, before it dismisses.

The save runs in a thread worker (the board lock may be held for seconds) and
reports back as a message; a save that fails leaves the form open with what was
typed, so nothing is lost while the user fixes the repository and retries.

The board keeps one form and shows it again for each new or edited item
(:meth:`ItemFormScreen.fill`): a screen Textual removes on close is followed by a
layout and two full repaints of the board (~12 ms of the UI thread), just as the
saved item's first stage starts on the next key.
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
from shipdeck.lifecycle.text import escape_controls


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
    # The body's height by the terminal's: at 80x24 a body of 8 rows pushed the Save and
    # Cancel buttons off the dialog (app.tcss sets the heights).
    VERTICAL_BREAKPOINTS = [(0, "-tiny"), (24, "-short"), (29, "-tall")]
    # Textual focuses the title when the screen is shown: a query in on_mount raised
    # NoMatches when the app was closing around a screen pushed at that moment.
    AUTO_FOCUS = "#title"

    class Saved(Message):
        """The draft of showing ``shown`` is on the board as ``item``."""

        def __init__(self, item: Item, shown: int) -> None:
            super().__init__()
            self.item = item
            self.shown = shown

    class SaveFailed(Message):
        """The draft could not be saved; ``reason`` is one line naming the cause."""

        def __init__(self, reason: str, shown: int) -> None:
            super().__init__()
            self.reason = reason
            self.shown = shown

    def __init__(self, item: Item | None = None, *, save: Callable[[ItemDraft], Item]) -> None:
        super().__init__(classes="dialog-screen")
        self.item = item
        self.save = save  # called in a thread: writes the board, returns the saved item
        self.saving = False
        # Which showing of the form this is: a save still running when its showing
        # was cancelled must not close (or fill in) the next one.
        self.shown = 0

    def fill(self, item: Item | None, *, save: Callable[[ItemDraft], Item]) -> None:
        """Show the form afresh for ``item`` (None: a new one), as :meth:`compose` would."""
        self.item, self.save, self.shown = item, save, self.shown + 1
        if not self.is_mounted:
            return  # composed with these when first shown
        self.saving = False
        self.query_one("#heading", Label).update(self._heading())
        self._say("")
        title = self.query_one("#title", Input)
        title.value = escape_controls(item.title) if item else ""
        title.cursor_position = len(title.value)
        self.query_one("#kind", Select).value = item.kind if item else Kind.FEATURE
        self.query_one("#breaking", Checkbox).value = bool(item and item.breaking)
        self.query_one("#body", TextArea).load_text(_shown_body(item))
        self.query_one("#save", Button).label = "Save (ctrl+s)"
        self.set_focus(title)

    def _heading(self) -> str:
        return f"Edit {self.item.id}" if self.item else "New item"

    def compose(self) -> ComposeResult:
        item = self.item
        with Vertical(classes="dialog form-dialog"):
            yield Label(self._heading(), id="heading", classes="dialog-question")
            yield Input(
                value=escape_controls(item.title) if item else "",
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
            yield TextArea(_shown_body(item), id="body")
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
        if not title.strip():
            self._say("A title is required.")
            self.query_one("#title", Input).focus()
            return
        if len(title) > 200:
            self._say("Keep the title under 200 characters; details go in the body.")
            return
        kind = self.query_one("#kind", Select).value
        draft = ItemDraft(
            title=title.strip(),
            kind=kind if isinstance(kind, Kind) else Kind.FEATURE,
            body=self.query_one("#body", TextArea).text,
            breaking=self.query_one("#breaking", Checkbox).value,
        )
        self._set_saving(True)
        self._say("")
        self._save(draft, self.save, self.shown)

    @work(thread=True, group="item-form", exit_on_error=False)
    def _save(self, draft: ItemDraft, save: Callable[[ItemDraft], Item], shown: int) -> None:
        """Any failure keeps the form: the user's text outlives even a bug in the save."""
        from shipdeck.tui.crash import STORAGE_ERRORS, describe

        try:
            item = save(draft)
        except STORAGE_ERRORS as exc:
            self.post_message(self.SaveFailed(describe(exc), shown))
        except Exception as exc:  # noqa: BLE001 - reported as a notice, the form stays
            self.post_message(self.SaveFailed(f"{type(exc).__name__}: {describe(exc)}", shown))
        else:
            self.post_message(self.Saved(item, shown))

    @on(Saved)
    def _saved(self, message: Saved) -> None:
        if message.shown == self.shown and self.is_current:
            self.dismiss(message.item)

    @on(SaveFailed)
    def _save_failed(self, message: SaveFailed) -> None:
        if message.shown != self.shown:
            return  # its showing was cancelled: nothing saved, as cancel said
        self._set_saving(False)
        self._say("Not saved; ctrl+s tries again.")
        self.app.notify(
            message.reason, title="Not saved", severity="error", timeout=15, markup=False
        )

    _said = ""

    def _say(self, text: str) -> None:
        """The line under the title; an update asks for a layout, so only on a change."""
        if text != self._said:
            self._said = text
            self.query_one("#title-error", Label).update(text)

    def _set_saving(self, saving: bool) -> None:
        """Said on the button; not disabled, so focus stays where the user was typing."""
        self.saving = saving
        self.query_one("#save", Button).label = "Saving…" if saving else "Save (ctrl+s)"

    def action_cancel(self) -> None:
        self.dismiss(None)


def _shown_body(item: Item | None) -> str:
    """The body as the form shows it: a control character written by another writer
    (the CLI, a synced board) is shown escaped, never sent to the terminal."""
    return escape_controls(item.body, keep_newlines=True) if item else ""
