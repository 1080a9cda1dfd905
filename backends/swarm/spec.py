"""What a swarm environment asks of the engine, as the Engine API's service spec.

Kept apart from the target so the mapping from shipdeck.yaml's words to Swarm's
(``restart_policy`` names, ``update:``, ``publish_mode``, resources in bytes and
nano-CPUs) is one pure function a unit test can read without an engine.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shipdeck.backends.docker.engine import LABEL_ENV, LABEL_MANAGED, LABEL_PROJECT, LABEL_VERSION

LABEL_HISTORY = "shipdeck.history"  # the versions this service ran healthy, newest last
LABEL_REPLICAS = "shipdeck.replicas"  # what a stopped service had, for restart to bring back
_HISTORY_KEPT = 10
_NS = 1_000_000_000


@dataclass(frozen=True)
class Rollout:
    """``update:`` of shipdeck.yaml; also used for Swarm's own rollback of a failed update."""

    parallelism: int = 1
    delay: float = 5.0
    order: str = "stop-first"
    failure_action: str = "rollback"
    monitor: float = 10.0
    max_failure_ratio: float = 0.0

    def config(self, *, rollback: bool = False) -> dict[str, Any]:
        """The API's UpdateConfig (or RollbackConfig: a failed rollback pauses)."""
        action = "pause" if rollback else self.failure_action
        return {
            "Parallelism": self.parallelism,
            "Delay": int(self.delay * _NS),
            "FailureAction": action,
            "Monitor": int(self.monitor * _NS),
            "MaxFailureRatio": self.max_failure_ratio,
            "Order": self.order,
        }


@dataclass(frozen=True)
class ServiceSettings:
    """Everything of a swarm environment that goes into its service, version aside."""

    project: str
    env: str
    replicas: int = 1
    ports: Mapping[str, int] = field(default_factory=dict)  # "8080/tcp" -> published port
    publish_mode: str = "ingress"
    environment: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    constraints: Sequence[str] = ()
    cpus: float | None = None
    memory: int | None = None
    restart_policy: str = "unless-stopped"
    rollout: Rollout = field(default_factory=Rollout)
    grace: float = 10.0

    @property
    def service_name(self) -> str:
        return re.sub(r"[^a-zA-Z0-9_.-]", "_", f"{self.project}-{self.env}")

    @property
    def own_labels(self) -> dict[str, str]:
        """The labels that find this environment's service (and its containers) again."""
        return {LABEL_PROJECT: self.project, LABEL_ENV: self.env, LABEL_MANAGED: "true"}


def restart_condition(policy: str) -> dict[str, Any]:
    """Docker's restart policy names in Swarm's terms (``unless-stopped`` is ``any``)."""
    name, _, retries = policy.partition(":")
    condition = {"no": "none", "on-failure": "on-failure"}.get(name, "any")
    out: dict[str, Any] = {"Condition": condition, "Delay": _NS}
    if retries:
        out["MaxAttempts"] = int(retries)
    return out


def history_of(labels: Mapping[str, str] | None) -> list[dict[str, str]]:
    """The ``[{"version", "image"}]`` recorded on a service spec, oldest first."""
    try:
        found = json.loads((labels or {}).get(LABEL_HISTORY, "[]"))
    except ValueError:
        return []
    if not isinstance(found, list):
        return []
    return [h for h in found if isinstance(h, dict) and {"version", "image"} <= h.keys()]


def with_history(labels: Mapping[str, str] | None, version: str, image: str) -> str:
    """The history label after ``version`` (as ``image``) becomes the current one."""
    old = [h for h in history_of(labels) if h["version"] != version]
    return json.dumps([*old, {"version": version, "image": image}][-_HISTORY_KEPT:])


def secret_name(service: str, name: str, value: str) -> str:
    """A Docker secret per value: secrets are immutable, so a new value is a new secret."""
    digest = hashlib.sha256(value.encode()).hexdigest()[:12]
    return f"{service}-{name}-{digest}"


def service_spec(
    s: ServiceSettings,
    *,
    version: str,
    image: str,
    secrets: Sequence[tuple[str, str, str]] = (),  # (env var name, secret id, secret name)
    history: str = "[]",
    replicas: int | None = None,
    force: int = 0,
) -> dict[str, Any]:
    """The whole ``ServiceSpec`` body for create and update (update replaces it whole)."""
    env = {**s.environment, "SHIPDECK_ENV": s.env, "SHIPDECK_VERSION": version}
    for var, _sid, _sname in secrets:  # the value itself never goes into the spec
        env[f"{var}_FILE"] = f"/run/secrets/{var}"
    labels = {**s.labels, **s.own_labels, LABEL_VERSION: version, LABEL_HISTORY: history}
    container: dict[str, Any] = {
        "Image": image,
        "Env": [f"{k}={v}" for k, v in env.items()],
        "Labels": {**s.own_labels, LABEL_VERSION: version},
        "StopGracePeriod": int(s.grace * _NS),
    }
    if secrets:
        container["Secrets"] = [
            {
                "File": {"Name": var, "UID": "0", "GID": "0", "Mode": 0o444},
                "SecretID": sid,
                "SecretName": sname,
            }
            for var, sid, sname in secrets
        ]
    task: dict[str, Any] = {
        "ContainerSpec": container,
        "RestartPolicy": restart_condition(s.restart_policy),
        "ForceUpdate": force,
    }
    if s.constraints:
        task["Placement"] = {"Constraints": list(s.constraints)}
    limits: dict[str, int] = {}
    if s.cpus:
        limits["NanoCPUs"] = int(s.cpus * _NS)
    if s.memory:
        limits["MemoryBytes"] = s.memory
    if limits:
        task["Resources"] = {"Limits": limits}
    ports = []
    for key, published in s.ports.items():
        number, _, proto = key.partition("/")
        ports.append(
            {
                "Protocol": proto or "tcp",
                "TargetPort": int(number),
                "PublishedPort": published,
                "PublishMode": s.publish_mode,
            }
        )
    return {
        "Name": s.service_name,
        "Labels": labels,
        "TaskTemplate": task,
        "Mode": {"Replicated": {"Replicas": s.replicas if replicas is None else replicas}},
        "UpdateConfig": s.rollout.config(),
        "RollbackConfig": s.rollout.config(rollback=True),
        "EndpointSpec": {"Mode": "vip" if s.publish_mode == "ingress" else "dnsrr", "Ports": ports},
    }
