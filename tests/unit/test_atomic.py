"""shipdeck.lifecycle.atomic: the one atomic file write."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipdeck.lifecycle import atomic


def test_writes_text_and_replaces_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    atomic.write_text(target, "new ü\n")
    assert target.read_text(encoding="utf-8") == "new ü\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_bytes_and_chunks(tmp_path: Path) -> None:
    atomic.write_bytes(tmp_path / "a", b"\x00\x01", fsync=False)
    atomic.write_chunks(tmp_path / "b", iter([b"one\n", b"two\n"]))
    assert (tmp_path / "a").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b").read_bytes() == b"one\ntwo\n"


def test_a_new_file_gets_the_umask_mode_not_a_private_one(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic.write_text(tmp_path / "f", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644


def test_a_failing_chunk_source_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "log"
    target.write_text("old")

    def chunks() -> Iterator[bytes]:
        yield b"half"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic.write_chunks(target, chunks())
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["log"]


def test_a_refusing_check_leaves_the_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "shipdeck.yaml"
    seen: list[str] = []

    def check(tmp: Path) -> None:
        seen.append(tmp.read_text())
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        atomic.write_text(target, "pipeline: 1\n", check=check)
    assert seen == ["pipeline: 1\n"]
    assert list(tmp_path.iterdir()) == []


def test_an_os_error_is_raised_as_it_was(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic.write_text(tmp_path / "missing" / "f", "x")


def test_a_rename_failure_takes_the_temp_file_with_it(tmp_path: Path) -> None:
    target = tmp_path / "dir"
    target.mkdir()
    (target / "inside").write_text("")  # a non-empty directory cannot be replaced
    with pytest.raises(OSError):
        atomic.write_text(target, "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]


def test_temp_names_are_unique_and_next_to_the_target(tmp_path: Path) -> None:
    target = tmp_path / "config-ok.json"
    names = {atomic.temp_name(target) for _ in range(50)}
    assert len(names) == 50
    assert all(p.parent == tmp_path and p.name.startswith("config-ok.json.") for p in names)
    assert all(p.suffix == ".tmp" for p in names)
