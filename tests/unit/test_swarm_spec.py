"""The swarm environment's words (shipdeck.yaml) in Swarm's (the Engine API's ServiceSpec)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from shipdeck.backends.swarm.spec import (
    LABEL_HISTORY,
    Rollout,
    ServiceSettings,
    history_of,
    restart_condition,
    secret_name,
    service_spec,
    with_history,
)


def settings(**over: object) -> ServiceSettings:
    base: dict[str, object] = {
        "project": "shop",
        "env": "staging",
        "replicas": 3,
        "ports": {"8080/tcp": 18080},
        "publish_mode": "host",
        "environment": {"GREETING": "hi"},
        "constraints": ("node.role==worker",),
        "cpus": 0.5,
        "memory": 64 << 20,
        "rollout": Rollout(parallelism=1, delay=2, monitor=5, failure_action="rollback"),
    }
    return ServiceSettings(**{**base, **over})  # type: ignore[arg-type]


def test_the_spec_carries_what_the_environment_says() -> None:
    spec = service_spec(settings(), version="1.2.0", image="reg:5000/shop:1.2.0")
    assert spec["Name"] == "shop-staging"
    assert spec["Mode"] == {"Replicated": {"Replicas": 3}}
    task = spec["TaskTemplate"]
    container = task["ContainerSpec"]
    assert container["Image"] == "reg:5000/shop:1.2.0"
    assert "GREETING=hi" in container["Env"] and "SHIPDECK_VERSION=1.2.0" in container["Env"]
    assert task["Placement"] == {"Constraints": ["node.role==worker"]}
    assert task["Resources"] == {"Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 64 << 20}}
    assert task["RestartPolicy"]["Condition"] == "any"  # unless-stopped, in Swarm's words
    port = spec["EndpointSpec"]["Ports"][0]
    assert (port["TargetPort"], port["PublishedPort"], port["PublishMode"]) == (8080, 18080, "host")
    update = spec["UpdateConfig"]
    assert (update["Parallelism"], update["Delay"], update["Monitor"]) == (1, 2 * 10**9, 5 * 10**9)
    assert update["FailureAction"] == "rollback"
    assert spec["RollbackConfig"]["FailureAction"] == "pause"  # a failed rollback stops there
    labels = spec["Labels"]
    assert labels["shipdeck.version"] == "1.2.0" and labels["shipdeck.env"] == "staging"


def test_ingress_publishing_keeps_the_routing_mesh() -> None:
    spec = service_spec(settings(publish_mode="ingress"), version="1", image="x")
    assert spec["EndpointSpec"]["Mode"] == "vip"
    assert spec["EndpointSpec"]["Ports"][0]["PublishMode"] == "ingress"


def test_secret_values_never_enter_the_spec() -> None:
    value = "s3cr3t-value-xyz"
    sname = secret_name("shop-staging", "API_TOKEN", value)
    spec = service_spec(settings(), version="1", image="x", secrets=[("API_TOKEN", "id1", sname)])
    assert value not in json.dumps(spec)
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert "API_TOKEN_FILE=/run/secrets/API_TOKEN" in container["Env"]
    assert container["Secrets"][0]["File"]["Name"] == "API_TOKEN"
    assert secret_name("shop-staging", "API_TOKEN", value + "2") != sname  # a new value: new secret


def test_restart_policies_map_to_swarm_conditions() -> None:
    assert restart_condition("no")["Condition"] == "none"
    assert restart_condition("always")["Condition"] == "any"
    failure = restart_condition("on-failure:4")
    assert (failure["Condition"], failure["MaxAttempts"]) == ("on-failure", 4)


@given(st.lists(st.sampled_from(["1.0.0", "1.1.0", "1.2.0", "2.0.0"]), max_size=30))
def test_history_keeps_the_newest_ten_distinct_versions_in_order(versions: list[str]) -> None:
    label = "[]"
    for v in versions:
        label = with_history({LABEL_HISTORY: label}, v, f"img:{v}")
    got = [h["version"] for h in history_of({LABEL_HISTORY: label})]
    assert len(got) == len(set(got)) <= 10
    if versions:
        assert got[-1] == versions[-1]
        last_seen = {v: i for i, v in enumerate(versions)}
        assert got == sorted(got, key=last_seen.__getitem__)


def test_a_garbled_history_label_is_no_history() -> None:
    for text in ("not json", "{}", '[1, "x"]', '[{"version": "1"}]'):
        assert history_of({LABEL_HISTORY: text}) == []
