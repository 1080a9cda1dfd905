"""The hint after ``No module named 'x'``: which interpreter lacked it, and how to give
it the project's packages (lifecycle/missing_module.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipdeck.lifecycle.lines import Line, Stream
from shipdeck.lifecycle.missing_module import MissingModules, broken_venv, hint, install_command


def _first(*texts: str) -> str | None:
    found = MissingModules()
    found.feed([Line(Stream.STDERR, t) for t in texts])
    return found.module


@pytest.mark.parametrize(
    ("text", "module"),
    [
        ("ModuleNotFoundError: No module named 'flask_bootstrap'", "flask_bootstrap"),
        ("    raise ModuleNotFoundError: No module named 'a.b'", "a.b"),
        ("ImportError: No module named yaml", "yaml"),  # a C extension's, Python 2's
        ("/usr/bin/python3: No module named pytest", "pytest"),  # python -m
        ("/root/.pyenv/versions/3.11.7/bin/python3.11: No module named gunicorn", "gunicorn"),
        ("log: No module named 'x' was logged by the app", None),  # no interpreter said it
        ("all good", None),
    ],
)
def test_the_module_python_could_not_import(text: str, module: str | None) -> None:
    assert _first(text) == module


def test_the_first_missing_module_is_the_one_named() -> None:
    assert (
        _first(
            "ModuleNotFoundError: No module named 'first'",
            "ModuleNotFoundError: No module named 'second'",
        )
        == "first"
    )


@given(st.lists(st.text(max_size=80), max_size=20))
def test_any_output_is_read_without_error(texts: list[str]) -> None:
    module = _first(*texts)
    assert module is None or any(module in t for t in texts)


@pytest.mark.parametrize(
    ("files", "command"),
    [
        ({"requirements.txt": "flask\n", "pyproject.toml": "[project]\n"},
         "P install -r requirements.txt"),
        ({"pyproject.toml": "[tool.poetry]\nname = 'x'\n"}, "poetry install"),
        ({"pyproject.toml": "[project]\n", "uv.lock": ""}, "uv sync"),
        ({"pyproject.toml": "[project]\n"}, "P install -e ."),
        ({"setup.py": ""}, "P install -e ."),
        ({}, "P install PACKAGE"),
        # what the tests need besides: a dev requirements file, a test extra
        ({"requirements.txt": "flask\n", "requirements-dev.txt": "-r requirements.txt\n"},
         "P install -r requirements.txt -r requirements-dev.txt"),
        ({"requirements-test.txt": "pytest\n", "setup.py": ""}, "P install -e ."),
        ({"requirements-test.txt": "pytest\n"}, "P install -r requirements-test.txt"),
        ({"pyproject.toml": "[project]\nname = 'x'\n"
                            "[project.optional-dependencies]\ndocs = ['s']\ntest = ['pytest']\n"},
         "P install -e '.[test]'"),
        ({"pyproject.toml": "[project\n"}, "P install -e ."),  # not TOML: no extra to name
    ],
)  # fmt: skip
def test_the_install_command_follows_the_projects_files(
    tmp_path: Path, files: dict[str, str], command: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert install_command(tmp_path, "P") == command


def test_without_a_venv_the_hint_says_how_to_make_one(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask\n")
    said = hint("flask_bootstrap.ext", "/usr/bin/python3", None, tmp_path)
    assert said == [
        "hint: /usr/bin/python3 has no module 'flask_bootstrap' and is no venv's; give the"
        " repository a .venv with the project's dependencies, which {python} then is:",
        "  python3 -m venv .venv && .venv/bin/pip install -r requirements.txt",
        "  (or name an interpreter with python: in shipdeck.yaml)",
    ]


def test_a_poetry_project_without_its_env_is_told_poetry_install(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.poetry]\nname = 'x'\n")
    said = hint("x", "/usr/bin/python3", None, tmp_path)
    assert said[1] == "  poetry install"


def test_in_a_venv_the_hint_names_it_and_its_pip(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    said = hint("gunicorn", "/p/.venv/bin/python", "/p/.venv", tmp_path)
    assert said == [
        "hint: /p/.venv/bin/python (the venv /p/.venv) has no module 'gunicorn'; install the"
        " project's dependencies there, and advance again:",
        "  /p/.venv/bin/pip install -e .",
    ]


def test_a_tool_run_with_dash_m_is_installed_by_its_name(tmp_path: Path) -> None:
    """``python -m pytest`` in a venv without pytest: pytest is seldom among the project's
    own dependencies, so the line names it."""
    (tmp_path / "requirements.txt").write_text("flask\n")
    found = MissingModules()
    found.feed([Line(Stream.STDERR, "/p/.venv/bin/python: No module named pytest")])
    assert (found.module, found.run_by_m) == ("pytest", True)
    said = hint("pytest", "/p/.venv/bin/python", "/p/.venv", tmp_path, found.run_by_m)
    assert said[1:] == [
        "  /p/.venv/bin/pip install -r requirements.txt",
        "  /p/.venv/bin/pip install pytest",
    ]
    bare = hint("pytest", "/usr/bin/python3", None, tmp_path, run_by_m=True)
    assert bare[1].endswith("-r requirements.txt && .venv/bin/pip install pytest")
    imported = MissingModules()
    imported.feed([Line(Stream.STDERR, "ModuleNotFoundError: No module named 'flask'")])
    assert (imported.module, imported.run_by_m) == ("flask", False)


def test_a_venv_whose_python_is_gone_is_named_and_made_again(tmp_path: Path) -> None:
    """A .venv made by a pyenv Python since removed: {python} passed it by for the PATH's
    python3, and the line told a person with a .venv to make one."""
    (tmp_path / "requirements.txt").write_text("flask\n")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(tmp_path / "gone" / "python3.9")
    assert broken_venv(tmp_path) == ".venv"
    said = hint("flask", "/usr/bin/python3", None, tmp_path, root=tmp_path)
    assert ": .venv/bin/python does not run (its interpreter is gone?);" in said[0]
    assert said[1].startswith("  rm -rf .venv && python3 -m venv .venv && .venv/bin/pip install -r")
    (tmp_path / ".venv" / "bin" / "python").unlink()
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    assert broken_venv(tmp_path) is None


@pytest.mark.parametrize(
    ("text", "package"),
    [
        ("Error: Cannot find module 'express'", "express"),
        ("# Error: Cannot find module 'lodash/fp'", "lodash"),
        ("Error: Cannot find module '@scope/pkg/sub'", "@scope/pkg"),
        (
            "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'vite' imported from /x/a.mjs",
            "vite",
        ),
        ("Error: Cannot find module './routes'", None),  # the project's own file
        ("Error: Cannot find module '/srv/app.js'", None),
    ],
)
def test_the_node_package_that_could_not_load(text: str, package: str | None) -> None:
    found = MissingModules()
    found.feed([Line(Stream.STDERR, text)])
    assert found.module == package
    assert found.node is (package is not None)


@pytest.mark.parametrize(
    ("lock", "install"),
    [
        ("package-lock.json", "npm ci"),
        ("yarn.lock", "yarn install"),
        ("pnpm-lock.yaml", "pnpm install"),
        (None, "npm install"),
    ],
)
def test_the_node_install_follows_the_lock_file(
    tmp_path: Path, lock: str | None, install: str
) -> None:
    if lock:
        (tmp_path / lock).write_text("")
    found = MissingModules()
    found.feed([Line(Stream.STDERR, "Error: Cannot find module 'express'")])
    said = found.hint(None, None, tmp_path)  # no interpreter needed for Node
    assert said[0].startswith("hint: no package 'express' in node_modules;")
    assert said[1:] == [f"  {install}"]
