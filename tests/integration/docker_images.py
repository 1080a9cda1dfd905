"""Test images built ``FROM scratch`` with Debian's static busybox copied in.

No registry outside this machine is reachable, so every image the Docker tests
and benchmarks use is made here: a build context holding ``/bin/busybox`` (also
as ``/bin/sh``, so ``RUN`` and shell commands work) and a Dockerfile. Every
image and container carries the label ``shipdeck.test=<run id>`` so teardown
finds all of this run's, even after a test died half-way.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from tests.helpers import free_port
from tests.waiting import TimedOut, wait_until

BUSYBOX = Path(os.environ.get("SHIPDECK_BUSYBOX", "/bin/busybox"))
TEST_LABEL = "shipdeck.test"
# This run's value of the label: cleanup removes only what this run made, so two
# test runs (or a test run and a benchmark) can share one engine.
RUN_ID = f"{os.getpid()}-{os.urandom(3).hex()}"
LABELS = {TEST_LABEL: RUN_ID}
HTTPD_PORT = 8000


def busybox_missing() -> str | None:
    """Why the test images cannot be built here, or None when they can."""
    if not BUSYBOX.is_file():
        return f"{BUSYBOX} not found (apt-get install busybox-static)"
    return None


def make_context(
    dest: Path,
    *,
    cmd: Sequence[str] | None = None,
    files: Mapping[str, str] | None = None,
    body: str = "",
    healthcheck: Sequence[str] | None = None,
) -> Path:
    """A build context in ``dest``: busybox as /bin/busybox and /bin/sh, ``files``, a Dockerfile.

    ``body`` is Dockerfile text inserted after the COPY lines (RUN, ENV, ARG...);
    ``cmd`` is an exec-form CMD run through busybox (``["httpd", "-f"]``).
    """
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, dest / "busybox")
    lines = [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        "COPY busybox /bin/sh",
    ]
    for rel, text in (files or {}).items():
        path = dest / "files" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if files:
        lines.append("COPY files/ /")
    if body:
        lines.append(body.rstrip("\n"))
    if healthcheck:
        lines.append(
            "HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD "
            + json.dumps(list(healthcheck))
        )
    lines.append('ENTRYPOINT ["/bin/busybox"]')
    if cmd:
        lines.append("CMD " + json.dumps(list(cmd)))
    (dest / "Dockerfile").write_text("\n".join(lines) + "\n")
    return dest


def httpd_context(dest: Path, version: str = "v1", *, broken: bool = False) -> Path:
    """The deployed service: busybox httpd on :8000 serving ``/health`` and ``/version``.

    The broken variant's CMD exits at once (``false``), so it never becomes healthy.
    """
    cmd = ["false"] if broken else ["httpd", "-f", "-v", "-p", str(HTTPD_PORT), "-h", "/www"]
    files = {"www/health": "ok\n", "www/version": version + "\n", "www/index.html": version + "\n"}
    return make_context(dest, cmd=cmd, files=files)


def printer_context(dest: Path, lines: int, *, stderr_every: int = 0) -> Path:
    """An image whose CMD prints ``lines`` numbered lines (every Nth to stderr), then exits."""
    err = f'if (i % {stderr_every} == 0) print l > "/dev/stderr"; else ' if stderr_every else ""
    script = (
        f"BEGIN {{ for (i = 1; i <= {lines}; i++) {{ "
        f'l = sprintf("line %07d the quick brown fox jumps over the lazy dog", i); '
        f"{err}print l }} }}"
    )
    return make_context(dest, cmd=["awk", script])


def build(client: Any, context: Path, tag: str, **kwargs: Any) -> str:
    """Build ``context`` as ``tag`` with the test label (the SDK's high level); the image id."""
    labels = {**LABELS, **kwargs.pop("labels", {})}
    image, _ = client.images.build(path=str(context), tag=tag, labels=labels, rm=True, **kwargs)
    return str(image.id)


def cleanup(client: Any, extra_labels: Sequence[str] = ()) -> None:
    """Remove this run's containers, then images (by the test label, or ``extra_labels``)."""
    import docker.errors

    for label in (f"{TEST_LABEL}={RUN_ID}", *extra_labels):
        for container in client.containers.list(all=True, filters={"label": label}):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
    for image in client.images.list(filters={"label": f"{TEST_LABEL}={RUN_ID}"}):
        for tag in image.tags or [image.id]:
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(tag, noprune=False)  # in use by another run: kept


def unavailable(why: str) -> NoReturn:
    """Skip with ``why``; under CI's ``SHIPDECK_REQUIRE_DOCKER=1`` fail instead, since
    there a missing engine, registry or tool is a broken setup, not a reason."""
    import pytest

    if os.environ.get("SHIPDECK_REQUIRE_DOCKER") == "1":
        pytest.fail(f"SHIPDECK_REQUIRE_DOCKER=1 but {why}", pytrace=False)
    pytest.skip(why)


def httpd_target(name: str, project: str, lock_dir: Path, **options: Any) -> Any:
    """A DockerTarget for the busybox httpd service on a free loopback port (its
    ``.port``), healthy when /health answers; ``options`` override the defaults."""
    from shipdeck.backends.docker.target import DockerTarget

    port = free_port()
    settings: dict[str, Any] = {
        "project": project,
        "ports": {f"{HTTPD_PORT}/tcp": port},
        "labels": LABELS,
        "health_url": f"http://127.0.0.1:{port}/health",
        "health_timeout": 10,
        "health_interval": 0.2,
        "grace": 1,
        "lock_path": lock_dir / "lock",
    }
    target = DockerTarget(name, **{**settings, **options})
    target.port = port  # type: ignore[attr-defined]
    return target


def served(port: int) -> str | None:
    """What /version answers on ``port``; tries again, as a just-started httpd may
    drop the very first connection."""
    import httpx

    def answer() -> str | None:
        try:
            return http.get(f"http://127.0.0.1:{port}/version").text.strip()
        except httpx.HTTPError:
            return None

    with httpx.Client(trust_env=False, timeout=5) as http, contextlib.suppress(TimedOut):
        return wait_until(answer, what=f"an answer on port {port}", interval=0.2)
    return None


def why_not_served(client: Any, target: Any, port: int, log: str = "") -> str:
    """What a failed ``served`` assertion should show: the deploy's log, the
    environment's containers with their states and addresses, and the host's NAT
    rules for ``port`` (an engine that loses or leaves a port rule shows there)."""
    lines = [log, f"--- containers of {target.name}:"]
    for c in client.containers.list(all=True, filters={"label": f"shipdeck.env={target.name}"}):
        networks = c.attrs.get("NetworkSettings", {}).get("Networks") or {}
        addresses = [n.get("IPAddress") for n in networks.values()]
        lines.append(f"{c.name} {c.short_id} {c.status} {addresses} {c.ports}")
    iptables = shutil.which("iptables")
    if iptables:
        import subprocess

        nat = subprocess.run(
            [iptables, "-t", "nat", "-S"], capture_output=True, text=True, timeout=10
        )
        rules = [r for r in nat.stdout.splitlines() if str(port) in r]
        lines += [f"--- NAT rules for port {port}:", *rules, nat.stderr.strip()]
    return "\n".join(lines)


def deploys_and_serves(client: Any, target: Any, image: str) -> None:
    """Deploy ``image`` as 1.0.0 through ``target`` and check, from this side, that it
    answers as v1, is healthy, and is a running container on ``client``'s engine."""
    from shipdeck.lifecycle.ports import CancelToken, Release

    lines: list[Any] = []
    release = Release(version="1.0.0", sha="0" * 40, tag="v1.0.0", image=image)
    result = target.deploy(release, lines.extend, CancelToken())
    assert result.ok, "\n".join(t for _, t in lines)
    assert served(target.port) == "v1"
    status = target.status()
    assert (status.state, status.version, status.healthy) == ("running", "1.0.0", True)
    name = f"{target.project}-{target.name}-1.0.0"
    assert client.containers.get(name).status == "running"


def remove_environment(client: Any, target: Any) -> None:
    """Close ``target`` and remove every container of its environment."""
    target.close()
    for container in client.containers.list(
        all=True, filters={"label": f"shipdeck.env={target.name}"}
    ):
        container.remove(force=True)


def require_engine() -> Any:
    """A client for DOCKER_HOST; skips the module without an engine (fails under CI's
    ``SHIPDECK_REQUIRE_DOCKER=1``, where a missing engine is a broken setup, not a reason)."""

    from shipdeck.backends.docker.engine import connect
    from shipdeck.lifecycle.ports import TargetError

    why = busybox_missing()
    if why is None:
        try:
            return connect()
        except TargetError as exc:
            why = str(exc)
    unavailable(f"no Docker engine: {why} (start one with scripts/docker-up.sh)")


def registry() -> str:
    """The test registry's address (scripts/docker-up.sh prints it)."""
    return os.environ.get("SHIPDECK_REGISTRY", "127.0.0.1:5000")


def catalog(address: str | None = None) -> list[str]:
    """Every repository a registry holds. Its catalog comes in pages (100 names unless
    asked otherwise) linked by ``Link`` headers: a registry kept across runs, as on a
    developer's machine, holds more names than the first page."""
    import httpx

    base = f"http://{address or registry()}"
    names: list[str] = []
    url: str | None = f"{base}/v2/_catalog?n=500"
    with httpx.Client(trust_env=False, timeout=5) as http:
        while url:
            page = http.get(url)
            page.raise_for_status()
            names += page.json().get("repositories") or []
            following = page.links.get("next", {}).get("url")
            url = f"{base}{following}" if following else None
    return names


def talker_context(dest: Path) -> Path:
    """An image that prints ``out N`` to stdout and ``err N`` to stderr five times a second."""
    script = 'i=0; while true; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); sleep 0.2; done'
    return make_context(dest, cmd=["sh", "-c", script])


class Registry:
    """A ``docker-registry`` of the test's own (an auth realm, read-only...), stopped by pid.

    ``extra`` is YAML appended to its config (``auth:``, ``storage: maintenance:``).
    """

    def __init__(self, root: Path, extra: str = "") -> None:
        import subprocess
        import urllib.error
        import urllib.request

        binary = shutil.which("docker-registry")
        if binary is None:
            raise RuntimeError("docker-registry not found (apt-get install docker-registry)")
        self.address = f"127.0.0.1:{free_port()}"
        root.mkdir(parents=True, exist_ok=True)
        config = root / "registry.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
            f"http:\n  addr: {self.address}\n{extra}"
        )
        self.log = root / "registry.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [binary, "serve", str(config)], stdout=log, stderr=log, start_new_session=True
            )
        up = False

        def answers() -> bool:
            nonlocal up
            try:
                urllib.request.urlopen(f"http://{self.address}/v2/", timeout=1)
            except urllib.error.HTTPError:
                up = True  # it answers (401 when it wants credentials)
            except OSError:
                return self.proc.poll() is not None  # it died: no use waiting
            else:
                up = True
            return up

        with contextlib.suppress(TimedOut):
            wait_until(answers, what="the registry", interval=0.1)
        if up:
            return
        self.stop()
        raise RuntimeError(f"registry did not start: {self.log.read_text()[-500:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:  # noqa: BLE001 - a registry that ignores SIGTERM gets SIGKILL
                self.proc.kill()
                self.proc.wait(5)


def htpasswd_line(user: str, password: str) -> str:
    import bcrypt

    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}"


PYTHON_BASE = "shipdeck-test/python:host"

_STDLIB_FILES = """
import sys, runpy, __future__, argparse, json, http.server, socketserver, encodings.idna, typing
for m in list(sys.modules.values()):
    f = getattr(m, "__file__", None)
    if f:
        print(f)
"""


def python_base_image(client: Any, dest: Path) -> str:
    """An image with this machine's own python3 (what the demo's Dockerfile needs as BASE).

    Docker Hub is out of reach, so no ``python:3.12-slim``: instead, the interpreter that
    runs the tests, the stdlib modules a stdlib HTTP service imports (listed by asking
    that interpreter), and the shared libraries ``ldd`` says they need, at the same
    absolute paths, ``FROM scratch``. Labelled like every test image, so a run's
    cleanup removes it.
    """
    import subprocess
    import sys

    try:
        client.images.get(PYTHON_BASE)
        return PYTHON_BASE
    except Exception:  # noqa: BLE001 - not built yet on this engine
        pass
    exe = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    listed = subprocess.run(
        [str(exe), "-I", "-X", "frozen_modules=off", "-c", _STDLIB_FILES],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    stdlib = Path(next(f for f in listed if f.endswith("/os.py"))).parent
    files = {exe, stdlib / "os.py", *(Path(f) for f in listed)}
    for binary in [exe, *(f for f in list(files) if f.suffix == ".so")]:
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
            if path.startswith("/"):
                files.add(Path(path))
    rootfs = dest / "rootfs"
    for f in files:
        target = rootfs / str(f).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f.resolve(), target)
    (rootfs / str(stdlib / "lib-dynload").lstrip("/")).mkdir(parents=True, exist_ok=True)
    bin_dir = rootfs / "usr/local/bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "python3").symlink_to(exe)  # the interpreter finds its stdlib from its real path
    (dest / "Dockerfile").write_text(
        "FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/bin:/usr/bin:/bin\n"
        'CMD ["python3", "-c", "print(42)"]\n'
    )
    build(client, dest, PYTHON_BASE)
    return PYTHON_BASE
