"""The board skips validating shipdeck.yaml only for bytes that validated before."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipdeck.lifecycle.config.schema import ConfigError
from shipdeck.project import config_stamp
from shipdeck.project.repo import Project
from tests.helpers import python_says

GOOD = "version: 1\nproject: hello\n"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "shipdeck.yaml").write_text(GOOD)
    return Project(tmp_path)


def test_a_validated_config_is_remembered_by_its_bytes(project: Project) -> None:
    assert project.validated_name() is None  # never validated
    assert project.config.project == "hello"
    fresh = Project(project.root)
    assert fresh.validated_name() == "hello"
    fresh.check_config()
    assert not fresh.config_loaded  # the stamp let it skip pydantic


def test_one_changed_byte_means_validating_again(project: Project) -> None:
    project.check_config()
    project.config_path.write_text(GOOD + "projekt: typo\n")
    fresh = Project(project.root)
    assert fresh.validated_name() is None
    with pytest.raises(ConfigError, match=r"shipdeck.yaml:3:1"):
        fresh.check_config()


def test_a_damaged_stamp_is_ignored(project: Project) -> None:
    project.check_config()
    (project.paths.state / config_stamp.NAME).write_text("{not json")
    assert Project(project.root).validated_name() is None
    (project.paths.state / config_stamp.NAME).write_text('{"key": "x", "project": "evil"}')
    assert Project(project.root).validated_name() is None


@pytest.mark.slow  # a fresh interpreter
def test_the_board_opens_without_pydantic_once_the_config_validated(project: Project) -> None:
    project.check_config()
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from shipdeck.project.repo import Project\n"
        "from shipdeck.tui.app import ShipdeckApp\n"
        f"p = Project(Path({str(project.root)!r}))\n"
        "p.check_config()\n"
        "app = ShipdeckApp(p)\n"
        "print(app.sub_title, 'pydantic' in sys.modules)\n"
    )
    out = python_says(script)
    assert out[-1] == "False"
    assert out[0] == "hello"
