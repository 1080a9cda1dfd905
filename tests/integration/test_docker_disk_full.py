"""A build that fills the engine's disk: one clear error naming the step, nothing left.

The engine here is a second private dockerd of the test's own whose data-root is a
48 MB tmpfs, so "disk full" is real (the kernel's ENOSPC inside the build) without
touching this machine's disk. Needs root (mount, dockerd), as the CI machine has.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker_images as di
import pytest

from shipdeck.backends.docker.engine import connect
from shipdeck.backends.docker.images import DockerImages
from shipdeck.lifecycle.ports import CancelToken, Line, Stream, TargetError
from tests.waiting import TimedOut, wait_until

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def small_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if any(shutil.which(tool) is None for tool in ("dockerd", "ip", "mount")) or os.geteuid():
        di.unavailable("a second dockerd on a tmpfs needs root, dockerd, ip and mount")
    if di.busybox_missing():
        di.unavailable(str(di.busybox_missing()))
    base = tmp_path_factory.mktemp("small-engine")
    root, exec_root = base / "root", base / "exec"
    root.mkdir()
    exec_root.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(root)], capture_output=True
    )
    if mounted.returncode:
        di.unavailable(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    sock, pidfile = base / "d.sock", base / "d.pid"
    # A bridge of its own: with --bridge none, dockerd deletes docker0, the main engine's.
    bridge = f"sdfull{os.getpid() % 10000}"
    added = subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], capture_output=True)
    if added.returncode:
        subprocess.run(["umount", str(root)], check=False)
        subprocess.run(["ip", "link", "delete", bridge], check=False)
        di.unavailable(f"cannot add a bridge: {added.stderr.decode().strip()}")
    with open(base / "dockerd.log", "wb") as log:
        proc = subprocess.Popen(
            [
                "dockerd",
                "--host", f"unix://{sock}",
                "--data-root", str(root / "data"),
                "--exec-root", str(exec_root),
                "--pidfile", str(pidfile),
                "--bridge", bridge,
                "--iptables=false",
                "--ip-masq=false",
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )  # fmt: skip
    client = None

    def started() -> bool:
        nonlocal client
        try:
            client = connect(f"unix://{sock}", timeout=10)
        except TargetError:
            return proc.poll() is not None  # it died: no use waiting
        return True

    try:
        with contextlib.suppress(TimedOut):
            wait_until(started, what="the small dockerd", interval=0.2)
        if client is None:
            pytest.fail(
                f"the small dockerd did not start: {(base / 'dockerd.log').read_text()[-800:]}"
            )
        yield client
    finally:
        if client is not None:
            client.close()
        proc.terminate()  # by its pid, never by name
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        subprocess.run(["umount", str(root)], check=False)
        subprocess.run(["ip", "link", "delete", bridge], check=False)


def test_a_build_that_fills_the_disk_fails_at_its_step_and_leaves_nothing(
    small_engine: Any, tmp_path: Path
) -> None:
    context = di.make_context(
        tmp_path, body="RUN busybox dd if=/dev/zero of=/fill bs=1M count=100", cmd=["true"]
    )
    lines: list[Line] = []
    with pytest.raises(TargetError) as err:
        DockerImages(client=small_engine).build(
            str(context),
            tags=["shipdeck-test/fills-disk:1"],
            labels=di.LABELS,
            sink=lines.extend,
            cancel=CancelToken(),
        )
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("image build failed at step 4/")
    assert "dd if=/dev/zero" in message
    stderr = [t for s, t in lines if s is Stream.STDERR]
    assert any("No space left on device" in t for t in stderr), stderr
    # Nothing half-built is left: no container of the failed step, no tagged image.
    assert small_engine.containers.list(all=True) == []
    assert small_engine.images.list(name="shipdeck-test/fills-disk") == []
