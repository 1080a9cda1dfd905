"""An environment on an engine reached over ssh (``docker_host: ssh://HOST``), the way
the docker CLI does it: shipdeck runs the system ``ssh`` and ``docker system dial-stdio``
on the far side. The far side here is an sshd of the test's own on a loopback port
whose authorized key points ``docker`` at the private engine; a wrapper first on PATH
gives ``ssh`` the test's own config, so nothing in ``~/.ssh`` is touched.
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

from shipdeck.backends.docker.target import DockerTarget
from shipdeck.lifecycle.ports import CancelToken, Release, TargetError
from tests.waiting import TimedOut, wait_until

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def ssh_host(client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Start sshd on 127.0.0.1; yield the directory holding the ssh wrapper for PATH,
    and the engine's address (``ssh://root@127.0.0.1:PORT``)."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not (os.path.exists(sshd) and shutil.which("ssh") and shutil.which("ssh-keygen")):
        di.unavailable("ssh tests need openssh-server and openssh-client (apt-get install)")
    if os.geteuid():
        di.unavailable("sshd needs root here")
    base = tmp_path_factory.mktemp("ssh")
    for key in ("host_key", "client_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / key)], check=True
        )
    engine = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    public = (base / "client_key.pub").read_text().strip()
    (base / "authorized_keys").write_text(f'environment="DOCKER_HOST={engine}" {public}\n')
    port = di.free_port()
    (base / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base / 'host_key'}\n"
        f"AuthorizedKeysFile {base / 'authorized_keys'}\nPidFile {base / 'sshd.pid'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "PermitUserEnvironment yes\nStrictModes no\nUsePAM no\n"
    )
    (base / "ssh_config").write_text(
        # The port comes from the URL: the SDK always passes -p (22 when the URL has
        # none), which overrides a Port here.
        "Host 127.0.0.1\n"
        f"  IdentityFile {base / 'client_key'}\n  IdentitiesOnly yes\n"
        f"  StrictHostKeyChecking no\n  UserKnownHostsFile {base / 'known_hosts'}\n"
        "  LogLevel ERROR\n"
    )
    wrapper_dir = base / "bin"
    wrapper_dir.mkdir()
    wrapper = wrapper_dir / "ssh"
    wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("ssh")} -F {base / "ssh_config"} "$@"\n')
    wrapper.chmod(0o755)
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    proc = subprocess.Popen(
        [sshd, "-D", "-f", str(base / "sshd_config"), "-E", str(base / "sshd.log")],
        start_new_session=True,
    )
    try:
        probes: list[subprocess.CompletedProcess[str]] = []

        def serves() -> bool:
            probes.append(
                subprocess.run(
                    [str(wrapper), "-p", str(port), "root@127.0.0.1", "docker", "version"],
                    capture_output=True,
                    text=True,
                )
            )
            return probes[-1].returncode == 0 or proc.poll() is not None

        with contextlib.suppress(TimedOut):
            wait_until(serves, what="sshd to serve docker", interval=0.2)
        if probes[-1].returncode != 0:
            log = (base / "sshd.log").read_text() if (base / "sshd.log").exists() else ""
            pytest.fail(f"sshd did not serve docker: {probes[-1].stderr.strip()} {log[-400:]}")
        yield wrapper_dir, f"ssh://root@127.0.0.1:{port}"
    finally:
        proc.terminate()  # by its pid
        proc.wait(10)


@pytest.fixture(scope="module")
def image(client: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    context = di.httpd_context(tmp_path_factory.mktemp("ssh-image"), "v1")
    di.build(client, context, "shipdeck-test/ssh:v1")
    return "shipdeck-test/ssh:v1"


def test_deploy_and_status_on_an_engine_reached_over_ssh(
    client: Any,
    ssh_host: tuple[Path, str],
    image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrapper_dir, address = ssh_host
    monkeypatch.setenv("PATH", f"{wrapper_dir}{os.pathsep}{os.environ['PATH']}")
    target: DockerTarget = di.httpd_target(
        "ssh" + os.urandom(2).hex(), "sdssh", tmp_path, host=address, health_timeout=15
    )
    try:
        di.deploys_and_serves(client, target, image)
    finally:
        di.remove_environment(client, target)


def test_an_ssh_host_that_refuses_is_one_line_naming_it(
    ssh_host: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{ssh_host[0]}{os.pathsep}{os.environ['PATH']}")
    host = f"ssh://root@127.0.0.1:{di.free_port()}"  # nothing listens there
    target = DockerTarget("gone", project="sdssh", host=host, lock_path=tmp_path / "lock")
    with pytest.raises(TargetError) as err:
        target.deploy(Release("1.0.0", "0" * 40, "v1.0.0", "x:y"), lambda _: None, CancelToken())
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"cannot reach the Docker engine at {host}")
