"""The small constant costs of a Plan -> Deploy (issue 15, Build 4), kept without
changing behaviour: the health wait's schedule, the interpreter asked once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path

import pytest

from shipdeck.backends.probe import pause_schedule
from shipdeck.project import interpreter
from shipdeck.project.repo import Project


def test_health_wait_looks_again_soon_then_every_interval() -> None:
    pauses = list(islice(pause_schedule(0.5), 40))
    assert pauses[0] == 0.01
    assert pauses == sorted(pauses)  # never sooner than the pause before
    assert max(pauses) == 0.5 and pauses[-1] == 0.5  # settles on the interval
    assert sum(pauses[:4]) < 0.5  # several looks within the old first pause
    # A service up at any moment is seen within a fifth of the time it took (plus the
    # first pause): the next look never lies further ahead than that.
    waited = 0.0
    for pause in pauses:
        if pause == 0.5:
            break
        assert pause <= 0.2 * waited + 0.01, (waited, pause)
        waited += pause
    assert len([p for p in pauses if p < 0.5]) < 25  # and not a look every few ms for long


def test_health_wait_never_pauses_past_a_short_interval() -> None:
    assert list(islice(pause_schedule(0.01), 3)) == [0.01, 0.01, 0.01]


def _shim(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A python3 on PATH that is a script (as pyenv's is), logging each time it is asked."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "asked.log"
    shim = bin_dir / "python3"
    shim.write_text(f"#!/bin/sh\necho asked >> {log}\necho {tmp_path}/real/bin/python3\n")
    shim.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin"}, log


def test_prefetch_asks_the_shim_once_and_find_gets_its_answer(tmp_path: Path) -> None:
    environ, log = _shim(tmp_path)
    root = tmp_path / "repo"
    root.mkdir()
    interpreter.prefetch(root, environ)
    found = interpreter.find(root, None, environ)
    assert found.python == f"{tmp_path}/real/bin/python3"
    assert found.source == "PATH"
    assert interpreter.find(root, None, environ).python == found.python
    assert log.read_text().splitlines() == ["asked"]  # prefetch and two finds: one question


def test_prefetch_asks_nothing_when_the_project_has_a_venv(tmp_path: Path) -> None:
    environ, log = _shim(tmp_path)
    root = tmp_path / "repo"
    (root / ".venv" / "bin").mkdir(parents=True)
    venv_python = root / ".venv" / "bin" / "python"
    venv_python.write_text("")
    venv_python.chmod(0o755)
    interpreter.prefetch(root, environ)
    assert interpreter.find(root, None, environ).source == ".venv"
    assert not log.exists()


CONFIG = """\
version: 1
project: p
base_branch: main
environments:
  staging:
    target: local
    run: "python3 -m http.server {port}"
    port: 8000
"""


def _project(tmp_path: Path) -> Project:
    (tmp_path / "shipdeck.yaml").write_text(CONFIG)
    return Project(tmp_path)


def test_commits_ahead_counts_and_names_an_unknown_ref(tmp_path: Path) -> None:
    from shipdeck.backends.git import GitRepo
    from shipdeck.lifecycle.ports import VcsError

    env = dict(os.environ) | {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x.invalid"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x.invalid"}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, env=env)

    git("init", "-q", "-b", "main")
    git("commit", "-q", "--allow-empty", "-m", "base")
    git("tag", "-a", "-m", "annotated", "v1")
    git("checkout", "-q", "-b", "feature/x")
    git("commit", "-q", "--allow-empty", "-m", "one")
    git("commit", "-q", "--allow-empty", "-m", "two")
    vcs = GitRepo(tmp_path)
    assert vcs.commits_ahead("feature/x", "main") == 2
    assert vcs.commits_ahead("main", "feature/x") == 0
    assert vcs.commits_ahead("feature/x", "v1") == 2  # an annotated tag is its commit
    with pytest.raises(VcsError, match="'trunk'"):
        vcs.commits_ahead("feature/x", "trunk")
    with pytest.raises(VcsError, match="'nope'"):
        vcs.commits_ahead("nope", "main")
    with pytest.raises(VcsError, match="not a valid git ref"):
        vcs.commits_ahead("--all", "main")


def _git_in(folder: Path, *args: str) -> None:
    env = dict(os.environ) | {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x.invalid"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x.invalid"}
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, env=env)


def test_git_backend_refuses_a_bare_repository(tmp_path: Path) -> None:
    from shipdeck.backends.git import GitRepo
    from shipdeck.lifecycle.ports import VcsError

    _git_in(tmp_path, "init", "-q", "--bare", "remote.git")
    with pytest.raises(VcsError, match="is a bare git repository"):
        GitRepo(tmp_path / "remote.git")


def test_git_backend_works_in_a_linked_worktree_and_in_english(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipdeck.backends.git import GitRepo
    from shipdeck.lifecycle.ports import VcsError

    main = tmp_path / "main"
    main.mkdir()
    _git_in(main, "init", "-q", "-b", "main")
    _git_in(main, "commit", "-q", "--allow-empty", "-m", "base")
    _git_in(main, "worktree", "add", "-q", "-b", "side", str(tmp_path / "side"))
    vcs = GitRepo(tmp_path / "side")
    assert vcs.current_branch() == "side"
    assert vcs.head_sha("side") == GitRepo(main).head_sha("main")
    monkeypatch.setenv("LANGUAGE", "fr")
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    with pytest.raises(VcsError, match="unknown git ref 'nope'"):
        vcs.head_sha("nope")
    with pytest.raises(VcsError, match=r"git checkout failed: .*did not match any"):
        vcs._checkout("no-such-branch")  # git's own words, in English


def _cli_in(root: Path, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    from shipdeck.cli.main import run

    monkeypatch.chdir(root)
    return run(list(argv))


def test_item_add_skips_parsing_a_config_that_validated_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _git_in(tmp_path, "init", "-q", "-b", "main")
    _git_in(tmp_path, "commit", "-q", "--allow-empty", "-m", "base")
    project = _project(tmp_path)
    project.check_config()  # validated once: the stamp is written
    parsed: list[str] = []
    from shipdeck.lifecycle.config import schema

    real = schema.load_config

    def counting(name: str, **kwargs: object) -> object:
        parsed.append(name)
        return real(name, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(schema, "load_config", counting)
    assert _cli_in(tmp_path, monkeypatch, "item", "add", "Say hola") == 0
    assert capsys.readouterr().out.strip() == "SD-1"
    assert parsed == []  # the same bytes validated before: their snapshot, no pydantic
    (tmp_path / "shipdeck.yaml").write_text(CONFIG + "projekt: typo\n")
    assert _cli_in(tmp_path, monkeypatch, "item", "add", "Another") == 2  # still refused
    assert "shipdeck.yaml:9" in capsys.readouterr().err
    assert parsed == ["shipdeck.yaml"]


@pytest.mark.slow  # a fresh interpreter
def test_the_local_target_imports_httpx_and_psutil_only_when_it_uses_them() -> None:
    script = (
        "import sys\nimport shipdeck.backends.local.target as t\n"
        "print('httpx' in sys.modules, 'psutil' in sys.modules)\n"
        "print(t.psutil.Process().pid == __import__('os').getpid(), 'psutil' in sys.modules)\n"
        "print('httpx' in sys.modules, end=' ')\n"
        "t.LocalTarget('s', root=t.Path('.'), command='true', port=None, health_url=None)"
        ".prepare()\n"
        "print('httpx' in sys.modules, 'shipdeck.backends.probe' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    # psutil works once asked for; prepare() (a deploy on its way) loads httpx and the probe.
    assert out.stdout.split("\n")[:3] == ["False False", "True True", "False True True"]


@pytest.mark.slow  # a fresh interpreter
def test_the_item_commands_load_none_of_the_engines_types() -> None:
    """``item add``, ``list`` and ``show`` go through the verbs, which leave the engine's
    ports, runs and alerts (~45 dataclasses, ~12 ms of every item command) to the
    commands that run stages; a bug from an alert loads them when it is asked for."""
    code = """
import sys
import shipdeck.cli.items, shipdeck.lifecycle.verbs as verbs
heavy = ("shipdeck.lifecycle.ports", "shipdeck.lifecycle.runs", "shipdeck.lifecycle.alerts")
print(sorted(m for m in heavy if m in sys.modules))
print(issubclass(verbs.Refused, __import__("shipdeck.lifecycle.runs").lifecycle.runs.EngineError))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert out == ["[]", "True"]  # and a refusal is still the engine's kind of error


@pytest.mark.slow  # a fresh interpreter
def test_the_probe_imports_httpx_without_its_command_line() -> None:
    """httpx loads click, pygments and rich for its own command whenever click is
    installed (it is here: pipx needs it); the probe leaves that out and still works."""
    code = """
import http.server, sys, threading
import shipdeck.backends.probe as probe
print(sorted(m for m in ("click", "pygments", "rich.console", "rich.syntax") if m in sys.modules))
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()
with probe.HttpProber() as prober:
    result = prober.probe("h", f"http://127.0.0.1:{server.server_port}/", 5.0, float("inf"))
print(result.ok, result.status)
"""
    import importlib.util

    assert importlib.util.find_spec("click") is not None, "the test extras install click"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert out == ["[]", "True 200"]


@pytest.mark.slow  # a fresh interpreter
def test_the_relay_runs_without_site_from_a_package_laid_out_as_installed(
    tmp_path: Path,
) -> None:
    """The relay starts with -I -S: site-packages is not on its path, so it finds the
    package it belongs to from the path it was given, as a wheel lays it out."""
    import shutil

    from shipdeck.backends import mask_relay

    site = tmp_path / "site-packages"
    shutil.copytree(
        Path(mask_relay.__file__).parents[1],  # the package (a checkout links its parts)
        site / "shipdeck",
        symlinks=False,
        ignore=shutil.ignore_patterns("__pycache__", "examples", "tui", "widgets"),
    )
    relay = site / "shipdeck" / "backends" / "mask_relay.py"
    out, err = tmp_path / "out", tmp_path / "err"
    env = {"PATH": os.environ["PATH"], "TOKEN": "s3cr3t-value"}
    command = ["/bin/sh", "-c", 'echo "token=$TOKEN"; echo oops >&2']
    relay_argv = [sys.executable, *mask_relay.FLAGS, str(relay), str(out), str(err)]
    done = subprocess.run(
        [*relay_argv, "TOKEN", "--", *command],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "s3cr3t-value" not in out.read_text()
    assert out.read_text().startswith("token=") and err.read_text() == "oops\n"


@pytest.mark.slow  # a real repository
def test_moving_to_code_does_not_ask_for_the_interpreter(tmp_path: Path) -> None:
    """The branch template's fields never include ``{python}``: Code runs no step, so
    it must not wait for the project's interpreter (a pyenv shim: ~70 ms of a CLI
    ``advance --to code``)."""
    from shipdeck.lifecycle.stages import Stage
    from shipdeck.project.wiring import build_engine
    from tests.helpers import git_repo

    repo = git_repo(tmp_path / "repo")
    project = _project(repo)
    engine = build_engine(project)
    asked: list[int] = []

    def environ() -> dict[str, str]:
        asked.append(1)
        return dict(os.environ)

    engine.environ = environ
    item = project.store.add("Say hola")
    outcome = engine.advance(item.id, to=Stage.CODE)
    assert outcome.ok, outcome.message
    assert outcome.item.branch == f"feature/{item.id}-say-hola" and asked == []


def test_a_local_target_asks_for_the_interpreter_only_to_start_its_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``shipdeck status``, ``logs`` and ``stop`` make the environment's target but never
    start its command: they must not wait for a pyenv shim to name the interpreter
    (~90 ms of a 200 ms ``status --json``). A deploy still runs the shim's answer."""
    from shipdeck.project.wiring import make_target

    environ, log = _shim(tmp_path)
    monkeypatch.setenv("PATH", environ["PATH"])
    root = tmp_path / "repo"
    root.mkdir()
    (root / "shipdeck.yaml").write_text(
        CONFIG.replace('"python3 -m http.server {port}"', '"{python} -m app --port {port}"')
    )
    target = make_target(Project(root), "staging")
    assert target.status().state == "absent"  # nothing deployed yet
    assert not log.exists()  # status named no interpreter
    command, python = target.launch_spec()  # type: ignore[attr-defined]
    real = f"{tmp_path}/real/bin/python3"
    assert command == f"{real} -m app --port 8000"
    assert python is not None and (python.python, python.source) == (real, "PATH")
    assert log.read_text().splitlines() == ["asked"]
    target.launch_spec()  # type: ignore[attr-defined]
    assert log.read_text().splitlines() == ["asked"]  # made once


@pytest.mark.slow  # real shipdeck processes on a real repository
def test_status_stop_and_logs_never_ask_the_shim(tmp_path: Path) -> None:
    """Only advance (to a stage past Code) and deploy name the interpreter, and start
    asking early: the commands that read or stop an environment leave a pyenv shim
    alone."""
    from tests.helpers import git_repo, shipdeck

    environ, log = _shim(tmp_path)
    environ["PATH"] += os.pathsep + os.environ.get("PATH", "")  # git, as the user has it
    repo = git_repo(tmp_path / "repo")
    (repo / "shipdeck.yaml").write_text(
        CONFIG.replace('"python3 -m http.server {port}"', '"{python} -m app --port {port}"')
    )
    commands = (
        ["status", "--json"],
        ["stop", "staging"],
        ["logs", "staging"],
        ["dora"],
        ["advance", "SD-1", "--to", "code"],  # a branch runs no step (no such item here)
    )
    for args in commands:
        result = shipdeck(*args, cwd=repo, env=environ)
        assert "Traceback" not in result.stderr, (args, result.stderr)
        assert not log.exists(), args


def test_the_relay_of_a_service_without_secrets_copies_its_output_and_loads_no_masker(
    tmp_path: Path,
) -> None:
    """No secret has a value: the relay writes what the service printed, byte for byte
    (invalid UTF-8, CRLF, a line longer than it reads at once), and never imports the
    masker (~10 ms, a third of the relay's CPU at every local deploy)."""
    from shipdeck.backends import mask_relay

    out, err = tmp_path / "out", tmp_path / "err"
    printed = b"caf\xc3\xa9 \xff\xfe\r\n" + b"x" * (3 << 16) + b"\nno newline at the end"
    (tmp_path / "printed").write_bytes(printed)
    script = (
        "import runpy, sys\n"
        f"sys.argv = ['relay', {str(out)!r}, {str(err)!r}, 'UNSET_SECRET', '--',"
        f" 'cat', {str(tmp_path / 'printed')!r}]\n"
        "try:\n"
        f"    runpy.run_path({mask_relay.__file__!r}, run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "print(code, 'shipdeck.lifecycle.masking' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "UNSET_SECRET"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["0", "False"], done.stderr
    assert out.read_bytes() == printed and err.read_bytes() == b""


@pytest.mark.slow  # a fresh interpreter running the board
def test_the_open_board_loads_the_http_client_and_psutil_after_its_first_paint(
    tmp_path: Path,
) -> None:
    """A local deploy's health wait and the metrics pane need them: loaded while the
    board is looked at, they do not share a core with Test's command at the first
    Plan -> Deploy (what ``benchmarks/pipeline.py``'s one-process side assumes)."""
    from tests.helpers import python_says

    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from shipdeck.cli.demo import create\n"
        "from shipdeck.tui.app import ShipdeckApp\n"
        f"project = create(Path({str(tmp_path / 'demo')!r}))\n"
        "mods = ('shipdeck.backends.probe', 'httpx', 'psutil')\n"
        "before = [m in sys.modules for m in mods]\n"
        "async def main():\n"
        "    app = ShipdeckApp(project)\n"
        "    async with app.run_test(size=(120, 40)) as pilot:\n"
        "        for _ in range(100):\n"
        "            await pilot.pause(0.05)\n"
        "            if all(m in sys.modules for m in mods):\n"
        "                break\n"
        "    return [m in sys.modules for m in mods]\n"
        "after = asyncio.run(main())\n"
        "print(*before, *after)\n"
    )
    words = python_says(script)
    assert words == ["False"] * 3 + ["True"] * 3, words


@pytest.mark.slow  # real shipdeck processes on a real repository
def test_a_command_that_ends_before_the_shim_answers_leaves_no_process_behind(
    tmp_path: Path,
) -> None:
    """``advance`` starts asking the shim at once; a usage error ends the command in
    ~80 ms, before a pyenv shim (a bash script that starts several more) has answered.
    What it started was left running, re-parented to init: now it is killed with it."""
    from tests.helpers import git_repo, shipdeck

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "python3"
    # A slow shim whose own child outlives it unless its whole group is killed.
    shim.write_text(
        f"#!/bin/sh\necho $$ > {tmp_path}/shim.pid\n"
        f"sleep 30 & echo $! > {tmp_path}/child.pid\nwait\necho /nowhere/python3\n"
    )
    shim.chmod(0o755)
    repo = git_repo(tmp_path / "repo")
    (repo / "shipdeck.yaml").write_text(CONFIG)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = shipdeck("advance", "SD-99", "--to", "build", cwd=repo, env=env)
    assert result.returncode == 2, result.stderr  # no such item
    pids = []
    for name in ("shim.pid", "child.pid"):
        for _ in range(100):  # the shim was started: wait until it wrote its pid
            if (tmp_path / name).exists() and (tmp_path / name).read_text().strip():
                break
            time.sleep(0.02)
        pids.append(int((tmp_path / name).read_text()))

    def alive(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return state != "Z"

    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids), pids
