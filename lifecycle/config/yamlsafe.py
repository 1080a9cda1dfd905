"""YAML from files a user (or a remote) controls, composed with bounds.

PyYAML composes recursively (a few thousand nested ``[`` end in RecursionError)
and builds aliases as shared references that expand without bound when walked
(the "billion laughs"). Both are refused here, with the line and column, before
anything is constructed from the nodes.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from shipdeck.lifecycle.errors import ShipdeckError

MAX_DEPTH = 64  # nesting of mappings and lists
MAX_VALUES = 100_000  # nodes once every alias is expanded


class YamlTooBig(ShipdeckError):
    """The document nests too deeply or expands too far; ``line``/``col`` are 1-based."""

    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.line, self.col, self.message = line, col, message


def compose(text: str, loader: Any = None) -> Node | None:
    """The document's root node; :class:`YamlTooBig` for a bomb or a tower of nesting.
    ``yaml.YAMLError`` (bad syntax) passes through for the caller to place."""
    loader = loader or getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(text, Loader=loader)
    except RecursionError:
        line, col = _deepest(text)
        raise YamlTooBig(line, col, f"nested more than {MAX_DEPTH} levels deep") from None
    if root is not None:
        _check(root)
    return root


def _check(root: Node) -> None:
    """Walk the node graph once (aliases are the same node objects), counting what
    constructing it would make; iterative, so depth cannot overflow the stack here."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # nodes being walked: meeting one again is a cycle
    stack: list[tuple[Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        children = _children(node)
        if done:
            open_.discard(id(node))
            size = 1 + sum(sizes.get(id(c), 1) for c in children)
            if size > MAX_VALUES:
                _fail(node, f"expands to more than {MAX_VALUES:,} values (aliases?)")
            sizes[id(node)] = size
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_:
            _fail(node, "an alias refers to itself")
        if depth > MAX_DEPTH:
            _fail(node, f"nested more than {MAX_DEPTH} levels deep")
        open_.add(id(node))
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _fail(node: Node, message: str) -> None:
    raise YamlTooBig(node.start_mark.line + 1, node.start_mark.column + 1, message)


def _deepest(text: str) -> tuple[int, int]:
    """Where flow nesting (``[`` and ``{`` outside quotes) first passes MAX_DEPTH."""
    depth, line, col, quote = 0, 1, 0, ""
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, col
        elif ch in "]}":
            depth -= 1
    return 1, 1
