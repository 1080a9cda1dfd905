"""An environment on another engine: ``docker_host: tcp://...`` with mutual TLS from the
usual DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, the way production on another machine is
reached. scripts/docker-up.sh makes the CI engine also listen on tcp://127.0.0.1 with a
throwaway CA and client certificate (SHIPDECK_DOCKER_TLS_HOST / _CERT_PATH).
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import docker_images as di
import pytest

from shipdeck.backends.docker.target import DockerTarget
from shipdeck.lifecycle.ports import CancelToken, Release, TargetError

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PROJECT = "sdremote"


def tls_engine() -> tuple[str, str]:
    host = os.environ.get("SHIPDECK_DOCKER_TLS_HOST")
    certs = os.environ.get("SHIPDECK_DOCKER_CERT_PATH")
    if host and certs:
        return host, certs
    di.unavailable("no TLS engine address (scripts/docker-up.sh makes one when openssl is there)")


@pytest.fixture(scope="module")
def image(client: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    return di.build(
        client, di.httpd_context(tmp_path_factory.mktemp("remote"), "v1"), "shipdeck-test/remote:v1"
    )


def remote_target(host: str, environ: dict[str, str], tmp_path: Path) -> DockerTarget:
    name = "prod" + secrets.token_hex(2)
    target: DockerTarget = di.httpd_target(name, PROJECT, tmp_path, host=host, environ=environ)
    return target


def test_deploy_status_and_stop_on_an_engine_reached_over_tls(
    client: Any, image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, certs = tls_engine()
    # Most CI images set this; requests then used to trust it instead of the engine's CA.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(Path(certs) / "cert.pem"))
    environ = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs}
    target = remote_target(host, environ, tmp_path)
    try:
        di.deploys_and_serves(client, target, image)  # the container is on that engine
        target.stop(lambda _: None)
        assert target.status().state in ("stopped", "absent")
    finally:
        di.remove_environment(client, target)


def test_an_engine_that_wants_a_client_certificate_is_one_line(tmp_path: Path) -> None:
    host, _ = tls_engine()
    target = remote_target(host, {}, tmp_path)  # no DOCKER_TLS_VERIFY: plain HTTP to a TLS port
    with pytest.raises(TargetError) as err:
        target.deploy(Release("1.0.0", "0" * 40, "v1.0.0", "x:y"), lambda _: None, CancelToken())
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"cannot reach the Docker engine at {host}: ")
    assert target.status().state == "unreachable"


def test_a_certificate_from_another_ca_is_not_trusted(tmp_path: Path) -> None:
    host, certs = tls_engine()
    other = tmp_path / "certs"
    shutil.copytree(certs, other)
    # The client's own certificate posing as the CA: the server's chain does not lead to it.
    shutil.copy(other / "cert.pem", other / "ca.pem")
    target = remote_target(
        host, {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(other)}, tmp_path
    )
    with pytest.raises(TargetError) as err:
        target.deploy(Release("1.0.0", "0" * 40, "v1.0.0", "x:y"), lambda _: None, CancelToken())
    assert f"cannot reach the Docker engine at {host}: TLS" in str(err.value)
