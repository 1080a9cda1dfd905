"""A CLI that fits (issue 13 step 7), in process: help with examples on every command,
"did you mean", completion candidates, step colours kept or stripped, the schema."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from shipdeck.cli import completion
from shipdeck.cli.main import build_parser, run
from shipdeck.cli.schema import config_schema
from shipdeck.lifecycle.text import (
    STEP_COLOUR_ENV,
    shows_colour,
    step_colour_env,
    strip_colour,
    terminal_text,
)
from tests.helpers import ROOT


def _parsers() -> list[argparse.ArgumentParser]:
    """Every parser: the top level, each command and each item action."""
    found = []
    todo = [build_parser()]
    while todo:
        parser = todo.pop()
        found.append(parser)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
    return found


def test_every_command_has_a_description_and_examples() -> None:
    parsers = _parsers()
    assert len(parsers) > 20
    for parser in parsers:
        text = parser.format_help()
        assert parser.description and len(parser.description) > 20, parser.prog
        assert "examples:\n  shipdeck" in text or "examples:\n  source" in text, parser.prog
        assert "Exit codes (docs" not in text  # not the module's docstring
    top = build_parser().format_help()
    assert "exit codes:" in top and "130" in top


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["stauts"], "unknown command 'stauts' (did you mean status"),
        (["advnce", "SD-1"], "did you mean advance?"),
        (["item", "lsit"], "unknown action 'lsit' (did you mean list?)"),
        (["-C", ".", "stauts"], "did you mean status"),
        (["item", "add", "x", "--kind", "fetaure"], "did you mean feature?"),
    ],
)
def test_a_mistyped_command_is_did_you_mean_and_exit_2(
    argv: list[str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    try:
        code = run(argv)
    except SystemExit as exc:  # argparse's errors exit
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert expected in err and "cannot open" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["stauts\x1b]0;pwn\x07"],  # "unknown command" echoed it raw: the terminal retitled
        ["item", "x\x1b[2J"],  # argparse's "unknown action"
        ["-C", "/x\x1b]52;c;cHduZWQ=\x07", "status"],  # "cannot open"
    ],
)
def test_what_was_typed_is_echoed_escaped_in_the_error_line(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    try:
        code = run(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "\\x1b" in err
    assert len(err.strip().splitlines()) == 1


def test_an_existing_directory_is_still_a_board_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "stauts").mkdir()  # a directory named like a typo is a path
    monkeypatch.chdir(tmp_path)
    assert run(["stauts"]) == 2
    assert "no shipdeck.yaml" in capsys.readouterr().err  # it tried to open the board there


def test_no_config_outside_git_says_git_init_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ "run: shipdeck init" outside a repository sent a stranger to a command that
    refuses there; inside one (a subfolder too) it is the next step."""
    outside = tmp_path / "plain"
    (outside / "sub").mkdir(parents=True)
    monkeypatch.chdir(outside / "sub")
    assert run(["status"]) == 2
    err = capsys.readouterr().err
    assert "(run: git init, then shipdeck init: shipdeck keeps its board in git)" in err
    (outside / ".git").mkdir()  # what the check looks for, as git's own discovery does
    assert run(["status"]) == 2
    assert capsys.readouterr().err.rstrip().endswith("(run: shipdeck init)")


def candidates(words: list[str], cword: int) -> list[str]:
    return completion.candidates(build_parser(), words, cword)


def test_completion_candidates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shipdeck.yaml").write_text(
        "version: 1\nproject: x\nenvironments:\n  staging: {}\n  prod: {}\n"
    )
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    assert candidates(["shipdeck", "ad"], 1) == ["advance"]
    assert "schema" in candidates(["shipdeck", ""], 1)
    assert "__complete" not in candidates(["shipdeck", ""], 1)
    assert candidates(["shipdeck", "deploy", ""], 2) == ["staging", "prod"]
    assert candidates(["shipdeck", "logs", "--env", "st"], 3) == ["staging"]
    assert candidates(["shipdeck", "advance", "SD-1", "--to", "d"], 4) == ["deploy"]
    assert "--dry-run" in candidates(["shipdeck", "advance", "SD-1", "--"], 3)
    assert candidates(["shipdeck", "item", "move", "SD-1", "re"], 4) == ["release"]
    assert candidates(["shipdeck", "item", "l"], 2) == ["list"]
    assert candidates(["shipdeck", "completion", ""], 2) == ["bash", "zsh", "fish"]
    assert candidates(["shipdeck", "init", "s"], 2) == ["sub/"]
    assert candidates(["shipdeck", "scale", "prod", ""], 3) == []


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("environ", "tty", "expected"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"NO_COLOR": "1"}, True, False),
        ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, True, False),
        ({"FORCE_COLOR": "1"}, False, True),
        ({"FORCE_COLOR": "0"}, False, False),
        ({"TERM": "dumb"}, True, False),
    ],
)
def test_shows_colour_honours_no_color_and_force_color(
    environ: dict[str, str], tty: bool, expected: bool
) -> None:
    stream = _Tty() if tty else io.StringIO()
    assert shows_colour(stream, environ) is expected


def test_steps_are_told_to_colour_only_where_colour_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert step_colour_env(pane=True) == STEP_COLOUR_ENV  # the log pane shows colour
    assert step_colour_env(pane=False, stream=_Tty())["FORCE_COLOR"] == "1"
    assert step_colour_env(pane=False, stream=io.StringIO()) == {}  # a file or a pipe
    assert step_colour_env(pane=False) == {}  # JSON output
    monkeypatch.setenv("NO_COLOR", "1")
    assert step_colour_env(pane=False, stream=_Tty()) == {}


def test_sgr_is_kept_or_stripped_and_everything_else_escaped() -> None:
    line = "\x1b[1;32mok\x1b[0m \x1b[2J\x1b]0;title\x07\x9b\u202eend"
    coloured = terminal_text(line, colour=True)
    assert coloured.startswith("\x1b[1;32mok\x1b[0m ")
    assert coloured.endswith("\x1b[0m")  # a colour never leaks past the line
    assert "\\x1b[2J" in coloured and "\\x1b]0;title\\x07" in coloured
    assert "\\x9b" in coloured and "\\u202e" in coloured
    plain = terminal_text(line, colour=False)
    assert "\x1b" not in plain and plain.startswith("ok \\x1b[2J")
    assert strip_colour(coloured).count("\x1b") == 0
    assert terminal_text("plain", colour=True) == "plain"


# --- the schema --------------------------------------------------------------------


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        schema = root["$defs"][name]
    return schema


def _valid(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    """A small JSON Schema check (type, properties, additionalProperties, required,
    items, enum, const, anyOf/oneOf/allOf, $ref): enough for shipdeck.yaml's schema."""
    schema = _resolve(schema, root)
    for key in ("anyOf", "oneOf"):
        if key in schema and not any(_valid(value, s, root) for s in schema[key]):
            return False
    if "allOf" in schema and not all(_valid(value, s, root) for s in schema["allOf"]):
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "const" in schema and value != schema["const"]:
        return False
    kinds = {
        "object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
        "integer": int, "number": (int, float),
    }  # fmt: skip
    types = schema.get("type")
    if types is not None:
        types = types if isinstance(types, list) else [types]
        ok = any(isinstance(value, kinds[t]) for t in types)
        if isinstance(value, bool) and not {"boolean"} & set(types):
            ok = False
        if not ok:
            return False
    if isinstance(value, dict):
        props = schema.get("properties", {})
        if any(k not in value for k in schema.get("required", [])):
            return False
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                if not _valid(v, props[k], root):
                    return False
            elif extra is False or (isinstance(extra, dict) and not _valid(v, extra, root)):
                return False
    if isinstance(value, list) and "items" in schema:
        return all(_valid(v, schema["items"], root) for v in value)
    return True


def _configs() -> list[Path]:
    return [ROOT / "shipdeck.yaml", *sorted((ROOT / "examples").rglob("shipdeck.yaml"))]


def test_the_schema_validates_our_own_configs(tmp_path: Path) -> None:
    schema = config_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["type"] == "object" and "environments" in schema["properties"]
    assert schema["additionalProperties"] is False  # a typo'd key is refused, as shipdeck does
    json.dumps(schema)
    from shipdeck.cli.demo import create

    demo = create(tmp_path / "demo", docker_base=None).root / "shipdeck.yaml"
    for path in [*_configs(), demo]:
        data = yaml.safe_load(path.read_text())
        assert _valid(data, schema, schema), path
    assert not _valid({"version": 1, "project": "x", "stagse": {}}, schema, schema)
    assert not _valid({"project": "x"}, schema, schema)


def test_schema_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(config_schema()))


def test_every_field_of_the_schema_says_what_it_is_for() -> None:
    """Editors show these descriptions as the user types shipdeck.yaml."""
    schema = config_schema()
    objects = [schema, *schema["$defs"].values()]
    bare = [
        f"{obj.get('title', '?')}.{name}"
        for obj in objects
        for name, prop in obj.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert sum(len(obj.get("properties", {})) for obj in objects) > 50
    assert bare == []
