"""A three-way merge of two boards that share a past: pure, deterministic, lossless.

``shipdeck sync`` merges the local board (ours) with the remote's (theirs) from
their common ancestor (base). The rules, in the order they apply:

* Items are matched by ``uid``, not by id: two clones that each created SD-7
  offline made two different items.
* An item one side added is kept. An item one side removed and the other left
  as it was is removed; removed on one side and changed on the other, the
  changed one is kept (a change is never lost).
* An item both sides changed is merged field by field (stage states stage by
  stage): a field only one side changed takes that change; a field both
  changed differently takes the value of the side whose item was updated
  later, and on equal times the side whose value sorts higher as JSON, so
  the result does not depend on which clone runs the merge.
* Two different items with the same id: the remote's keeps the id (it is
  published: other clones may know it), ours takes the next free id, and its
  branch is renamed when the branch name carries the old id.
* ``next_id`` is the highest of the three and above every id, so an id is never
  given out twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shipdeck.lifecycle.items import Item


@dataclass(frozen=True)
class Renumbered:
    """Our item that lost its id to the remote's: what to rename where."""

    uid: str
    old_id: str
    new_id: str
    old_branch: str | None
    new_branch: str | None


@dataclass
class MergedBoard:
    items: dict[str, Item]  # by id
    next_id: int
    renumbered: list[Renumbered] = field(default_factory=list)


def _key(item: Item) -> str:
    return item.uid or f"id:{item.id}"


def _by_key(items: Iterable[Item]) -> dict[str, Item]:
    return {_key(i): i for i in items}


def _sort_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=True)


def _pick(base: Any, ours: Any, theirs: Any, ours_newer: bool | None) -> Any:
    """One field's three-way merge; ``ours_newer`` None means equal times."""
    if ours == theirs:
        return ours
    if base == ours:
        return theirs
    if base == theirs:
        return ours
    if ours_newer is None:
        return ours if _sort_json(ours) > _sort_json(theirs) else theirs
    return ours if ours_newer else theirs


def merge_item(base: Item | None, ours: Item, theirs: Item) -> Item:
    """The same item changed on both sides, merged field by field."""
    b = base.to_dict() if base else {}
    o, t = ours.to_dict(), theirs.to_dict()
    newer: bool | None = None
    if ours.updated_at != theirs.updated_at:
        newer = ours.updated_at > theirs.updated_at
    out: dict[str, Any] = {}
    for key in sorted(o.keys() | t.keys() | b.keys()):
        if key == "states":
            out[key] = _merge_states(b.get(key) or {}, o.get(key) or {}, t.get(key) or {}, newer)
            continue
        value = _pick(b.get(key), o.get(key), t.get(key), newer)
        if value is not None:
            out[key] = value
    out["id"] = theirs.id  # the published id, should the two ever differ
    out["updated_at"] = max(o["updated_at"], t["updated_at"])
    return Item.from_dict(out)


def _merge_states(
    base: Mapping[str, Any], ours: Mapping[str, Any], theirs: Mapping[str, Any], newer: bool | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stage in sorted(ours.keys() | theirs.keys() | base.keys()):
        value = _pick(base.get(stage), ours.get(stage), theirs.get(stage), newer)
        if value is not None:
            out[stage] = value
    return out


def merge_boards(
    base: Iterable[Item],
    ours: Iterable[Item],
    theirs: Iterable[Item],
    next_ids: Iterable[int] = (),
) -> MergedBoard:
    """Merge ``ours`` and ``theirs`` from ``base`` (see the module doc for the rules)."""
    b, o, t = _by_key(base), _by_key(ours), _by_key(theirs)
    kept: dict[str, Item] = {}
    for key in sorted(o.keys() | t.keys()):
        mine, yours, old = o.get(key), t.get(key), b.get(key)
        if mine is not None and yours is not None:
            kept[key] = merge_item(old, mine, yours)
        elif mine is not None:
            if old is None or old.to_dict() != mine.to_dict():
                kept[key] = mine  # added here, or changed here while removed there
        elif yours is not None and (old is None or old.to_dict() != yours.to_dict()):
            kept[key] = yours
    # Ids: the remote's item keeps an id both sides gave out (it sorts first).
    by_id: dict[str, Item] = {}
    losers: list[Item] = []
    for key in sorted(kept, key=lambda k: (kept[k].number, k not in t, k)):
        item = kept[key]
        if item.id in by_id:
            losers.append(item)
        else:
            by_id[item.id] = item
    numbers = [i.number for i in kept.values()]
    next_id = max([1, *next_ids, *(n + 1 for n in numbers)])
    renumbered: list[Renumbered] = []
    for item in sorted(losers, key=lambda i: (i.number, _key(i))):
        old_id, new_id = item.id, f"SD-{next_id}"
        next_id += 1
        old_branch = item.branch
        item.id = new_id
        item.branch = rename_in_branch(old_branch, old_id, new_id)
        by_id[new_id] = item
        renumbered.append(Renumbered(_key(item), old_id, new_id, old_branch, item.branch))
    return MergedBoard(items=by_id, next_id=next_id, renumbered=renumbered)


def rename_in_branch(branch: str | None, old_id: str, new_id: str) -> str | None:
    """``feature/SD-7-login`` -> ``feature/SD-9-login``; a branch without the id is kept."""
    if not branch:
        return branch
    pattern = re.compile(rf"(?<![0-9A-Za-z]){re.escape(old_id)}(?![0-9])")
    return pattern.sub(new_id, branch)
