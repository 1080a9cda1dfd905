"""shipdeck.yaml: the schema, loading, and errors that name ``file:line:col``.

The YAML is composed into nodes (which know their line and column), built into
plain data while remembering where each key and value came from, then validated
by strict pydantic models. Every problem, from a stray tab to an unknown
template field, is reported as ``path:line:col: message`` and nothing runs.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from lifecycle.stages import Stage
from lifecycle.templates import BRANCH_FIELDS, check_template, template_fields

DEFAULT_CONFIG_NAME = "shipdeck.yaml"
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)

# --- errors ------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file; ``line``/``col`` are 1-based, None when unknown."""

    path: str
    line: int | None
    col: int | None
    message: str

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}" + (f":{self.col}" if self.col is not None else "")
        return f"{where}: {self.message}"


class ConfigError(Exception):
    """A config that cannot be used. ``str()`` is the first problem; ``errors`` has them all."""

    def __init__(
        self,
        path: str,
        line: int | None,
        col: int | None,
        message: str,
        errors: Sequence[ConfigIssue] | None = None,
    ) -> None:
        first = ConfigIssue(path, line, col, message)
        super().__init__(str(first))
        self.path, self.line, self.col, self.message = path, line, col, message
        self.errors: list[ConfigIssue] = list(errors) if errors else [first]

    @classmethod
    def of(cls, issues: Sequence[ConfigIssue]) -> ConfigError:
        first = issues[0]
        return cls(first.path, first.line, first.col, first.message, issues)


class UnknownEnvironment(KeyError):
    """An environment name the config does not define; ``str()`` lists the ones it does."""

    def __str__(self) -> str:
        return str(self.args[0])


# --- field types -----------------------------------------------------------------


def _pattern(regex: str, explain: str) -> AfterValidator:
    """A validator that refuses text not matching ``regex`` and says what is allowed."""

    def check(value: str) -> str:
        if not re.fullmatch(regex, value):
            raise ValueError(f"{value!r} is not valid: {explain}")
        return value

    return AfterValidator(check)


def _number_as_text(value: object) -> object:
    """Environment values and labels: accept 8000 or 0.5 as text, but not true/false."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _port_key(value: object) -> object:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str):
        m = re.fullmatch(r"([0-9]{1,5})(/(tcp|udp|sctp))?", text)
        if not m or not 1 <= int(m.group(1)) <= 65535:
            raise ValueError(f"{text!r} is not a container port (expected e.g. 8000 or '8000/tcp')")
        return text if m.group(2) else text + "/tcp"
    return text


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


def _branch_template(value: str) -> str:
    if "id" not in template_fields(value, BRANCH_FIELDS):
        raise ValueError(f"branch template {value!r} must contain {{id}} so each item's is unique")
    return value


def _command_kind(value: Any) -> str | None:
    return "str" if isinstance(value, str) else "list" if isinstance(value, list) else None


Template = Annotated[str, AfterValidator(check_template)]
HttpTemplate = Annotated[str, AfterValidator(check_template), AfterValidator(_http_url)]
Command = Annotated[
    Annotated[Template, Tag("str")] | Annotated[list[Template], Tag("list")],
    Discriminator(
        _command_kind,
        custom_error_type="command_type",
        custom_error_message="expected a string or a list of strings",
    ),
]
Text = Annotated[str, BeforeValidator(_number_as_text)]
Positive = Annotated[float, Field(gt=0)]
Delay = Annotated[float, Field(ge=0)]
Port = Annotated[int, Field(ge=1, le=65535)]
Percent = Annotated[float, Field(gt=0, le=100)]
PortKey = Annotated[str, BeforeValidator(_port_key)]
_NAME_HELP = "use lowercase letters, digits, '.', '_' and '-', starting with a letter or digit"
ProjectName = Annotated[str, _pattern(r"[a-z0-9][a-z0-9_.-]*", _NAME_HELP + " (it names images)")]
EnvName = Annotated[str, _pattern(r"[a-z0-9][a-z0-9_-]*", "use lowercase letters, digits, _ and -")]
SecretName = Annotated[str, _pattern(r"[A-Za-z_][A-Za-z0-9_]*", "expected a variable name")]
BranchName = Annotated[str, _pattern(r"[A-Za-z0-9._][A-Za-z0-9._/-]*", "not a safe branch name")]
RestartPolicy = Annotated[
    str,
    _pattern(
        r"no|always|unless-stopped|on-failure(:[0-9]+)?",
        "expected no, always, unless-stopped, on-failure or on-failure:N",
    ),
]

# --- models ------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        """``key:`` with nothing after it (null) means the default, where there is one."""
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {
            k: v
            for k, v in data.items()
            if v is not None
            or k not in fields
            or fields[k].is_required()
            or fields[k].default is None
        }


class DockerBuild(_Model):
    context: str = "."
    dockerfile: str = "Dockerfile"
    tag: Template
    buildargs: dict[str, Text] = {}
    target: str | None = None


class DockerRun(_Model):
    image: Template
    command: Command | None = None
    env: dict[str, Text] = {}


_ACTIONS = ("run", "docker_build", "docker_run")


class Step(_Model):
    """One build or test step: a shell command, an image build, or a container run."""

    name: str | None = None
    run: Template | None = None
    docker_build: DockerBuild | None = None
    docker_run: DockerRun | None = None
    junit: str | None = None
    timeout: Positive | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        present = [a for a in _ACTIONS if getattr(self, a) is not None]
        if len(present) != 1:
            has = " and ".join(present) if present else "none of them"
            raise ValueError(f"a step needs exactly one of run, docker_build, docker_run ({has})")
        return self

    @property
    def kind(self) -> str:
        """Which action this step is: ``run``, ``docker_build`` or ``docker_run``."""
        return next(a for a in _ACTIONS if getattr(self, a) is not None)

    @property
    def label(self) -> str:
        """A short title for logs and cards."""
        if self.name:
            return self.name
        if self.run is not None:
            return self.run
        if self.docker_build is not None:
            return f"docker build {self.docker_build.tag}"
        assert self.docker_run is not None
        return f"docker run {self.docker_run.image}"


class ReleaseConfig(_Model):
    version: Literal["semver"] = "semver"
    tag: Template = "v{version}"
    push: Template | None = None
    changelog: str = "CHANGELOG.md"

    @field_validator("tag")
    @classmethod
    def _tag_has_version(cls, value: str) -> str:
        if "version" not in template_fields(value):
            raise ValueError(f"release tag {value!r} must contain {{version}}")
        return value


class Stages(_Model):
    build: list[Step] = []
    test: list[Step] = []
    release: ReleaseConfig = Field(default_factory=ReleaseConfig)
    timeout: Positive = 1800.0

    def steps(self, stage: Stage) -> list[Step]:
        """The steps of a step stage (Build or Test)."""
        if stage is Stage.BUILD:
            return self.build
        if stage is Stage.TEST:
            return self.test
        raise ValueError(f"{stage.label} has no steps")

    def timeout_for(self, step: Step) -> float:
        return step.timeout if step.timeout is not None else self.timeout


class Health(_Model):
    url: HttpTemplate
    timeout: Positive = 30.0
    interval: Positive = 0.5
    expect: Annotated[int, Field(ge=100, le=599)] | None = None


class UpdateConfig(_Model):
    parallelism: Annotated[int, Field(ge=0)] = 1  # 0: all at once (as in docker swarm)
    delay: Delay = 5.0
    failure_action: Literal["rollback", "pause", "continue"] = "rollback"


class Environment(_Model):
    target: Literal["local", "docker", "swarm"] = "local"
    run: Template | None = None
    port: Port | None = None
    health: Health | None = None
    auto: bool = False
    approval: bool = False
    docker_host: str | None = None
    image: Template | None = None
    ports: dict[PortKey, Port] = {}
    env: dict[str, Text] = {}
    secrets: list[SecretName] = []
    replicas: Annotated[int, Field(ge=0)] = 1
    update: UpdateConfig = Field(default_factory=UpdateConfig)
    restart_policy: RestartPolicy = "unless-stopped"
    bake: Delay = 60.0
    labels: dict[str, Text] = {}

    @model_validator(mode="after")
    def _fits_target(self) -> Environment:
        if self.target == "local" and not self.run:
            raise ValueError(
                "target local needs 'run', the command that starts the service "
                '(e.g. run: "{python} -m app --port {port}")'
            )
        health_url = self.health.url if self.health else None
        for key, value in (("run", self.run), ("image", self.image), ("health.url", health_url)):
            if value and self.port is None and "port" in template_fields(value):
                raise ValueError(f"{key} uses {{port}} but this environment sets no 'port'")
        return self


class Probe(_Model):
    name: str
    url: HttpTemplate
    slow_ms: Positive = 300.0
    timeout: Positive = 5.0


class Alerts(_Model):
    cpu: Percent = 90.0
    memory: Percent = 90.0
    disk: Percent = 90.0
    probe_failures: Annotated[int, Field(ge=1)] = 3


class Monitor(_Model):
    interval: Positive = 2.0
    probes: list[Probe] = []
    alerts: Alerts = Field(default_factory=Alerts)

    @field_validator("probes")
    @classmethod
    def _unique_names(cls, probes: list[Probe]) -> list[Probe]:
        names = [p.name for p in probes]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two probes are named {name!r}; probe names must be unique")
        return probes


class Notify(_Model):
    webhook: Annotated[str, AfterValidator(_http_url)] | None = None
    timeout: Positive = 5.0


class Config(_Model):
    """A whole shipdeck.yaml."""

    version: int
    project: ProjectName
    base_branch: BranchName = "main"
    branch: Annotated[str, AfterValidator(_branch_template)] = "{kind}/{id}-{slug}"
    stages: Stages = Field(default_factory=Stages)
    environments: dict[EnvName, Environment] = {}
    monitor: Monitor = Field(default_factory=Monitor)
    notify: Notify = Field(default_factory=Notify)

    @field_validator("version")
    @classmethod
    def _supported(cls, value: int) -> int:
        if value not in SUPPORTED_VERSIONS:
            known = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
            raise ValueError(f"unsupported version {value} (supported: {known})")
        return value

    def secret_names(self) -> set[str]:
        """Every secret named by any environment (their values are masked in logs)."""
        return {name for env in self.environments.values() for name in env.secrets}

    def environment(self, name: str) -> Environment:
        """The named environment; UnknownEnvironment (a KeyError) listing the names if absent."""
        try:
            return self.environments[name]
        except KeyError:
            names = ", ".join(self.environments) or "none are defined"
            raise UnknownEnvironment(
                f"no environment {name!r} in shipdeck.yaml (environments: {names})"
            ) from None


# --- loading -------------------------------------------------------------------------


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file; ConfigError names ``path`` as given."""
    shown = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            shown, None, None, "not found (run 'shipdeck init' to create one)"
        ) from None
    except IsADirectoryError:
        raise ConfigError(shown, None, None, "is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(shown, None, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        col = len(data[start : exc.start].decode("utf-8", "replace")) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start]
        raise ConfigError(
            shown, line, col, f"not valid UTF-8 (byte 0x{bad:02x}); save the file as UTF-8"
        ) from None
    return parse_config(text, shown)


def parse_config(text: str, filename: str = DEFAULT_CONFIG_NAME) -> Config:
    """Validate config text; ``filename`` is only used in error messages."""
    return _validate_yaml(text, filename, Config)


# --- YAML with positions ------------------------------------------------------------
# Generic over the root model: compose nodes, build plain data while recording
# where every key and value sits, validate, and map pydantic's error locations
# back to nodes.

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
        return yaml.compose(text, Loader=yaml.SafeLoader)
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


def _validate_yaml(text: str, path: str, model: type[_M]) -> _M:
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
            issue = _at(path, node, _describe_error(err, parts, model))
            if issue not in issues:
                issues.append(issue)
        issues.sort(key=lambda i: (i.message.startswith("missing"), i.line or 0, i.col or 0))
        raise ConfigError.of(issues) from None


def _is_block(node: Node) -> bool:
    return isinstance(node, MappingNode | SequenceNode) and not node.flow_style


# --- error messages -------------------------------------------------------------------

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def _dotted(parts: Sequence[object]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def _describe_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {value!r}" if len(value) < 60 else "a long string"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "a mapping"
    return f"{type(value).__name__} {value}"


def _model_at(model: type[BaseModel], parts: Sequence[object]) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``parts``, if it is one."""
    tp: Any = model
    for part in [*parts, None]:
        while True:  # peel Annotated[...] and X | None
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            origin = typing.get_origin(tp)
            if origin is Annotated or (
                origin in (typing.Union, types.UnionType) and len(args) == 1
            ):
                tp = args[0]
            else:
                break
        if part is None:
            break
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            field = tp.model_fields.get(part)
            tp = field.annotation if field else None
        elif typing.get_origin(tp) in (list, dict):
            tp = typing.get_args(tp)[-1]
        else:
            return None
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _describe_error(err: ErrorDetails, parts: list[object], model: type[BaseModel]) -> str:
    kind, loc, value = err["type"], err["loc"], err["input"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    if kind in ("extra_forbidden", "invalid_key", "missing"):
        parent = parts if kind == "missing" else parts[:-1]
        owner = _model_at(model, parent)
        keys = list(owner.model_fields) if owner else []
        where = f"in {_dotted(parent)}" if parent else "at the top level"
        if kind == "missing":
            return f"missing required key {loc[-1]!r} {where}"
        close = difflib.get_close_matches(str(loc[-1]), keys, n=1)
        hint = f", did you mean {close[0]!r}?" if close else ""
        return f"unknown key {loc[-1]!r} {where}{hint} (expected one of: {', '.join(keys)})"
    name = _dotted(parts)
    prefix = f"{name}: " if name else ""
    if "[key]" in loc:
        owner_name = _dotted(parts[:-1])
        prefix = f"key {value!r} in {owner_name}: " if owner_name else f"key {value!r}: "
    if kind in ("value_error", "assertion_error"):
        return prefix + str(ctx.get("error", err["msg"]))
    expected = _EXPECTED.get(kind)
    if kind == "model_type" and (owner := _model_at(model, parts)):
        expected = f"a mapping (keys: {', '.join(owner.model_fields)})"
    elif kind == "literal_error":
        expected = f"one of {ctx['expected']}"
    elif kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        bound = ctx[key]
        expected = f"a number {words} {int(bound) if bound == int(bound) else bound}"
    if expected is None:
        return prefix + err["msg"][:1].lower() + err["msg"][1:]
    message = f"{prefix}expected {expected}, got {_describe_value(value)}"
    if kind == "string_type" and isinstance(value, bool):
        message += " (quote it: YAML reads yes/no/on/off/true/false as booleans)"
    return message
