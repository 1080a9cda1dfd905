"""Text from users, commands and logs made safe to show on a terminal.

One rule everywhere (CLI tables, cards, panes): control characters are shown
as escapes such as ``\\x1b``, never sent to the terminal to obey.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character escaped; newlines too unless kept."""
    out = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return out if keep_newlines else out.replace("\n", "\\n")
