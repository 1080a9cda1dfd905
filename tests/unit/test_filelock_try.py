"""shipdeck.lifecycle.filelock.try_lock: the lock taken without waiting, kept as a descriptor."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shipdeck.lifecycle import filelock


def test_taken_once_then_refused_until_closed(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "SD-1.lock"
    fd = filelock.try_lock(path)
    assert fd is not None
    try:
        assert filelock.try_lock(path) is None  # another descriptor: refused
        with (
            pytest.raises(TimeoutError),
            filelock.hold(path, 0.01, lambda: TimeoutError("busy")),
        ):
            pass
    finally:
        os.close(fd)
    again = filelock.try_lock(path)
    assert again is not None
    os.close(again)
    assert path.exists()  # the file stays: deleting it would let two holders in


def test_mode_of_a_new_lock_file(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        fd = filelock.try_lock(tmp_path / "a.lock", mode=0o644)
    finally:
        os.umask(old)
    assert fd is not None
    os.close(fd)
    assert stat.S_IMODE((tmp_path / "a.lock").stat().st_mode) == 0o644


def test_a_file_that_cannot_be_created_is_an_os_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError):
        filelock.try_lock(tmp_path / "file" / "x.lock")
