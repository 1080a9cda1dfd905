"""Hostile or broken input files: one line naming file:line:col, exit 2, no traceback,
and bounded memory and stack (nesting towers, alias bombs, values exec refuses)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipdeck.lifecycle.board import BoardError, parse_board
from tests.helpers import git, git_repo, shipdeck

pytestmark = pytest.mark.slow  # the shipdeck command in subprocesses

HEAD = "version: 1\nproject: x\n"
BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip(["", "a", "b", "c", "d", "e", "f"], "abcdefg", strict=True)
)
DEEP_BLOCK = "".join("  " * (i + 1) + f"k{i}:\n" for i in range(300))

CASES = {
    "flow nesting": (HEAD + "stages:\n  build: " + "[" * 5000 + "]" * 5000 + "\n", "nested"),
    "block nesting": (HEAD + "notify:\n" + DEEP_BLOCK, "nested"),
    "alias bomb": (HEAD + BOMB, "expands to more than"),
    "env name exec refuses": (
        HEAD + 'environments:\n  staging:\n    run: "true"\n    env: {"A=B": x}\n',
        "environment variable name",
    ),
    "env value with NUL": (
        HEAD + 'environments:\n  staging:\n    run: "true"\n    env: {A: "a\\0b"}\n',
        "NUL",
    ),
    "base branch git refuses": (HEAD + 'base_branch: "a..b"\n', "'..'"),
    "branch template git refuses": (HEAD + 'branch: "{id}.lock"\n', ".lock"),
    # `shipdeck check` passed these; the release refused the changelog only when it ran,
    # and a junit path out of the work tree was read wherever it pointed
    "changelog outside the repository": (
        HEAD + 'stages:\n  release:\n    changelog: "../CHANGELOG.md"\n',
        "'../CHANGELOG.md' is not a file path inside the repository",
    ),
    "image build context outside the work tree": (
        HEAD + "stages:\n  build:\n    - docker_build: {context: .., tag: t}\n",
        "'..' is not a folder inside the repository",
    ),
    "junit report outside the work tree": (
        HEAD + 'stages:\n  test:\n    - run: "true"\n      junit: /etc/passwd\n',
        "'/etc/passwd' is not a file path inside the repository",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_is_one_line_with_its_place_and_exit_2(tmp_path: Path, case: str) -> None:
    text, words = CASES[case]
    (tmp_path / "shipdeck.yaml").write_text(text)
    done = shipdeck("check", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "unexpected error" not in done.stderr
    first = done.stderr.splitlines()[0]
    assert re.match(r"^shipdeck\.yaml:\d+:\d+: ", first), first
    assert words in done.stderr


def test_an_alias_bomb_in_an_old_board_file_is_refused_with_its_place() -> None:
    text = "schema: 1\nnext_id: 2\n" + BOMB.replace("\n", "\n", 1) + "items: []\n"
    with pytest.raises(BoardError, match=r"^board\.yaml:\d+:\d+: expands to more than"):
        parse_board(text, "board.yaml")


def test_an_old_board_file_too_deep_is_refused_on_import(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "r")
    (root / "shipdeck.yaml").write_text(HEAD)
    (root / ".shipdeck").mkdir()
    (root / ".shipdeck" / "board.yaml").write_text("schema: 1\nitems: " + "[" * 3000 + "\n")
    done = shipdeck("item", "list", cwd=root)
    assert done.returncode == 2
    assert re.match(r"^\.shipdeck/board\.yaml:\d+:\d+: .*nest", done.stderr), done.stderr
    assert git(root, "for-each-ref", "refs/shipdeck") == ""  # nothing half-imported
