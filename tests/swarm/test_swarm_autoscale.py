"""Autoscaling on the three-node test swarm, driven by ``shipdeck monitor`` as it runs headless:
a load generator on the nodes' addresses slows the tasks (each held to a twentieth of a
core), the probes' latency crosses its target and the service grows to its max within
cooldown + 30 s; when the load stops it shrinks back to min; the journal holds each decision
with its reason; a paused autoscaler leaves the replicas as they are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipdeck.lifecycle.sampling import pause_autoscale
from shipdeck.project.repo import Project
from shipdeck.project.wiring import build_engine, make_target
from tests.swarm.lab import ServiceScope, Swarm
from tests.swarm.projects import committed, deploy_first, journal, staging
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.swarm]

COOLDOWN = 10
BURN = (  # a CGI script that spends CPU: each request a few milliseconds of a core
    'echo "Content-Type: text/plain"; echo\n'
    "i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; echo burnt\n"
)


@pytest.fixture()
def project(tmp_path: Path, swarm: Swarm, services: ServiceScope) -> Iterator[tuple[Project, int]]:
    port = swarm.free_port()
    environment = staging(
        swarm,
        port,
        1,
        "    resources: {cpus: 0.05}",
        "    update: {parallelism: 0, delay: 0, monitor: 1}",
        f"    autoscale: {{min: 1, max: 3, latency_ms: 40, cooldown: {COOLDOWN}}}",
    )
    config = f"version: 1\nproject: {services.prefix}auto\n{environment}monitor:\n  interval: 1\n"
    project = committed(tmp_path / "svc", config)
    deploy_first(project, swarm, "auto", cgi={"burn": BURN})
    yield project, port


class Load:
    """Requests to /cgi-bin/burn on every node, from a few threads, until stopped."""

    def __init__(self, swarm: Swarm, port: int, threads: int = 6) -> None:
        self.stop = threading.Event()
        self.sent = 0
        urls = [f"http://{node.ip}:{port}/cgi-bin/burn" for node in swarm.nodes]

        def hammer(offset: int) -> None:
            with httpx.Client(trust_env=False, timeout=5) as http:
                i = offset
                while not self.stop.is_set():
                    try:
                        http.get(urls[i % len(urls)])
                        self.sent += 1
                    except httpx.HTTPError:
                        time.sleep(0.05)  # no task on that node (yet)
                    i += 1

        self.threads = [
            threading.Thread(target=hammer, args=(n,), daemon=True) for n in range(threads)
        ]
        for thread in self.threads:
            thread.start()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


def _replicas(project: Project) -> int | None:
    status = make_target(project, "staging").status()
    return status.replicas


def _decisions(project: Project) -> list[dict[str, object]]:
    return journal(project.root, "autoscaled")


def test_load_grows_the_service_to_max_and_quiet_shrinks_it_to_min(
    project: tuple[Project, int], swarm: Swarm
) -> None:
    proj, port = project
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    said = proj.root.parent / "monitor.jsonl"
    monitor = subprocess.Popen(
        [sys.executable, "-m", "shipdeck", "monitor", "--json"],
        cwd=proj.root,
        env=env,
        stdout=said.open("w"),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)  # a few quiet samples: nothing to do at 1 replica
        assert _replicas(proj) == 1 and _decisions(proj) == []
        load = Load(swarm, port)
        started = time.monotonic()
        try:
            wait_until(
                lambda: _replicas(proj) == 3, what="the service to grow to 3", timeout=COOLDOWN + 30
            )
            grew = time.monotonic() - started
            ups = _decisions(proj)
            assert ups and ups[-1]["to"] == 3 and "latency" in str(ups[-1]["reason"])
            assert float(str(ups[-1]["latency_ms"])) > 40
        finally:
            load.close()
        assert load.sent > 0
        wait_until(
            lambda: _replicas(proj) == 1,
            what="the service to shrink to 1",
            timeout=3 * COOLDOWN + 30,
        )
        downs = [d for d in _decisions(proj) if int(str(d["to"])) < int(str(d["from"]))]
        assert downs and downs[-1]["to"] == 1 and "(target 40 ms)" in str(downs[-1]["reason"])
        print(f"grew to 3 in {grew:.1f} s of load")

        engine = build_engine(proj)
        pause_autoscale(engine, "staging", True)  # a person pauses it: load changes nothing
        load = Load(swarm, port)
        try:
            time.sleep(COOLDOWN + 5)
            assert _replicas(proj) == 1
        finally:
            load.close()
        assert [e["paused"] for e in journal(proj.root, "autoscale.paused")] == [True]
    finally:
        monitor.terminate()
        monitor.wait(timeout=30)
    printed = [json.loads(line) for line in said.read_text().splitlines() if line.strip()]
    scaled = [(e["from"], e["to"]) for e in printed if e.get("event") == "autoscaled"]
    assert any(to == 3 > was for was, to in scaled)  # the monitor said each decision too
    assert any(to == 1 < was for was, to in scaled)
