"""A service log rotated by size (backends/mask_relay.py) and read by a follower
(backends/local/supervise.py): no line lost or read twice across a rotation."""

from __future__ import annotations

import random
from pathlib import Path

from shipdeck.backends.local.supervise import Follower, tail_lines
from shipdeck.backends.mask_relay import RotatingFile, rotate


def test_rotation_keeps_the_newest_files_and_renames_in_order(tmp_path: Path) -> None:
    path = tmp_path / "1.0.out"
    for n in range(4):
        path.write_text(f"gen{n}\n")
        rotate(path, 3)
    assert not path.exists()
    assert (tmp_path / "1.0.out.1").read_text() == "gen3\n"
    assert (tmp_path / "1.0.out.2").read_text() == "gen2\n"
    assert not (tmp_path / "1.0.out.3").exists()  # three files in all: out, .1, .2


def test_a_file_never_passes_its_limit_and_lines_are_never_split(tmp_path: Path) -> None:
    path = tmp_path / "svc.out"
    out = RotatingFile(str(path), limit=100, files=3)
    for n in range(50):
        out.write(f"line {n:04d}\n".encode())
    out.close()
    files = [path, tmp_path / "svc.out.1", tmp_path / "svc.out.2"]
    assert all(0 < f.stat().st_size <= 100 for f in files)
    kept = "".join(f.read_text() for f in reversed(files)).splitlines()
    assert kept == [f"line {n:04d}" for n in range(50 - len(kept), 50)]
    assert not (tmp_path / "svc.out.3").exists()


def test_a_follower_reads_every_line_once_across_rotations(tmp_path: Path) -> None:
    path = tmp_path / "svc.out"
    out = RotatingFile(str(path), limit=256, files=3)
    follower = Follower(path, 0)
    seen: list[str] = []
    rng = random.Random(7)
    n = 0
    for _round in range(200):
        for _ in range(rng.randint(0, 12)):  # up to ~1.5 files between two reads
            out.write(f"line {n:05d}\n".encode())
            n += 1
        seen += follower.read()
    out.close()
    seen += follower.flush()
    assert n > 1000 and (tmp_path / "svc.out.2").exists()  # it did rotate, many times
    assert seen == [f"line {i:05d}" for i in range(n)]


def test_a_follower_that_opened_the_file_before_the_first_write_follows_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "svc.out"
    path.write_bytes(b"x" * 90 + b"\n")  # an earlier process's output, near the limit
    follower = Follower(path, 91)  # where the new process begins
    out = RotatingFile(str(path), limit=100, files=3)
    out.write(b"first of the new one\n")  # rotates at once: 91 + 21 > 100
    out.write(b"second\n")
    assert follower.read() == ["first of the new one", "second"]
    out.close()


def test_tail_reaches_into_the_rotated_file(tmp_path: Path) -> None:
    path = tmp_path / "svc.out"
    out = RotatingFile(str(path), limit=60, files=3)
    for n in range(12):
        out.write(f"line {n:02d}\n".encode())  # 8 bytes each: 7 a file
    out.close()
    lines, end = tail_lines(path, 9)
    assert lines == [f"line {n:02d}" for n in range(3, 12)]
    assert end == path.stat().st_size  # the follower goes on from the current file's end
