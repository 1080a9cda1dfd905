"""A running local service's log is rotated by size while `logs --follow` reads it:
the follower sees every line once, in order, across the renames."""

from __future__ import annotations

import shlex
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipdeck.backends.local.target import LocalTarget
from shipdeck.lifecycle.ports import CancelToken, Line, Release, Stream
from tests.integration.test_local_target import Sink, procs_under
from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # a real detached service and its relay

# Waits for a go file, then writes numbered lines to stdout (a few at a time, as a
# busy service does), then idles until stopped.
SERVICE = """\
import os, sys, time
while not os.path.exists("go"):
    time.sleep(0.02)
for n in range({count}):
    print(f"line {{n:05d}} " + "x" * 40, flush=True)
    if n % 20 == 0:
        time.sleep(0.01)
print("done", flush=True)
time.sleep(3600)
"""


@pytest.fixture
def release_dir(tmp_path: Path) -> Iterator[Path]:
    workdir = tmp_path / "repo" / ".shipdeck" / "releases" / "1.0.0"
    workdir.mkdir(parents=True)
    yield workdir
    leaked = procs_under(tmp_path)
    for proc in leaked:
        proc.kill()
    assert not leaked, f"processes leaked: {leaked}"


def test_a_follower_sees_every_line_once_across_rotations(release_dir: Path) -> None:
    count = 1500  # ~80 KB through 8 KB files: about ten rotations
    (release_dir / "service.py").write_text(SERVICE.format(count=count))
    target = LocalTarget(
        "staging",
        root=release_dir.parents[2],
        command=f"{shlex.quote(sys.executable)} service.py",
        port=None,
        health_url=None,
        grace=3,
        # Twelve files hold all 1,500 lines: a follower loses nothing while what it has
        # not read is still kept (on a loaded CI machine it fell more than 3 files behind).
        log_rotate=(8192, 12),
    )
    release = Release("1.0.0", "0" * 40, "v1.0.0", workdir=str(release_dir))
    try:
        result = target.deploy(release, Sink(), CancelToken())
        assert result.ok, result.message
        cancel = CancelToken()
        seen: list[Line] = []

        def follow() -> None:
            for batch in target.logs(follow=True, tail=0, cancel=cancel):
                seen.extend(batch)

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        (release_dir / "go").touch()
        try:
            wait_until(lambda: Line(Stream.STDOUT, "done") in seen, timeout=60, what="done")
        finally:
            cancel.cancel()
            reader.join(5)
        out, _err = target.log_paths("1.0.0")
        assert out.with_name(out.name + ".5").exists()  # it rotated, at least five times
        assert not out.with_name(out.name + ".12").exists()  # twelve files kept
        sizes = [p.stat().st_size for p in out.parent.glob(out.name + "*")]
        assert max(sizes) <= 8192
        texts = [line.text for line in seen if line.stream is Stream.STDOUT]
        assert texts == [f"line {n:05d} " + "x" * 40 for n in range(count)] + ["done"]
    finally:
        target.stop(Sink())
