"""Log levels and JSON lines, for the log pane's colours and its ``J`` toggle.

Both are worked out when a line is painted (only lines that scroll into view), never
when it arrives, so following a fast log costs nothing more. Free of Textual.

- ``level_of``: the level a line states near its start (``ERROR``, ``WARN``,
  ``level=info``, ``[debug]``, ``error:``) or, for a JSON object, in its
  ``"level"``/``"severity"``/``"lvl"`` field. A line carrying its own escapes
  (ANSI colours) gets none: its colours are the tool's and stay as they are.
- ``pretty_lines``: a line that parses as a JSON object, indented over several rows
  (``json.dumps(indent=2)``); ``json_row`` colours one such row's keys and values.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from rich.style import Style
from rich.text import Text

from shipdeck.lifecycle.text import json_text
from shipdeck.widgets.log import ansi

HEAD = 80  # a level word counts when it starts this near the beginning of the line
JSON_LEVEL_SPAN = 2_000  # where a JSON line's level field is looked for
LEVEL_KEYS = ("level", "severity", "lvl", "loglevel", "log.level")
LEVELS = {
    "fatal": "error",
    "critical": "error",
    "crit": "error",
    "panic": "error",
    "emerg": "error",
    "alert": "error",
    "error": "error",
    "err": "error",
    "warning": "warn",
    "warn": "warn",
    "info": "info",
    "notice": "info",
    "debug": "debug",
    "trace": "debug",
}
_WORD = re.compile(
    r"\b(FATAL|CRITICAL|CRIT|PANIC|ERROR|ERR|WARNING|WARN|INFO|DEBUG|TRACE)\b"  # a bare word
    r"|\b(?i:level|lvl|severity)\"?\s*[=:]\s*\"?([A-Za-z]+)"  # level=error, "level":"error"
    r"|\b(?i:(fatal|critical|panic|error|warning|warn|info|debug|trace))(?=[:\]])"  # error:
)
_JSON_LEVEL = re.compile(r'"(?i:level|severity|lvl|loglevel|log\.level)"\s*:\s*"([A-Za-z]+)"')


def level_of(text: str) -> str | None:
    """``"error"``, ``"warn"``, ``"info"``, ``"debug"`` or None; None for an ANSI line."""
    if "\x1b" in text:
        return None
    found = _WORD.search(text, 0, HEAD)
    if found is None:
        if text[:1] != "{":
            return None
        found = _JSON_LEVEL.search(text, 0, JSON_LEVEL_SPAN)
        if found is None:
            return None
    word = found.group(found.lastindex or 1)
    return LEVELS.get(word.lower())


def pretty_lines(text: str) -> tuple[str, ...] | None:
    """``text`` indented over several rows if it is a JSON object, else None.

    Cheap for a line that is not one (its first character says so). Control
    characters inside strings are shown as JSON escapes (``\\u001b``, ``\\u009b``).
    """
    if text[:1] != "{" and text.lstrip()[:1] != "{":
        return None
    stripped = text.strip()
    if stripped[-1:] != "}" or len(stripped) > ansi.MAX_CHARS:
        return None
    return _pretty(stripped)


@lru_cache(maxsize=1024)
def _pretty(text: str) -> tuple[str, ...] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    dumped = json.dumps(value, indent=2, ensure_ascii=False)
    return tuple(json_text(row) for row in dumped.split("\n"))


_TOKEN = re.compile(
    r'("(?:[^"\\]|\\.)*")(\s*:)?'  # a string, a key when a colon follows
    r"|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"  # a number
    r"|\b(true|false|null)\b"
)


def json_row(row: str, base: Style, styles: dict[str, Style]) -> Text:
    """One row of ``pretty_lines``: keys, strings, numbers and literals in their styles;
    a level field's value in the level's colour (``styles["level-error"]`` ...)."""
    text = Text(row, style=base, end="", no_wrap=True)
    level_key = False
    for found in _TOKEN.finditer(row):
        string, colon, number, _literal = found.groups()
        if string is not None and colon is not None:
            text.stylize(styles.get("json-key", Style()), found.start(1), found.end(1))
            level_key = string[1:-1].lower() in LEVEL_KEYS
            continue
        if string is not None:
            name = "json-string"
            if level_key:
                level = LEVELS.get(string[1:-1].lower())
                if level:
                    name = f"level-{level}"
        else:
            name = "json-number" if number is not None else "json-literal"
        level_key = False
        text.stylize(styles.get(name, Style()), found.start(), found.end())
    return text
