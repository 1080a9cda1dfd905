"""YAML with positions: parse text into a model, reporting problems as ``file:line:col``.

Generic over the root model: compose nodes (which know their line and column),
build plain data while recording where every key and value sits, validate, and
map pydantic's error locations back to nodes. PyYAML's plain ``safe_load``
forgets positions, which is why this walks the node tree itself.
"""

from __future__ import annotations

import typing

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from shipdeck.lifecycle.config import yamlsafe
from shipdeck.lifecycle.config.errors import ConfigError, ConfigIssue, describe_error

_MAX_VALUES = 100_000  # an alias chain expanding beyond this is refused, not built
_MERGE_TAG = "tag:yaml.org,2002:merge"
_Entries = dict[object, tuple[Node, Node]]  # key -> (key node, value node)
_M = typing.TypeVar("_M", bound=BaseModel)


def _at(path: str, node: Node, message: str) -> ConfigIssue:
    return ConfigIssue(path, node.start_mark.line + 1, node.start_mark.column + 1, message)


def _node_kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    return "a list" if isinstance(node, SequenceNode) else f"the value {node.value!r}"


def _compose(text: str, path: str) -> Node | None:
    try:
        return yamlsafe.compose(text, yaml.SafeLoader)
    except yamlsafe.YamlTooBig as exc:
        raise ConfigError(path, exc.line, exc.col, f"invalid YAML: {exc.message}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t":
            problem = "a tab character here; YAML indents and separates with spaces, not tabs"
        elif exc.context and exc.context_mark is not None and exc.context_mark is not mark:
            problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ConfigError(path, line, col, f"invalid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        pos = exc.position
        line, col = text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos)
        raise ConfigError(
            path, line, col, f"invalid YAML: character U+{exc.character:04X}: {exc.reason}"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, None, None, f"invalid YAML: {exc}") from None


class _Builder:
    """Nodes to plain data, recording each mapping's entries for error locations."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.entries: dict[int, _Entries] = {}
        self.issues: list[ConfigIssue] = []
        self._scalars = yaml.constructor.SafeConstructor()
        self._open: set[int] = set()
        self._count = 0

    def build(self, node: Node) -> object:
        self._count += 1
        if self._count > _MAX_VALUES:
            raise ConfigError.of([_at(self.path, node, "too many values (aliases expand too far)")])
        if isinstance(node, ScalarNode):
            try:
                return self._scalars.construct_object(node)
            except yaml.constructor.ConstructorError as exc:
                raise ConfigError.of(
                    [_at(self.path, node, f"invalid YAML: {exc.problem}")]
                ) from None
            except (ValueError, TypeError):  # e.g. "!!int abc"
                msg = f"invalid YAML: cannot read {node.value!r} as {node.tag}"
                raise ConfigError.of([_at(self.path, node, msg)]) from None
        if node.tag not in ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self.issues.append(_at(self.path, node, f"invalid YAML: unsupported tag {tag}"))
        if id(node) in self._open:
            raise ConfigError.of([_at(self.path, node, "an alias refers to itself")])
        self._open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item) for item in node.value]
            return self._mapping(node)
        finally:
            self._open.discard(id(node))

    def _mapping(self, node: Node) -> dict[object, object]:
        out: dict[object, object] = {}
        entries: _Entries = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self.issues.append(_at(self.path, key_node, "a key must be a plain value"))
                continue
            key = self.build(key_node)
            if key in entries:
                first = entries[key][0].start_mark.line + 1
                msg = f"duplicate key {key!r} (first defined at line {first})"
                self.issues.append(_at(self.path, key_node, msg))
                continue
            entries[key] = (key_node, value_node)
            out[key] = self.build(value_node)
        for merge in merges:  # "<<: *defaults": keys written here win over merged ones
            for source in merge.value if isinstance(merge, SequenceNode) else [merge]:
                if not isinstance(source, MappingNode):
                    self.issues.append(_at(self.path, source, "'<<' needs a mapping to merge"))
                    continue
                merged = self.build(source)
                assert isinstance(merged, dict)
                for key, value in merged.items():
                    if key not in out:
                        out[key], entries[key] = value, self.entries[id(source)][key]
        self.entries[id(node)] = entries
        return out

    def spot(
        self, root: Node, loc: tuple[int | str, ...]
    ) -> tuple[Node, Node | None, list[object]]:
        """The node a pydantic ``loc`` points at, the key node it hangs off, and the path."""
        node: Node = root
        key_node: Node | None = None
        path: list[object] = []
        for part in loc:
            if isinstance(node, MappingNode) and part in self.entries.get(id(node), {}):
                key_node, node = self.entries[id(node)][part]
            elif isinstance(node, SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                key_node, node = None, node.value[part]
            else:
                continue  # a missing key, "[key]" or a union member tag
            path.append(part)
        return node, key_node, path


def validate_yaml(text: str, path: str, model: type[_M]) -> _M:
    """``text`` validated as ``model``; ConfigError lists every problem, ``path`` names the file."""
    root = _compose(text, path)
    if root is None or (isinstance(root, ScalarNode) and root.value == "" and not root.style):
        raise ConfigError(
            path, 1, 1, "the file is empty (it needs at least 'version: 1' and 'project: <name>')"
        )
    if not isinstance(root, MappingNode):
        raise ConfigError.of(
            [_at(path, root, f"expected a mapping at the top level, got {_node_kind(root)}")]
        )
    builder = _Builder(path)
    data = builder.build(root)
    if builder.issues:
        raise ConfigError.of(builder.issues)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        issues: list[ConfigIssue] = []
        for err in exc.errors():
            node, key_node, parts = builder.spot(root, err["loc"])
            key_level = err["type"] in ("extra_forbidden", "invalid_key") or "[key]" in err["loc"]
            if key_node is not None and (key_level or _is_block(node)):
                node = key_node  # point at "name:" rather than at what follows it
            issue = _at(path, node, describe_error(err, parts, model))
            if issue not in issues:
                issues.append(issue)
        issues.sort(key=lambda i: (i.message.startswith("missing"), i.line or 0, i.col or 0))
        raise ConfigError.of(issues) from None


def _is_block(node: Node) -> bool:
    return isinstance(node, MappingNode | SequenceNode) and not node.flow_style
