"""Connecting to a Docker Engine, and its errors as one line a user can act on.

Shared by the docker target, the image builder and the log and stats readers.
An engine is named by its address as the user wrote it (``unix:///...``,
``tcp://host:2376``, ``ssh://user@host``) in every message, since the SDK's own
``base_url`` for a unix socket is the useless ``http+docker://localhost``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import docker
import docker.errors
import requests

from shipdeck.lifecycle.ports import TargetError

DEFAULT_HOST = "unix:///var/run/docker.sock"
LABEL_PROJECT, LABEL_ENV = "shipdeck.project", "shipdeck.env"
LABEL_VERSION, LABEL_MANAGED = "shipdeck.version", "shipdeck.managed"
# What a failed call raises when the engine itself is the problem.
CONNECTION_ERRORS = (requests.RequestException, docker.errors.DockerException, OSError)


def reason(exc: BaseException) -> str:
    """A short cause for a failed connection ("no such socket", "connection refused")."""
    text = str(exc)
    for needle, short in (
        ("No such file or directory", "no such socket"),
        ("Connection refused", "connection refused"),
        ("Permission denied", "permission denied"),
        ("timed out", "timed out"),
        ("Name or service not known", "unknown host"),
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
        ("SSLError", "TLS handshake failed"),
    ):
        if needle in text:
            return short
    text = re.sub(r"^Error while fetching server API version: ", "", text)
    return text.splitlines()[0][:120] if text else type(exc).__name__


def engine_address(host: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return host or env.get("DOCKER_HOST") or DEFAULT_HOST


def unreachable(where: Any, exc: BaseException) -> str:
    """``cannot reach the Docker engine at ADDRESS: CAUSE``; ``where`` an address or APIClient."""
    if not isinstance(where, str):
        where = getattr(where, "shipdeck_host", None) or getattr(where, "base_url", "?")
    return f"cannot reach the Docker engine at {where}: {reason(exc)}"


class _EngineAPI(docker.APIClient):  # type: ignore[misc]  # the docker SDK has no types
    """The SDK's API client, trusting the engine's own CA when it was given one.

    requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` replace the CA the
    session was set up with (docker-py issue 2433), so on a machine that sets them
    (most CI images do) every TLS engine failed as "certificate not trusted".
    """

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        settings: dict[str, Any] = super().merge_environment_settings(
            url, proxies, stream, verify, cert
        )
        if isinstance(self.verify, str):  # DOCKER_CERT_PATH's ca.pem
            settings["verify"] = self.verify
        return settings


class _EngineClient(docker.DockerClient):  # type: ignore[misc]  # the docker SDK has no types
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.api = _EngineAPI(*args, **kwargs)


def connect(
    host: str | None = None, environ: Mapping[str, str] | None = None, timeout: float = 30
) -> docker.DockerClient:
    """A client for ``host`` (default DOCKER_HOST), TLS and contexts as the docker CLI does.

    Raises TargetError naming the engine when it does not answer (the SDK asks
    the engine for its API version while connecting, so this is a real check).
    """
    env = dict(os.environ if environ is None else environ)
    where = engine_address(host, env)
    env["DOCKER_HOST"] = where
    try:
        client = _EngineClient.from_env(
            environment=env, timeout=timeout, use_ssh_client=where.startswith("ssh://")
        )
    except CONNECTION_ERRORS as exc:
        raise TargetError(unreachable(where, exc)) from None
    client.api.shipdeck_host = where
    return client


def api_error(exc: docker.errors.APIError) -> str:
    """The daemon's own message, made shorter for the usual port clash."""
    text = str(exc.explanation or exc)
    m = re.search(r"(?:Bind for |listen tcp4? )([\d.:\[\]]+).*(already allocated|in use)", text)
    if m:
        return f"port {m.group(1)} is already in use on the engine"
    return text.splitlines()[0] if text else type(exc).__name__


def parse_time(text: str | None) -> datetime | None:
    """The daemon's RFC 3339 times (nanoseconds, ``Z``) as aware datetimes."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,6})?\d*(Z|[+-]\d\d:\d\d)", text or "")
    if not m or m.group(1).startswith("0001"):
        return None
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(m.group(1) + (m.group(2) or "") + zone)


def log_config_for(client: docker.DockerClient) -> dict[str, Any] | None:
    """The log driver for containers shipdeck starts: ``local`` where the engine has the
    factory default ``json-file``, else None (the engine's own choice is kept).

    The daemon serves ``local`` logs about twice as fast as json-file ones (it
    decodes a JSON document per line for json-file), and ``local`` rotates by
    default, so a chatty service cannot fill the engine's disk. An engine set up
    to ship logs elsewhere (journald, fluentd...) is left alone.
    """
    try:
        default = client.info().get("LoggingDriver")
    except docker.errors.APIError:
        return None
    return {"Type": "local", "Config": {}} if default == "json-file" else None
