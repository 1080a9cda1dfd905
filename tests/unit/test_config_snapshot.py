"""A config rebuilt from its snapshot answers as the validated one did: every field,
every method, equality both ways; and a project reads it without pydantic once
its bytes validated, and validates anything else as before."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shipdeck.cli.demo import CONFIG as DEMO
from shipdeck.cli.demo import DOCKER_ENV, DOCKER_STEP
from shipdeck.lifecycle.config import snapshot
from shipdeck.lifecycle.config.behaviour import UnknownEnvironment
from shipdeck.lifecycle.config.schema import Config, ConfigError, parse_config
from shipdeck.lifecycle.stages import Stage
from shipdeck.project import config_stamp
from shipdeck.project.repo import Project
from tests.helpers import python_says
from tests.unit.test_config import FULL

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_config() -> str:
    section = README.read_text().split("\n## shipdeck.yaml\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```yaml\n(.*?)```", section, flags=re.S)[0]


def demo(docker: bool) -> str:
    step = DOCKER_STEP.format(base="python:3.12-slim") if docker else ""
    env = DOCKER_ENV.format(port=8080) if docker else ""
    return DEMO.format(port=8080, docker_step=step, docker_env=env)


STEPS = """\
version: 1
project: steps
stages:
  timeout: 60
  build:
    - {name: compile, run: "make", timeout: 5}
    - docker_build: {tag: "steps:{short_sha}", buildargs: {BASE: "x"}, target: prod}
  test:
    - docker_run: {image: "steps:{short_sha}", command: ["pytest", "-q"], env: {A: "1"}}
      junit: out/junit.xml
    - run: "pytest"
retention: {runs: 10, log_size: 1 MB}
notify: {webhook: "http://127.0.0.1:9/hook", timeout: 2}
"""

CONFIGS = {
    "full": FULL,
    "readme": readme_config(),
    "demo": demo(False),
    "demo-docker": demo(True),
    "steps": STEPS,
}


def rebuilt(config: Config) -> Any:
    return snapshot.load(json.loads(json.dumps(snapshot.dump(config))))


def same(model: Any, light: Any, where: str = "config") -> None:
    """Field by field, recursively: ``light`` holds what ``model`` holds."""
    fields = getattr(type(model), "model_fields", None)
    if fields is None:
        if isinstance(model, dict):
            assert isinstance(light, dict) and list(model) == list(light), where
            for k in model:
                same(model[k], light[k], f"{where}.{k}")
        elif isinstance(model, list):
            assert isinstance(light, list) and len(model) == len(light), where
            for n, (a, b) in enumerate(zip(model, light, strict=True)):
                same(a, b, f"{where}[{n}]")
        else:
            assert type(model) is type(light) and model == light, where
        return
    assert type(light).__name__ == type(model).__name__, where
    for name in fields:
        same(getattr(model, name), getattr(light, name), f"{where}.{name}")


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_field_and_method_survives(name: str) -> None:
    config = parse_config(CONFIGS[name])
    light = rebuilt(config)
    same(config, light)
    assert light == config and config == light
    assert light.secret_names() == config.secret_names()
    assert light.url_passwords() == config.url_passwords()
    for stage in (Stage.BUILD, Stage.TEST):
        assert light.stages.steps(stage) == config.stages.steps(stage)
        for mine, theirs in zip(light.stages.steps(stage), config.stages.steps(stage), strict=True):
            assert (mine.kind, mine.label) == (theirs.kind, theirs.label)
            assert light.stages.timeout_for(mine) == config.stages.timeout_for(theirs)
    assert light.stages.builds_image == config.stages.builds_image
    with pytest.raises(ValueError, match="has no steps"):
        light.stages.steps(Stage.DEPLOY)
    for env in config.environments:
        assert light.environment(env) == config.environment(env)
    with pytest.raises(UnknownEnvironment) as mine:
        light.environment("nope")
    with pytest.raises(UnknownEnvironment) as theirs:
        config.environment("nope")
    assert str(mine.value) == str(theirs.value)


def test_a_rebuilt_config_is_frozen_and_hashable_where_the_model_is() -> None:
    light = rebuilt(parse_config(STEPS))
    with pytest.raises(AttributeError, match="frozen"):
        light.project = "other"
    step = light.stages.build[0]
    with pytest.raises(AttributeError, match="frozen"):
        del step.run
    health = rebuilt(parse_config(FULL)).environment("staging").health
    assert hash(health) == hash(rebuilt(parse_config(FULL)).environment("staging").health)


@pytest.mark.parametrize(
    "bad",
    [
        {"format": 99, "config": {}},
        {"format": 1, "config": {"m": "Config", "f": {"x": {"q": 1}}}},
        {"format": 1, "config": {"m": "not a name", "f": {}}},
        {"format": 1, "config": {"m": "Config", "f": {"x": {1, 2}}}},
        [],
    ],
)
def test_what_is_not_a_snapshot_is_refused(bad: Any) -> None:
    with pytest.raises(snapshot.SnapshotError):
        snapshot.load(bad)


TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    labels=st.dictionaries(st.sampled_from(["d", "l", "m", "f", "$", "m f"]) | TEXT, TEXT),
    constraints=st.lists(st.sampled_from(["d", "l", "m"]) | TEXT, max_size=4),
    names=st.lists(st.sampled_from(["m", "f", "d", "l"]) | TEXT, max_size=3),
)
def test_what_users_write_never_reads_back_as_something_else(
    labels: dict[str, str], constraints: list[str], names: list[str]
) -> None:
    """Keys and strings that look like the snapshot's own tags stay what they were."""
    doc: dict[str, Any] = {
        "version": 1,
        "project": "p",
        "environments": {
            "c": {"target": "swarm", "labels": labels, "constraints": constraints},
        },
        "stages": {"build": [{"run": "make", "name": n} for n in names]},
    }
    try:
        config = parse_config(yaml.safe_dump(doc))
    except ConfigError:
        assume(False)
        raise
    light = rebuilt(config)
    same(config, light)
    assert light.environment("c").labels == labels


# --- a project's config --------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "shipdeck.yaml").write_text(demo(False))
    return Project(tmp_path)


def test_the_second_read_is_the_snapshot_and_equal(project: Project) -> None:
    first = project.config
    assert isinstance(first, Config)  # validated: never seen before
    again = Project(project.root).config
    assert not isinstance(again, Config)
    assert type(again).__name__ == "Config" and again == first
    same(first, again)


def test_a_changed_byte_is_validated_again_with_its_line(project: Project) -> None:
    project.check_config()
    Project(project.root).config  # noqa: B018 - remembered
    project.config_path.write_text(project.config_path.read_text() + "projekt: typo\n")
    with pytest.raises(ConfigError, match=r"shipdeck.yaml:\d+:1"):
        Project(project.root).config  # noqa: B018


def test_a_damaged_snapshot_means_validating(project: Project) -> None:
    project.check_config()
    note_path = project.paths.state / config_stamp.NAME
    note = json.loads(note_path.read_text())
    note["snapshot"]["config"]["f"]["environments"] = {"d": {"staging": {"m": "Env", "f": []}}}
    note_path.write_text(json.dumps(note))
    config = Project(project.root).config
    assert isinstance(config, Config)  # validated, and remembered again
    assert isinstance(Project(project.root).config.environment("staging").port, int)


@pytest.mark.slow  # a fresh interpreter
def test_a_command_reads_a_validated_config_without_pydantic(project: Project) -> None:
    project.check_config()
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from shipdeck.project.repo import Project\n"
        f"c = Project(Path({str(project.root)!r})).config\n"
        "print(c.project, c.environment('staging').port, 'pydantic' in sys.modules)\n"
    )
    assert python_says(script) == ["hello", "8080", "False"]


@pytest.mark.slow  # a fresh interpreter running the board
def test_the_board_runs_without_pydantic_once_the_config_validated(tmp_path: Path) -> None:
    """Open, painted, and past the work after the first paint (which reads the config):
    pydantic is never imported when the file's bytes validated before."""
    repo = tmp_path / "r"
    subprocess.run(
        [sys.executable, "-m", "shipdeck", "demo", str(repo), "--no-open", "--no-docker"],
        check=True,
        capture_output=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from shipdeck.project.repo import Project\n"
        "from shipdeck.tui.app import ShipdeckApp\n"
        "async def main():\n"
        f"    app = ShipdeckApp(Project(Path({str(repo)!r})))\n"
        "    async with app.run_test(size=(120, 40)) as pilot:\n"
        "        await pilot.pause(0.5)\n"
        "        print(app.project.config.project, 'pydantic' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    assert python_says(script)[-2:] == ["hello", "False"]
