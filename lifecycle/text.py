"""Text from users, commands and logs made safe to show on a terminal.

One rule everywhere (CLI tables, cards, panes, the log pane): control characters
are shown as escapes such as ``\\x1b``, never sent to the terminal to obey. The one
exception is a step's colours (SGR, ``ESC [ ... m``), passed on by
:func:`terminal_text` where :func:`shows_colour` says colour shows; steps are told
they may colour by :func:`step_colour_env`.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Mapping
from functools import lru_cache

# C0 and C1 controls (ESC, CSI), and the invisible format characters that reorder
# or hide text (bidi embeddings, overrides and isolates, zero-width space, word
# joiner, BOM). The joiners and marks that scripts and emoji need (U+200C, U+200D,
# U+200E, U+200F) are kept.
_INVISIBLE = "\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_NOT_NEWLINE = f"\x00-\x08\x0b-\x1f\x7f-\x9f{_INVISIBLE}"  # never the tab either
_CONTROL = re.compile(f"[{_NOT_NEWLINE}]")
# Every character shown as an escape, the newline too, as the inside of a regex
# character class (the log pane adds the tab, which it expands to spaces).
CONTROL_CHARACTERS = f"\n{_NOT_NEWLINE}"
_JSON_RAW = re.compile(f"[\x7f-\x9f{_INVISIBLE}]")  # what json.dumps(ensure_ascii=False) keeps


@lru_cache(maxsize=256)
def escape_char(char: str) -> str:
    """How one control character is shown: ``\\x1b``, ``\\n``, ``\\x9b``, ``\\u202e``.

    For code that escapes piece by piece (the log pane draws each escape reversed).
    """
    return repr(char)[1:-1]


def _escape(match: re.Match[str]) -> str:
    return escape_char(match.group())


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character escaped; newlines too unless kept."""
    out = _CONTROL.sub(_escape, text)
    return out if keep_newlines else out.replace("\n", "\\n")


_ANY_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")


def first_control(text: str) -> str | None:
    """The first character :func:`escape_controls` escapes (newlines too), escaped as it
    shows it (``\\x1b``); None when there is none."""
    found = _ANY_CONTROL.search(text)
    return escape_char(found.group()) if found else None


def json_text(encoded: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with the characters
    a terminal would obey written as ``\\uXXXX`` escapes: the same data, safe to print."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


_REF_BAD = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def branch_name_problem(name: str) -> str | None:
    """Why git would refuse ``name`` as a branch (``git check-ref-format --branch``),
    or None: the rules, checked where the config is read rather than at the first run."""
    if not name or name == "@":
        return "it is empty" if not name else "'@' alone is not a branch name"
    if name.startswith("-"):
        return "it starts with '-'"
    bad = _REF_BAD.search(name)
    if bad:
        return f"git does not allow {bad.group()!r} in a branch name"
    if name.startswith("/") or name.endswith(("/", ".")):
        return "it starts with '/' or ends with '/' or '.'"
    for part in name.split("/"):
        if part.startswith("."):
            return f"the part {part!r} starts with '.'"
        if part.endswith(".lock"):
            return f"the part {part!r} ends with '.lock'"
    return None


# Colour from steps: SGR (``ESC [ params m``) only, the one sequence worth passing on.
_SGR = re.compile(r"\x1b\[[0-9;:]*m")
_RESET = "\x1b[0m"
# What a step's environment gains when its output goes where colour shows.
STEP_COLOUR_ENV = {"FORCE_COLOR": "1", "CLICOLOR_FORCE": "1", "PY_COLORS": "1"}


def shows_colour(stream: object, environ: Mapping[str, str] | None = None) -> bool:
    """Whether text written to ``stream`` should keep its colours: never with ``NO_COLOR``
    set (no-color.org), always with ``FORCE_COLOR`` set (and not ``0``), else when the
    stream is a terminal that is not ``TERM=dumb``."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR", "") not in ("", "0", "false"):
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty()) and env.get("TERM") != "dumb"
    except ValueError:  # a closed stream
        return False


def step_colour_env(*, pane: bool, stream: object = None) -> dict[str, str]:
    """What a step's environment gains so the step may colour its output: the board's log
    pane always shows colour (``pane=True``); the command line when ``stream`` (its
    stdout) :func:`shows_colour`. Nothing otherwise: a step never colours text that ends
    up stripped, in a file or in JSON."""
    if pane or (stream is not None and shows_colour(stream)):
        return dict(STEP_COLOUR_ENV)
    return {}


def terminal_text(text: str, *, colour: bool) -> str:
    """``text`` from a step, made safe for a terminal: SGR colour sequences kept when
    ``colour`` (with a reset at the end, so a colour never leaks into the next line)
    and dropped otherwise; every other control, the ESC of any other sequence included,
    escaped as :func:`escape_controls` does."""
    if "\x1b" not in text:
        return escape_controls(text)
    parts = []
    pos = 0
    coloured = False
    for match in _SGR.finditer(text):
        parts.append(escape_controls(text[pos : match.start()]))
        if colour:
            parts.append(match.group())
            coloured = True
        pos = match.end()
    parts.append(escape_controls(text[pos:]))
    if coloured:
        parts.append(_RESET)
    return "".join(parts)


def strip_colour(text: str) -> str:
    """``text`` without its SGR colour sequences (nothing else is touched)."""
    return _SGR.sub("", text)


# --- merged output of several sources (a service's tasks) ------------------------------

SOURCE_PREFIX = re.compile(r"([A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+) \| ")
"""``web.2@swm-n3 | `` at a line's start: which task on which node said it."""
SOURCE_COLOURS = (("cyan", 36), ("magenta", 35), ("green", 32), ("blue", 34), ("yellow", 33))


def source_colour(source: str) -> tuple[str, int]:
    """A colour per source (a Rich colour name and its SGR code), the same on every run."""
    return SOURCE_COLOURS[zlib.crc32(source.encode()) % len(SOURCE_COLOURS)]


def colour_source(text: str) -> str:
    """``text`` with its source prefix in its colour (SGR), for a terminal that shows it."""
    found = SOURCE_PREFIX.match(text)
    if found is None:
        return text
    code = source_colour(found.group(1))[1]
    return f"\x1b[{code}m{found.group(1)}{_RESET}{text[found.end(1) :]}"
