"""The foundation's promises, through the real command line (issue 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import board_store, git, initialised_repo, shipdeck

pytestmark = pytest.mark.slow  # the shipdeck command in subprocesses

SHELL = "$(touch /tmp/pwned-shipdeck); rm -rf ~ `id`"
HOSTILE = SHELL + " \x1b]0;pwned\x07"


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    return initialised_repo(tmp_path)


def test_version_and_help_on_every_command(tmp_path: Path) -> None:
    out = shipdeck("--version", cwd=tmp_path)
    assert out.returncode == 0
    assert out.stdout.startswith("shipdeck ")
    for args in (
        [], ["init"], ["check"], ["status"], ["demo"], ["item"], ["item", "add"],
        ["item", "list"], ["item", "show"], ["item", "move"], ["advance"], ["deploy"],
        ["rollback"], ["restart"], ["scale"], ["stop"], ["logs"], ["dora"], ["monitor"],
    ):  # fmt: skip
        result = shipdeck(*args, "--help", cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert "usage: shipdeck" in result.stdout


def test_init_detects_and_refuses_to_overwrite(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    first = shipdeck("init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    text = (tmp_path / "shipdeck.yaml").read_text()
    assert "pytest" in text and "junit" in text
    assert "docker_build" in text
    assert "*" in (tmp_path / ".shipdeck" / ".gitignore").read_text().splitlines()
    assert shipdeck("check", cwd=tmp_path).returncode == 0
    again = shipdeck("init", cwd=tmp_path)
    assert again.returncode == 2
    assert "--force" in again.stderr
    assert shipdeck("init", "--force", cwd=tmp_path).returncode == 0


def test_typo_at_line_7_names_file_line_and_key(repo: Path) -> None:
    (repo / "shipdeck.yaml").write_text(
        "version: 1\nproject: hello\nbase_branch: main\nstages:\n  build: []\n  test: []\n"
        "  relaese: {}\n"
    )
    result = shipdeck("check", cwd=repo)
    assert result.returncode == 2
    assert result.stderr.startswith("shipdeck.yaml:7:")
    assert "relaese" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_malformed_yaml_names_the_line(repo: Path) -> None:
    (repo / "shipdeck.yaml").write_text("version: 1\nproject: hello\nstages: [\n  build\n")
    result = shipdeck("check", cwd=repo)
    assert result.returncode == 2
    assert result.stderr.startswith("shipdeck.yaml:")
    assert result.stderr.split(":")[1].isdigit()
    assert "Traceback" not in result.stderr


def test_bad_config_stops_item_commands_before_writing(repo: Path) -> None:
    (repo / "shipdeck.yaml").write_text("version: 1\nproject: hello\nbogus: 1\n")
    result = shipdeck("item", "add", "x", cwd=repo)
    assert result.returncode == 2
    assert "shipdeck.yaml:3:1" in result.stderr
    assert not (repo / ".shipdeck" / "board.yaml").exists()


def test_hostile_title_round_trips_and_never_runs(repo: Path) -> None:
    pwned = Path("/tmp/pwned-shipdeck")
    pwned.unlink(missing_ok=True)
    refused = shipdeck("item", "add", HOSTILE, cwd=repo)  # a title is one line of text
    assert refused.returncode == 2 and "\x1b" not in refused.stderr
    assert "holds \\x1b (a control character)" in refused.stderr
    added = shipdeck("item", "add", SHELL, "--body", HOSTILE, cwd=repo)
    assert added.returncode == 0, added.stderr
    item_id = added.stdout.strip()
    assert item_id == "SD-1"
    shown = json.loads(shipdeck("item", "show", item_id, "--json", cwd=repo).stdout)
    assert shown["title"] == SHELL
    assert shown["body"] == HOSTILE
    board_store(repo).add(HOSTILE)  # another writer (an older shipdeck, a synced board)
    listed = json.loads(shipdeck("item", "list", "--json", cwd=repo).stdout)
    assert [i["title"] for i in listed] == [SHELL, HOSTILE]
    human = shipdeck("item", "list", cwd=repo).stdout
    assert "\x1b" not in human and "\x07" not in human  # shown escaped, never obeyed
    assert "\\x1b]0;pwned\\x07" in human
    assert not pwned.exists()


def test_unknown_item_and_bad_id_are_usage_errors(repo: Path) -> None:
    missing = shipdeck("item", "show", "SD-9", cwd=repo)
    assert missing.returncode == 2
    assert "no item SD-9" in missing.stderr
    bad = shipdeck("item", "show", "nine", cwd=repo)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr


def test_move_applies_gates_and_force_is_journaled(repo: Path) -> None:
    shipdeck("item", "add", "Login", cwd=repo)
    skipped = shipdeck("item", "move", "SD-1", "build", cwd=repo)
    assert skipped.returncode == 1
    assert "one stage at a time" in skipped.stderr
    assert shipdeck("item", "move", "SD-1", "code", cwd=repo).returncode == 0
    no_branch = shipdeck("item", "move", "SD-1", "build", cwd=repo)
    assert no_branch.returncode == 1
    assert "SD-1 cannot move to Build" in no_branch.stderr
    forced = shipdeck("item", "move", "SD-1", "build", "--force", "--reason", "hotfix", cwd=repo)
    assert forced.returncode == 0, forced.stderr
    journal = [
        json.loads(line) for line in (repo / ".shipdeck" / "journal.jsonl").read_text().splitlines()
    ]
    moves = [e for e in journal if e["type"] == "item.moved"]
    assert moves[-1]["forced"] is True
    assert moves[-1]["reason"] == "hotfix"
    status = json.loads(shipdeck("status", "--json", cwd=repo).stdout)
    assert status["items"]["build"] == ["SD-1"]


def test_ids_never_reused_after_archive(repo: Path) -> None:
    shipdeck("item", "add", "one", cwd=repo)
    shipdeck("item", "add", "two", cwd=repo)
    assert shipdeck("item", "archive", "SD-2", cwd=repo).returncode == 0
    assert shipdeck("item", "add", "three", cwd=repo).stdout.strip() == "SD-3"
    visible = json.loads(shipdeck("item", "list", "--json", cwd=repo).stdout)
    assert [i["id"] for i in visible] == ["SD-1", "SD-3"]


def test_future_board_is_refused_and_untouched(repo: Path) -> None:
    board = repo / ".shipdeck" / "board.yaml"
    board.write_text("schema: 2\nnext_id: 1\nitems: []\n")
    before = board.read_bytes()
    result = shipdeck("item", "add", "x", cwd=repo)
    assert result.returncode == 2
    assert "schema 2" in result.stderr
    assert board.read_bytes() == before


def test_outside_a_project_is_one_line(tmp_path: Path) -> None:
    result = shipdeck("item", "list", cwd=tmp_path)
    assert result.returncode == 2
    assert "shipdeck init" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_item_from_alert_is_a_bug_linked_to_the_release(repo: Path) -> None:
    from shipdeck.lifecycle import events as ev
    from shipdeck.lifecycle.journal import Journal

    Journal(repo).append(
        ev.Event(
            ev.ALERT_RAISED,
            None,
            {
                "alert_id": "AL-7",
                "env": "staging",
                "metric": "probe:staging",
                "value": 3.0,
                "threshold": 3.0,
                "message": "probe staging failed 3 times in a row: connection refused",
                "version": "0.4.0",
            },
        )
    )
    added = shipdeck("item", "add", "--from-alert", "AL-7", cwd=repo)
    assert added.returncode == 0, added.stderr
    shown = json.loads(shipdeck("item", "show", added.stdout.strip(), "--json", cwd=repo).stdout)
    assert shown["kind"] == "bug"
    assert "release:v0.4.0" in shown["links"]
    assert "alert:AL-7" in shown["links"]
    assert "probe staging" in shown["title"]
    missing = shipdeck("item", "add", "--from-alert", "AL-99", cwd=repo)
    assert missing.returncode == 2
    assert "no alert AL-99" in missing.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "shipdeck.yaml:4:3: unknown key 'biuld'"),  # the board refuses before opening
        (["{repo}"], "shipdeck.yaml:4:3: unknown key 'biuld'"),  # shipdeck PATH
        (["/nonexistent-dir"], "cannot open /nonexistent-dir"),
    ],
)
def test_opening_the_board_on_bad_input_is_one_line(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    (tmp_path / "shipdeck.yaml").write_text("version: 1\nproject: x\nstages:\n  biuld: []\n")
    result = shipdeck(*[a.format(repo=tmp_path) for a in args], cwd=tmp_path)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_item_or_environment_in_ops_is_one_line(repo: Path) -> None:
    for args in (
        ["advance", "SD-99"],
        ["deploy", "nowhere"],
        ["logs", "--env", "nowhere"],
        ["logs", "nowhere"],  # neither an item id nor an environment: says both
    ):
        result = shipdeck(*args, cwd=repo)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    said = shipdeck("logs", "nowhere", cwd=repo).stderr
    assert "no item, run or environment 'nowhere'" in said and "SD-<number>" in said
    # an item's id where the environment goes (as `advance` is spelled) names the command
    for verb in ("deploy", "rollback", "restart", "stop"):
        said = shipdeck(verb, "SD-1", cwd=repo)
        assert said.returncode == 2 and len(said.stderr.strip().splitlines()) == 1
        assert "no environment 'SD-1'" in said.stderr
        assert "`shipdeck advance SD-1 --to deploy` deploys it" in said.stderr


@pytest.mark.parametrize("where", ["stdin", "stdout"])
def test_the_board_without_a_terminal_is_one_line_and_exit_2(repo: Path, where: str) -> None:
    """`shipdeck < /dev/null > file` used to write escape codes into the file and hang."""
    import os
    import subprocess
    import sys

    from tests.helpers import ROOT
    from tests.waiting import DEADLINE

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = repo / "out.txt"
    with open(out, "w") as sink, open(os.devnull) as nothing:
        done = subprocess.run(  # a hang is a TimeoutExpired
            [sys.executable, "-m", "shipdeck"],
            cwd=repo,
            env=env,
            stdin=nothing if where == "stdin" else None,
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            timeout=DEADLINE,
        )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "the board needs a terminal" in lines[0], done.stderr
    assert "\x1b" not in out.read_text() + done.stderr  # no escape codes anywhere
