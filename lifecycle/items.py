"""Items on the board and the state of each stage they went through.

Everything here is plain data with ``to_dict``/``from_dict`` so the store can
write a stable, human-diffable YAML file and the CLI can print ``--json``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shipdeck.lifecycle.stages import Stage

ID_PREFIX = "SD-"
_ID_RE = re.compile(r"^SD-([1-9][0-9]*)$")


class Kind(StrEnum):
    FEATURE = "feature"
    BUG = "bug"
    CHORE = "chore"


class RunState(StrEnum):
    """The state of one stage for one item."""

    IDLE = "idle"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    CANCELLED = "cancelled"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def format_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # naive means UTC


def item_number(item_id: str) -> int:
    """The n of ``SD-n``; ValueError for anything else."""
    m = _ID_RE.match(item_id.strip().upper())
    if not m:
        raise ValueError(f"not an item id: {item_id!r} (expected SD-<number>)")
    return int(m.group(1))


def normalise_id(item_id: str) -> str:
    """Accept ``sd-3``, ``SD-3`` or ``3``; return ``SD-3``."""
    text = item_id.strip()
    if text.isdigit():
        text = ID_PREFIX + text
    return f"{ID_PREFIX}{item_number(text)}"


def is_item_id(text: str) -> bool:
    """Whether ``text`` is an item id as :func:`normalise_id` takes it (``sd-3``, ``3``)."""
    try:
        normalise_id(text)
    except ValueError:
        return False
    return True


def new_uid() -> str:
    """An item's identity across clones: two clones that each made SD-7 offline made
    two items, told apart by this when their boards are merged."""
    return os.urandom(8).hex()  # secrets.token_hex, without importing secrets (hmac, random)


def slugify(text: str, limit: int = 40) -> str:
    """A branch-safe slug: lowercase ascii words joined by '-', never empty. Accented
    letters keep their letter (``café`` -> ``cafe``, not ``caf``), as a person typing
    the branch would spell it; other scripts leave nothing, and the slug is ``item``."""
    import unicodedata  # ~0.7 ms, for the Code stage alone: not with every command

    folded = unicodedata.normalize("NFKD", text.casefold())  # ß -> ss, é -> e + accent
    plain = folded.encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    slug = slug[:limit].rstrip("-")
    return slug or "item"


@dataclass
class TestReport:
    """Counts from a JUnit XML report or a runner's summary, kept with the run."""

    __test__ = False  # not a pytest class

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped + self.errors

    def summary(self) -> str:
        """``3 passed, 1 failed, 0 skipped``, and the errors when there are any: a test
        module that cannot be imported is an error, not a failure (unittest, pytest)."""
        errors = f", {self.errors_text}" if self.errors else ""
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped{errors}"

    @property
    def errors_text(self) -> str:
        return f"{self.errors} error" + ("" if self.errors == 1 else "s")

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "errors": self.errors,
            "failures": list(self.failures),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestReport:
        return cls(
            passed=int(data.get("passed", 0)),
            failed=int(data.get("failed", 0)),
            skipped=int(data.get("skipped", 0)),
            errors=int(data.get("errors", 0)),
            failures=[str(f) for f in data.get("failures", [])],
        )


@dataclass
class StageState:
    """What happened the last time an item's stage ran."""

    state: RunState = RunState.IDLE
    started_at: datetime | None = None
    finished_at: datetime | None = None
    run_id: str | None = None
    sha: str | None = None
    message: str | None = None
    step: str | None = None  # while running: "2/3 unit tests", so a card says how far

    @property
    def duration(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state.value}
        for key, value in (
            ("started_at", format_time(self.started_at)),
            ("finished_at", format_time(self.finished_at)),
            ("run_id", self.run_id),
            ("sha", self.sha),
            ("message", self.message),
            ("step", self.step),
        ):
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageState:
        return cls(
            state=RunState(data.get("state", "idle")),
            started_at=parse_time(data.get("started_at")),
            finished_at=parse_time(data.get("finished_at")),
            run_id=data.get("run_id"),
            sha=data.get("sha"),
            message=data.get("message"),
            step=data.get("step"),
        )


@dataclass
class Item:
    """A plan item (feature, bug, chore) and where it is in the lifecycle."""

    id: str
    title: str
    kind: Kind = Kind.FEATURE
    body: str = ""
    breaking: bool = False
    stage: Stage = Stage.PLAN
    states: dict[Stage, StageState] = field(default_factory=dict)
    branch: str | None = None
    sha: str | None = None
    version: str | None = None
    env: str | None = None
    links: list[str] = field(default_factory=list)
    tests: TestReport | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    archived: bool = False
    uid: str = ""

    @property
    def number(self) -> int:
        return item_number(self.id)

    @property
    def slug(self) -> str:
        return slugify(self.title)

    @property
    def short_sha(self) -> str | None:
        return self.sha[:7] if self.sha else None

    def state_of(self, stage: Stage) -> StageState:
        """The stage's state; idle for stages never run."""
        return self.states.get(stage) or StageState()

    @property
    def current(self) -> StageState:
        return self.state_of(self.stage)

    @property
    def running(self) -> bool:
        return any(s.state is RunState.RUNNING for s in self.states.values())

    def to_dict(self) -> dict[str, Any]:
        """Stable key order, only non-default optional keys, for diffable YAML."""
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "kind": self.kind.value,
            "stage": self.stage.value,
        }
        if self.breaking:
            out["breaking"] = True
        if self.body:
            out["body"] = self.body
        for key in ("branch", "sha", "version", "env"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.links:
            out["links"] = list(self.links)
        if self.tests is not None:
            out["tests"] = self.tests.to_dict()
        if self.artifacts:
            out["artifacts"] = dict(sorted(self.artifacts.items()))
        if self.states:
            out["states"] = {
                stage.value: self.states[stage].to_dict() for stage in Stage if stage in self.states
            }
        out["created_at"] = format_time(self.created_at)
        out["updated_at"] = format_time(self.updated_at)
        if self.archived:
            out["archived"] = True
        if self.uid:
            out["uid"] = self.uid
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Item:
        tests = data.get("tests")
        return cls(
            id=normalise_id(str(data["id"])),
            title=str(data["title"]),
            kind=Kind(data.get("kind", "feature")),
            body=str(data.get("body", "")),
            breaking=bool(data.get("breaking", False)),
            stage=Stage(data.get("stage", "plan")),
            states={
                Stage(k): StageState.from_dict(v) for k, v in (data.get("states") or {}).items()
            },
            branch=data.get("branch"),
            sha=data.get("sha"),
            version=data.get("version"),
            env=data.get("env"),
            links=[str(x) for x in data.get("links", [])],
            tests=TestReport.from_dict(tests) if tests else None,
            artifacts={str(k): str(v) for k, v in (data.get("artifacts") or {}).items()},
            created_at=parse_time(data.get("created_at")) or utcnow(),
            updated_at=parse_time(data.get("updated_at")) or utcnow(),
            archived=bool(data.get("archived", False)),
            uid=str(data.get("uid") or ""),
        )
