"""The test swarm itself: three Ready nodes, a replicated service answering on every
node's address, an unhealthy task failed by its HEALTHCHECK, and a worker whose dockerd
dies going Down and coming back Ready. The other swarm tests rely on all of this."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from docker.types import EndpointSpec, RestartPolicy, ServiceMode

from tests.swarm.lab import WEB_PORT, ServiceScope, Swarm, get
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.swarm]


def running_tasks(service: Any) -> list[dict[str, Any]]:
    return [t for t in service.tasks() if t["Status"]["State"] == "running"]


def test_three_ready_nodes_one_manager_and_the_registry(swarm: Swarm) -> None:
    with contextlib.closing(swarm.client()) as client:
        nodes = sorted(
            (
                n.attrs["Spec"]["Labels"].get("swm.node"),
                n.attrs["Status"]["Addr"],
                n.attrs["Spec"]["Role"],
                n.attrs["Status"]["State"],
            )
            for n in client.nodes.list()
        )
        heartbeat = client.swarm.attrs["Spec"]["Dispatcher"]["HeartbeatPeriod"]
    assert nodes == [
        ("n1", swarm.nodes[0].ip, "manager", "ready"),
        ("n2", swarm.nodes[1].ip, "worker", "ready"),
        ("n3", swarm.nodes[2].ip, "worker", "ready"),
    ]
    assert heartbeat == 2 * 10**9  # what makes a dead worker Down in seconds
    for i, node in enumerate(swarm.nodes, start=1):
        with contextlib.closing(swarm.node_client(i)) as client:
            info = client.info()
        assert info["Swarm"]["LocalNodeState"] == "active", node
        assert info["RegistryConfig"]["IndexConfigs"][swarm.registry]["Secure"] is False, node
    host, port = swarm.registry.split(":")
    assert get(host, int(port), "/v2/") == "{}"


def test_three_replicas_one_per_node_each_answers(swarm: Swarm, services: ServiceScope) -> None:
    image = swarm.push_web("v1")
    port = swarm.free_port()
    with contextlib.closing(swarm.client()) as client:
        hostnames = {n.id: n.attrs["Description"]["Hostname"] for n in client.nodes.list()}
        service = client.services.create(
            image,
            name=services.name("web"),
            labels=services.labels,
            mode=ServiceMode("replicated", replicas=3),
            # host mode: the routing mesh needs IPVS, which this kernel may lack
            endpoint_spec=EndpointSpec(ports={port: (WEB_PORT, "tcp", "host")}),
            hostname="{{.Node.Hostname}}",
            restart_policy=RestartPolicy(condition="any", delay=0),
        )

        def three_running() -> list[dict[str, Any]]:
            running = running_tasks(service)
            return running if len(running) == 3 else []

        tasks = wait_until(
            three_running,
            what=lambda: f"3 running tasks of {image}: {service.tasks()}",
            interval=0.2,
        )
        assert sorted(hostnames[t["NodeID"]] for t in tasks) == ["swm-n1", "swm-n2", "swm-n3"]

        expected = {node.ip: f"v1 from swm-{node.name}" for node in swarm.nodes}

        def answers() -> dict[str, str | None]:
            return {ip: get(ip, port) for ip in expected}

        wait_until(
            lambda: answers() == expected,
            what=lambda: f"every node to answer on {port}: {answers()}",
            interval=0.2,
        )
        assert all(get(ip, port, "/health") == "ok" for ip in expected)

        def logged() -> str:
            return b"".join(service.logs(stdout=True, stderr=True, tail=3)).decode()

        def ticked_everywhere() -> bool:
            text = logged()
            return all(f"version=v1 host=swm-{node.name}" in text for node in swarm.nodes)

        wait_until(
            ticked_everywhere,
            what=lambda: f"a tick from every node in the service's logs: {logged()!r}",
            interval=0.3,
        )


def test_an_unhealthy_task_fails_with_its_exit_on_term(
    swarm: Swarm, services: ServiceScope
) -> None:
    image = swarm.push_web("v1-sick", healthy=False)
    with contextlib.closing(swarm.client()) as client:
        service = client.services.create(
            image,
            name=services.name("sick"),
            labels=services.labels,
            mode=ServiceMode("replicated", replicas=1),
            constraints=["node.labels.swm.node==n2"],
            restart_policy=RestartPolicy(condition="any", delay=0),
        )

        def failed() -> list[dict[str, Any]]:
            return [t for t in service.tasks() if t["Status"]["State"] == "failed"]

        task = wait_until(
            lambda: failed(),
            what=lambda: f"a failed task of {image}: {service.tasks()}",
            interval=0.3,
        )[0]
    status = task["Status"]
    assert "unhealthy container" in status["Err"], status
    assert status["ContainerStatus"]["ExitCode"] == 143, status  # TERM, not a clean exit


def test_a_dead_worker_goes_down_and_comes_back_ready(swarm: Swarm) -> None:
    assert swarm.node_states()["n3"] == "ready"
    swarm.kill_dockerd(3)
    try:
        wait_until(
            lambda: swarm.node_states()["n3"] == "down",
            timeout=30,
            what=lambda: f"n3 Down: {swarm.node_states()}",
            interval=0.2,
        )
    finally:
        swarm.restart_dockerd(3)  # the other tests need the whole lab
    wait_until(
        lambda: swarm.node_states() == {"n1": "ready", "n2": "ready", "n3": "ready"},
        what=lambda: f"all nodes Ready again: {swarm.node_states()}",
        interval=0.2,
    )
