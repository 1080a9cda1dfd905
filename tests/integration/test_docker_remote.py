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
import httpx
import pytest

from backends.docker import DockerTarget
from lifecycle.ports import CancelToken, Line, Release, TargetError

pytestmark = pytest.mark.docker

PROJECT = "sdremote"


def tls_engine() -> tuple[str, str]:
    host = os.environ.get("SHIPDECK_DOCKER_TLS_HOST")
    certs = os.environ.get("SHIPDECK_DOCKER_CERT_PATH")
    if host and certs:
        return host, certs
    why = "no TLS engine address (scripts/docker-up.sh sets one up when openssl is there)"
    if os.environ.get("SHIPDECK_REQUIRE_DOCKER") == "1":
        pytest.fail(f"SHIPDECK_REQUIRE_DOCKER=1 but {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="module")
def image(client: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    return di.build(
        client, di.httpd_context(tmp_path_factory.mktemp("remote"), "v1"), "shipdeck-test/remote:v1"
    )


def remote_target(host: str, environ: dict[str, str], tmp_path: Path) -> DockerTarget:
    port = di.free_port()
    t = DockerTarget(
        "prod" + secrets.token_hex(2),
        project=PROJECT,
        host=host,
        environ=environ,
        ports={f"{di.HTTPD_PORT}/tcp": port},
        labels=di.LABELS,
        health_url=f"http://127.0.0.1:{port}/health",
        health_timeout=10,
        health_interval=0.2,
        grace=1,
        lock_path=tmp_path / "lock",
    )
    t.port = port  # type: ignore[attr-defined]
    return t


def test_deploy_status_and_stop_on_an_engine_reached_over_tls(
    client: Any, image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, certs = tls_engine()
    # Most CI images set this; requests then used to trust it instead of the engine's CA.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(Path(certs) / "cert.pem"))
    environ = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs}
    target = remote_target(host, environ, tmp_path)
    lines: list[Line] = []
    try:
        result = target.deploy(
            Release(version="1.0.0", sha="0" * 40, tag="v1.0.0", image=image),
            lines.extend,
            CancelToken(),
        )
        assert result.ok, "\n".join(t for _, t in lines)
        port = target.port  # type: ignore[attr-defined]
        assert httpx.get(f"http://127.0.0.1:{port}/version", timeout=3).text.strip() == "v1"
        status = target.status()
        assert (status.state, status.version, status.healthy) == ("running", "1.0.0", True)
        # The container really is on that engine, named as on any other.
        assert client.containers.get(f"{PROJECT}-{target.name}-1.0.0").status == "running"
        target.stop(lines.extend)
        assert target.status().state in ("stopped", "absent")
    finally:
        target.close()
        for c in client.containers.list(all=True, filters={"label": f"shipdeck.env={target.name}"}):
            c.remove(force=True)


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
