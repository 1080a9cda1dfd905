"""shipdeck.yaml: the schema, and errors that say file:line:col and what was expected."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipdeck.lifecycle.config.schema import (
    DEFAULT_CONFIG_NAME,
    Config,
    ConfigError,
    ConfigIssue,
    Environment,
    Step,
    load_config,
    parse_config,
)
from shipdeck.lifecycle.stages import Stage

MINIMAL = "version: 1\nproject: hello\nbase_branch: main"

# docs/architecture.md section 3, verbatim.
FULL = """\
version: 1
project: hello                     # names images, containers, services
base_branch: main
branch: "{kind}/{id}-{slug}"       # an item's branch
stages:
  build:
    - run: "{python} -m compileall -q app"        # shell command in the repo root
    # - docker_build: {context: ., dockerfile: Dockerfile, tag: "hello:{short_sha}"}
  test:
    - run: "{python} -m pytest -q --junitxml=.shipdeck/reports/junit.xml"
      junit: .shipdeck/reports/junit.xml          # counts shown on the card
  release:
    version: semver        # feature -> minor, bug/chore -> patch, breaking: true -> major
    tag: "v{version}"
    # push: 127.0.0.1:5000/hello                   # docker: tag the image, push it
environments:
  staging:
    target: local          # local | docker | swarm
    run: "{python} -m app --port {port}"
    port: 8081
    health: {url: "http://127.0.0.1:{port}/health", timeout: 20}
    auto: true             # deploy each release here without asking
  production:
    target: swarm          # or docker: one container, no replicas or update
    docker_host: null      # default: the environment's DOCKER_HOST
    ports: {"8000/tcp": 8082}
    env: {LOG_LEVEL: info}
    secrets: [API_TOKEN]   # taken from shipdeck's environment, masked in every log
    health: {url: "http://127.0.0.1:8082/health", timeout: 30}
    approval: true         # the board asks before deploying here
    replicas: 2            # swarm
    update: {parallelism: 1, delay: 5, failure_action: rollback}   # swarm
monitor:
  interval: 2              # seconds between samples
  probes:
    - {name: staging, url: "http://127.0.0.1:8081/health", slow_ms: 300}
  alerts: {cpu: 90, memory: 90, disk: 90, probe_failures: 3}
notify:
  webhook: null            # POSTed JSON on deploy, rollback and alert
"""

HEAD = "version: 1\nproject: hello\n"  # two lines: bodies below start at line 3


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    return info.value


def env_error(body: str) -> ConfigError:
    """An error in ``environments.e`` (``body`` is indented 4 and starts at line 5)."""
    return error(HEAD + "environments:\n  e:\n" + body)


# --- valid files -------------------------------------------------------------------


def test_minimal_three_line_file() -> None:
    cfg = parse_config(MINIMAL)
    assert (cfg.version, cfg.project, cfg.base_branch) == (1, "hello", "main")
    assert cfg.branch == "{kind}/{id}-{slug}"
    assert cfg.stages.build == [] and cfg.stages.test == []
    assert cfg.stages.release.tag is None  # learned from the project's tags
    assert cfg.stages.release.changelog == "CHANGELOG.md"
    assert cfg.stages.timeout == 1800
    assert cfg.environments == {}
    assert cfg.monitor.interval == 2 and cfg.monitor.alerts.probe_failures == 3
    assert cfg.notify.webhook is None


def test_only_version_and_project_are_required() -> None:
    assert parse_config("version: 1\nproject: x").base_branch == "main"


def test_full_design_example_loads() -> None:
    cfg = parse_config(FULL)
    assert list(cfg.environments) == ["staging", "production"]
    staging = cfg.environment("staging")
    assert (staging.target, staging.port, staging.auto) == ("local", 8081, True)
    assert staging.health is not None and staging.health.timeout == 20
    prod = cfg.environment("production")
    assert prod.target == "swarm" and prod.approval and prod.replicas == 2
    assert prod.ports == {"8000/tcp": 8082}
    assert prod.env == {"LOG_LEVEL": "info"}
    assert prod.update.failure_action == "rollback"
    assert cfg.secret_names() == {"API_TOKEN"}
    assert cfg.stages.test[0].junit == ".shipdeck/reports/junit.xml"
    assert cfg.monitor.probes[0].name == "staging"
    assert cfg.monitor.probes[0].slow_ms == 300


def test_load_config_from_file(tmp_path: Path) -> None:
    (tmp_path / DEFAULT_CONFIG_NAME).write_text(FULL, encoding="utf-8")
    assert load_config(tmp_path / DEFAULT_CONFIG_NAME).project == "hello"
    assert load_config(str(tmp_path / DEFAULT_CONFIG_NAME)).project == "hello"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_config(path).project == "hello"


def test_null_means_the_default() -> None:
    cfg = parse_config(HEAD + "stages:\n  build:\n  timeout:\nenvironments:\nmonitor:\n")
    assert cfg.stages.build == [] and cfg.stages.timeout == 1800
    assert cfg.environments == {} and cfg.monitor.interval == 2


def test_anchors_and_merge_keys() -> None:
    text = HEAD + (
        "environments:\n"
        "  a: &base {run: serve, port: 9000, env: {X: '1'}}\n"
        "  b:\n"
        "    <<: *base\n"
        "    port: 9001\n"
    )
    cfg = parse_config(text)
    assert cfg.environments["b"].run == "serve"
    assert cfg.environments["b"].port == 9001
    assert cfg.environments["b"].env == {"X": "1"}


def test_numbers_in_env_and_labels_become_text() -> None:
    cfg = parse_config(HEAD + "environments:\n  e: {run: x, env: {PORT: 8000, R: 0.5}}\n")
    assert cfg.environments["e"].env == {"PORT": "8000", "R": "0.5"}


def test_port_keys_are_normalised() -> None:
    cfg = parse_config(HEAD + "environments:\n  e: {target: docker, ports: {8000: 8082}}\n")
    assert cfg.environments["e"].ports == {"8000/tcp": 8082}


def test_step_helpers() -> None:
    text = HEAD + (
        "stages:\n"
        "  timeout: 60\n"
        "  build:\n"
        "    - run: make\n"
        "      timeout: 5\n"
        "    - docker_build: {tag: 'hello:{short_sha}', buildargs: {V: 3}}\n"
        "    - {name: smoke, docker_run: {image: 'hello:{short_sha}', command: [a, '{env}']}}\n"
    )
    stages = parse_config(text).stages
    run, build, smoke = stages.steps(Stage.BUILD)
    assert [s.kind for s in (run, build, smoke)] == ["run", "docker_build", "docker_run"]
    assert [s.label for s in (run, build, smoke)] == [
        "make",
        "docker build hello:{short_sha}",
        "smoke",
    ]
    assert stages.timeout_for(run) == 5 and stages.timeout_for(build) == 60
    assert build.docker_build is not None and build.docker_build.dockerfile == "Dockerfile"
    assert build.docker_build.buildargs == {"V": "3"}
    assert smoke.docker_run is not None and smoke.docker_run.command == ["a", "{env}"]
    assert stages.steps(Stage.TEST) == []
    with pytest.raises(ValueError, match="Release has no steps"):
        stages.steps(Stage.RELEASE)


def test_environment_lookup_names_the_known_ones() -> None:
    cfg = parse_config(FULL)
    with pytest.raises(LookupError) as info:  # a ShipdeckError too, never a KeyError
        cfg.environment("prod")
    assert not isinstance(info.value, KeyError)
    assert str(info.value) == (
        "no environment 'prod' in shipdeck.yaml (environments: staging, production)"
    )


def test_models_forbid_extra_keys_and_are_typed() -> None:
    for model in (Config, Step, Environment):
        assert model.model_config.get("extra") == "forbid"


# --- unknown keys --------------------------------------------------------------------


def test_typo_at_line_7_names_line_col_and_key() -> None:
    text = HEAD + "base_branch: main\nstages:\n  build: []\n  test: []\n  relase: {}\n"
    err = error(text)
    assert str(err).startswith("shipdeck.yaml:7:3: unknown key 'relase' in stages")
    assert "did you mean 'release'?" in str(err)
    assert "expected one of: build, test, release" in str(err)
    assert (err.path, err.line, err.col) == ("shipdeck.yaml", 7, 3)
    assert "\n" not in str(err)


def test_unknown_top_level_key_is_reported_before_the_missing_one() -> None:
    err = error("version: 1\nprojct: hello\n")
    assert str(err).startswith("shipdeck.yaml:2:1: unknown key 'projct' at the top level")
    assert "did you mean 'project'?" in str(err)
    assert any("missing required key 'project'" in i.message for i in err.errors)
    assert len(err.errors) == 2


def test_unknown_key_deep_inside() -> None:
    err = env_error("    run: x\n    health: {url: 'http://h', timout: 3}\n")
    assert (err.line, err.col) == (6, 31)
    assert "unknown key 'timout' in environments.e.health" in err.message


def test_unknown_key_in_a_step() -> None:
    err = error(HEAD + "stages:\n  test:\n    - run: pytest\n      junti: r.xml\n")
    assert (err.line, err.col) == (6, 7)
    assert "unknown key 'junti' in stages.test[0], did you mean 'junit'?" in err.message


def test_missing_key_in_a_nested_mapping() -> None:
    err = error(HEAD + "stages:\n  build:\n    - docker_build:\n        context: app\n")
    assert (err.line, err.col) == (5, 7)
    assert err.message == "missing required key 'tag' in stages.build[0].docker_build"


def test_missing_required_key() -> None:
    err = error("version: 1\n")
    assert str(err) == "shipdeck.yaml:1:1: missing required key 'project' at the top level"


# --- wrong types and values -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "where", "expected"),
    [
        (
            "    run: x\n    port: abc\n",
            (6, 11),
            "environments.e.port: expected an integer, got string 'abc'",
        ),
        ("    run: x\n    port: '8081'\n", (6, 11), "expected an integer, got string '8081'"),
        ("    run: x\n    auto: maybe\n", (6, 11), "environments.e.auto: expected true or false"),
        ("    run: 5\n", (5, 10), "environments.e.run: expected a string, got number 5"),
        ("    run: x\n    bake: soon\n", (6, 11), "expected a number, got string 'soon'"),
        ("    run: x\n    secrets: API_TOKEN\n", (6, 14), "expected a list"),
        ("    run: x\n    health: http://x\n", (6, 13), "expected a mapping"),
        ("    run: x\n    target: kube\n", (6, 13), "expected one of 'local', 'docker' or 'swarm'"),
        ("    run: x\n    port: 0\n", (6, 11), "expected a number at least 1"),
        ("    run: x\n    port: 70000\n", (6, 11), "expected a number at most 65535"),
        ("    run: x\n    replicas: -1\n", (6, 15), "environments.e.replicas"),
        ("    run: x\n    env: {A: no}\n", (6, 14), "quote it"),
    ],
)
def test_wrong_type_names_line_and_expected_type(
    body: str, where: tuple[int, int], expected: str
) -> None:
    err = env_error(body)
    assert (err.line, err.col) == where
    assert expected in err.message
    assert str(err).startswith(f"shipdeck.yaml:{where[0]}:{where[1]}: ")


def test_wrong_type_of_a_whole_section_points_at_its_key() -> None:
    err = error(HEAD + "stages:\n  build:\n    run: make\n")
    assert (err.line, err.col) == (4, 3)
    assert "stages.build: expected a list, got a mapping" in err.message


def test_section_given_a_list_lists_its_keys() -> None:
    err = error(HEAD + "stages: [a]\n")
    assert err.message.startswith("stages: expected a mapping (keys: build, test, release")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 2\nproject: hello\n", "unsupported version 2 (supported: 1)"),
        ("version: '1'\nproject: hello\n", "version: expected an integer"),
    ],
)
def test_version(text: str, expected: str) -> None:
    err = error(text)
    assert (err.line, err.col) == (1, 10)
    assert expected in err.message


@pytest.mark.parametrize("name", ["Hello", "my app", "-x", "_x", "héllo", ""])
def test_project_must_be_a_docker_safe_name(name: str) -> None:
    err = error(f"version: 1\nproject: '{name}'\n")
    assert err.line == 2
    assert "lowercase letters, digits" in err.message


def test_step_needs_exactly_one_action() -> None:
    text = (
        HEAD
        + "stages:\n  build:\n    - name: nothing\n    - run: a\n      docker_build: {tag: t}\n"
    )
    err = error(text)
    assert (err.line, err.col) == (5, 7)
    assert "exactly one of run, docker_build, docker_run (none of them)" in err.message
    assert err.errors[1].line == 6
    assert "(run and docker_build)" in err.errors[1].message


def test_docker_run_command_type() -> None:
    err = error(HEAD + "stages:\n  build:\n    - docker_run: {image: x, command: 5}\n")
    assert err.line == 5 and "expected a string or a list of strings" in err.message


def test_local_environment_needs_run() -> None:
    err = error(HEAD + "environments:\n  staging:\n    port: 8081\n")
    assert (err.line, err.col) == (4, 3)
    assert "environments.staging: target local needs 'run'" in err.message


def test_swarm_keys_outside_swarm_are_refused_at_their_line() -> None:
    """replicas and update on docker were silently ignored; now the key's line says why."""
    body = "environments:\n  p:\n    target: docker\n    image: x\n"
    err = error(HEAD + body + "    replicas: 3\n")
    assert (err.line, err.col) == (7, 15), err
    assert "replicas: 3 needs target swarm (target docker runs one)" in err.message
    for key, value in (
        ("update", "{parallelism: 2}"),
        ("publish_mode", "host"),
        ("constraints", "[node.role==worker]"),
        ("resources", "{cpus: 1}"),
        ("autoscale", "{max: 3}"),
    ):
        err = error(HEAD + body + f"    {key}: {value}\n")
        assert err.line == 7, (key, err)
        assert f"{key} is for target swarm (this one is docker)" in err.message
    assert parse_config(HEAD + body + "    replicas: 1\n").environments["p"].replicas == 1


def test_autoscale_needs_a_sane_range_and_a_target() -> None:
    base = HEAD + "environments:\n  p:\n    target: swarm\n    image: x\n"
    assert "min (4) is above max (2)" in error(base + "    autoscale: {min: 4, max: 2}\n").message
    latency = error(base + "    autoscale: {max: 2, latency_ms: 200}\n").message
    assert "autoscale latency_ms needs health: url" in latency
    cfg = parse_config(base + "    replicas: 2\n    autoscale: {min: 2, max: 5, cpu: 60}\n")
    scale = cfg.environments["p"].autoscale
    assert scale is not None and (scale.min, scale.max, scale.cpu) == (2, 5, 60)


def test_docker_environment_needs_no_run() -> None:
    cfg = parse_config(HEAD + "environments:\n  p:\n    target: swarm\n    image: 'x:{version}'\n")
    assert cfg.environments["p"].run is None


def test_port_template_needs_a_port() -> None:
    err = env_error("    run: serve --port {port}\n")
    assert (err.line, err.col) == (4, 3)
    assert "run uses {port} but this environment sets no 'port'" in err.message


def test_environment_names_must_be_slugs() -> None:
    err = error(HEAD + "environments:\n  Prod Env: {run: x}\n")
    assert (err.line, err.col) == (4, 3)
    assert err.message.startswith("key 'Prod Env' in environments:")


def test_secrets_must_be_variable_names() -> None:
    err = env_error("    run: x\n    secrets: [OK_1, API-TOKEN]\n")
    assert (err.line, err.col) == (6, 21)
    assert "'API-TOKEN' is not valid" in err.message


@pytest.mark.parametrize("url", ["ftp://hooks", "hooks.example.com"])
def test_webhook_must_be_http(url: str) -> None:
    err = error(HEAD + f"notify:\n  webhook: {url}\n")
    assert (err.line, err.col) == (4, 12)
    assert "not an http:// or https:// URL" in err.message


def test_monitor_interval_must_be_positive_and_probe_names_unique() -> None:
    text = HEAD + (
        "monitor:\n  interval: 0\n  probes:\n"
        "    - {name: a, url: 'http://x'}\n    - {name: a, url: 'http://y'}\n"
    )
    err = error(text)
    assert (err.line, err.col) == (4, 13) and "greater than 0" in err.message
    assert any("two probes are named 'a'" in i.message for i in err.errors)


def test_all_errors_are_kept() -> None:
    err = env_error("    run: x\n    port: abc\n    auto: maybe\n    replicas: many\n")
    assert [i.line for i in err.errors] == [6, 7, 8]
    assert all(isinstance(i, ConfigIssue) for i in err.errors)
    assert str(err.errors[0]) == str(err)
    assert (err.line, err.col, err.message) == (6, 11, err.errors[0].message)


# --- templates ---------------------------------------------------------------------------

TEMPLATE_SPOTS = [
    ("branch: '{id}-{foo}'\n", (3, 9)),
    ("stages:\n  build:\n    - run: 'echo {foo}'\n", (5, 12)),
    ("stages:\n  build:\n    - docker_build: {tag: 'x:{foo}'}\n", (5, 27)),
    ("stages:\n  build:\n    - docker_run: {image: 'x:{foo}'}\n", (5, 27)),
    ("stages:\n  build:\n    - docker_run: {image: x, command: [a, '{foo}']}\n", (5, 43)),
    ("stages:\n  build:\n    - docker_run: {image: x, command: 'a {foo}'}\n", (5, 39)),
    ("stages:\n  release:\n    tag: 'v{version}{foo}'\n", (5, 10)),
    ("stages:\n  release:\n    push: 'reg/{foo}'\n", (5, 11)),
    ("environments:\n  e:\n    run: 'serve {foo}'\n", (5, 10)),
    ("environments:\n  e:\n    target: docker\n    image: 'x:{foo}'\n", (6, 12)),
    ("environments:\n  e:\n    run: x\n    health: {url: 'http://h/{foo}'}\n", (6, 19)),
    ("monitor:\n  probes:\n    - {name: a, url: 'http://h/{foo}'}\n", (5, 22)),
]


@pytest.mark.parametrize(("body", "where"), TEMPLATE_SPOTS)
def test_unknown_template_field_points_at_the_string(body: str, where: tuple[int, int]) -> None:
    err = error(HEAD + body)
    assert (err.line, err.col) == where
    assert "unknown template field {foo} (known: " in err.message


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("echo {id!r}", "conversion or format spec"),
        ("echo {id:>3}", "conversion or format spec"),
        ("echo {a.b}", "attribute or index access"),
        ("echo {a[0]}", "attribute or index access"),
        ("echo {id", "unbalanced braces"),
        ("echo }", "unbalanced braces"),
    ],
)
def test_bad_template_syntax(template: str, expected: str) -> None:
    err = error(HEAD + f"stages:\n  test:\n    - run: '{template}'\n")
    assert (err.line, err.col) == (5, 12)
    assert expected in err.message


def test_literal_braces_are_fine() -> None:
    cfg = parse_config(HEAD + "stages:\n  test:\n    - run: \"awk '{{print $1}}' f\"\n")
    assert cfg.stages.test[0].run == "awk '{{print $1}}' f"


def test_title_and_body_are_not_template_fields() -> None:
    for field in ("title", "body"):
        err = error(HEAD + f"stages:\n  test:\n    - run: 'echo {{{field}}}'\n")
        assert f"unknown template field {{{field}}}" in err.message


def test_branch_template_rules() -> None:
    assert "must contain {id}" in error(HEAD + "branch: 'feature/{slug}'\n").message
    err = error(HEAD + "branch: '{id}-{sha}'\n")
    assert "unknown template field {sha} (known: {id}, {slug}, {kind}, {project})" in err.message


def test_release_tag_needs_version() -> None:
    err = error(HEAD + "stages:\n  release:\n    tag: release\n")
    assert (err.line, err.col) == (5, 10) and "must contain {version}" in err.message


# --- YAML problems ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        (HEAD + "stages: build: x\n", 3, "mapping values are not allowed here"),
        (HEAD + 'base_branch: "main\nstages: {}\n', 5, "while scanning a quoted scalar at line 3"),
        (HEAD + "stages:\n  build: []\n test: []\n", 5, "invalid YAML"),
        (HEAD + "stages: {build: []\nnotify: {}\n", 4, "while parsing a flow mapping at line 3"),
        (HEAD + "x: *nothing\n", 3, "found undefined alias 'nothing'"),
        (HEAD + "---\nversion: 1\n", 3, "but found another document"),
    ],
)
def test_malformed_yaml_names_the_line(text: str, line: int, expected: str) -> None:
    err = error(text)
    assert err.line == line and err.col is not None
    assert err.message.startswith("invalid YAML: ")
    assert expected in err.message
    assert str(err).startswith(f"shipdeck.yaml:{line}:{err.col}: invalid YAML: ")


def test_tabs_are_explained() -> None:
    err = error(HEAD + "stages:\n\tbuild: []\n")
    assert (err.line, err.col) == (4, 1)
    assert "tab character" in err.message and "spaces" in err.message


def test_control_characters() -> None:
    err = error(HEAD + "base_branch: ma\x00in\n")
    assert (err.line, err.col) == (3, 16)
    assert "U+0000" in err.message


def test_unknown_yaml_tag() -> None:
    err = error(HEAD + "base_branch: !shell main\n")
    assert (err.line, err.col) == (3, 14) and "!shell" in err.message


def test_unsupported_collection_tag() -> None:
    err = error(HEAD + "stages: !!set {a, b}\n")
    assert (err.line, err.col) == (3, 9) and "unsupported tag !!set" in err.message


def test_duplicate_keys_name_the_second_occurrence() -> None:
    err = error("version: 1\nproject: a\nbase_branch: main\nproject: b\n")
    assert str(err) == "shipdeck.yaml:4:1: duplicate key 'project' (first defined at line 2)"


def test_nested_duplicate_keys() -> None:
    err = env_error("    run: x\n    port: 1\n    run: y\n")
    assert (err.line, err.col) == (7, 5) and "duplicate key 'run'" in err.message


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n", "---\n"])
def test_empty_file(text: str) -> None:
    err = error(text)
    assert (err.line, err.col) == (1, 1)
    assert "the file is empty" in err.message


@pytest.mark.parametrize(
    ("text", "got"), [("- a\n- b\n", "a list"), ("hello\n", "the value 'hello'")]
)
def test_top_level_must_be_a_mapping(text: str, got: str) -> None:
    err = error(text)
    assert err.line == 1
    assert err.message == f"expected a mapping at the top level, got {got}"


def test_recursive_alias_is_refused() -> None:
    err = error(HEAD + "stages: &s\n  build: [*s]\n")
    assert "refers to itself" in err.message and err.line is not None


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    err = error(HEAD + "\n".join(lines) + "\n")
    assert "expands to more than" in err.message


# --- files ---------------------------------------------------------------------------------


def test_non_utf8_bytes(tmp_path: Path) -> None:
    path = tmp_path / "shipdeck.yaml"
    path.write_bytes(b"version: 1\nproject: h\xe9llo\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert (err.line, err.col) == (2, 11)
    assert "not valid UTF-8 (byte 0xe9)" in err.message
    assert str(err).startswith(f"{path}:2:11: ")


def test_missing_file_uses_the_path_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(DEFAULT_CONFIG_NAME)
    err = info.value
    assert (err.path, err.line, err.col) == ("shipdeck.yaml", None, None)
    assert str(err).startswith("shipdeck.yaml: not found")


def test_relative_path_is_shown_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    os.mkdir("sub")
    Path("sub/shipdeck.yaml").write_text("version: 1\nproject: x\nbogus: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(Path("sub") / "shipdeck.yaml")
    assert str(info.value).startswith("sub/shipdeck.yaml:3:1: unknown key 'bogus'")


def test_directory_is_not_a_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_parse_config_filename_is_used_in_errors() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("version: 3\nproject: x\n", filename="ci/other.yaml")
    assert str(info.value).startswith("ci/other.yaml:1:10: ")
