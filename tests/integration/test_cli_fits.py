"""A CLI that fits (issue 13 step 7), through the real command: completion sourced in
bash, every reporting command's --json parsed, and every exit code the README lists."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, git, shipdeck

pytestmark = pytest.mark.slow  # the shipdeck command in subprocesses


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo service (no Docker): items SD-1 (in Code) to SD-4, a local staging."""
    path = tmp_path_factory.mktemp("fits") / "demo"
    made = shipdeck("demo", str(path), "--no-open", "--no-docker", cwd=path.parent)
    assert made.returncode == 0, made.stderr
    return path


def _bash_complete(repo: Path, *words: str) -> list[str]:
    """COMPREPLY for ``words`` (the last is the one under the cursor), with the script
    ``shipdeck completion bash`` printed sourced into a plain bash."""
    runner = f"PYTHONPATH={shlex.quote(str(ROOT))} {shlex.quote(sys.executable)} -m shipdeck"
    script = f"""
        shipdeck() {{ {runner} "$@"; }}
        source <(shipdeck completion bash)
        COMP_WORDS=({" ".join(shlex.quote(w) for w in words)})
        COMP_CWORD={len(words) - 1}
        _shipdeck
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w]


def test_bash_completion_completes_commands_ids_and_environments(demo: Path) -> None:
    assert _bash_complete(demo, "shipdeck", "ad") == ["advance"]
    assert "status" in _bash_complete(demo, "shipdeck", "")
    assert _bash_complete(demo, "shipdeck", "advance", "") == ["SD-1", "SD-2", "SD-3", "SD-4"]
    assert _bash_complete(demo, "shipdeck", "item", "show", "SD-") == [
        "SD-1", "SD-2", "SD-3", "SD-4",
    ]  # fmt: skip
    assert _bash_complete(demo, "shipdeck", "deploy", "") == ["staging"]
    assert "--follow" in _bash_complete(demo, "shipdeck", "logs", "--f")


def _zsh_complete(repo: Path, *words: str) -> list[str]:
    """What ``shipdeck completion zsh``'s function offers for ``words`` in a plain zsh;
    ``compadd`` (a builtin only inside a completion widget) is stood in for by a function
    that prints the candidates it is given."""
    runner = f"PYTHONPATH={shlex.quote(str(ROOT))} {shlex.quote(sys.executable)} -m shipdeck"
    script = f"""
        shipdeck() {{ {runner} "$@" }}
        source <(shipdeck completion zsh)
        compadd() {{
            local seen=0 a
            for a in "$@"; do
                if (( seen )); then print -r -- "$a"; elif [[ $a == -- ]]; then seen=1; fi
            done
        }}
        words=({" ".join(shlex.quote(w) for w in words)})
        CURRENT={len(words)}
        _shipdeck
    """
    done = subprocess.run(
        ["zsh", "-f", "-c", script], cwd=repo, capture_output=True, text=True, timeout=60
    )
    assert done.returncode in (0, 1), done.stderr  # 1: the last compadd had nothing
    return sorted(w for w in done.stdout.splitlines() if w)


def _fish_complete(repo: Path, line: str) -> list[str]:
    """fish's own completions (``complete -C``) for ``line``, with the script sourced."""
    runner = f"env PYTHONPATH={shlex.quote(str(ROOT))} {shlex.quote(sys.executable)} -m shipdeck"
    script = f"""
        function shipdeck; {runner} $argv; end
        shipdeck completion fish | source
        complete -C {shlex.quote(line)}
    """
    done = subprocess.run(
        ["fish", "--no-config", "-c", script], cwd=repo, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return sorted(w.split("\t")[0] for w in done.stdout.splitlines() if w)


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh is not installed (.ci/run installs it)")
def test_zsh_completion_completes_commands_ids_and_environments(demo: Path) -> None:
    assert _zsh_complete(demo, "shipdeck", "ad") == ["advance"]
    assert _zsh_complete(demo, "shipdeck", "advance", "") == ["SD-1", "SD-2", "SD-3", "SD-4"]
    assert _zsh_complete(demo, "shipdeck", "deploy", "") == ["staging"]


@pytest.mark.skipif(not shutil.which("fish"), reason="fish is not installed (.ci/run installs it)")
def test_fish_completion_completes_commands_ids_and_environments(demo: Path) -> None:
    assert _fish_complete(demo, "shipdeck ad") == ["advance"]
    assert _fish_complete(demo, "shipdeck advance ") == ["SD-1", "SD-2", "SD-3", "SD-4"]
    assert _fish_complete(demo, "shipdeck deploy ") == ["staging"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_for_each_shell(tmp_path: Path, shell: str) -> None:
    out = shipdeck("completion", shell, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "shipdeck __complete words" in out.stdout
    if shell == "bash":
        check = subprocess.run(["bash", "-n"], input=out.stdout, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


def _parse(args: tuple[str, ...], stdout: str) -> list[object]:
    """The output of ``shipdeck ARGS --json``: one JSON document, or JSON lines."""
    try:
        return [json.loads(stdout)]
    except json.JSONDecodeError:
        lines = [json.loads(line) for line in stdout.splitlines()]  # each one parses
        assert lines, args
        return lines


def test_every_reporting_command_has_json_that_parses(demo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(demo, "remote", "add", "origin", str(remote))
    commands: list[tuple[str, ...]] = [
        ("check",),
        ("status",),
        ("item", "add", "Say hola"),
        ("item", "list"),
        ("item", "show", "SD-5"),
        ("item", "history", "SD-5"),
        ("item", "move", "SD-5", "code"),
        ("item", "archive", "SD-5"),
        ("sync",),
        ("advance", "SD-1", "--to", "test", "--dry-run"),
        ("advance", "SD-1", "--to", "release"),
        ("logs", "SD-1"),
        ("deploy", "staging"),
        ("logs", "--env", "staging", "--tail", "5"),
        ("restart", "staging"),
        ("scale", "staging", "1"),
        ("monitor", "--once"),
        ("dora",),
        ("stop", "staging"),
        ("rollback", "staging"),
        ("stop", "staging"),
    ]
    events: dict[str, set[str]] = {}
    try:
        for args in commands:
            out = shipdeck(*args, "--json", cwd=demo)
            assert out.returncode in (0, 1), (args, out.stderr)
            if args[0] != "monitor" and args[0] != "rollback":  # (no earlier healthy release)
                assert out.returncode == 0, (args, out.stderr)
            docs = _parse(args, out.stdout)
            events[" ".join(args[:2])] = {str(d.get("event")) for d in docs if isinstance(d, dict)}
    finally:
        shipdeck("stop", "staging", cwd=demo)
    advance = events["advance SD-1"]
    assert {"started", "line", "finished", "result"} <= advance
    assert "sample" in events["monitor --once"]
    assert {"line", "result"} <= events["deploy staging"]


def test_exit_codes_as_documented(demo: Path) -> None:
    """README: 0 done, 1 a stage or operation failed (or a move was refused), 2 usage
    or config error, 130 interrupted."""
    assert shipdeck("status", cwd=demo).returncode == 0
    refused = shipdeck("item", "move", "SD-2", "release", cwd=demo)
    assert refused.returncode == 1, refused.stderr
    assert shipdeck("stauts", cwd=demo).returncode == 2
    assert shipdeck("advance", "--bogus", cwd=demo).returncode == 2
    scale = shipdeck("scale", "staging", "3", cwd=demo)  # a local target runs one copy
    assert scale.returncode == 2, scale.stderr
    assert scale.stderr.strip().splitlines() == [
        "shipdeck: staging is target local, which runs one copy; scaling needs target swarm"
    ]
    bad = demo.parent / "bad"
    bad.mkdir()
    (bad / "shipdeck.yaml").write_text("version: 1\nproject: x\nstagse: {}\n")
    config = shipdeck("check", "--json", cwd=bad)
    assert config.returncode == 2 and "shipdeck.yaml:3:1" in config.stderr
    assert json.loads(config.stdout)["ok"] is False


def test_logs_follow_interrupted_exits_130(demo: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipdeck", "logs", "--env", "staging", "--follow"],
        cwd=demo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)  # started and following
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err


@pytest.mark.parametrize("columns", ["80", "200"])
def test_status_of_a_big_board_fits_the_terminal_and_json_has_every_id(
    tmp_path: Path, columns: str
) -> None:
    """A stage of hundreds of cards is one line as wide as the terminal ending in how
    many it left out (it was every id, 70 KB on a 20,000-card board); --json keeps all."""
    from shipdeck.lifecycle.items import Item
    from shipdeck.project.repo import Project

    made = shipdeck("demo", str(tmp_path / "big"), "--no-open", "--no-docker", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    store = Project(tmp_path / "big").store
    with store.edit() as board:
        start = board.next_id
        board.items += [Item(f"SD-{start + n}", f"Card {n}") for n in range(1200)]
        board.next_id = start + 1200
    human = shipdeck("status", cwd=tmp_path / "big", env={"COLUMNS": columns})
    assert human.returncode == 0, human.stderr
    lines = human.stdout.splitlines()
    assert all(len(line) <= int(columns) for line in lines), lines
    plan = next(line for line in lines if line.split()[:1] == ["Plan"])
    count, first, *_ = plan.split()[1:]
    shown = plan.split(f" {count} ", 1)[1].split(" … ")[0].split()
    assert first == "SD-2" and int(count) == 1203
    assert plan.endswith(f"… {1203 - len(shown)} more")
    as_json = json.loads(shipdeck("status", "--json", cwd=tmp_path / "big").stdout)
    assert len(as_json["items"]["plan"]) == as_json["counts"]["plan"] == 1203
