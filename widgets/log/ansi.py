"""Terminal output made safe to show: SGR colours kept, every other control neutralised.

A build tool's colours are worth keeping. Anything else a log line carries would act
on *our* terminal (move the cursor, clear the screen, retitle the window, ring the
bell), so it never reaches it raw:

- SGR (``ESC [ ... m``) becomes a Rich style.
- Other CSI sequences (``ESC [ 2J``, ``ESC [ H``, ``ESC [ K`` ...) and OSC 8
  hyperlinks are dropped: they are formatting meant for a terminal, noise in a log.
- Every other control character, including the ESC that starts an OSC, DCS, APC,
  PM or single-character escape, C1 controls (U+0080-U+009F), DEL, the bidi
  overrides and the invisible format characters (zero-width space, BOM), is shown
  as an escape (``\\x1b]0;title\\x07``, ``\\x9b``, ``\\u202e``),
  as the CLI, cards and panes show it (``lifecycle/text.py``, one rule and one
  notation), drawn reversed so it never looks typed: a reader sees that something
  was there, and the bytes after it are plain text.
- A bare carriage return keeps what a terminal would end up showing: the text after
  the last ``\\r`` (a trailing ``\\r`` from CRLF output is ignored).
- Tabs become spaces to the next multiple of 8 cells.
- Lines longer than ``max_chars`` are cut and say how long they were; the whole
  line stays in the log on disk.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import suppress

from rich.ansi import SGR_STYLE_MAP
from rich.cells import cell_len
from rich.color import Color
from rich.style import Style
from rich.text import Text

from shipdeck.lifecycle.text import CONTROL_CHARACTERS, escape_char

MAX_CHARS = 10_000
TAB_SIZE = 8

# Anything that needs more than "show it as it is": the tab, and the controls
# lifecycle/text.py escapes (ESC, C1, DEL, bidi and the invisible format characters).
_NEEDS_WORK = re.compile(f"[\t{CONTROL_CHARACTERS}]")
# What is shown as an escape after tokenising: the same set minus the tab (expanded).
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
# CSI (params, intermediates, final) or an OSC 8 hyperlink (dropped, its text stays).
_SEQUENCE = re.compile(r"\x1b\[([0-?]*)([ -/]*)([@-~])|\x1b\]8;[^\x07\x1b]*(?:\x07|\x1b\\)")
_SGR_PARAMS = re.compile(r"[0-9;:]*")


def _cap(text: str, max_chars: int) -> tuple[str, str]:
    """The part of ``text`` worth drawing and a note saying what was cut."""
    if len(text) <= max_chars:
        return text, ""
    return text[:max_chars], f" … ({len(text):,} chars)"


def _last_carriage_return(text: str) -> str:
    if "\r" not in text:
        return text
    return text.rstrip("\r\n").rpartition("\r")[2]


def _tokens(text: str) -> Iterator[tuple[str, str | None]]:
    """``(text, None)`` and ``("", sgr params)`` pairs; other sequences are dropped.

    The text may still hold control characters: callers show them with ``escape_char``.
    """
    position = 0
    for match in _SEQUENCE.finditer(text):
        start = match.start()
        if start > position:
            yield text[position:start], None
        if match.group(3) == "m" and not match.group(2):
            yield "", match.group(1)
        position = match.end()
    if position < len(text):
        yield text[position:], None


class _Tabs:
    """Expands tabs across tokens, counting cells from the start of the line."""

    def __init__(self) -> None:
        self.column = 0

    def expand(self, chunk: str) -> str:
        if "\t" not in chunk:
            self.column += cell_len(chunk)
            return chunk
        parts = chunk.split("\t")
        out = [parts[0]]
        self.column += cell_len(parts[0])
        for part in parts[1:]:
            spaces = TAB_SIZE - self.column % TAB_SIZE
            out.append(" " * spaces + part)
            self.column += spaces + cell_len(part)
        return "".join(out)


def _apply_sgr(style: Style, params: str) -> Style:
    """``style`` updated by one SGR sequence, leniently (unknown codes are ignored)."""
    codes = [min(255, int(c) if c else 0) for c in re.split("[;:]", params) if c.isdigit() or not c]
    it = iter(codes)
    for code in it:
        if code == 0:
            style = Style.null()
        elif code in SGR_STYLE_MAP:
            style += Style.parse(SGR_STYLE_MAP[code])
        elif code in (38, 48):
            with suppress(StopIteration):
                kind = next(it)
                if kind == 5:
                    color = Color.from_ansi(next(it))
                elif kind == 2:
                    color = Color.from_rgb(next(it), next(it), next(it))
                else:
                    continue
                style += Style.from_color(color) if code == 38 else Style.from_color(None, color)
    return style


_sgr_cache: dict[tuple[Style, str], Style] = {}


def _next_style(style: Style, params: str) -> Style:
    key = (style, params)
    cached = _sgr_cache.get(key)
    if cached is None:
        if len(_sgr_cache) > 4096:
            _sgr_cache.clear()
        cached = _sgr_cache[key] = _apply_sgr(style, params)
    return cached


def to_text(
    text: str,
    style: Style | str = "",
    *,
    max_chars: int = MAX_CHARS,
    note_style: Style | str = "dim italic",
    control_style: Style | str = "reverse",
) -> Text:
    """A Rich ``Text`` safe to draw: ANSI colours as styles, no control characters.

    ``style`` is the base (under the line's own colours), e.g. the stderr colour;
    escaped controls are drawn in ``control_style`` so ``\\x1b`` never looks typed.
    """
    shown, note = _cap(text, max_chars)
    if not _NEEDS_WORK.search(shown):  # the common case: plain printable text
        result = Text(shown, style=style, end="", no_wrap=True)
    else:
        shown = _last_carriage_return(shown)
        result = Text(style=style, end="", no_wrap=True)
        tabs = _Tabs() if "\t" in shown else None
        current = Style.null()
        for chunk, sgr in _tokens(shown):
            if sgr is not None:
                current = _next_style(current, sgr)
            else:
                for piece, control in _pieces(chunk, tabs):
                    result.append(piece, control_style if control else (current or None))
    if note:
        result.append(note, note_style)
    return result


def _pieces(chunk: str, tabs: _Tabs | None) -> Iterator[tuple[str, bool]]:
    """``(text, is a neutralised control)`` pieces of a chunk, tabs expanded."""
    position = 0
    for match in _CONTROL.finditer(chunk):
        if match.start() > position:
            piece = chunk[position : match.start()]
            yield (tabs.expand(piece) if tabs else piece), False
        shown = escape_char(match.group())
        if tabs:
            tabs.column += len(shown)
        yield shown, True
        position = match.end()
    if position < len(chunk):
        piece = chunk[position:]
        yield (tabs.expand(piece) if tabs else piece), False


def plain(text: str, *, max_chars: int = MAX_CHARS) -> str:
    """The visible text of a line (what search and filter look at), without styles."""
    shown, note = _cap(text, max_chars)
    if not _NEEDS_WORK.search(shown):
        return shown + note
    return to_text(text, max_chars=max_chars).plain


def display_width(text: str, *, max_chars: int = MAX_CHARS) -> int:
    """Cells ``to_text(text)`` takes on screen; cheap for plain ASCII lines."""
    shown, note = _cap(text, max_chars)
    if shown.isascii() and not _NEEDS_WORK.search(shown):
        return len(shown) + cell_len(note)
    return to_text(text, max_chars=max_chars).cell_len


def sanitize(text: str, *, max_chars: int | None = None) -> str:
    """``text`` safe to print on a terminal: SGR kept as escapes, everything else neutral.

    For plain-text consumers (a CLI printing a run log); the pane uses ``to_text``.
    """
    shown, note = _cap(text, max_chars) if max_chars is not None else (text, "")
    if not _NEEDS_WORK.search(shown):
        return shown + note
    shown = _last_carriage_return(shown)
    tabs = _Tabs() if "\t" in shown else None
    out: list[str] = []
    for chunk, sgr in _tokens(shown):
        if sgr is not None:
            if _SGR_PARAMS.fullmatch(sgr):
                out.append(f"\x1b[{sgr}m")
        else:
            out.extend(piece for piece, _ in _pieces(chunk, tabs))
    return "".join(out) + note
