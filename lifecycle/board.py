"""The board: items plus the id counter, and its YAML file format.

``board.yaml`` is committed, so the text is YAML with a stable key order that
diffs well, and a file this version cannot read (from a newer shipdeck, or
corrupt) is refused with a one-line :class:`BoardError` naming file:line:col.
Reading and writing the file safely is :mod:`lifecycle.store`'s job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from shipdeck.lifecycle.errors import ShipdeckError
from shipdeck.lifecycle.items import (
    Item,
    Kind,
    RunState,
    StageState,
    TestReport,
    item_number,
    new_uid,
    normalise_id,
)
from shipdeck.lifecycle.stages import ORDER, Stage

SCHEMA = 1
_TOP_KEYS = ("schema", "next_id", "items")

if TYPE_CHECKING:
    import yaml


# PyYAML is imported when a file is read or written, not with this module: the
# board opens from its cache (lifecycle.store) without it.
@cache
def _loader() -> Any:
    """libyaml's loader when present (~10x faster than the pure Python one)."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _dumper() -> Any:
    """The pure Python emitter, always: libyaml escapes emoji and quotes some keys
    differently, and the file must read the same on every machine."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True  # never &id001 anchors: every value is written out in full

    Dumper.add_representer(str, _represent_str)
    return Dumper


class BoardError(ShipdeckError):
    """The board file cannot be used. ``str()`` is one line naming the file and why."""


class ItemNotFound(ShipdeckError, LookupError):
    """No item with that id; ``str()`` reads ``no item SD-9``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such item"


class Stamp(NamedTuple):
    """Cheap identity of the file on disk; a different stamp means reload."""

    mtime_ns: int
    size: int
    inode: int


def refuse_newer(schema: object, known: int, where: str) -> None:
    """A board written by a newer shipdeck is refused, never rewritten in an older shape."""
    if isinstance(schema, int) and not isinstance(schema, bool) and schema > known:
        raise BoardError(
            f"{where}: written by a newer shipdeck (schema {schema}; this one reads schema {known})"
        )


def check_title(title: str) -> str:
    """Titles are kept exactly as typed, but must say something."""
    if not isinstance(title, str):
        raise ValueError(f"a title must be text, not {type(title).__name__}")
    if not title.strip():
        raise ValueError("a title cannot be empty")
    return title


def _looks_like_id(text: str) -> bool:
    try:
        item_number(text)
    except ValueError:
        return False
    return True


@dataclass
class Board:
    """All items plus the id counter. ``next_id`` only grows, so ids are never reused."""

    next_id: int = 1
    items: list[Item] = field(default_factory=list)
    stamp: str | None = field(default=None, compare=False, repr=False)  # the ref's commit

    def get(self, item_id: str) -> Item:
        """The item with this id (``SD-3``, ``sd-3`` or ``3``); :class:`ItemNotFound` if none."""
        wanted = normalise_id(item_id)
        for item in self.items:
            if item.id == wanted:
                return item
        raise ItemNotFound(f"no item {wanted}")

    def new_id(self) -> str:
        """Take the next id for good, even if the item is never saved."""
        self.next_id = max(self.next_id, self._max_number() + 1)
        item_id = f"SD-{self.next_id}"
        self.next_id += 1
        return item_id

    def add(
        self,
        title: str,
        kind: Kind = Kind.FEATURE,
        body: str = "",
        breaking: bool = False,
        links: Iterable[str] = (),
    ) -> Item:
        """A new Plan item with the next id."""
        check_title(title)
        item = Item(
            id=self.new_id(),
            title=title,
            kind=Kind(kind),
            body=body,
            breaking=breaking,
            links=list(links),
            uid=new_uid(),
        )
        self.items.append(item)
        return item

    def remove(self, item_id: str) -> Item:
        """Delete an item outright (its id is still never reused)."""
        item = self.get(item_id)
        self.items.remove(item)
        return item

    def active(self) -> list[Item]:
        """Items not archived, in id order."""
        return sorted((i for i in self.items if not i.archived), key=lambda i: i.number)

    def by_stage(self) -> dict[Stage, list[Item]]:
        """Active items per column; every stage is a key, in board order."""
        out: dict[Stage, list[Item]] = {stage: [] for stage in ORDER}
        for item in self.active():
            out[item.stage].append(item)
        return out

    def check(self) -> None:
        """ValueError before a write: a title that says nothing, or one id twice."""
        seen: set[str] = set()
        for item in self.items:
            check_title(item.title)
            if item.id in seen:
                raise ValueError(f"two items have the id {item.id}")
            seen.add(item.id)

    def _max_number(self) -> int:
        return max((i.number for i in self.items), default=0)


# --- YAML text -----------------------------------------------------------------


def _represent_str(dumper: Any, data: str) -> Any:
    style: str | None = None
    if any(c in data for c in "\x85\u2028\u2029"):
        style = '"'  # line breaks YAML would read back as "\n": escape them
    elif "\n" in data and "\r" not in data:
        style = "|"  # readable multi-line bodies; the emitter falls back if it must
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def dump_board(board: Board, name: str = "board.yaml") -> str:
    """The file's text: ``schema``, ``next_id``, then items in id order.

    Raises ValueError (and so writes nothing) if the text would not load back.
    """
    board.check()
    board.next_id = max(board.next_id, board._max_number() + 1)
    doc = {
        "schema": SCHEMA,
        "next_id": board.next_id,
        "items": [i.to_dict() for i in sorted(board.items, key=lambda i: i.number)],
    }
    import yaml

    try:
        text: str = yaml.dump(
            doc,
            Dumper=_dumper(),
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
            width=1 << 20,
            indent=2,
        )
        parse_board(text, name)
    except (yaml.YAMLError, BoardError) as e:
        raise ValueError(f"refusing to write a board that would not load: {_one_line(e)}") from e
    return text


def _one_line(e: object) -> str:
    return " ".join(str(e).split())


def _where(name: str, node: yaml.Node | None) -> str:
    if node is None:
        return name
    return f"{name}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value node of ``key`` in a mapping node, for line numbers in errors."""
    if node is None:
        return None
    import yaml

    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v if isinstance(v, yaml.Node) else None
    return None


def parse_board(text: str, name: str = "board.yaml") -> Board:
    """Read the file's text; BoardError (``name:line:col: why``) if it is not a board."""
    return parse_board_data(text, name)[0]


def parse_board_data(text: str, name: str = "board.yaml") -> tuple[Board, Any]:
    """:func:`parse_board`, and the plain data the YAML held (what a cache can keep)."""
    import yaml

    from shipdeck.lifecycle.config import yamlsafe

    loader = _loader()("")
    try:
        root = yamlsafe.compose(text, _loader())
        data = loader.construct_document(root) if root is not None else None
    except yamlsafe.YamlTooBig as e:
        raise BoardError(f"{name}:{e.line}:{e.col}: {e.message}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise BoardError(f"{where}: {_one_line(e.problem or e)}") from None
    except yaml.YAMLError as e:
        raise BoardError(f"{name}: {_one_line(e)}") from None
    finally:
        loader.dispose()
    return board_from_data(data, name, root), data


def board_from_data(data: Any, name: str = "board.yaml", root: yaml.Node | None = None) -> Board:
    """The board the file's data describes; ``root`` (its YAML nodes) places errors."""
    if data is None:
        raise BoardError(f"{name}: the file is empty (expected 'schema: {SCHEMA}'); delete it")
    if not isinstance(data, dict):
        raise BoardError(f"{_where(name, root)}: expected a mapping with schema, next_id, items")
    schema = data.get("schema")
    refuse_newer(schema, SCHEMA, name)
    if schema != SCHEMA or isinstance(schema, bool):
        where = _where(name, _child(root, "schema") or root)
        raise BoardError(f"{where}: expected 'schema: {SCHEMA}', found {schema!r}")
    for key in data:
        if key not in _TOP_KEYS:
            raise BoardError(f"{_where(name, root)}: unknown key {key!r}")
    next_id = data.get("next_id")
    if not isinstance(next_id, int) or isinstance(next_id, bool) or next_id < 1:
        where = _where(name, _child(root, "next_id") or root)
        raise BoardError(f"{where}: next_id must be a whole number from 1, found {next_id!r}")
    raw_items = data.get("items")
    raw_items = [] if raw_items is None else raw_items
    items_node = _child(root, "items")
    if not isinstance(raw_items, list):
        raise BoardError(f"{_where(name, items_node)}: items must be a list")
    nodes: list[Any] = []
    if items_node is not None:  # only when placing errors in a file just parsed
        import yaml

        nodes = items_node.value if isinstance(items_node, yaml.SequenceNode) else []
    board = Board(next_id=next_id)
    seen: set[str] = set()
    for n, raw in enumerate(raw_items, start=1):
        try:
            item = _read_item(raw)
            if item.id in seen:
                raise _Bad("id", f"{item.id} appears twice")
        except _Bad as bad:
            node = nodes[n - 1] if n <= len(nodes) else None
            label = (
                f"item {n} ({raw['id']})" if isinstance(raw, dict) and "id" in raw else f"item {n}"
            )
            where = _where(name, (_child(node, bad.key) if bad.key else None) or node)
            raise BoardError(f"{where}: {label} is invalid: {bad}") from None
        seen.add(item.id)
        board.items.append(item)
    board.items.sort(key=lambda i: i.number)
    board.next_id = max(board.next_id, board._max_number() + 1)
    return board


def item_from_data(raw: Any, where: str) -> Item:
    """One item's data (a blob of the board ref, or a cache entry), checked strictly."""
    try:
        return _read_item(raw)
    except _Bad as bad:
        label = f"{raw['id']}" if isinstance(raw, dict) and "id" in raw else "the item"
        raise BoardError(f"{where}: {label} is invalid: {bad}") from None


class _Bad(ShipdeckError):
    """One problem with one item, and the key it is about (for the line number)."""

    def __init__(self, key: str | None, problem: str) -> None:
        super().__init__(problem)
        self.key = key


_ITEM_KEYS = frozenset(f.name for f in fields(Item))
_STATE_KEYS = frozenset(f.name for f in fields(StageState))
_TESTS_KEYS = frozenset(f.name for f in fields(TestReport))
_TYPES: dict[str, type] = {
    k: str for k in ("id", "title", "body", "branch", "sha", "version", "uid")
}
_TYPES.update(env=str, breaking=bool, archived=bool, links=list, artifacts=dict, states=dict)
_TYPES.update(tests=dict)
_WHAT = {str: "text", bool: "true or false", list: "a list", dict: "a mapping"}
_STAGES = frozenset(s.value for s in Stage)
_VALUES = {"kind": frozenset(k.value for k in Kind), "stage": _STAGES}
_RUN_STATES = frozenset(r.value for r in RunState)


def _read_item(raw: Any) -> Item:
    """Check one item's fields strictly (hand edits go wrong), then build it.

    Unknown keys are refused rather than dropped: the next write would lose them.
    """
    if not isinstance(raw, dict):
        raise _Bad(None, "expected a mapping of fields")
    for key in ("id", "title"):
        if raw.get(key) is None:
            raise _Bad(None, f"missing {key!r}")
    for key, value in raw.items():
        if key not in _ITEM_KEYS:
            raise _Bad(str(key), f"unknown key {key!r}")
        typ = _TYPES.get(key)
        if typ is not None and value is not None and not isinstance(value, typ):
            raise _Bad(key, f"{key} must be {_WHAT[typ]}, found {value!r}")
        if key in _VALUES and value not in _VALUES[key]:
            raise _Bad(key, f"unknown {key} {value!r}")
    if not _looks_like_id(raw["id"]):
        raise _Bad("id", f"id must look like SD-<number>, found {raw['id']!r}")
    if not raw["title"].strip():
        raise _Bad("title", "the title is empty")
    for stage, state in (raw.get("states") or {}).items():
        if stage not in _STAGES:
            raise _Bad("states", f"unknown stage {stage!r} in states")
        if not isinstance(state, dict) or not set(state) <= _STATE_KEYS:
            raise _Bad("states", f"states.{stage} has unknown or malformed fields")
        if state.get("state", "idle") not in _RUN_STATES:
            raise _Bad("states", f"unknown state {state['state']!r} in states.{stage}")
    if not set(raw.get("tests") or {}) <= _TESTS_KEYS:
        raise _Bad("tests", "tests has unknown fields")
    try:
        item = Item.from_dict(raw)
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise _Bad(None, _one_line(e)) from None
    _assume_utc(item)
    return item


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _assume_utc(item: Item) -> None:
    """A hand-written time without a zone means UTC (naive times do not compare)."""
    item.created_at = _utc(item.created_at)
    item.updated_at = _utc(item.updated_at)
    for state in item.states.values():
        state.started_at = _utc(state.started_at) if state.started_at else None
        state.finished_at = _utc(state.finished_at) if state.finished_at else None
