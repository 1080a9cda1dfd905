"""shipdeck.yaml: the schema, loading, and errors that name ``file:line:col``.

The models here are strict pydantic; ``lifecycle.config.yamlpos`` parses the YAML while
remembering where each key and value came from, and ``lifecycle.config.errors``
turns every problem, from a stray tab to an unknown template field, into
``path:line:col: message``, so nothing runs on a bad config.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from shipdeck.lifecycle.config import behaviour
from shipdeck.lifecycle.config.behaviour import ACTIONS as _ACTIONS
from shipdeck.lifecycle.config.behaviour import UnknownEnvironment as UnknownEnvironment
from shipdeck.lifecycle.config.errors import ConfigError as ConfigError
from shipdeck.lifecycle.config.errors import ConfigIssue as ConfigIssue
from shipdeck.lifecycle.config.templates import (
    BRANCH_FIELDS,
    check_template,
    render,
    template_fields,
)
from shipdeck.lifecycle.config.yamlpos import validate_yaml
from shipdeck.lifecycle.paths import CONFIG_NAME, tree_path_parts
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.text import branch_name_problem

DEFAULT_CONFIG_NAME = CONFIG_NAME
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)

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
    sample = render(value, {"id": "SD-1", "slug": "item", "kind": "feature", "project": "p"})
    problem = branch_name_problem(sample)
    if problem:
        raise ValueError(f"branch template {value!r} makes branches like {sample!r}: {problem}")
    return value


def _git_branch(value: str) -> str:
    problem = branch_name_problem(value)
    if problem:
        raise ValueError(f"{value!r} is not a branch name git accepts: {problem}")
    return value


def _env_values(value: dict[str, str]) -> dict[str, str]:
    """What exec accepts: names without '=' (checked by the key type), values without NUL."""
    for name, text in value.items():
        if "\0" in text:
            raise ValueError(f"the value of {name} contains a NUL byte, which exec refuses")
    return value


def _command_kind(value: Any) -> str | None:
    return "str" if isinstance(value, str) else "list" if isinstance(value, list) else None


def _repo_path(value: str) -> str:
    if tree_path_parts(value) is None:
        raise ValueError(f"{value!r} is not a file path inside the repository")
    return value


Template = Annotated[str, AfterValidator(check_template)]
RepoPath = Annotated[str, AfterValidator(_repo_path)]


def _repo_dir(value: str) -> str:
    inside = value.strip("/") in ("", ".") or tree_path_parts(value) is not None
    if not inside or value.startswith("/"):  # "." is the checkout itself
        raise ValueError(f"{value!r} is not a folder inside the repository")
    return value


RepoDir = Annotated[str, AfterValidator(_repo_dir)]
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
GitRemote = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")]
Delay = Annotated[float, Field(ge=0)]
Port = Annotated[int, Field(ge=1, le=65535)]
Percent = Annotated[float, Field(gt=0, le=100)]
PortKey = Annotated[str, BeforeValidator(_port_key)]
_NAME_HELP = "use lowercase letters, digits, '.', '_' and '-', starting with a letter or digit"
ProjectName = Annotated[str, _pattern(r"[a-z0-9][a-z0-9_.-]*", _NAME_HELP + " (it names images)")]
EnvName = Annotated[str, _pattern(r"[a-z0-9][a-z0-9_-]*", "use lowercase letters, digits, _ and -")]
SecretName = Annotated[str, _pattern(r"[A-Za-z_][A-Za-z0-9_]*", "expected a variable name")]
BranchName = Annotated[
    str,
    _pattern(r"[A-Za-z0-9._][A-Za-z0-9._/-]*", "not a safe branch name"),
    AfterValidator(_git_branch),
]
EnvVar = Annotated[str, _pattern(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name")]
EnvMap = Annotated[dict[EnvVar, Text], AfterValidator(_env_values)]
Interpreter = Annotated[
    str,
    _pattern(r"[^\x00-\x1f\x7f]+", "a path or a command name without control characters"),
]
RestartPolicy = Annotated[
    str,
    _pattern(
        r"no|always|unless-stopped|on-failure(:[0-9]+)?",
        "expected no, always, unless-stopped, on-failure or on-failure:N",
    ),
]

# --- models ------------------------------------------------------------------------


class _Model(BaseModel):
    # Attribute docstrings become the JSON Schema's descriptions (shipdeck schema).
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True
    )

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
    context: RepoDir = "."
    """The build context, relative to the item's checkout."""
    dockerfile: str = "Dockerfile"
    """The Dockerfile, relative to the context."""
    tag: Template
    """The image tag to build, e.g. hello:{short_sha}."""
    buildargs: dict[str, Text] = {}
    """Build arguments (ARG values)."""
    target: str | None = None
    """The stage of a multi-stage Dockerfile to build."""


class DockerRun(_Model):
    image: Template
    """The image the step runs in."""
    command: Command | None = None
    """The command run in the container (default: the image's)."""
    env: EnvMap = {}
    """Environment variables for the container."""


class Step(_Model):
    """One build or test step: a shell command, an image build, or a container run."""

    name: str | None = None
    """What the board and logs call the step (default: its command)."""
    run: Template | None = None
    """A shell command run in the item's checkout; {python} is the project's interpreter."""
    docker_build: DockerBuild | None = None
    """Build an image with the Docker Engine instead of running a command."""
    docker_run: DockerRun | None = None
    """Run the step in a container instead of on the host."""
    junit: RepoPath | None = None
    """A JUnit XML report the step writes; the Test stage reads its counts from it."""
    timeout: Positive | None = None
    """Seconds before the step is stopped (default: stages.timeout)."""

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
        return behaviour.step_kind(self)

    @property
    def label(self) -> str:
        """A short title for logs and cards."""
        return behaviour.step_label(self)


class ReleaseConfig(_Model):
    version: Literal["semver"] = "semver"
    """How versions are chosen: semver, from the kinds of the released items."""
    tag: Template | None = None
    """The version tag's spelling, e.g. v{version} (default: learned from the repository's tags)."""
    push: Template | None = None
    """The image repository a release pushes to, e.g. registry:5000/hello."""
    remote: GitRemote | None = None
    """A git remote the base branch and the tag are pushed to, atomically."""
    changelog: RepoPath = "CHANGELOG.md"
    """The changelog file a release writes its entry into."""

    @field_validator("tag")
    @classmethod
    def _tag_has_version(cls, value: str | None) -> str | None:
        if value is not None and "version" not in template_fields(value):
            raise ValueError(f"release tag {value!r} must contain {{version}}")
        return value


class Stages(_Model):
    build: list[Step] = []
    """The Build stage's steps, in order."""
    test: list[Step] = []
    """The Test stage's steps, in order."""
    release: ReleaseConfig = Field(default_factory=ReleaseConfig)
    """How the Release stage versions, tags and pushes."""
    timeout: Positive = 1800.0
    """Seconds a step may run unless it sets its own timeout."""

    def steps(self, stage: Stage) -> list[Step]:
        """The steps of a step stage (Build or Test)."""
        return behaviour.stage_steps(self, stage)

    def timeout_for(self, step: Step) -> float:
        return behaviour.timeout_for(self, step)

    @property
    def builds_image(self) -> bool:
        """A docker_build step makes the image a release is made of."""
        return behaviour.builds_image(self)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KkMmGg]?[Bb]?)\s*$")
_SIZE_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _byte_size(value: object) -> object:
    """``10 MB`` / ``512KB`` / ``1048576`` -> bytes (powers of 1024, as units.byte_size)."""
    if isinstance(value, str):
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"not a size: {value!r} (e.g. 10 MB, 512 KB, 1048576)")
        unit = match.group(2).upper()
        unit = unit[0] if len(unit) == 2 else unit  # MB -> M; B and "" stay
        return int(float(match.group(1)) * _SIZE_UNITS[unit])
    return value


ByteSize = Annotated[
    int,
    BeforeValidator(_byte_size),
    Field(ge=0),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": _SIZE.pattern},
            ],
            "description": "bytes, or a size such as 10 MB or 512 KB (powers of 1024)",
        }
    ),
]


class Health(_Model):
    url: HttpTemplate
    """The URL a deploy waits on and the monitor probes, e.g. http://127.0.0.1:{port}/health."""
    timeout: Positive = 30.0
    """Seconds a deploy waits for the service to answer before it rolls back."""
    interval: Positive = 0.5
    """Seconds between two health requests."""
    expect: Annotated[int, Field(ge=100, le=599)] | None = None
    """The HTTP status that means healthy (default: any 2xx)."""


class UpdateConfig(_Model):
    """Swarm's rolling update: each batch must stay healthy for ``monitor`` seconds."""

    parallelism: Annotated[int, Field(ge=0)] = 1
    """Replicas updated at once (0: all)."""
    delay: Delay = 5.0
    """Seconds between two batches."""
    order: Literal["stop-first", "start-first"] = "stop-first"
    """Stop the old task before starting the new one, or after (needs room for both)."""
    failure_action: Literal["rollback", "pause", "continue"] = "rollback"
    """What a failed update does: Swarm rolls it back, pauses it, or goes on."""
    monitor: Delay = 10.0
    """Seconds a new task is watched (its HEALTHCHECK included) before it counts as updated."""
    max_failure_ratio: Annotated[float, Field(ge=0, le=1)] = 0.0
    """The share of tasks that may fail an update before failure_action applies."""


class Resources(_Model):
    """Swarm: what each task may use (limits) of its node."""

    cpus: Positive | None = None
    """CPUs per task, e.g. 0.5."""
    memory: ByteSize | None = None
    """Memory per task, e.g. 256 MB."""


class Autoscale(_Model):
    """Swarm: the monitor scales the service between min and max replicas.

    As Kubernetes' HorizontalPodAutoscaler: desired = ceil(replicas x metric / target),
    nothing changes inside a 10% tolerance band, and a scale-down waits for the
    cooldown (its stabilisation window) so load that comes and goes does not flap.
    """

    min: Annotated[int, Field(ge=1)] = 1
    """The fewest replicas."""
    max: Annotated[int, Field(ge=1)]
    """The most replicas."""
    cpu: Percent = 70.0
    """Target mean CPU per task, in percent of one core."""
    latency_ms: Positive | None = None
    """Target health probe latency in milliseconds, besides cpu (the larger need wins)."""
    cooldown: Delay = 60.0
    """Seconds after a scaling before the next one, and a scale-down's window."""

    @model_validator(mode="after")
    def _range(self) -> Autoscale:
        if self.min > self.max:
            raise ValueError(f"autoscale min ({self.min}) is above max ({self.max})")
        return self


class Environment(_Model):
    target: Literal["local", "docker", "swarm"] = "local"
    """Where it runs: a local process, a Docker container, or a Swarm service."""
    run: Template | None = None
    """local: the service's command; {port} is the environment's port."""
    port: Port | None = None
    """The port the service listens on (local) or is published on (docker)."""
    health: Health | None = None
    """The health check a deploy waits on before it counts."""
    auto: bool = False
    """Deploy here by itself when an item reaches Deploy."""
    approval: bool = False
    """Ask before deploying here (the board asks; the CLI needs --yes)."""
    docker_host: str | None = None
    """The Docker Engine to use (default: DOCKER_HOST, then the docker context)."""
    image: Template | None = None
    """docker/swarm: the image to run (default: the release's image)."""
    ports: dict[PortKey, Port] = {}
    """docker/swarm: container port (e.g. 8000/tcp) to host port."""
    env: EnvMap = {}
    """Environment variables for the service."""
    secrets: list[SecretName] = []
    """Names of environment variables passed to the service and masked in every output."""
    replicas: Annotated[int, Field(ge=0)] = 1
    """swarm: how many copies run (docker and local run one)."""
    update: UpdateConfig = Field(default_factory=UpdateConfig)
    """swarm: how a rolling update proceeds."""
    publish_mode: Literal["ingress", "host"] = "ingress"
    """swarm: ports on every node through the routing mesh, or on the nodes running a task."""
    constraints: list[Annotated[str, Field(min_length=1)]] = []
    """swarm: placement constraints, e.g. node.role==worker or node.labels.zone==a."""
    resources: Resources | None = None
    """swarm: limits on each task."""
    autoscale: Autoscale | None = None
    """swarm: scale between min and max replicas on the tasks' CPU or the probe latency."""
    restart_policy: RestartPolicy = "unless-stopped"
    """docker/swarm: when the engine restarts the container."""
    bake: Delay = 60.0
    """Seconds a release must stay healthy in Operate before it moves on."""
    labels: dict[str, Text] = {}
    """docker/swarm: labels put on the container or service."""
    python: Interpreter | None = None
    """This environment's {python} (default: the project's interpreter)."""
    workdir: Template | None = None
    """local: where the service runs (default: the release's export)."""

    @field_validator("replicas")
    @classmethod
    def _one_unless_swarm(cls, value: int, info: ValidationInfo) -> int:
        target = info.data.get("target", "local")
        if value != 1 and target != "swarm":  # never silently ignored
            raise ValueError(f"replicas: {value} needs target swarm (target {target} runs one)")
        return value

    @field_validator("update", "publish_mode", "constraints", "resources", "autoscale")
    @classmethod
    def _swarm_only(cls, value: Any, info: ValidationInfo) -> Any:
        """Only given keys are validated: each one set outside swarm is refused at its line."""
        target = info.data.get("target", "local")
        if target != "swarm":
            raise ValueError(f"{info.field_name} is for target swarm (this one is {target})")
        return value

    @model_validator(mode="after")
    def _fits_target(self) -> Environment:
        if self.target == "local" and not self.run:
            raise ValueError(
                "target local needs 'run', the command that starts the service "
                '(e.g. run: "{python} -m app --port {port}")'
            )
        if self.workdir is not None and self.target != "local":
            raise ValueError(f"workdir is for target local (this one is {self.target})")
        if self.autoscale is not None and self.health is None and self.autoscale.latency_ms:
            raise ValueError("autoscale latency_ms needs health: url, the probe it measures")
        health_url = self.health.url if self.health else None
        for key, value in (("run", self.run), ("image", self.image), ("health.url", health_url)):
            if value and self.port is None and "port" in template_fields(value):
                raise ValueError(f"{key} uses {{port}} but this environment sets no 'port'")
        return self


class Probe(_Model):
    name: str
    """Its name on the metrics pane and in alerts (an environment's name replaces its probe)."""
    url: HttpTemplate
    """The URL probed."""
    slow_ms: Positive = 300.0
    """Milliseconds above which an answer counts as slow."""
    timeout: Positive = 5.0
    """Seconds before a probe counts as failed."""


class Alerts(_Model):
    cpu: Percent = 90.0
    """Host CPU percent that raises an alert."""
    memory: Percent = 90.0
    """Host memory percent that raises an alert."""
    disk: Percent = 90.0
    """Disk use percent that raises an alert."""
    probe_failures: Annotated[int, Field(ge=1)] = 3
    """Failed probes in a row that raise an alert."""


class Monitor(_Model):
    interval: Positive = 2.0
    """Seconds between two samples."""
    probes: list[Probe] = []
    """URLs probed each sample."""
    probe_environments: bool = True
    """Probe each environment's health URL too."""
    alerts: Alerts = Field(default_factory=Alerts)
    """The thresholds of the alerts."""

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
    """An http(s) URL that gets each deploy, rollback and alert as JSON."""
    timeout: Positive = 5.0
    """Seconds a webhook call may take."""


Keep = Annotated[int, Field(ge=1)]


class Retention(_Model):
    """What ``shipdeck gc`` (and a finished run or deploy, when over a limit) keeps under
    .shipdeck/; the journal is never pruned."""

    runs: Keep = 200
    """Run logs kept (.shipdeck/runs/), newest first."""
    releases: Keep = 5
    """Release exports kept (.shipdeck/releases/) besides those in use."""
    builds: Keep = 20
    """Items' build trees kept (.shipdeck/work/) besides those in use."""
    log_size: ByteSize = 10 << 20
    """A local service's log file is rotated past this size (0: never)."""
    log_files: Keep = 3
    """Files kept per service log."""


class Config(_Model):
    """A whole shipdeck.yaml."""

    version: int
    """The file format's version: 1."""
    project: ProjectName
    """The project's name, used in image names and messages."""
    base_branch: BranchName = "main"
    """The branch items branch from and releases merge into."""
    branch: Annotated[str, AfterValidator(_branch_template)] = "{kind}/{id}-{slug}"
    """An item's branch name, e.g. {kind}/{id}-{slug}."""
    stages: Stages = Field(default_factory=Stages)
    """What the Build, Test and Release stages do."""
    environments: dict[EnvName, Environment] = {}
    """Where releases are deployed, by name."""
    monitor: Monitor = Field(default_factory=Monitor)
    """What is watched while items are in Monitor."""
    notify: Notify = Field(default_factory=Notify)
    """Where deploys, rollbacks and alerts are sent."""
    retention: Retention = Field(default_factory=Retention)
    """What shipdeck gc keeps under .shipdeck/."""
    python: Interpreter | None = None
    """The project's {python} (default: found: .venv, venv, Poetry's, uv's, python3)."""

    @field_validator("version")
    @classmethod
    def _supported(cls, value: int) -> int:
        if value not in SUPPORTED_VERSIONS:
            known = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
            raise ValueError(f"unsupported version {value} (supported: {known})")
        return value

    def secret_names(self) -> set[str]:
        """Every secret named by any environment (their values are masked in logs)."""
        return behaviour.secret_names(self)

    def url_passwords(self) -> dict[str, str]:
        """The passwords written into URLs in ``env:`` maps (masked as secrets are)."""
        return behaviour.url_passwords(self)

    def environment(self, name: str) -> Environment:
        """The named environment; UnknownEnvironment (a LookupError) listing the names if absent."""
        env: Environment = behaviour.environment(self, name)
        return env


# --- loading -------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike[str], *, on_valid: Callable[[bytes, Config], None] | None = None
) -> Config:
    """Read and validate a config file; ConfigError names ``path`` as given.

    ``on_valid`` gets the exact bytes that validated (the UI remembers them, so it
    can open the board without validating the same file again).
    """
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
    config = parse_config(text, shown)
    if on_valid is not None:
        on_valid(data, config)
    return config


def parse_config(text: str, filename: str = DEFAULT_CONFIG_NAME) -> Config:
    """Validate config text; ``filename`` is only used in error messages."""
    return validate_yaml(text, filename, Config)
