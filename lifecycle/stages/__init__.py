"""The eight lifecycle stages, their order and the three continuous spans; the
modules beside this one say what moving an item into each stage does (``work``,
``deploy``), which moves are allowed (``gates``) and how test reports are read (``junit``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    """A column of the board. The value is what files and the CLI use."""

    PLAN = "plan"
    CODE = "code"
    BUILD = "build"
    TEST = "test"
    RELEASE = "release"
    DEPLOY = "deploy"
    OPERATE = "operate"
    MONITOR = "monitor"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def position(self) -> int:
        return ORDER.index(self)

    def next(self) -> Stage | None:
        """The stage after this one, or None after Monitor."""
        i = self.position
        return ORDER[i + 1] if i + 1 < len(ORDER) else None

    def previous(self) -> Stage | None:
        """The stage before this one, or None before Plan."""
        i = self.position
        return ORDER[i - 1] if i > 0 else None

    @classmethod
    def parse(cls, text: str) -> Stage:
        """Accept any case; raise ValueError listing the stages otherwise."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in ORDER)
            raise ValueError(f"unknown stage {text!r} (expected one of: {names})") from None


ORDER: tuple[Stage, ...] = tuple(Stage)

# Stages whose work is a list of steps from shipdeck.yaml `stages:`.
STEP_STAGES: tuple[Stage, ...] = (Stage.BUILD, Stage.TEST)


@dataclass(frozen=True)
class Span:
    """A continuous practice drawn over a run of columns."""

    name: str
    first: Stage
    last: Stage

    @property
    def stages(self) -> tuple[Stage, ...]:
        return ORDER[self.first.position : self.last.position + 1]


# docs/architecture.md section 4: Delivery = Plan > Build > Test; Integration adds Release;
# Deployment is Deploy > Operate > Monitor.
SPANS: tuple[Span, ...] = (
    Span("Continuous Delivery", Stage.PLAN, Stage.TEST),
    Span("Continuous Integration", Stage.PLAN, Stage.RELEASE),
    Span("Continuous Deployment", Stage.DEPLOY, Stage.MONITOR),
)
