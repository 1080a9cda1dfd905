"""Secret masking for step output, applied before lines reach the UI or the saved log.

Masking works on one line at a time: a step's output is split into lines before
it is masked, so a secret is found wherever it sits inside a line, but a secret
whose value spans a line break is masked line piece by line piece (each line
of a multi-line value, such as a PEM key, is a secret of its own).

Every non-empty value is masked, however short. A one- or two-character secret
will blank out unrelated text too; that is the safe failure, and the config
loader is the place to warn about such values.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote, quote_plus, unquote

from shipdeck.lifecycle.lines import Line, OutputSink

MASK = "***"
WEAK = 6  # a secret shorter than this masks unrelated text too: shipdeck warns
_ENCODED_FROM = 8  # encoded forms of shorter secrets would mask too much ordinary text


# scheme://user:PASSWORD@host...: the password of a URL's userinfo (percent-encoded
# there, so it holds no '@', '/' or whitespace)
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*:([^/?#@\s]+)@")


def url_password(value: str) -> str | None:
    """The password a URL carries (``postgres://app:PW@db/app``), as written there: a
    secret wherever the URL is given, in an ``env:`` of shipdeck.yaml too, where no one
    names it in ``secrets:``."""
    found = _URL_PASSWORD.match(value.strip())
    return found.group(1) if found else None


# Sequences a display drops or draws as nothing (any CSI: colour, cursor moves, clears;
# any OSC: titles, links): inside a secret, they hid it from a plain search while the
# screen showed it whole (`hunter2 ESC[1m -SECRET`).
_HIDDEN = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def _base64_forms(raw: bytes) -> set[str]:
    """The secret's base64 at each of the three alignments it can have inside a longer
    encoded value (``Basic base64("user:" + secret)``): for each, the characters that
    only the secret's own bytes decide (whole 3-byte groups, none with a byte before or
    after it), in both alphabets. The value encoded alone keeps its last group."""
    forms: set[str] = set()
    for skew in range(3):
        encoded = base64.b64encode(bytes(skew) + raw).decode()
        first = 4 if skew else 0  # the group that holds a byte from before the secret
        whole = (skew + len(raw)) // 3 * 4  # past it, a group holds a byte from after
        forms.add(encoded[first:whole])
    forms.add(base64.b64encode(raw).decode().rstrip("="))
    return forms | {f.replace("+", "-").replace("/", "_") for f in forms}


def _url_forms(value: str) -> set[str]:
    """URL-encodings as libraries write them: every reserved character escaped, or ``/``
    kept (``quote``'s default), spaces as ``+`` (forms, ``urlencode``); hex in upper or
    lower case."""
    forms = {quote(value, safe=""), quote(value), quote_plus(value), quote_plus(value, safe="/")}
    return forms | {_PERCENT.sub(lambda m: m.group().lower(), f) for f in forms}


def encoded_forms(value: str) -> set[str]:
    """Best effort: the forms a secret commonly travels in besides itself (base64 in
    basic-auth headers and config dumps, URL-encoding in query strings, a JSON string's
    escapes)."""
    if len(value) < _ENCODED_FROM:
        return set()
    forms = _base64_forms(value.encode("utf-8")) | _url_forms(value)
    forms |= {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms.discard(value)
    return {f for f in forms if len(f) >= _ENCODED_FROM}


class SecretSource(Protocol):
    """What a config says is secret (:class:`lifecycle.config.schema.Config`)."""

    def secret_names(self) -> set[str]: ...
    def url_passwords(self) -> dict[str, str]: ...


class SecretMasker:
    """Replaces every occurrence of the configured secret values with ``***``.

    Overlapping secrets are handled by masking the union of all their matches,
    so ``abcdef`` and ``defghi`` in ``abcdefghi`` leave no fragment behind.
    """

    def __init__(self, secrets: Mapping[str, str], mask: str = MASK) -> None:
        values: set[str] = set()
        self.weak = sorted(name for name, value in secrets.items() if 0 < len(value) < WEAK)
        for value in secrets.values():
            if not value:
                continue
            values.add(value)
            values.update(encoded_forms(value))
            password = url_password(value)  # printed apart from its URL, or decoded
            if password:
                for form in {password, unquote(password)}:
                    values.add(form)
                    values.update(encoded_forms(form))
            if "\n" in value or "\r" in value:
                # Output is masked per line, so each line of the value must match alone.
                values.update(part for part in value.replace("\r", "\n").split("\n") if part)
        # Matches are merged into spans (see mask), so order does not change the result;
        # longest first just keeps the cheap `in` pre-check hitting the big ones first.
        self._values: tuple[str, ...] = tuple(sorted(values, key=lambda v: (-len(v), v)))
        self._mask = mask

    def __bool__(self) -> bool:
        return bool(self._values)

    @classmethod
    def for_config(
        cls, config: SecretSource, environ: Callable[[], Mapping[str, str]]
    ) -> SecretMasker:
        """The masker of what ``config`` names secret (their values from ``environ()``,
        asked only when it names one: the engine's may ask a pyenv shim) and of the
        passwords its URLs carry, for the engine and the commands that write the board
        without one."""
        names = config.secret_names()
        values = environ() if names else {}
        named = {n: values[n] for n in names if n in values}
        return cls(named | config.url_passwords())

    @property
    def longest(self) -> int:
        """The length of the longest form masked (0: nothing is)."""
        return len(self._values[0]) if self._values else 0

    def mask(self, text: str) -> str:
        """``text`` with every secret value replaced by the mask."""
        spans = self.spans(text)
        if not spans:
            return text
        out: list[str] = []
        pos = 0
        for start, end in spans:
            out += (text[pos:start], self._mask)
            if "\x1b" in text[start:end]:  # a colour begun inside goes on after it
                out += _HIDDEN.findall(text, start, end)
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where secrets are in ``text``: sorted, merged (overlapping secrets leave no
        fragment), each reaching over any escape sequence inside it."""
        found: list[tuple[int, int]] = []
        if "\x1b" in text:
            plain = _HIDDEN.sub("", text)
            hits = [v for v in self._values if v in plain]
            if hits:
                found = _spans_under(text, hits)
        else:
            for value in [v for v in self._values if v in text]:
                start = text.find(value)
                while start >= 0:
                    found.append((start, start + len(value)))
                    start = text.find(value, start + 1)  # +1: overlapping matches count too
        if not found:
            return found
        found.sort()
        merged = [found[0]]
        for start, end in found[1:]:
            last_start, last_end = merged[-1]
            if start <= last_end:
                merged[-1] = (last_start, max(last_end, end))
            else:
                merged.append((start, end))
        return merged

    def mask_piece(self, text: str) -> tuple[str, str]:
        """A piece of a line too long to hold whole (a service's output is read in
        blocks): (what can be written now, masked; the tail kept for the next piece),
        so that a secret cut by a block's end is still masked whole."""
        keep = max(0, len(text) - max(self.longest - 1, 0))
        for start, end in self.spans(text):
            if start < keep < end:
                keep = start
        return self.mask(text[:keep]), text[keep:]

    def scrub(self, value: Any) -> Any:
        """``value`` with every string in it masked, however deeply nested (dicts and
        lists are copied; other values are kept): what the board and journal store."""
        if not self._values:
            return value
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value

    def mask_lines(self, lines: Sequence[Line]) -> list[Line]:
        """The lines with secrets masked; untouched lines are the same objects."""
        if not self._values:
            return list(lines)
        result: list[Line] = []
        for line in lines:
            masked = self.mask(line.text)
            result.append(line if masked is line.text else Line(line.stream, masked))
        return result


def _spans_under(text: str, values: Sequence[str]) -> list[tuple[int, int]]:
    """Where each of ``values`` is in ``text`` once its escape sequences are left out,
    as spans of ``text`` itself (from a secret's first character to its last)."""
    where: list[int] = []  # the index in text of each character kept
    pos = 0
    for match in _HIDDEN.finditer(text):
        where.extend(range(pos, match.start()))
        pos = match.end()
    where.extend(range(pos, len(text)))
    plain = "".join(text[i] for i in where)
    spans: list[tuple[int, int]] = []
    for value in values:
        start = plain.find(value)
        while start >= 0:
            spans.append((where[start], where[start + len(value) - 1] + 1))
            start = plain.find(value, start + 1)
    return spans


def masked_sink(sink: OutputSink, masker: SecretMasker) -> OutputSink:
    """A sink that masks each batch before handing it to ``sink``."""
    if not masker:
        return sink

    def forward(lines: Sequence[Line]) -> None:
        sink(masker.mask_lines(lines))

    return forward
