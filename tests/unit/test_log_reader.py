"""The local target's log follower puts a restart's marker where the restart was.

Regression (found by a full CI run): the follower read the files before it looked
at the run record, so after a restart (same version, same files) the new process's
first lines could be read as the old one's, ahead of ``--- v0.2.0 restarted ---``."""

from __future__ import annotations

from pathlib import Path

from shipdeck.backends.local.supervise import LogReader, RunRecord
from shipdeck.lifecycle.ports import CancelToken, Line, Stream


def record(pid: int, offset: int) -> RunRecord:
    return RunRecord("0.2.0", pid, pid, 0.0, "", "", "", None, out_offset=offset)


def test_a_restart_marker_comes_before_the_new_process_lines(tmp_path: Path) -> None:
    out, err = tmp_path / "0.2.0.out", tmp_path / "0.2.0.err"
    out.write_bytes(b"")
    err.write_bytes(b"")
    current = [record(1, 0)]
    reader = LogReader(lambda: current[0], lambda _v: (out, err), lambda text: text)
    with out.open("ab") as f:
        f.write(b"old one\n")
    batches = reader.run(follow=True, tail=None, cancel=CancelToken())
    assert next(batches) == [Line(Stream.STDOUT, "old one")]  # the backlog
    # Between two ticks: the old process's last line, then a restart whose process
    # writes at once, into the same file.
    with out.open("ab") as f:
        f.write(b"old two\n")
    restarted_at = out.stat().st_size
    current[0] = record(2, restarted_at)
    with out.open("ab") as f:
        f.write(b"new one\n")
    assert next(batches) == [
        Line(Stream.STDOUT, "old two"),
        Line(Stream.INFO, "--- v0.2.0 restarted ---"),
        Line(Stream.STDOUT, "new one"),
    ]
