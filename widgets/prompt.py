"""The one-line prompts (the board's ``/`` filter, the log pane's ``/``, ``&`` and ``s``).

Their owners bind Enter and Escape with priority, so the App acts on them before it
hands on the keys typed behind them (those go where the prompt gave the focus back).
Textual hands the keys typed *before* them to the Input's own queue, which it works
through later: a paste, a typist ahead of a slow ssh link or a script driving tmux
sends "ctrl+u byte Enter" in one read, and Enter kept what the prompt held before.
So the App types a key into a focused prompt as it reads it (``ShipdeckApp`` calls
:meth:`PromptInput.type_key`): every key reaches the prompt in the order it came.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class PromptInput(Input):
    """An Input that takes its printable keys the moment the App reads them."""

    def type_key(self, event: events.Key) -> bool:
        """Type ``event`` in now, as the Input's own key handler would later (over the
        selection, if any); False for a key that is not a character (the App tries
        the bindings, which edit the line: backspace, ctrl+u, the arrows)."""
        if not event.is_printable or event.character is None:
            return False
        self._restart_blink()
        selection = self.selection
        if selection.is_empty:
            self.insert_text_at_cursor(event.character)
        else:
            self.replace(event.character, *selection)
        return True
