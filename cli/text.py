"""Plain-text presentation for the CLI: pure functions from model to strings."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from shipdeck.lifecycle.items import Item, format_time
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.text import escape_controls as printable
from shipdeck.lifecycle.text import json_text
from shipdeck.lifecycle.units import duration

# One encoder for every line: json.dumps with ``default`` builds a new one each call,
# a third of the time of a million-line ``logs --json``.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def json_line(data: Any) -> str:
    """One line of JSON (``--json`` streams are JSON lines), with what a terminal would
    obey written as escapes: ``json.loads`` gives back the same data."""
    return json_text(_ENCODER.encode(data))


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Columns of text; every cell is escaped here, whoever made it."""
    rows = [[printable(c) for c in row] for row in rows]
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def fit_words(words: Sequence[str], width: int) -> str:
    """As many of ``words`` as fit in ``width`` columns, then "… N more": a stage of
    9,000 cards is a line a person can read, not 70 KB of ids (``--json`` has all)."""
    line = " ".join(words)
    if len(line) <= width:
        return line or "-"
    shown: list[str] = []
    for n, word in enumerate(words):
        if len(" ".join([*shown, word, f"… {len(words) - n - 1} more"])) > width:
            break
        shown.append(word)
    return " ".join([*shown, f"… {len(words) - len(shown)} more"])


def item_rows(items: Iterable[Item]) -> list[list[str]]:
    rows = []
    for item in items:
        where = item.version or item.short_sha or ""
        rows.append(
            [
                item.id,
                item.stage.value,
                item.current.state.value,
                item.kind.value + ("!" if item.breaking else ""),
                where,
                printable(item.title),
            ]
        )
    return rows


ITEM_HEADER = ["ID", "STAGE", "STATE", "KIND", "AT", "TITLE"]


def item_detail(item: Item, extra: dict[str, Any] | None = None) -> str:
    """``item show``: the item, each stage it went through, its tests and links."""
    lines = [
        f"{item.id}  {printable(item.title)}",
        f"kind:     {item.kind.value}{' (breaking)' if item.breaking else ''}",
        f"stage:    {item.stage.label} ({item.current.state.value})"
        + (f", step {item.current.step}" if item.running and item.current.step else ""),
    ]
    for label, value in (
        ("branch", item.branch),
        ("sha", item.sha),
        ("version", item.version),
        ("env", item.env),
    ):
        if value:
            lines.append(f"{label + ':':<10}{value}")
    if item.archived:
        lines.append("archived: yes")
    for key, value in (extra or {}).items():
        lines.append(f"{key + ':':<10}{value}")
    if item.links:
        lines.append("links:    " + ", ".join(item.links))
    if item.body:
        lines.append("")
        lines.extend("  " + printable(line) for line in item.body.splitlines())
    if item.states:
        lines += ["", "stages:"]
        for stage in Stage:
            if stage not in item.states:
                continue
            st = item.states[stage]
            dur = duration(st.duration) if st.duration is not None else ""  # whole seconds
            run = f"run {st.run_id}" if st.run_id else ""
            when = format_time(st.started_at) or ""
            msg = printable(st.message) if st.message else ""
            lines.append(f"  {stage.value:<8} {st.state.value:<9} {dur:>7}  {when}  {run}  {msg}")
    if item.tests:
        t = item.tests
        lines += [
            "",
            f"tests:    {t.summary()}",
        ]
        lines.extend(f"  FAILED {printable(name)}" for name in t.failures)
    if item.artifacts:
        lines += ["", "artifacts:"]
        lines.extend(f"  {k}: {v}" for k, v in item.artifacts.items())
    return "\n".join(printable(line) for line in lines)  # every field, whoever set it
