"""Template checking and rendering: only plain known fields, only safe values."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipdeck.lifecycle.config.templates import (
    BRANCH_FIELDS,
    KNOWN_FIELDS,
    TemplateError,
    check_template,
    check_value,
    render,
    render_command,
    template_fields,
)

HOSTILE = "$(touch /tmp/pwned)"
GOOD = {
    "id": "SD-3",
    "slug": "fix-login",
    "kind": "bug",
    "sha": "0123456789abcdef0123456789abcdef01234567",
    "short_sha": "0123456",
    "version": "1.4.0",
    "branch": "bug/SD-3-fix-login",
    "port": 8081,
    "env": "staging",
    "project": "hello",
    "python": "/usr/bin/python3",
    "data_dir": "/srv/repo/.shipdeck/data/staging",
}


def test_known_fields_are_the_documented_ones() -> None:
    assert set(KNOWN_FIELDS) == {
        "id", "slug", "kind", "sha", "short_sha", "version",
        "branch", "port", "env", "project", "python", "data_dir",
    }  # fmt: skip
    assert set(BRANCH_FIELDS) <= set(KNOWN_FIELDS)


def test_template_fields_lists_the_fields_used() -> None:
    assert template_fields("{kind}/{id}-{slug}") == {"kind", "id", "slug"}
    assert template_fields("no fields at all") == frozenset()


def test_doubled_braces_are_literal() -> None:
    assert template_fields("{{id}} and {{") == frozenset()
    assert render("{{id}}={id} }}", GOOD) == "{id}=SD-3 }"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("echo {foo}", "unknown template field {foo}"),
        ("echo {title}", "unknown template field {title}"),
        ("echo {body}", "unknown template field {body}"),
        ("echo {0}", "unknown template field {0}"),
        ("echo {}", "empty template field"),
        ("echo {id!r}", "conversion or format spec"),
        ("echo {id:>3}", "conversion or format spec"),
        ("echo {id.__class__}", "attribute or index access"),
        ("echo {id[0]}", "attribute or index access"),
        ("echo {id", "unbalanced braces"),
        ("echo id}", "unbalanced braces"),
        ("echo {", "unbalanced braces"),
    ],
)
def test_bad_templates_are_refused(template: str, expected: str) -> None:
    with pytest.raises(TemplateError) as info:
        check_template(template)
    assert expected in str(info.value)
    with pytest.raises(TemplateError):
        render(template, GOOD)


def test_unknown_field_message_lists_known_fields() -> None:
    with pytest.raises(TemplateError) as info:
        check_template("{foo}")
    assert "(known: {id}, {slug}" in str(info.value)
    assert "{python}" in str(info.value)


def test_template_error_is_a_value_error() -> None:
    assert issubclass(TemplateError, ValueError)


def test_restricted_field_set() -> None:
    assert check_template("{kind}/{id}", BRANCH_FIELDS) == "{kind}/{id}"
    with pytest.raises(TemplateError, match=r"unknown template field \{sha\}"):
        check_template("{id}-{sha}", BRANCH_FIELDS)


def test_render_fills_every_field() -> None:
    template = " ".join(f"{{{name}}}" for name in KNOWN_FIELDS)
    out = render(template, GOOD)
    assert out == " ".join(str(GOOD[name]) for name in KNOWN_FIELDS)


def test_render_url_and_tag() -> None:
    assert render("http://127.0.0.1:{port}/health", {"port": 8081}) == (
        "http://127.0.0.1:8081/health"
    )
    assert render("v{version}", {"version": "2.0.0-rc.1+build.5"}) == "v2.0.0-rc.1+build.5"
    assert render("{project}:{short_sha}", GOOD) == "hello:0123456"


def test_port_may_be_digit_text() -> None:
    assert render("{port}", {"port": "8081"}) == "8081"


def test_python_is_never_shipdecks_own_by_default() -> None:
    """{python} is the project's interpreter: the caller must say which (issue #13)."""
    with pytest.raises(TemplateError, match=r"no value for template field \{python\}"):
        render("{python}", {})
    assert shlex.split(render_command("{python} -V", {"python": sys.executable}))[0] == (
        sys.executable
    )


def test_missing_value_names_the_field() -> None:
    with pytest.raises(TemplateError, match=r"no value for template field \{port\}"):
        render("http://localhost:{port}/", {"id": "SD-1"})
    with pytest.raises(TemplateError, match=r"\{version\}"):
        render_command("echo {version}", {"version": None})


def test_unused_fields_are_not_checked() -> None:
    assert render("{id}", {"id": "SD-1", "slug": HOSTILE, "title": HOSTILE}) == "SD-1"


@pytest.mark.parametrize("name", ["slug", "branch", "kind", "env", "project", "id"])
@pytest.mark.parametrize(
    "value",
    [HOSTILE, "a;rm -rf /", "a b", "`id`", "a\nb", "x|y", "x&y", "'q'", '"q"', "-rf", "", "a$b"],
)
def test_hostile_names_are_refused(name: str, value: str) -> None:
    with pytest.raises(TemplateError, match=r"unsafe value"):
        render(f"x {{{name}}}", {name: value})
    with pytest.raises(TemplateError):
        render_command(f"echo {{{name}}}", {name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("version", "1.2.3; rm -rf /"),
        ("version", HOSTILE),
        ("version", "1"),
        ("version", "v1.2.3"),
        ("sha", "abc$(x)"),
        ("sha", "not-hex"),
        ("short_sha", "12 34"),
        ("port", "80; touch x"),
        ("port", True),
        ("port", 0),
        ("port", 70000),
        ("port", 80.5),
        ("slug", 12),
        ("slug", ["a"]),
        ("python", "/usr/bin/python\nrm -rf /"),
        ("python", ""),
    ],
)
def test_values_that_fail_their_check(name: str, value: object) -> None:
    with pytest.raises(TemplateError):
        check_value(name, value)
    with pytest.raises(TemplateError):
        render_command(f"run {{{name}}}", {name: value})


def test_check_value_unknown_field() -> None:
    with pytest.raises(TemplateError, match="unknown template field"):
        check_value("title", "Hello")


def test_render_command_quotes_an_interpreter_path() -> None:
    python = "/opt/my python/bin/python3"
    out = render_command("{python} -m app --port {port}", {"python": python, "port": 8081})
    assert out == "'/opt/my python/bin/python3' -m app --port 8081"
    assert shlex.split(out) == [python, "-m", "app", "--port", "8081"]


def test_safe_values_are_left_readable_in_commands() -> None:
    assert render_command("git checkout {branch}", GOOD) == "git checkout bug/SD-3-fix-login"


def test_hostile_interpreter_path_is_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    python = f"$(touch {marker})`touch {marker}`;touch {marker}"
    command = render_command("printf %s {python}", {"python": python})
    done = subprocess.run(
        ["/bin/sh", "-c", command], capture_output=True, text=True, check=True, timeout=10
    )
    assert done.stdout == python
    assert not marker.exists()


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(min_codepoint=32, exclude_characters="\x7f"), min_size=1))
def test_any_interpreter_path_survives_as_one_word(python: str) -> None:
    command = render_command("{python} -V", {"python": python})
    assert shlex.split(command) == [python, "-V"]
