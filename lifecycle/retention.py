"""What to delete under ``.shipdeck/`` (the ``retention:`` block of shipdeck.yaml).

Pure: given a listing (name, modification time, size) and the names in use, say what
goes. The listing and the deleting are the caller's (``project/gc.py``). Kinds:

- ``runs``: run logs (``runs/<run-id>.log``), the newest ``retention.runs`` kept, and
  every item's latest run (what its card and the log pane show);
- ``releases``: release exports (``releases/<version>/``), the newest
  ``retention.releases`` kept, and every one an environment runs or would roll back
  to (and one a deploy in progress is switching to or from);
- ``builds``: items' Build/Test trees (``work/<item-id>/``), the newest
  ``retention.builds`` kept, and those of items in Build or Test.

The journal is never pruned: DORA and the history read all of it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

KINDS = ("runs", "releases", "builds")


@dataclass(frozen=True)
class Entry:
    """One thing that may be pruned: its name in its folder, age and size on disk."""

    name: str
    mtime: float
    size: int = 0


@dataclass(frozen=True)
class Prune:
    """What one kind keeps and deletes (each newest first)."""

    kind: str
    keep: list[Entry] = field(default_factory=list)
    delete: list[Entry] = field(default_factory=list)

    @property
    def freed(self) -> int:
        return sum(e.size for e in self.delete)


def newest_first(entries: Iterable[Entry]) -> list[Entry]:
    """By modification time, newest first; the name breaks ties (the same every time)."""
    return sorted(entries, key=lambda e: (e.mtime, e.name), reverse=True)


def prune(kind: str, entries: Iterable[Entry], keep: int, in_use: Collection[str]) -> Prune:
    """The newest ``keep`` entries and every one ``in_use`` stay; the rest go.

    Hidden names (``.1.2.0.tmp``, an export in progress) are never listed for deletion."""
    kept: list[Entry] = []
    gone: list[Entry] = []
    for entry in newest_first(entries):
        if entry.name.startswith("."):
            continue
        if entry.name in in_use or len(kept) < keep:
            kept.append(entry)
        else:
            gone.append(entry)
    return Prune(kind, kept, gone)


def over_limit(entries: Collection[Entry], keep: int) -> bool:
    """Whether pruning could delete anything (a cheap test before a full listing)."""
    return len(entries) > keep


def plan(
    listing: Mapping[str, Iterable[Entry]],
    limits: Mapping[str, int],
    in_use: Mapping[str, Collection[str]],
) -> list[Prune]:
    """:func:`prune` for each kind listed (in :data:`KINDS` order)."""
    return [
        prune(kind, listing[kind], limits[kind], in_use.get(kind, ()))
        for kind in KINDS
        if kind in listing
    ]
