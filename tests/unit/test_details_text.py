"""Item details show a body as text: no control character reaches the terminal.

Regression: the details screen replaced ESC only, so a C1 CSI (U+009B), a bell or a
bidi override in an item's body (anyone with push access can write one through
``shipdeck sync``) went to the terminal as it was."""

from __future__ import annotations

import io
import re

from rich.console import Console

from shipdeck.lifecycle.items import Item
from shipdeck.tui.details import summary

HOSTILE = "line one\n\x9b2J\x1b]0;pwned\x07 \u202eevil\u202c \x1b[31mred\x1b[0m"


def test_a_hostile_body_is_shown_escaped_with_its_lines_kept() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None, force_terminal=False)
    console.print(summary(Item(id="SD-1", title="t", body=HOSTILE)))
    shown = out.getvalue()
    assert re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", shown) is None
    assert "line one" in shown and "pwned" in shown and "red" in shown
    assert "\\x9b" in shown and "\\x1b" in shown  # shown as escapes, not dropped
