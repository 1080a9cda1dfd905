"""The test swarm that scripts/swarm-up.sh starts, seen from Python.

Three Docker engines in their own network namespaces (n1 the manager, n2 and n3
workers), a registry they all pull from, and addresses 10.77.0.x that this
machine reaches through one veth. ``Swarm`` says where everything is and gives
clients; ``push_web`` makes the image the tests deploy; ``get`` asks a node's
published port over HTTP. No pytest here: the fixtures are in conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import httpx

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
BUSYBOX = Path(os.environ.get("SHIPDECK_BUSYBOX", "/bin/busybox"))
WEB_REPO = "shipdeck-web"  # the repository push_web pushes to, in the lab's registry
WEB_PORT = 8080  # where the web image's httpd listens in its container
PORTS = range(18000, 19000)  # host-mode published ports the tests pick from

# The web image: Debian's static busybox FROM scratch (its applets as symlinks), httpd
# answering / with "VERSION from HOSTNAME" and /health with "ok" (no /health when built
# unhealthy, which its HEALTHCHECK then sees), a log line a second, exit 143 on TERM
# (a task killed as unhealthy is then recorded as failed, not complete). Busybox's
# `wget -T` segfaults on Debian: the check is bounded by `timeout` instead.
WEB_DOCKERFILE = """\
FROM scratch
COPY rootfs/ /
ENV PATH=/bin
ARG VERSION=v1
ENV VERSION=$VERSION
EXPOSE 8080
HEALTHCHECK --interval=2s --timeout=3s --start-period=1s --retries=2 \\
  CMD ["/bin/busybox", "sh", "-c", "timeout 2 wget -q -O /dev/null http://127.0.0.1:8080/health"]
CMD ["/bin/busybox", "sh", "-c", "echo \\"$VERSION from $(hostname)\\" > /www/index.html; \
trap 'exit 143' TERM INT; httpd -f -v -p 8080 -h /www & i=0; \
while :; do i=$((i+1)); echo \\"tick $i version=$VERSION host=$(hostname)\\"; \
sleep 1 & wait $!; done"]
"""


@dataclass(frozen=True)
class Node:
    """One engine of the lab: ``n1`` (the manager) to ``n3``, its address and its socket."""

    name: str
    ip: str
    host: str


@dataclass(frozen=True)
class ServiceScope:
    """Names and labels for what one test creates in the swarm, so its teardown finds it."""

    prefix: str
    labels: dict[str, str] = field(default_factory=dict)

    def name(self, what: str) -> str:
        return f"{self.prefix}{what}"


@dataclass
class Swarm:
    """A running lab: the manager's Docker URL, the registry, the nodes, the lab's directory."""

    host: str
    registry: str
    nodes: list[Node]
    dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Swarm:
        """The lab the ``SHIPDECK_SWARM_*`` variables describe (what swarm-up.sh prints)."""
        lab_dir = Path(env.get("SHIPDECK_SWARM_DIR", "/tmp/shipdeck-swarm"))
        ips = [ip for ip in env.get("SHIPDECK_SWARM_NODES", "").split(",") if ip]
        nodes = [
            Node(f"n{i}", ip, f"unix://{lab_dir}/nodes/n{i}/docker.sock")
            for i, ip in enumerate(ips, start=1)
        ]
        return cls(
            host=env["SHIPDECK_SWARM_HOST"],
            registry=env.get("SHIPDECK_SWARM_REGISTRY", "10.77.0.2:5000"),
            nodes=nodes,
            dir=lab_dir,
        )

    @classmethod
    def from_lines(cls, text: str) -> Swarm:
        """The lab from swarm-up.sh's output (``export NAME=VALUE`` lines)."""
        env = {}
        for line in text.splitlines():
            name, sep, value = line.removeprefix("export ").partition("=")
            if sep:
                env[name.strip()] = value.strip()
        return cls.from_env(env)

    # ---------------------------------------------------------------- engines
    def client(self) -> docker.DockerClient:
        """A docker SDK client for the manager (close it when done)."""
        return docker.DockerClient(base_url=self.host, version="auto", timeout=60)

    def node_client(self, i: int) -> docker.DockerClient:
        """A docker SDK client for node ``i`` (1 is n1, the manager)."""
        return docker.DockerClient(base_url=self.node(i).host, version="auto", timeout=60)

    def node(self, i: int) -> Node:
        if not 1 <= i <= len(self.nodes):
            raise ValueError(f"no node {i}: the lab has n1..n{len(self.nodes)}")
        return self.nodes[i - 1]

    def node_states(self) -> dict[str, str]:
        """Each node's state as the manager sees it, by name: {"n1": "ready", ...}."""
        states = {}
        with contextlib.closing(self.client()) as client:
            for node in client.nodes.list():
                name = node.attrs["Spec"].get("Labels", {}).get("swm.node", node.id)
                states[name] = node.attrs["Status"]["State"]
        return states

    def kill_dockerd(self, i: int, crash: bool = False) -> None:
        """SIGKILL node ``i``'s dockerd (``crash``: every process of the node)."""
        self._node_script("kill", str(i), *(["--crash"] if crash else []))

    def restart_dockerd(self, i: int) -> None:
        """Start node ``i``'s dockerd again; returns once it answers."""
        self._node_script("restart", str(i))

    def _node_script(self, *args: str) -> None:
        env = {**os.environ, "SWARM_DIR": str(self.dir)}
        done = subprocess.run(
            [str(SCRIPTS / "swarm-node.sh"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"scripts/swarm-node.sh {' '.join(args)} exited {done.returncode}: "
                f"{done.stderr.strip()[-500:]}"
            )

    # ---------------------------------------------------------------- images
    def push_web(
        self,
        tag: str,
        *,
        healthy: bool = True,
        version: str | None = None,
        cgi: Mapping[str, str] | None = None,
    ) -> str:
        """Build the web image on the manager as ``registry/shipdeck-web:tag`` answering
        ``version`` (default: the tag), push it, and return that reference. ``cgi`` adds
        shell scripts httpd runs as /cgi-bin/NAME."""
        ref = f"{self.registry}/{WEB_REPO}:{tag}"
        with (
            tempfile.TemporaryDirectory(prefix="shipdeck-swarm-web-") as tmp,
            contextlib.closing(self.client()) as client,
        ):
            context = web_context(Path(tmp), healthy=healthy, cgi=cgi)
            client.images.build(
                path=str(context),
                tag=ref,
                buildargs={"VERSION": version or tag},
                rm=True,
                forcerm=True,
            )
            for chunk in client.api.push(
                f"{self.registry}/{WEB_REPO}", tag=tag, stream=True, decode=True
            ):
                if "error" in chunk:
                    raise RuntimeError(f"push of {ref} failed: {chunk['error']}")
        return ref

    # ---------------------------------------------------------------- services
    def free_port(self) -> int:
        """A port of 18000-18999 no service publishes and no node listens on."""
        with contextlib.closing(self.client()) as client:
            used = {
                port.get("PublishedPort")
                for service in client.services.list()
                for port in (
                    *service.attrs.get("Endpoint", {}).get("Ports", []),
                    *service.attrs.get("Spec", {}).get("EndpointSpec", {}).get("Ports", []),
                )
            }
        candidates = [port for port in PORTS if port not in used]
        random.shuffle(candidates)
        for port in candidates:
            if not any(_listens(node.ip, port) for node in self.nodes):
                return port
        raise RuntimeError("no free port in 18000-18999 on the swarm's nodes")

    def remove_services(self, label_or_prefix: str, timeout: float = 60) -> list[str]:
        """Remove the services with this label (``key=value``) or name prefix, then wait
        until their containers are gone from every node that answers; their names."""
        with contextlib.closing(self.client()) as client:
            if "=" in label_or_prefix:
                services = client.services.list(filters={"label": label_or_prefix})
            else:
                services = [s for s in client.services.list() if s.name.startswith(label_or_prefix)]
            for service in services:
                with contextlib.suppress(docker.errors.NotFound):
                    service.remove()
        ids = [service.id for service in services]
        deadline = time.monotonic() + timeout
        while ids and self._containers_of(ids) and time.monotonic() < deadline:
            time.sleep(0.2)
        return [service.name for service in services]

    def _containers_of(self, service_ids: Iterable[str]) -> list[str]:
        """Containers of these services on the nodes that answer."""
        found = []
        for i in range(1, len(self.nodes) + 1):
            try:
                with contextlib.closing(self.node_client(i)) as client:
                    for sid in service_ids:
                        found += [
                            c.id
                            for c in client.containers.list(
                                all=True, filters={"label": f"com.docker.swarm.service.id={sid}"}
                            )
                        ]
            except docker.errors.DockerException:
                continue  # a node whose dockerd is down cleans up when it comes back
        return found


def web_context(dest: Path, *, healthy: bool = True, cgi: Mapping[str, str] | None = None) -> Path:
    """The web image's build context in ``dest``: busybox and its applets, /www, Dockerfile;
    ``cgi`` maps a name to the shell script /cgi-bin/NAME runs."""
    rootfs = dest / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "www").mkdir()
    (rootfs / "tmp").mkdir()
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (rootfs / "bin" / applet).symlink_to("busybox")
    if healthy:
        (rootfs / "www" / "health").write_text("ok\n")
    for name, script in (cgi or {}).items():
        path = rootfs / "www" / "cgi-bin" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text("#!/bin/sh\n" + script)
        path.chmod(0o755)
    (dest / "Dockerfile").write_text(WEB_DOCKERFILE)
    return dest


def get(ip: str, port: int, path: str = "/") -> str | None:
    """The body ``http://ip:port/path`` answers with (stripped), or None when nothing
    answers there or the status is not 200."""
    try:
        with httpx.Client(trust_env=False, timeout=3) as http:
            answer = http.get(f"http://{ip}:{port}{path}")
    except httpx.HTTPError:
        return None
    return answer.text.strip() if answer.status_code == 200 else None


def _listens(ip: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((ip, port)) == 0
