"""The board's writes without gitdb: loose objects written by hand
(``git_files.write_loose``) must be objects git itself reads, checks and packs, in
sha1 and sha256 repositories alike, and a write that fails leaves nothing behind."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipdeck.backends import git_files
from shipdeck.backends.git_board import open_board
from shipdeck.lifecycle.errors import StorageError
from shipdeck.lifecycle.items import Kind
from shipdeck.lifecycle.stages import Stage
from tests.helpers import git

pytestmark = pytest.mark.slow  # real git repositories


def repo_of(path: Path, fmt: str) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main", f"--object-format={fmt}")
    git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty",
        "-m", "first")  # fmt: skip
    return path


def loose_files(repo: Path) -> list[Path]:
    """Every file of the object store but its packs (temporary files included)."""
    objects = repo / ".git" / "objects"
    return [p for p in objects.rglob("*") if p.is_file() and "pack" not in p.parts]


@pytest.mark.parametrize("fmt", ["sha1", "sha256"])
def test_git_reads_checks_and_packs_the_board_written_by_hand(tmp_path: Path, fmt: str) -> None:
    repo = repo_of(tmp_path / "r", fmt)
    store = open_board(repo)
    first = store.add("Say hola", Kind.FEATURE, body="é and a\nsecond line")
    store.add("Fix the thing", Kind.BUG)
    store.update(first.id, lambda it: setattr(it, "stage", Stage.CODE))
    head = git(repo, "rev-parse", store.refs.ref)
    assert len(head) == (64 if fmt == "sha256" else 40)
    git(repo, "fsck", "--strict", "--no-dangling")  # raises on a bad object
    listing = git(repo, "ls-tree", "-r", "--name-only", head).splitlines()
    assert "meta.json" in listing and any(first.id in p for p in listing)
    # git's reading of the item is the store's: the bytes went in as they came out
    path = next(p for p in listing if first.id in p)
    assert '"stage": "code"' in git(repo, "show", f"{head}:{path}").replace(":  ", ": ")
    assert not [p for p in loose_files(repo) if p.name.startswith("tmp_obj_")]
    for obj in loose_files(repo):
        if obj.parent.name == "info":
            continue
        assert obj.stat().st_mode & 0o777 == 0o444  # read-only, as git leaves them

    git(repo, "gc", "-q", "--prune=now")  # packed, then written on top of the pack
    store.add("after the pack", Kind.CHORE)
    git(repo, "fsck", "--strict", "--no-dangling")
    assert len(open_board(repo).load().items) == 3


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(["blob", "tree", "commit", "tag"]), data=st.binary(max_size=3000))
def test_the_id_is_the_one_git_computes(tmp_path: Path, kind: str, data: bytes) -> None:
    """Any bytes: ``git hash-object --literally`` names them as write_loose does."""
    repo = tmp_path / "ids"
    if not repo.exists():
        repo_of(repo, "sha1")
    objects = repo / ".git" / "objects"
    sha = git_files.write_loose(objects, "sha1", kind, data)
    asked = subprocess.run(
        ["git", "hash-object", "--literally", "-t", kind, "--stdin"],
        cwd=repo, input=data, capture_output=True, check=True,
    ).stdout.decode().strip()  # fmt: skip
    assert sha == asked
    assert git_files.read_loose(objects, sha) == (kind, data)
    assert git_files.write_loose(objects, "sha1", kind, data) == sha  # there already: kept


def test_a_failed_write_leaves_no_object_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repo_of(tmp_path / "r", "sha1")
    store = open_board(repo)
    store.add("before the disk filled", Kind.FEATURE)
    head = git(repo, "rev-parse", store.refs.ref)
    before = sorted(loose_files(repo))

    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(git_files.os, "write", full)
    with pytest.raises(StorageError) as failed:
        store.add("after the disk filled", Kind.FEATURE)
    monkeypatch.undo()
    assert str(failed.value) == "cannot write .git/objects: no space left on device"
    assert git(repo, "rev-parse", store.refs.ref) == head  # the board did not move
    assert [p for p in loose_files(repo) if p not in before] == []  # not even a temp file
    git(repo, "fsck", "--strict", "--no-dangling")
    assert [i.title for i in open_board(repo).load().items] == ["before the disk filled"]


@pytest.mark.parametrize("fmt", ["sha1", "sha256"])
def test_the_first_write_asks_git_its_three_questions_side_by_side(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repo_of(tmp_path / "r", fmt)
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Ada Lovelace")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ada@example.com")
    git(repo, "config", "core.logAllRefUpdates", "always")  # so the ref moves through git
    store = open_board(repo)
    store.load()
    started: list[list[str]] = []
    running: list[int] = []  # processes started and not yet waited for, at each start

    class Counted(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, args: list[str], *a: object, **k: object) -> None:
            started.append(list(args))
            super().__init__(args, *a, **k)  # type: ignore[arg-type]
            running.append(sum(1 for _ in started) - waited[0])

        def communicate(self, *a: object, **k: object) -> tuple[bytes, bytes]:
            waited[0] += 1
            return super().communicate(*a, **k)  # type: ignore[arg-type,no-any-return]

    waited = [0]
    monkeypatch.setattr("shipdeck.backends.git_board.subprocess.Popen", Counted)
    item = store.add("Say hola", Kind.FEATURE)
    questions = [args[1] for args in started if args[1] in ("rev-parse", "var", "config")]
    assert sorted(questions) == ["config", "rev-parse", "var"]
    assert max(running) >= 3  # all three were running before the first was waited for
    head = git(repo, "rev-parse", store.refs.ref)
    assert len(head) == (64 if fmt == "sha256" else 40)  # the format it learnt
    assert "author Ada Lovelace <ada@example.com>" in git(repo, "cat-file", "-p", head)
    assert git(repo, "reflog", "show", "--format=%s", store.refs.ref)  # git moved the ref
    asked = len(started)
    store.update(item.id, lambda it: setattr(it, "stage", Stage.CODE))
    later = [args[1] for args in started[asked:] if args[1] in ("rev-parse", "var", "config")]
    assert later == []  # learnt once
