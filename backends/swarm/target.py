"""The "swarm" deploy target: one replicated Docker Swarm service per environment.

The environment's engine (``docker_host``, DOCKER_HOST or the docker context) is a
swarm manager. A release runs as the service ``{project}-{env}``; the service is the
state (labels carry the version and the versions that ran healthy), so any shipdeck
on any machine finds it again.

A deploy is Swarm's rolling update, gated by health: the image's HEALTHCHECK
keeps each new task in ``starting`` until it passes, ``update.monitor`` watches it
afterwards, and with ``failure_action: rollback`` Swarm itself puts the previous
spec back. shipdeck follows the update on the engine's event stream
(``backends.swarm.watch``) and reports a rollback as one, quoting the tasks'
errors. With ``publish_mode: host`` each node running a task publishes the port
itself, and ``health.url`` is probed on every such node (its host part replaced
by the node's address); a replica count is never taken as proof that a port answers.
A failure found that way is rolled back through Swarm's service rollback too.

Secrets become Docker secrets (one per value, mounted at ``/run/secrets/NAME``,
``NAME_FILE`` pointing there): the value never enters the service spec, which
anyone who can inspect the service reads.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import docker
import docker.errors

from shipdeck.backends import switch
from shipdeck.backends.docker.engine import (
    LABEL_ENV,
    LABEL_PROJECT,
    LABEL_VERSION,
    EngineSession,
    parse_time,
)
from shipdeck.backends.docker.logs import source_of
from shipdeck.backends.docker.stats import StatsPoller
from shipdeck.backends.probe import HttpProber
from shipdeck.backends.swarm.logs import service_logs
from shipdeck.backends.swarm.spec import (
    LABEL_REPLICAS,
    ServiceSettings,
    history_of,
    secret_name,
    service_spec,
    with_history,
)
from shipdeck.backends.swarm.watch import UpdateEnd, UpdateWatch
from shipdeck.lifecycle.ports import (
    CancelToken,
    ContainerStats,
    DeployResult,
    EnvStatus,
    Line,
    NodeInfo,
    NothingDeployed,
    OutputSink,
    Release,
    TargetError,
    say,
)

_OUT_OF_SEQUENCE = "out of sequence"
_FRESH = 0.5  # seconds one read of the service, its tasks or the nodes serves every caller


class SwarmTarget:
    """A ``DeployTarget`` running each environment as one replicated service."""

    target = "swarm"

    def __init__(
        self,
        name: str,
        settings: ServiceSettings,
        *,
        host: str | None = None,
        image_for: Callable[[str], str] | None = None,
        secrets: Mapping[str, str] | None = None,
        health_url: str | None = None,
        health_timeout: float = 30,
        health_interval: float = 0.5,
        health_expect: int | None = None,
        lock_path: Any = None,
        environ: Mapping[str, str] | None = None,
        client: docker.DockerClient | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self._engine = EngineSession(host, environ, client)
        self.host = self._engine.address
        self.image_for = image_for
        self._secrets = dict(secrets or {})
        self.health_url = health_url
        self.health_timeout = health_timeout
        self.health_interval = health_interval
        self.health_expect = health_expect
        self._lock_path = lock_path
        self._reads: dict[str, tuple[float, Any]] = {}  # key -> (monotonic time, value)
        self._stats: StatsPoller | None = None

    # --- engine -----------------------------------------------------------------------

    def client(self) -> docker.DockerClient:
        return self._engine.client()

    @property
    def api(self) -> Any:
        return self.client().api

    def _call(self, what: Callable[[], Any]) -> Any:
        """An engine call; its failure is one TargetError line naming the engine."""
        return self._engine.call(what)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return switch.env_lock(self.name, self._lock_path)

    def _read(self, key: str, fetch: Callable[[], Any]) -> Any:
        """An engine read shared by callers within ``_FRESH`` seconds: one monitor sample
        asks for the service, its tasks and the nodes several times (nodes, replicas,
        health URLs, status). A write through this target forgets them all."""
        now = time.monotonic()
        hit = self._reads.get(key)
        if hit is not None and now - hit[0] < _FRESH:
            return hit[1]
        value = self._call(fetch)
        self._reads[key] = (now, value)
        return value

    def service(self) -> dict[str, Any] | None:
        """This environment's service (inspect data), found by its labels."""
        own = self.settings.own_labels
        filters = {"label": [f"{k}={own[k]}" for k in (LABEL_PROJECT, LABEL_ENV)]}
        found = self._read("service", lambda: self.api.services(filters=filters))
        return found[0] if found else None

    def _manager(self) -> None:
        info = self._call(lambda: self.api.info())
        swarm = info.get("Swarm") or {}
        if not swarm.get("ControlAvailable"):
            state = swarm.get("LocalNodeState") or "inactive"
            raise TargetError(
                f"the engine {self._engine.where} is not a swarm manager (swarm: {state});"
                " point docker_host at a manager"
            )

    def tasks(self, service_id: str) -> list[dict[str, Any]]:
        fetch = partial(self.api.tasks, filters={"service": service_id})
        return list(self._read(f"tasks {service_id}", fetch))

    def nodes(self) -> list[NodeInfo]:
        """The swarm's nodes (``docker node ls``) with this service's running tasks on each."""
        svc = self.service()
        per_node: dict[str, int] = {}
        for t in self._running_tasks(svc["ID"]) if svc else []:
            per_node[t.get("NodeID", "")] = per_node.get(t.get("NodeID", ""), 0) + 1
        return [replace(node, tasks=per_node.get(node.id, 0)) for node in self._nodes()]

    def _nodes(self) -> list[NodeInfo]:
        out = []
        for node in self._read("nodes", lambda: self.api.nodes()):
            spec, status = node.get("Spec") or {}, node.get("Status") or {}
            out.append(
                NodeInfo(
                    id=node["ID"],
                    name=(node.get("Description") or {}).get("Hostname") or node["ID"][:12],
                    role=spec.get("Role", "?"),
                    state=status.get("State", "?"),
                    availability=spec.get("Availability", "?"),
                    addr=status.get("Addr") or "",
                    leader=bool((node.get("ManagerStatus") or {}).get("Leader")),
                )
            )
        return sorted(out, key=lambda n: n.name)

    def _node_names(self) -> dict[str, str]:
        return {n.id: n.name for n in self._nodes()}

    # --- deploy ---------------------------------------------------------------------

    def deploy(self, release: Release, sink: OutputSink, cancel: CancelToken) -> DeployResult:
        """Roll ``release`` out over the service's tasks; Swarm rolls back a failed update."""
        ref = release.image or (self.image_for(release.version) if self.image_for else None)
        if not ref:
            why = "set push: under release, or image: on the environment"
            raise TargetError(f"release {release.version} has no image to run ({why})")
        cancel.raise_if_cancelled()
        with self._locked():
            self._manager()
            current = self.service()
            if current is None:
                return self._create(release.version, ref, sink, cancel)
            return self._update(current, release.version, ref, sink, cancel)

    def _secret_refs(self) -> list[tuple[str, str, str]]:
        """Docker secrets for this environment's values, created where missing."""
        service = self.settings.service_name
        refs = []
        for var, value in sorted(self._secrets.items()):
            sname = secret_name(service, var, value)
            refs.append((var, self._secret_id(sname, value), sname))
        return refs

    def _secret_id(self, sname: str, value: str) -> str:
        found = self._call(partial(self.api.secrets, filters={"name": sname}))
        for secret in found:
            if (secret.get("Spec") or {}).get("Name") == sname:
                return str(secret["ID"])
        labels = self.settings.own_labels
        made = self._call(partial(self.api.create_secret, sname, value.encode(), labels=labels))
        return str(made["ID"])

    def _post(self, path: str, body: dict[str, Any], params: dict[str, Any] | None = None) -> Any:
        """POST a service spec; the SDK's ``update_service`` rebuilds specs from keyword
        arguments and cannot ask for Swarm's rollback, so the Engine API is called as is."""
        api = self.api
        self._reads.clear()
        try:
            return self._call(
                lambda: api._result(api._post_json(path, data=body, params=params), True)
            )
        finally:
            self._reads.clear()  # and what was read while it ran

    def _post_spec(
        self, sid: str, make: Callable[[dict[str, Any]], dict[str, Any]], *, rollback: bool = False
    ) -> None:
        """Update the service with ``make(current spec)`` (or Swarm's rollback), retrying
        when the orchestrator bumped its version meanwhile ("update out of sequence")."""
        for attempt in range(10):
            now = self._call(partial(self.api.inspect_service, sid))
            params: dict[str, Any] = {"version": now["Version"]["Index"]}
            if rollback:
                params["rollback"] = "previous"
            try:
                self._post(self.api._url("/services/{0}/update", sid), make(now["Spec"]), params)
                return
            except TargetError as exc:
                if _OUT_OF_SEQUENCE not in str(exc) or attempt == 9:
                    raise
                time.sleep(0.2)

    def _create(
        self, version: str, ref: str, sink: OutputSink, cancel: CancelToken
    ) -> DeployResult:
        spec = service_spec(
            self.settings,
            version=version,
            image=ref,
            secrets=self._secret_refs(),
            history=with_history(None, version, ref),
        )
        name = self.settings.service_name
        say(sink, f"creating service {name} ({self.settings.replicas} x {ref})")
        made = self._post(self.api._url("/services/create"), spec)
        sid = made["ID"]
        ok, why = self._converged(sid, self.settings.replicas, sink, cancel)
        if ok:
            return DeployResult(
                True, version, f"{version} runs as {name} ({self._replicas_text(sid)})"
            )
        say(sink, f"{why}; removing {name} (nothing ran before it)")
        with contextlib.suppress(TargetError):
            self._call(lambda: self.api.remove_service(sid))
        self._reads.clear()
        return DeployResult(False, version, f"{version}: {why}")

    def _update(
        self, current: dict[str, Any], version: str, ref: str, sink: OutputSink, cancel: CancelToken
    ) -> DeployResult:
        spec_now = current["Spec"]
        before = (spec_now.get("Labels") or {}).get(LABEL_VERSION)
        replicas = self._desired(current) or self._stopped_replicas(current)
        task = spec_now.get("TaskTemplate") or {}
        spec = service_spec(
            self.settings,
            version=version,
            image=ref,
            secrets=self._secret_refs(),
            history=with_history(spec_now.get("Labels"), version, ref),
            replicas=replicas,
            force=int(task.get("ForceUpdate") or 0) + 1,  # a redeploy replaces the tasks too
        )
        name = self.settings.service_name
        say(sink, f"updating {name} from {before or '?'} to {version} ({ref})")
        end = self._rolling(current["ID"], spec, sink, cancel, replicas)
        return self._judge(current["ID"], end, version, before, replicas, sink, cancel)

    def _rolling(
        self,
        sid: str,
        spec: dict[str, Any] | None,
        sink: OutputSink,
        cancel: CancelToken,
        replicas: int,
        *,
        rollback: bool = False,
    ) -> UpdateEnd:
        """Ask for the update (or Swarm's rollback) and follow it to its end."""
        watch = UpdateWatch(self.api, sid)
        try:
            self._post_spec(sid, lambda now: now if spec is None else spec, rollback=rollback)
        except BaseException:
            watch.close()
            raise
        r = self.settings.rollout
        batches = math.ceil(max(1, replicas) / (r.parallelism or max(1, replicas)))
        per_batch = r.delay + r.monitor + self.health_timeout + 30
        return watch.wait(
            2 * batches * per_batch + 60,
            cancel,
            on_state=lambda state: say(sink, f"update state: {state.replace('_', ' ')}"),
        )

    def _judge(
        self,
        sid: str,
        end: UpdateEnd,
        version: str,
        before: str | None,
        replicas: int,
        sink: OutputSink,
        cancel: CancelToken,
    ) -> DeployResult:
        if end.rolled_back:
            errors = self._task_errors(sid, version)
            say(sink, f"swarm rolled the update back: {errors}")
            back = self._current_version(sid) or before
            message = f"{version}: the update failed on swarm ({errors})"
            if end.state != "rollback_completed":
                message += f" (rollback {end.state.replace('_', ' ')})"
            else:  # as the docker target says: is what came back healthy on every node?
                ok_back, why = self._converged(sid, replicas, sink, CancelToken())
                if not ok_back:
                    message += f"; {back} is back but not healthy either: {why}"
            return DeployResult(False, version, message, rolled_back_to=back)
        if end.state in ("paused", "rollback_paused"):
            errors = self._task_errors(sid, version)
            return DeployResult(
                False, version, f"{version}: the update paused: {end.message or errors}"
            )
        if end.state == "cancelled":
            say(sink, "deploy cancelled; asking swarm to roll back")
            back = self._rollback_now(sid, sink, replicas)
            return DeployResult(False, version, f"{version}: deploy cancelled", rolled_back_to=back)
        if end.state == "timeout":
            message = f"{version}: the update did not end in time; swarm goes on with it"
            return DeployResult(False, version, message, unknown=True)
        ok, why = self._converged(sid, replicas, sink, cancel)
        if ok:
            return DeployResult(
                True,
                version,
                f"{version} runs as {self.settings.service_name} ({self._replicas_text(sid)})",
            )
        say(sink, f"{why}; asking swarm to roll back")
        back = self._rollback_now(sid, sink, replicas)
        return DeployResult(False, version, f"{version}: {why}", rolled_back_to=back)

    def _rollback_now(self, sid: str, sink: OutputSink, replicas: int) -> str | None:
        end = self._rolling(sid, None, sink, CancelToken(), replicas, rollback=True)
        if end.state not in ("rollback_completed", "completed"):
            say(sink, f"the rollback ended {end.state.replace('_', ' ')}: {end.message}")
        return self._current_version(sid)

    def _current_version(self, sid: str) -> str | None:
        svc = self._call(partial(self.api.inspect_service, sid))
        version = (svc["Spec"].get("Labels") or {}).get(LABEL_VERSION)
        return str(version) if version else None

    def _task_errors(self, sid: str, version: str | None = None) -> str:
        """The distinct errors of the service's failed tasks (of ``version``), newest first."""
        seen: list[str] = []
        tasks = sorted(self.tasks(sid), key=lambda t: t.get("UpdatedAt", ""), reverse=True)
        for t in tasks:
            labels = ((t.get("Spec") or {}).get("ContainerSpec") or {}).get("Labels") or {}
            if version and labels.get(LABEL_VERSION) != version:
                continue
            status = t.get("Status") or {}
            err = status.get("Err") or (
                status.get("Message") if status.get("State") in ("failed", "rejected") else None
            )
            if err and err not in seen:
                seen.append(err)
        return "; ".join(seen[:3]) or "no task error recorded"

    # --- convergence and health --------------------------------------------------------

    def _running_tasks(self, sid: str) -> list[dict[str, Any]]:
        return [t for t in self.tasks(sid) if _wanted(t) and _state(t) == "running"]

    def _converged(
        self, sid: str, replicas: int, sink: OutputSink, cancel: CancelToken
    ) -> tuple[bool, str]:
        """Wait until ``replicas`` tasks run and (with a health URL) answer healthy."""
        deadline = time.monotonic() + self.health_timeout + self.settings.rollout.monitor + 30
        said = -1
        while True:
            tasks = self.tasks(sid)
            running = [t for t in tasks if _state(t) == "running" and _wanted(t)]
            leaving = [t for t in tasks if _state(t) == "running" and not _wanted(t)]
            if len(running) != said:
                said = len(running)
                say(sink, f"{said}/{replicas} tasks running")
            if len(running) >= replicas and leaving:  # scaled down: gone only once stopped
                why = f"{len(leaving)} task(s) taken away still stopping"
            elif len(running) >= replicas:
                bad = self._unhealthy_nodes(running)
                if not bad:
                    if self.health_url:
                        say(sink, f"healthy on {self._where_probed(running)}")
                    return True, ""
                why = f"not healthy on {', '.join(bad)}"
            else:
                why = f"{len(running)}/{replicas} tasks running: {self._pending_reason(sid)}"
            if time.monotonic() >= deadline:
                return False, why
            if cancel.wait(max(0.2, self.health_interval)):
                return False, "deploy cancelled"

    def _pending_reason(self, sid: str) -> str:
        for t in self.tasks(sid):
            status = t.get("Status") or {}
            if t.get("DesiredState") == "running" and status.get("State") != "running":
                return str(status.get("Err") or status.get("Message") or status.get("State", "?"))
        return "waiting"

    def health_urls(self, running: Sequence[dict[str, Any]] | None = None) -> dict[str, str]:
        """Where health is probed: per node running a task (host mode), else the URL itself."""
        if not self.health_url:
            return {}
        if self.settings.publish_mode != "host":
            return {"service": self.health_url}
        if running is None:
            svc = self.service()
            running = self._running_tasks(svc["ID"]) if svc else []
        nodes = {n.id: n for n in self._nodes()}
        parts = urlsplit(self.health_url)
        out = {}
        for t in running:
            node = nodes.get(t.get("NodeID", ""))
            if node is None or not node.addr:
                continue
            netloc = node.addr + (f":{parts.port}" if parts.port else "")
            out[node.name] = urlunsplit(parts._replace(netloc=netloc))
        return out

    def _where_probed(self, running: Sequence[dict[str, Any]]) -> str:
        return ", ".join(sorted(self.health_urls(running))) or "-"

    def _unhealthy_nodes(self, running: Sequence[dict[str, Any]]) -> list[str]:
        bad = []
        with HttpProber() as prober:
            for where, url in self.health_urls(running).items():
                code = prober.probe(self.name, url, 2.0, float("inf")).status
                want = (
                    code == self.health_expect if self.health_expect else code and 200 <= code < 300
                )
                if not want:
                    bad.append(f"{where} ({'HTTP ' + str(code) if code else 'no answer'})")
        return bad

    # --- operate --------------------------------------------------------------------

    @staticmethod
    def _desired(svc: dict[str, Any]) -> int:
        return int(((svc["Spec"].get("Mode") or {}).get("Replicated") or {}).get("Replicas") or 0)

    def _stopped_replicas(self, svc: dict[str, Any]) -> int:
        """What ``stop`` scaled the service down from (else the configured replicas)."""
        saved = (svc["Spec"].get("Labels") or {}).get(LABEL_REPLICAS, "")
        return int(saved) if saved.isdigit() and int(saved) > 0 else self.settings.replicas

    def _existing(self) -> dict[str, Any]:
        svc = self.service()
        if svc is None:
            raise NothingDeployed(f"nothing is deployed to {self.name}")
        return svc

    def _respec(self, svc: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> None:
        """A spec change that replaces no task (replicas, labels)."""

        def changed(spec: dict[str, Any]) -> dict[str, Any]:
            change(spec)
            return spec

        self._post_spec(svc["ID"], changed)

    def scale(self, replicas: int, sink: OutputSink) -> None:
        """Set the replica count and wait until that many tasks run (and answer)."""
        with self._locked():
            svc = self._existing()

            def to(spec: dict[str, Any]) -> None:
                spec["Mode"] = {"Replicated": {"Replicas": replicas}}
                spec.setdefault("Labels", {}).pop(LABEL_REPLICAS, None)

            say(
                sink,
                f"scaling {self.settings.service_name} from {self._desired(svc)} to {replicas}",
            )
            self._respec(svc, to)
            ok, why = self._converged(svc["ID"], replicas, sink, CancelToken())
            if not ok:
                raise TargetError(f"{self.name} asked for {replicas} replicas: {why}")

    def replica_count(self) -> int | None:
        """The replicas asked for now (None: nothing deployed)."""
        svc = self.service()
        return None if svc is None else self._desired(svc)

    def set_replicas(self, replicas: int) -> None:
        """The autoscaler's change: asked for, not waited on (the next samples see it)."""
        with self._locked():
            svc = self._existing()

            def to(spec: dict[str, Any]) -> None:
                spec["Mode"] = {"Replicated": {"Replicas": replicas}}

            self._respec(svc, to)

    def prepare(self) -> None:
        """Nothing to load: the Docker SDK and the probe came with this module."""

    def stop(self, sink: OutputSink) -> None:
        """Scale to 0, keeping the service (and the count ``restart`` brings back)."""
        with self._locked():
            svc = self._existing()
            had = self._desired(svc)
            if had == 0:
                say(sink, f"nothing is running in {self.name}")
                return

            def to_zero(spec: dict[str, Any]) -> None:
                spec["Mode"] = {"Replicated": {"Replicas": 0}}
                spec.setdefault("Labels", {})[LABEL_REPLICAS] = str(had)

            say(sink, f"stopping {self.settings.service_name} ({had} tasks; the service stays)")
            self._respec(svc, to_zero)
            deadline = time.monotonic() + self.settings.grace + 30
            while self._running_tasks(svc["ID"]) and time.monotonic() < deadline:
                time.sleep(0.3)

    def restart(self, sink: OutputSink) -> DeployResult:
        """A forced rolling update (every task replaced, health-gated); a stopped service
        is scaled back to what it ran."""
        with self._locked():
            svc = self._existing()
            version = (svc["Spec"].get("Labels") or {}).get(LABEL_VERSION, "?")
            if self._desired(svc) == 0:
                replicas = self._stopped_replicas(svc)

                def back(spec: dict[str, Any]) -> None:
                    spec["Mode"] = {"Replicated": {"Replicas": replicas}}
                    spec.setdefault("Labels", {}).pop(LABEL_REPLICAS, None)

                say(sink, f"starting {self.settings.service_name} again ({replicas} tasks)")
                self._respec(svc, back)
                ok, why = self._converged(svc["ID"], replicas, sink, CancelToken())
                verb = "restarted" if ok else f"restarted but not healthy: {why}"
                return DeployResult(ok, version, f"{version} {verb}")
            spec = svc["Spec"]
            task = spec.setdefault("TaskTemplate", {})
            task["ForceUpdate"] = int(task.get("ForceUpdate") or 0) + 1
            replicas = self._desired(svc)
            say(sink, f"restarting {self.settings.service_name}: every task replaced in turn")
            end = self._rolling(svc["ID"], spec, sink, CancelToken(), replicas)
            result = self._judge(svc["ID"], end, version, version, replicas, sink, CancelToken())
            if result.ok:
                return DeployResult(True, version, f"{version} restarted")
            return result

    def rollback(self, sink: OutputSink, cancel: CancelToken) -> DeployResult:
        """Back to the newest other version that ran healthy: Swarm's service rollback
        when that is the previous spec, else an update to its image."""
        with self._locked():
            svc = self._existing()
            labels = svc["Spec"].get("Labels") or {}
            now = labels.get(LABEL_VERSION)
            older = [h for h in history_of(labels) if h["version"] != now]
            if not older:
                raise TargetError(f"{self.name} has no previous release to roll back to")
            back = older[-1]
            previous = (svc.get("PreviousSpec") or {}).get("Labels") or {}
            replicas = self._desired(svc) or self._stopped_replicas(svc)
            say(sink, f"rolling back {self.name} from {now or '?'} to {back['version']}")
            if previous.get(LABEL_VERSION) == back["version"]:
                end = self._rolling(svc["ID"], None, sink, cancel, replicas, rollback=True)
            else:
                task = svc["Spec"].get("TaskTemplate") or {}
                spec = service_spec(
                    self.settings,
                    version=back["version"],
                    image=back["image"],
                    secrets=self._secret_refs(),
                    history=with_history(labels, back["version"], back["image"]),
                    replicas=replicas,
                    force=int(task.get("ForceUpdate") or 0) + 1,
                )
                end = self._rolling(svc["ID"], spec, sink, cancel, replicas)
            if end.state not in ("completed", "rollback_completed"):
                why = end.message or self._task_errors(svc["ID"])
                return DeployResult(
                    False, back["version"], f"the rollback ended {end.state}: {why}"
                )
            ok, why = self._converged(svc["ID"], replicas, sink, cancel)
            if not ok:
                return DeployResult(False, back["version"], f"rolled back but not healthy: {why}")
            return DeployResult(True, back["version"], f"{self.name} runs {back['version']} again")

    # --- status, logs ---------------------------------------------------------------

    def _replicas_text(self, sid: str) -> str:
        per_node: dict[str, int] = {}
        names = self._node_names()
        for t in self._running_tasks(sid):
            node = names.get(t.get("NodeID", ""), "?")
            per_node[node] = per_node.get(node, 0) + 1
        return (
            ", ".join(f"{n} on {node}" for node, n in sorted(per_node.items())) or "no task running"
        )

    def status(self) -> EnvStatus:
        """Desired and running replicas, tasks per node, the update state; never raises."""
        st = EnvStatus(env=self.name, target=self.target)
        try:
            svc = self.service()
            if svc is None:
                return st
            self._fill(st, svc)
        except TargetError as exc:
            st.state, st.detail = "unreachable", {"error": str(exc), "host": self.host}
        return st

    def _fill(self, st: EnvStatus, svc: dict[str, Any]) -> None:
        spec = svc["Spec"]
        labels = spec.get("Labels") or {}
        st.version = labels.get(LABEL_VERSION)
        desired = self._desired(svc)
        running = self._running_tasks(svc["ID"])
        st.replicas, st.replicas_running = desired, len(running)
        image = ((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image", "")
        st.detail = {
            "service": spec.get("Name", ""),
            "image": image.split("@")[0],
            "host": self.host,
        }
        update = svc.get("UpdateStatus") or {}
        if update.get("State"):
            st.detail["update"] = str(update["State"]).replace("_", " ")
            if update.get("Message"):
                st.detail["update_message"] = str(update["Message"])
        st.detail["tasks"] = self._replicas_text(svc["ID"])
        st.detail["nodes"] = ", ".join(f"{n.name} {n.state}" for n in self._nodes())
        starts = [parse_time((t.get("Status") or {}).get("Timestamp")) for t in running]
        known = [s for s in starts if s is not None]
        st.started_at = min(known) if known else None
        if desired == 0:
            st.state = "stopped"
            return
        if not running:
            st.state = "failed"
            st.detail["reason"] = self._pending_reason(svc["ID"])
            return
        updating = update.get("State") in ("updating", "rollback_started")
        st.state = "running" if len(running) >= desired and not updating else "starting"
        if len(running) < desired:
            st.detail["pending"] = self._pending_reason(svc["ID"])
        if self.health_url:
            st.healthy = not self._unhealthy_nodes(running)
        else:
            st.healthy = len(running) >= desired

    def logs(
        self,
        *,
        follow: bool,
        tail: int | None,
        cancel: CancelToken,
        mask: Callable[[str], str] | None = None,
        timestamps: bool = False,
    ) -> Iterator[Sequence[Line]]:
        """Every task's output on every node, each line prefixed ``service.slot@node``."""
        svc = self.service()
        if svc is None:
            return iter(())
        batches = service_logs(
            self.api,
            svc["ID"],
            follow=follow,
            tail=tail,
            timestamps=timestamps,
            cancel=cancel,
            tasks=lambda: self.tasks(svc["ID"]),
            nodes=self._node_names,
            name=self.name,
        )
        if mask is None:
            return batches
        return ([Line(s, mask(t)) for s, t in batch] for batch in batches)

    def stats(self) -> list[ContainerStats]:
        """CPU and memory of this service's tasks that run on the engine shipdeck talks to.

        The Engine API gives a container's stats only on its own node, and a manager
        does not reach its workers' engines: the tasks on the manager's node are the
        sample (their mean CPU is what ``autoscale: cpu`` follows)."""
        svc = self.service()
        if svc is None:
            return []
        filters = {"label": f"com.docker.swarm.service.id={svc['ID']}", "status": "running"}
        found = self._engine.containers(filters)
        if self._stats is None:
            self._stats = StatsPoller(lambda: self.api)
        return self._stats.sample([source_of(c.attrs) for c in found])

    def close(self) -> None:
        if self._stats is not None:
            self._stats.close()
        self._engine.close()


def _state(task: dict[str, Any]) -> str:
    return str((task.get("Status") or {}).get("State") or "")


def _wanted(task: dict[str, Any]) -> bool:
    """Whether Swarm wants the task running (not shut down by a scale-down or an update)."""
    return task.get("DesiredState") == "running"
