"""The log pane's save writes through the one atomic write (lifecycle/atomic.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipdeck.lifecycle import atomic
from shipdeck.lifecycle.lines import Line, Stream
from shipdeck.widgets.log.files import copy_sources, write_records


def test_saving_uses_the_one_atomic_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Path] = []
    real = atomic.temp_name

    def temp_name(path: Path) -> Path:
        asked.append(path)
        return real(path)

    monkeypatch.setattr(atomic, "temp_name", temp_name)
    dest = tmp_path / "new" / "saved.log"  # its folder is made
    assert write_records([(1_700_000_000.0, Line(Stream.STDOUT, "one"))], dest) == 1
    assert asked == [dest]
    assert dest.read_text().endswith(" o one\n")


def test_a_save_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    good = tmp_path / "good.log"
    good.write_text("a\n" * 1000)
    dest = tmp_path / "out" / "saved.log"
    dest.parent.mkdir()
    dest.write_text("old\n")
    with pytest.raises(OSError):
        copy_sources([good, tmp_path / "gone.log"], dest)  # the second source is missing
    assert dest.read_text() == "old\n"
    assert [p.name for p in dest.parent.iterdir()] == ["saved.log"]
