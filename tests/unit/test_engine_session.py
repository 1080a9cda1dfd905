"""Listing containers while one of them exits (no engine needed: a client that answers
as Podman did in CI, "read /proc/N/cgroup: no such process", while a broken release's
container died during the list)."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from shipdeck.backends.docker.engine import EngineSession
from shipdeck.lifecycle.ports import TargetError

RACE = "read /proc/4311/cgroup: no such process"


class Containers:
    """``client.containers``: fails with ``errors`` in turn, then lists ``found``."""

    def __init__(self, errors: list[str], found: list[str]) -> None:
        self.errors = list(errors)
        self.found = found
        self.calls: list[dict[str, Any]] = []

    def list(self, **kwargs: Any) -> list[str]:
        self.calls.append(kwargs)
        if self.errors:
            raise docker.errors.APIError("500 Server Error", explanation=self.errors.pop(0))
        return self.found


class Client:
    def __init__(self, containers: Containers) -> None:
        self.containers = containers


def session(errors: list[str]) -> tuple[EngineSession, Containers]:
    containers = Containers(errors, ["web-1", "web-2"])
    return EngineSession(client=Client(containers)), containers  # type: ignore[arg-type]


def test_a_container_that_exits_during_the_list_is_listed_again() -> None:
    engine, containers = session([RACE, RACE])
    assert engine.containers({"label": "a=b"}, all=True) == ["web-1", "web-2"]
    assert len(containers.calls) == 3
    # and one removed between the list and its inspect is left out, not an error
    assert all(c["ignore_removed"] and c["all"] for c in containers.calls)
    assert containers.calls[0]["filters"] == {"label": "a=b"}


def test_a_race_that_goes_on_is_one_line_after_three_lists() -> None:
    engine, containers = session([RACE] * 5)
    with pytest.raises(TargetError, match="no such process"):
        engine.containers({})
    assert len(containers.calls) == 3


def test_any_other_error_is_not_asked_again() -> None:
    engine, containers = session(["permission denied"])
    with pytest.raises(TargetError, match=r"^permission denied$"):
        engine.containers({})
    assert len(containers.calls) == 1
