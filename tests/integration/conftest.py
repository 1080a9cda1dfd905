"""Fixtures the Docker tests share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker_images as di
import pytest


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A client for DOCKER_HOST's engine (skipped, or failed under CI, without one);
    what the module built or started under this run's test label is removed after it."""
    engine = di.require_engine()
    yield engine
    di.cleanup(engine)
