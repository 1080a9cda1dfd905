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
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote

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


def encoded_forms(value: str) -> set[str]:
    """Best effort: the forms a secret commonly travels in besides itself (base64 in
    basic-auth headers and config dumps, URL-encoding in query strings)."""
    if len(value) < _ENCODED_FROM:
        return set()
    raw = value.encode("utf-8")
    forms = {
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        quote(value, safe=""),
    }
    forms.discard(value)
    return {f for f in forms if len(f) >= _ENCODED_FROM}


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

    def mask(self, text: str) -> str:
        """``text`` with every secret value replaced by the mask."""
        hits = [v for v in self._values if v in text]
        if not hits:
            return text
        spans: list[tuple[int, int]] = []
        for value in hits:
            start = text.find(value)
            while start >= 0:
                spans.append((start, start + len(value)))
                start = text.find(value, start + 1)  # +1: overlapping matches count too
        spans.sort()
        out: list[str] = []
        pos = 0
        cur_start, cur_end = spans[0]
        for start, end in spans[1:]:
            if start <= cur_end:
                cur_end = max(cur_end, end)
                continue
            out += (text[pos:cur_start], self._mask)
            pos = cur_end
            cur_start, cur_end = start, end
        out += (text[pos:cur_start], self._mask, text[cur_end:])
        return "".join(out)

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


def masked_sink(sink: OutputSink, masker: SecretMasker) -> OutputSink:
    """A sink that masks each batch before handing it to ``sink``."""
    if not masker:
        return sink

    def forward(lines: Sequence[Line]) -> None:
        sink(masker.mask_lines(lines))

    return forward
