"""Connecting to a Docker Engine, and its errors as one line a user can act on.

Shared by the docker target, the image builder and the log and stats readers.
An engine is named by its address as the user wrote it (``unix:///...``,
``tcp://host:2376``, ``ssh://user@host``) in every message, since the SDK's own
``base_url`` for a unix socket is the useless ``http+docker://localhost``; and by
its docker context when it came from one.

Which engine, as the docker CLI picks it: the host given (``docker_host`` in
shipdeck.yaml) > ``DOCKER_HOST`` > ``DOCKER_CONTEXT`` > ``currentContext`` in
``$DOCKER_CONFIG/config.json`` (``~/.docker``) > the default socket. A context is
read from the CLI's own store (``contexts/meta/<sha256 of its name>/meta.json``,
TLS material under ``contexts/tls/<same>/docker/``), not through the SDK's
``ContextAPI``: that one needs a config.json to find the store, ignores
``DOCKER_CONTEXT`` in the SDK versions shipdeck allows, and wants all three TLS
files where the CLI takes a CA alone or a client pair alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.tls
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
        ("Install paramiko", SSH_EXTRA),
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


SSH_EXTRA = "ssh:// engines need paramiko: install shipdeck[ssh] (pipx install 'shipdeck[ssh]')"


@dataclass(frozen=True)
class Endpoint:
    """Where the engine is: its address, the docker context it came from (if any),
    that context's TLS settings, or why the context could not be read."""

    host: str
    context: str | None = None
    tls: docker.tls.TLSConfig | bool = False
    error: str | None = None

    @property
    def where(self) -> str:
        """``of context 'ci' at unix:///...``, or ``at ADDRESS`` outside a context."""
        at = f"at {self.host}"
        return f"of context '{self.context}' {at}" if self.context else at


def _config_dir(env: Mapping[str, str]) -> Path:
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"])
    return Path(env.get("HOME") or Path.home()) / ".docker"


def context_name(environ: Mapping[str, str] | None = None) -> str | None:
    """The docker context in use when DOCKER_HOST is not set (None: the default one)."""
    env = os.environ if environ is None else environ
    name = env.get("DOCKER_CONTEXT")
    if not name:
        try:
            config = json.loads((_config_dir(env) / "config.json").read_text())
        except (OSError, ValueError):
            config = {}
        name = config.get("currentContext") if isinstance(config, dict) else None
    return None if not name or name == "default" else str(name)


def _context(name: str, env: Mapping[str, str]) -> Endpoint:
    """The docker endpoint of context ``name``, read as the docker CLI stores it."""
    store = _config_dir(env) / "contexts"
    key = hashlib.sha256(name.encode()).hexdigest()
    meta_file = store / "meta" / key / "meta.json"
    try:
        meta = json.loads(meta_file.read_text())
        endpoint = meta["Endpoints"]["docker"]
        host = str(endpoint["Host"])
    except FileNotFoundError:
        return Endpoint("?", name, error=f"docker context '{name}' not found ({meta_file})")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        why = f"{type(exc).__name__}: {exc}"
        return Endpoint("?", name, error=f"docker context '{name}' cannot be read: {why}")
    skip_verify = bool(endpoint.get("SkipTLSVerify"))
    tls_dir = store / "tls" / key / "docker"
    ca, cert, key_file = (tls_dir / f for f in ("ca.pem", "cert.pem", "key.pem"))
    tls: docker.tls.TLSConfig | bool = False
    if ca.is_file() or (cert.is_file() and key_file.is_file()) or skip_verify:
        # as the CLI: verify against the context's CA (else the system's) unless told not to
        pair = (str(cert), str(key_file)) if cert.is_file() and key_file.is_file() else None
        verify: bool | str = False if skip_verify else (str(ca) if ca.is_file() else True)
        tls = docker.tls.TLSConfig(
            client_cert=pair, ca_cert=str(ca) if ca.is_file() else None, verify=verify
        )
    return Endpoint(host, name, tls)


def resolve(host: str | None = None, environ: Mapping[str, str] | None = None) -> Endpoint:
    """The engine ``host`` names, else the one the docker CLI would use (see above)."""
    env = os.environ if environ is None else environ
    if host or env.get("DOCKER_HOST"):
        return Endpoint(host or env["DOCKER_HOST"])
    name = context_name(env)
    return _context(name, env) if name else Endpoint(DEFAULT_HOST)


def engine_address(host: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The engine's address (``?`` when its context cannot be read)."""
    return resolve(host, environ).host


def engine_where(host: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``of context 'ci' at ADDRESS`` or ``at ADDRESS``: the engine, for messages."""
    return resolve(host, environ).where


def unreachable(where: Any, exc: BaseException) -> str:
    """``cannot reach the Docker engine [of context 'C'] at ADDRESS: CAUSE``; ``where`` an
    address, an ``engine_where`` text (``at ...``), an Endpoint or an APIClient."""
    if isinstance(where, Endpoint):
        where = where.where
    elif not isinstance(where, str):
        where = getattr(where, "shipdeck_where", None) or "at " + str(
            getattr(where, "shipdeck_host", None) or getattr(where, "base_url", "?")
        )
    elif not where.startswith(("at ", "of context ")):
        where = f"at {where}"
    return f"cannot reach the Docker engine {where}: {reason(exc)}"


def _paramiko_missing() -> bool:
    try:
        import paramiko  # noqa: F401  # the docker SDK's ssh transport needs it
    except ImportError:
        return True
    return False


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
    """A client for ``host``, else the engine the docker CLI would use: DOCKER_HOST (with
    DOCKER_TLS_VERIFY / DOCKER_CERT_PATH), the docker context, the default socket.

    Raises TargetError naming the engine (and its context) when it does not answer
    (the SDK asks the engine for its API version while connecting, so this is a real
    check), when the context cannot be read, or when an ssh:// engine needs paramiko.
    """
    env = dict(os.environ if environ is None else environ)
    end = resolve(host, env)
    if end.error:
        raise TargetError(end.error)
    ssh = end.host.startswith("ssh://")
    if ssh and _paramiko_missing():
        raise TargetError(f"cannot reach the Docker engine {end.where}: {SSH_EXTRA}")
    try:
        if end.context is None:
            env["DOCKER_HOST"] = end.host
            client = _EngineClient.from_env(environment=env, timeout=timeout, use_ssh_client=ssh)
        else:  # the context's endpoint alone: the CLI ignores DOCKER_TLS_* for a context
            client = _EngineClient(
                base_url=end.host, tls=end.tls, timeout=timeout, use_ssh_client=ssh
            )
    except CONNECTION_ERRORS as exc:
        raise TargetError(unreachable(end, exc)) from None
    client.api.shipdeck_host = end.host
    client.api.shipdeck_where = end.where
    return client


def is_podman(client: docker.DockerClient) -> bool:
    """Whether the engine is Podman's Docker-compatible API (asked once per client).

    Podman names itself in ``version()``'s Components ("Podman Engine"); it has no
    container update endpoint, so restart policies are set when a container is made.
    """
    api = client.api
    known = getattr(api, "shipdeck_podman", None)
    if known is None:
        try:
            version = api.version()
        except docker.errors.APIError:
            version = {}
        names = [str(c.get("Name", "")) for c in version.get("Components") or []]
        names.append(str((version.get("Platform") or {}).get("Name", "")))
        known = any("podman" in n.lower() for n in names)
        api.shipdeck_podman = known
    return bool(known)


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


_VANISHED = re.compile(r"no such process|no such container", re.I)


class EngineLost(TargetError):
    """The engine stopped answering (as opposed to answering with an error)."""


class EngineSession:
    """One engine as a deploy target uses it: connected on first use (and again after a
    failure), every call's failure one ``TargetError`` line naming the engine, and
    ``EngineLost`` when the engine itself did not answer."""

    def __init__(
        self,
        host: str | None = None,
        environ: Mapping[str, str] | None = None,
        client: docker.DockerClient | None = None,
    ) -> None:
        self.address = engine_address(host, environ)
        self.where = engine_where(host, environ)
        self._given = host  # None: DOCKER_HOST or the docker context, TLS and all
        self._environ = environ
        self._client = client

    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = connect(self._given, self._environ)
            except TargetError as exc:
                raise EngineLost(str(exc)) from None
        return self._client

    def call(self, what: Callable[[], Any]) -> Any:
        """Run an engine call; connection failures become one TargetError line."""
        try:
            return what()
        except docker.errors.APIError as exc:
            raise TargetError(api_error(exc)) from None
        except CONNECTION_ERRORS as exc:
            self._client = None  # reconnect next time
            raise EngineLost(unreachable(self.where, exc)) from None

    def containers(self, filters: Mapping[str, Any], *, all: bool = False) -> list[Any]:
        """The containers ``filters`` match, each inspected. A container that exits or
        is removed while the list is made is a race, not an error: Podman fails the
        whole list when a container's process is gone as it reads its cgroup ("read
        /proc/N/cgroup: no such process"), and the Docker SDK when one is removed
        between the list and its inspect. The list is asked again, up to three times."""
        tries = 3
        while True:
            tries -= 1
            try:
                return list(
                    self.call(
                        lambda: self.client().containers.list(
                            all=all, filters=dict(filters), ignore_removed=True
                        )
                    )
                )
            except EngineLost:
                raise
            except TargetError as exc:
                if not tries or not _VANISHED.search(str(exc)):
                    raise

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
