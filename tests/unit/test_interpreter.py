"""Which interpreter {python} is (project/interpreter.py): the order, pure, and what
activating its environment does; and the Test stage's counts from a runner's summary."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from shipdeck.lifecycle.items import TestReport
from shipdeck.lifecycle.lines import Line, Stream
from shipdeck.lifecycle.ports import EDITABLE_VAR, Interpreter, tree_first
from shipdeck.lifecycle.stages.work import TestSummary
from shipdeck.project.interpreter import (
    choose,
    editable_folders,
    find,
    own_venv,
    path_without_venv,
    venv_of,
)


def _venv(folder: Path) -> Path:
    (folder / "bin").mkdir(parents=True)
    (folder / "pyvenv.cfg").write_text("home = /usr/bin\n")
    python = folder / "bin" / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    return python


def _choose(
    root: Path,
    configured: str | None = None,
    *,
    environ: dict[str, str] | None = None,
    on_path: dict[str, str] | None = None,
    poetry: str | None = None,
) -> Interpreter:
    asked: list[str] = []

    def poetry_env() -> str | None:
        asked.append("poetry")
        return poetry

    got = choose(
        root,
        configured,
        environ=environ or {},
        which=lambda name: (on_path or {}).get(name),
        poetry_env=poetry_env,
    )
    if got.source in ("config", ".venv", "venv"):
        assert not asked, "Poetry is asked only when nothing before it answered"
    return got


def test_the_config_wins_over_a_venv(tmp_path: Path) -> None:
    _venv(tmp_path / ".venv")
    got = _choose(tmp_path, "tools/py", on_path={"python3": "/usr/bin/python3"})
    assert got == Interpreter(str(tmp_path / "tools/py"), None, "config")
    named = _choose(tmp_path, "python3.12", on_path={"python3.12": "/opt/py/bin/python3.12"})
    assert named.python == "/opt/py/bin/python3.12" and named.source == "config"


def test_a_configured_venv_python_brings_its_venv(tmp_path: Path) -> None:
    python = _venv(tmp_path / "env")
    assert _choose(tmp_path, str(python)).venv == str(tmp_path / "env")


def test_dot_venv_then_venv(tmp_path: Path) -> None:
    _venv(tmp_path / "venv")
    assert _choose(tmp_path).source == "venv"
    python = _venv(tmp_path / ".venv")
    got = _choose(tmp_path, on_path={"python3": "/usr/bin/python3"})
    assert got == Interpreter(str(python), str(tmp_path / ".venv"), ".venv")


def test_poetry_only_for_a_poetry_project(tmp_path: Path) -> None:
    elsewhere = tmp_path / "cache" / "demo-py3.11"
    python = _venv(elsewhere)
    root = tmp_path / "repo"
    root.mkdir()
    path = {"python3": "/usr/bin/python3"}
    assert _choose(root, poetry=str(elsewhere), on_path=path).source == "PATH"
    (root / "pyproject.toml").write_text('[tool.poetry]\nname = "demo"\n')
    got = _choose(root, poetry=str(elsewhere), on_path=path)
    assert got == Interpreter(str(python), str(elsewhere), "poetry")
    assert _choose(root, poetry=None, on_path=path).source == "PATH"  # no poetry, no env


def test_uv_project_environment(tmp_path: Path) -> None:
    python = _venv(tmp_path / "envs" / "uv")
    environ = {"UV_PROJECT_ENVIRONMENT": "envs/uv"}
    path = {"python3": "/usr/bin/python3"}
    assert _choose(tmp_path, environ=environ, on_path=path).source == "PATH"  # not a uv project
    (tmp_path / "uv.lock").write_text("version = 1\n")
    got = _choose(tmp_path, environ=environ, on_path=path)
    assert got == Interpreter(str(python), str(tmp_path / "envs" / "uv"), "uv")


def test_path_python3_last(tmp_path: Path) -> None:
    got = _choose(tmp_path, on_path={"python3": "/usr/bin/python3"})
    assert got == Interpreter("/usr/bin/python3", None, "PATH")
    assert _choose(tmp_path).source == "shipdeck"  # no python3 at all: shipdeck's own


def test_venv_of(tmp_path: Path) -> None:
    assert venv_of(_venv(tmp_path / "v")) == str(tmp_path / "v")
    assert venv_of(Path("/usr/bin/python3")) is None


def test_activate_like_a_venv_does() -> None:
    interp = Interpreter("/p/.venv/bin/python", "/p/.venv", ".venv")
    env = interp.activate({"PATH": "/usr/bin:/p/.venv/bin", "PYTHONHOME": "/x", "A": "1"})
    assert env == {"PATH": "/p/.venv/bin:/usr/bin", "VIRTUAL_ENV": "/p/.venv", "A": "1"}
    plain = Interpreter("/usr/bin/python3").activate({"PATH": "/a", "VIRTUAL_ENV": "/other"})
    assert plain == {"PATH": "/a"}  # another venv's VIRTUAL_ENV is not this interpreter's
    # and that venv (shipdeck's own, activated) leaves PATH as `deactivate` takes it off
    undone = Interpreter("/usr/bin/python3").activate(
        {"PATH": "/tools/sd/bin:/usr/bin:/tools/sd/bin/", "VIRTUAL_ENV": "/tools/sd"}
    )
    assert undone == {"PATH": "/usr/bin"}
    assert Interpreter.from_dict(interp.to_dict()) == interp
    assert Interpreter.from_dict(None) is None


def test_the_path_python3_is_looked_for_past_shipdecks_own_venv(tmp_path: Path) -> None:
    """shipdeck pip-installed in an activated venv: that venv's python3 has shipdeck's
    packages, not the project's; the next python3 on PATH is the project's."""
    assert path_without_venv("/v/bin:/usr/bin:/v/bin/:/v/binx", "/v") == "/usr/bin:/v/binx"
    assert path_without_venv("/v/bin:/usr/bin", None) == "/v/bin:/usr/bin"
    own = own_venv()
    if own is None:
        pytest.skip("the tests run outside a venv: shipdeck has no venv of its own here")
    elsewhere = tmp_path / "bin"
    elsewhere.mkdir()
    real = os.path.realpath(sys._base_executable)  # type: ignore[attr-defined]
    (elsewhere / "python3").symlink_to(real)  # a real interpreter, not a shim to ask
    path = os.pathsep.join([str(Path(own) / "bin"), str(elsewhere)])
    got = find(tmp_path, None, {"PATH": path, "VIRTUAL_ENV": own})
    assert (got.python, got.venv, got.source) == (str(elsewhere / "python3"), None, "PATH")


def _summary(text: str) -> TestSummary:
    summary = TestSummary()
    summary.feed([Line(Stream.STDERR, line) for line in text.splitlines()])
    return summary


def test_an_editable_install_of_the_project_is_found_in_the_venvs_pth_files(
    tmp_path: Path,
) -> None:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "lib").mkdir()
    venv = tmp_path / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "__editable__.greet-0.1.pth").write_text(f"{root / 'src'}\n")
    (site / "_other.pth").write_text(
        "import _virtualenv\n"  # runs code: not a folder
        f"# {root / 'lib'}\n"  # a comment
        f"{tmp_path / 'elsewhere'}\n"  # outside the repository
        "relative/dir\n"  # relative to site-packages
        f"{root / 'missing'}\n"  # no such folder
        f"{root / 'lib'}\n{root / 'src'}\n"  # two of the project's; src once
    )
    assert editable_folders(root, str(venv)) == ("src", "lib")
    assert editable_folders(root, None) == ()
    # setuptools' flat layout: an import line in the .pth, the folders in its finder
    (root / "flat").mkdir()
    (site / "__editable__.flat-0.1.pth").write_text(
        "import __editable___flat_0_1_finder; __editable___flat_0_1_finder.install()"
    )
    (site / "__editable___flat_0_1_finder.py").write_text(
        "import sys\n"
        f"MAPPING: dict[str, str] = {{'flat': '{root / 'flat'}', 'x': '{tmp_path / 'x'}'}}\n"
        f"NAMESPACES: dict[str, list[str]] = {{'ns': ['{root / 'lib'}']}}\n"
    )
    assert editable_folders(root, str(venv)) == ("src", "lib", ".")


def test_a_tree_goes_first_on_pythonpath_for_the_editable_folders() -> None:
    interp = Interpreter("/v/bin/python", "/v", ".venv", ("src",))
    env = interp.activate({"PATH": "/usr/bin", "PYTHONPATH": "/opt/x"}, tree="/t/export")
    assert env["PYTHONPATH"] == "/t/export/src:/opt/x" and env[EDITABLE_VAR] == "src"
    # no tree (the engine's environment): named, not applied; tree_first applies it
    env = interp.activate({"PATH": "/usr/bin"})
    assert "PYTHONPATH" not in env
    assert tree_first(env, "/w/SD-1")["PYTHONPATH"] == "/w/SD-1/src"
    # without an editable install nothing changes
    plain = Interpreter("/v/bin/python", "/v", ".venv")
    assert "PYTHONPATH" not in plain.activate({"PATH": "/usr/bin"}, tree="/t")
    # recorded with a release and read back
    assert Interpreter.from_dict(interp.to_dict()) == interp
    assert Interpreter.from_dict(plain.to_dict()) == plain


def test_unittest_summary() -> None:
    report = _summary("...\n" + "-" * 70 + "\nRan 3 tests in 0.001s\n\nOK\n").report
    assert report is not None and (report.passed, report.failed, report.total) == (3, 0, 3)
    failing = _summary(
        "FAIL: test_b (tests.test_app.AppTest.test_b)\n"
        "ERROR: test_c (tests.test_app.AppTest.test_c)\n"
        "Ran 5 tests in 0.01s\n\nFAILED (failures=1, errors=1, skipped=1)\n"
    ).report
    assert failing is not None
    assert (failing.passed, failing.failed, failing.errors, failing.skipped) == (2, 1, 1, 1)
    assert failing.failures == ["tests.test_app.AppTest.test_b", "tests.test_app.AppTest.test_c"]


@pytest.mark.parametrize(
    ("line", "counts"),
    [
        ("3 passed in 0.02s", (3, 0, 0, 0)),
        ("==== 2 failed, 5 passed, 1 skipped, 2 warnings in 1.20s ====", (5, 2, 1, 0)),
        ("1 passed, 1 xfailed, 1 error in 0.1s", (1, 0, 1, 1)),
    ],
)
def test_pytest_summary(line: str, counts: tuple[int, int, int, int]) -> None:
    report = _summary("FAILED tests/test_x.py::test_y - boom\n" + line).report
    assert report is not None
    assert (report.passed, report.failed, report.skipped, report.errors) == counts
    assert report.failures == (["tests/test_x.py::test_y"] if counts[1] + counts[3] else [])


# `node --test` (v20) on 4 tests, one failing and one skipped, as a step (no terminal)
NODE_TAP = """\
TAP version 13
# Subtest: adds
ok 1 - adds
  ---
  duration_ms: 0.6
  ...
# Subtest: breaks
not ok 3 - breaks
  ---
  failureType: 'testCodeFailure'
  error: |-
    Expected values to be strictly equal:
  ...
# Subtest: later
ok 4 - later # SKIP
1..4
# tests 4
# suites 0
# pass 2
# fail 1
# cancelled 0
# skipped 1
# todo 0
# duration_ms 106.275864
"""


@pytest.mark.parametrize(
    ("output", "counts", "failures"),
    [
        (NODE_TAP, (2, 1, 1, 0), ["breaks"]),
        # the same counts as node prints them on a terminal (its spec reporter)
        ("✖ breaks (0.9ms)\nℹ tests 4\nℹ pass 2\nℹ fail 1\nℹ skipped 1\nℹ duration_ms 99\n",
         (2, 1, 1, 0), []),
        ("Tests:       1 failed, 1 skipped, 3 passed, 5 total\n", (3, 1, 1, 0), []),  # Jest
        (" Test Files  1 passed (1)\n      Tests  1 failed | 2 passed (3)\n", (2, 1, 0, 0), []),
    ],
)  # fmt: skip
def test_node_jest_and_vitest_summaries(
    output: str, counts: tuple[int, int, int, int], failures: list[str]
) -> None:
    """A Node project's `npm test` got no counts on its card: only unittest's and
    pytest's summaries were read."""
    report = _summary(output).report
    assert report is not None
    assert (report.passed, report.failed, report.skipped, report.errors) == counts
    assert report.failures == failures


def test_node_counts_without_their_end_are_no_summary() -> None:
    """A run killed while node printed its counts: no half a report."""
    assert _summary(NODE_TAP.split("# duration_ms")[0]).report is None


def test_no_summary_no_report() -> None:
    assert _summary("OK\nall good\n").report is None


def test_python_and_workdir_keys() -> None:
    from shipdeck.lifecycle.config.schema import ConfigError, parse_config

    config = parse_config(
        "version: 1\nproject: p\npython: .venv/bin/python\nenvironments:\n"
        "  staging:\n    run: '{python} -m app'\n    python: python3.12\n"
        "    workdir: '{data_dir}'\n"
    )
    assert config.python == ".venv/bin/python"
    assert config.environments["staging"].python == "python3.12"
    assert config.environments["staging"].workdir == "{data_dir}"
    with pytest.raises(ConfigError, match="workdir is for target local"):
        parse_config(
            "version: 1\nproject: p\nenvironments:\n"
            "  prod:\n    target: docker\n    image: x\n    workdir: /srv\n"
        )


def test_a_test_module_that_cannot_be_imported_is_an_error_named_as_the_module() -> None:
    """flasky without its packages: unittest reported 5 errors; the log said "0 passed,
    0 failed, 0 skipped" above five FAILED lines named unittest.loader._FailedTest...."""
    report = _summary(
        "EE\n" + "=" * 70 + "\n"
        "ERROR: tests.test_api (unittest.loader._FailedTest.tests.test_api)\n"
        "ImportError: Failed to import test module: tests.test_api\n"
        "ERROR: tests.test_basics (unittest.loader._FailedTest.tests.test_basics)\n"
        "Ran 2 tests in 0.000s\n\nFAILED (errors=2)\n"
    ).report
    assert report is not None
    assert report.failures == ["tests.test_api", "tests.test_basics"]
    assert report.summary() == "0 passed, 0 failed, 0 skipped, 2 errors"
    assert TestReport(passed=3, skipped=1).summary() == "3 passed, 0 failed, 1 skipped"
    assert TestReport(errors=1).summary() == "0 passed, 0 failed, 0 skipped, 1 error"


def test_a_pyenv_shim_is_asked_in_the_project_so_its_python_version_counts(
    tmp_path: Path,
) -> None:
    """pyenv picks the interpreter by the ``.python-version`` of the folder it runs in:
    asked anywhere else, a project pinned to 3.12 ran its tests with the global 3.11."""
    shim_dir = tmp_path / "shims"
    shim_dir.mkdir()
    shim = shim_dir / "python3"
    shim.write_text(  # as pyenv's: the version file of the folder it runs in, else global
        "#!/bin/sh\nv=global\n[ -f .python-version ] && v=$(cat .python-version)\n"
        f'echo "{tmp_path}/versions/$v/bin/python3"\n'
    )
    shim.chmod(0o755)
    environ = {"PATH": f"{shim_dir}:/usr/bin:/bin"}
    pinned, other = tmp_path / "pinned", tmp_path / "other"
    pinned.mkdir()
    other.mkdir()
    (pinned / ".python-version").write_text("3.12.1\n")
    assert find(pinned, None, environ).python == f"{tmp_path}/versions/3.12.1/bin/python3"
    assert find(other, None, environ).python == f"{tmp_path}/versions/global/bin/python3"
