"""Steps may colour what the board's log pane shows: the pane draws SGR colours."""

from __future__ import annotations

import pytest

from shipdeck.lifecycle.text import STEP_COLOUR_ENV
from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp

pytestmark = pytest.mark.slow  # builds the engine on the demo repository


def test_the_boards_engine_tells_steps_they_may_colour(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in STEP_COLOUR_ENV:
        monkeypatch.delenv(name, raising=False)
    engine = ShipdeckApp(demo_project).engine
    assert {k: engine.environ.get(k) for k in STEP_COLOUR_ENV} == STEP_COLOUR_ENV
