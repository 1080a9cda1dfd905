"""The "docker" deploy target: one container per environment on a Docker Engine.

A release runs as ``{project}-{env}-{version}``, labelled so shipdeck finds its
containers again after a restart of shipdeck (no state file: the engine is the
state). Host ports collide, so a deploy goes: stop the old container -> start
the new one -> wait for health -> on failure remove the new one and start the
old one again by itself. Replaced containers are kept stopped (restart policy
"no", so a daemon restart cannot revive them) as what ``rollback`` goes back to;
the newest ``keep`` of them stay, older ones are removed.

A switch is a recorded transaction (``backends.docker.intent``): written down
before the old container stops, its step updated as it goes, cleared at the end.
One left behind (shipdeck was killed, or the engine stopped answering midway) is
finished or reversed by the next operation or ``status()``, and journaled through
``on_recovered``. Every container a switch creates carries its id as a label, so
one that never got started is found and removed too.

Engines: ``docker_host`` per environment (unix://, tcp:// with TLS from the usual
DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, ssh:// through the ssh binary), else
DOCKER_HOST, else the docker context (``backends.docker.engine``). An engine that
does not answer is a TargetError of one line naming it (and its context);
``status()`` reports it as the state ``unreachable`` and never raises.

Podman's Docker-compatible API has no container update endpoint: there a container
gets the configured restart policy when it is created (a release that crash-loops
under it still fails its health wait), and replaced containers keep theirs (stopped,
they stay stopped). Any engine that answers the update call with 404 is treated so.
No error between stopping the old container and the new one being healthy leaves
the environment down: the old container is started again.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import docker
import docker.errors

from shipdeck.backends import switch
from shipdeck.backends.docker.engine import (
    LABEL_ENV,
    LABEL_MANAGED,
    LABEL_PROJECT,
    LABEL_VERSION,
    EngineLost,
    EngineSession,
    is_podman,
    log_config_for,
    parse_time,
)
from shipdeck.backends.docker.health import wait_started
from shipdeck.backends.docker.intent import IntentFile
from shipdeck.backends.docker.logs import LogSource, container_logs, source_of
from shipdeck.backends.docker.stats import StatsPoller
from shipdeck.backends.probe import HttpProber
from shipdeck.lifecycle.ports import (
    CancelToken,
    ContainerStats,
    DeployResult,
    EnvStatus,
    Line,
    NothingDeployed,
    OutputSink,
    Release,
    TargetError,
    say,
)

LABEL_SWITCH = "shipdeck.switch"  # the switch that created a container (recovery finds it)


class DockerTarget:
    """A ``DeployTarget`` (and ``StatsSource``) running each release as one container."""

    target = "docker"

    def __init__(
        self,
        name: str,
        *,
        project: str,
        host: str | None = None,
        image_for: Callable[[str], str] | None = None,
        ports: Mapping[str, int] | None = None,
        env: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        restart_policy: str = "unless-stopped",
        labels: Mapping[str, str] | None = None,
        health_url: str | None = None,
        health_timeout: float = 30,
        health_interval: float = 0.5,
        health_expect: int | None = None,
        bind: str = "127.0.0.1",
        grace: float = 10,
        keep: int = 3,
        lock_path: Path | None = None,
        environ: Mapping[str, str] | None = None,
        client: docker.DockerClient | None = None,
        on_recovered: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.name = name
        self.project = project
        self._engine = EngineSession(host, environ, client)
        self.host = self._engine.address
        self._no_update = False  # the engine has no container update endpoint (Podman)
        self.image_for = image_for
        self.ports = dict(ports or {})
        self._env = {**(env or {}), **(secrets or {})}  # secrets: never logged here
        policy, _, retries = restart_policy.partition(":")
        self.restart_policy = {"Name": policy, "MaximumRetryCount": int(retries or 0)}
        self.labels = {
            **(labels or {}),
            LABEL_PROJECT: project,
            LABEL_ENV: name,
            LABEL_MANAGED: "true",
        }
        self.health_url = health_url
        self.health_timeout = health_timeout
        self.health_interval = health_interval
        self.health_expect = health_expect
        self.bind = bind
        self.grace = grace
        self.keep = keep
        self._lock_path = lock_path
        self._intents = IntentFile(lock_path)  # none without a lock: nothing to recover from
        self._on_recovered = on_recovered  # journals what recovery found and did
        self._stats: StatsPoller | None = None

    # --- engine and containers -------------------------------------------------

    def client(self) -> docker.DockerClient:
        """The engine's client, connected on first use (and again after a failure)."""
        return self._engine.client()

    def _call(self, what: Callable[[], Any]) -> Any:
        """Run an engine call; connection failures become one TargetError line."""
        return self._engine.call(what)

    def _quietly(self, what: Callable[[], Any]) -> None:
        """An engine call whose error does not matter, unless the engine is gone."""
        try:
            self._call(what)
        except EngineLost:
            raise
        except TargetError:
            pass

    def _updatable(self) -> bool:
        """Whether restart policies can be changed on existing containers."""
        if not self._no_update and is_podman(self.client()):
            self._no_update = True
        return not self._no_update

    def _set_policy(self, container: Any, policy: Mapping[str, Any]) -> None:
        """Change ``container``'s restart policy where the engine can (not Podman)."""
        if not self._updatable():
            return
        try:
            self._call(lambda: container.update(restart_policy=dict(policy)))
        except TargetError as exc:
            if isinstance(exc, EngineLost) or "not found" not in str(exc).lower():
                raise
            # a bare 404: no update endpoint (a gone container says "no such container")
            if "no such container" in str(exc).lower():
                raise
            self._no_update = True

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return switch.env_lock(self.name, self._lock_path)

    def container_name(self, version: str) -> str:
        return re.sub(r"[^a-zA-Z0-9_.-]", "_", f"{self.project}-{self.name}-{version}")

    def containers(self) -> list[Any]:
        """This environment's containers, the most recently started first."""
        filters = {"label": [f"{k}={v}" for k, v in self.labels.items() if k.startswith("shipd")]}
        found = self._engine.containers(filters, all=True)
        return sorted(found, key=lambda c: c.attrs["State"].get("StartedAt") or "", reverse=True)

    def _running(self) -> list[Any]:
        return [c for c in self.containers() if c.attrs["State"].get("Running")]

    # --- health ----------------------------------------------------------------------

    def _await(self, container: Any, sink: OutputSink, cancel: CancelToken) -> tuple[bool, str]:
        return wait_started(
            self.client().api,
            container,
            url=self.health_url,
            timeout=self.health_timeout,
            interval=self.health_interval,
            expect=self.health_expect,
            sink=sink,
            cancel=cancel,
        )

    # --- deploy and rollback ---------------------------------------------------------

    def _ensure_image(self, ref: str, sink: OutputSink) -> None:
        client = self.client()

        def present() -> bool:
            try:
                client.images.get(ref)
                return True
            except docker.errors.ImageNotFound:
                return False

        if self._call(present):
            return
        say(sink, f"pulling {ref}")
        repo, tag = docker.utils.parse_repository_tag(ref)
        try:
            self._call(lambda: client.images.pull(repo, tag=tag or "latest"))
        except TargetError as exc:
            why = f"image {ref} is not on the engine and cannot be pulled"
            raise TargetError(f"{why}: {exc}") from None

    def deploy(self, release: Release, sink: OutputSink, cancel: CancelToken) -> DeployResult:
        """Run ``release`` in place of the current container; on failure put the old one back."""
        ref = release.image or (self.image_for(release.version) if self.image_for else None)
        if not ref:
            why = "set push: under release, or image: on the environment"
            raise TargetError(f"release {release.version} has no image to run ({why})")
        cancel.raise_if_cancelled()
        with self._locked():
            self._recover_first(sink)
            self._ensure_image(ref, sink)
            running = self._running()
            return self._switch(release.version, ref, running[0] if running else None, sink, cancel)

    def rollback(self, sink: OutputSink, cancel: CancelToken) -> DeployResult:
        """Start the most recent kept container of another version in place of the current one."""
        with self._locked():
            self._recover_first(sink)
            kept = self.containers()
            if not kept:
                raise NothingDeployed(f"nothing is deployed to {self.name}")
            now = kept[0].labels.get(LABEL_VERSION)
            older = [c for c in kept[1:] if c.labels.get(LABEL_VERSION) != now]
            if not older:
                raise TargetError(f"{self.name} has no previous release to roll back to")
            back = older[0]
            version = back.labels.get(LABEL_VERSION, "?")
            say(sink, f"rolling back {self.name} to {version}")
            current = kept[0] if kept[0].attrs["State"].get("Running") else None
            ref = str(back.attrs["Config"].get("Image", back.short_id))
            return self._switch(version, ref, current, sink, cancel, reuse=back)

    def _switch(
        self,
        version: str,
        ref: str,
        prev: Any | None,
        sink: OutputSink,
        cancel: CancelToken,
        reuse: Any | None = None,
    ) -> DeployResult:
        """The switch as a recorded transaction; an engine that stops answering midway
        makes its outcome "state unknown" (not ok) and leaves the intent for recovery."""
        old = None
        if prev is not None:
            old = {"id": prev.id, "name": prev.name, "version": prev.labels.get(LABEL_VERSION)}
        to = {"version": version, "ref": ref, "name": self.container_name(version)}
        intent: dict[str, Any] = {
            "schema": 1,
            "env": self.name,
            "switch": secrets.token_hex(8),
            "from": old,
            "to": to | {"id": reuse.id if reuse else None, "reused": reuse is not None},
        }
        self._intents.write(intent, "stopping-old")  # before anything is stopped
        switch.fault("stopping-old")
        try:
            return self._switch_steps(intent, prev, sink, cancel, reuse)
        except EngineLost as exc:
            if intent["step"] == "restoring-old":  # judged again on its facts, not on a
                intent["step"] = "checking-new"  # health check the lost engine failed
            self._intents.write(intent | {"engine_lost": str(exc)}, intent["step"])
            started = intent["step"] == "checking-new"
            maybe = "the new container may be serving" if started else "the old one may be down"
            message = (
                f"{version}: state unknown until the engine answers again ({exc}); {maybe}."
                " The next operation or status reconciles it"
            )
            say(sink, message)
            return DeployResult(False, version, message, unknown=True)

    def _switch_steps(
        self,
        intent: dict[str, Any],
        prev: Any | None,
        sink: OutputSink,
        cancel: CancelToken,
        reuse: Any | None,
    ) -> DeployResult:
        """Stop the old container, start the new one, keep it or put the old one back."""
        version, ref, name = (intent["to"][k] for k in ("version", "ref", "name"))
        new = reuse
        renamed = prev.name if prev is not None and prev.name == name else None
        doing = f"cannot start {name}"  # what failed, for the message
        try:  # from here on, an error the engine answers with puts the old one back
            if prev is not None:
                doing = f"cannot stop {prev.name}"
                say(sink, f"stopping {prev.name} to free its ports")
                self._call(lambda: prev.stop(timeout=self.grace))
                self._set_policy(prev, {"Name": "no"})
                self._intents.write(intent, "old-stopped")
                switch.fault("old-stopped")
                doing = f"cannot start {name}"
            if new is None:
                self._free_name(name, prev)
                new = self._call(lambda: self._create(name, version, ref, intent["switch"]))
                intent["to"]["id"] = new.id
            self._intents.write(intent, "new-created")
            switch.fault("new-created")
            say(sink, f"starting {new.name} ({new.short_id}) from {ref}")
            self._call(new.start)
            self._intents.write(intent, "checking-new")
            switch.fault("new-started")
            self._call(new.reload)
        except EngineLost:
            raise
        except TargetError as exc:
            ok, what = False, f"{doing}: {exc}"
        except BaseException:  # anything else: no Created container is left behind
            if reuse is None:
                with contextlib.suppress(Exception):
                    self._remove_created(intent["switch"], sink)
            raise
        else:
            ok, reason = self._call(lambda: self._await(new, sink, cancel))
            switch.fault("new-checked")
            what = "deploy cancelled" if reason == "cancelled" else f"health check failed: {reason}"
        if ok and new is not None:
            # only now: a release that dies at once is not restarted in a loop meanwhile
            try:
                self._set_policy(new, self.restart_policy)
            except EngineLost:
                raise
            except TargetError as exc:  # it runs and is healthy: that stands
                say(sink, f"{name} keeps restart policy 'no': {exc}")
            self._intents.clear()
            self._prune(sink)
            return DeployResult(True, version, f"{version} is running as {name}")
        self._intents.write(intent, "restoring-old")
        if reuse is None:
            self._remove_created(intent["switch"], sink)
        elif new is not None:
            self._quietly(lambda: new.stop(timeout=self.grace))
        switch.fault("new-stopped")
        if prev is None:
            self._intents.clear()
            return DeployResult(False, version, what)
        old = prev.labels.get(LABEL_VERSION, "?")
        say(sink, f"{what}; starting {renamed or prev.name} again")
        if renamed:  # a redeploy of the same version: the old one gets its name back
            self._call(lambda: prev.rename(renamed))
        self._call(prev.start)
        self._call(prev.reload)
        ok_back, why = self._call(lambda: self._await(prev, sink, CancelToken()))  # uncancellable
        self._set_policy(prev, self.restart_policy)
        self._intents.clear()
        message = f"{version}: {what}"
        if not ok_back:
            message += f"; {old} is back but not healthy either: {why}"
        return DeployResult(False, version, message, rolled_back_to=old)

    def _remove_created(self, switch: str, sink: OutputSink) -> None:
        """Remove every container this switch created (found by label, started or not)."""
        if not switch:
            return
        filters = {"label": f"{LABEL_SWITCH}={switch}"}
        for c in self._engine.containers(filters, all=True):
            say(sink, f"removing {c.name}")
            self._quietly(partial(c.remove, force=True))

    def _free_name(self, name: str, prev: Any | None) -> None:
        """A container of the same version (a redeploy): rename it if it is the one to restore."""
        for c in self.containers():
            if c.name == name:
                if prev is not None and c.id == prev.id:
                    self._call(partial(c.rename, f"{name}-{c.short_id}"))
                else:
                    self._call(partial(c.remove, force=True))

    def _create(self, name: str, version: str, ref: str, switch: str) -> Any:
        ports = {key: (self.bind, port) for key, port in self.ports.items()}
        return self.client().containers.create(
            ref,
            name=name,
            detach=True,
            environment={**self._env, "SHIPDECK_ENV": self.name, "SHIPDECK_VERSION": version},
            labels={**self.labels, LABEL_VERSION: version, LABEL_SWITCH: switch},
            ports=ports,
            # the configured one once it is healthy; at once where it cannot change later
            restart_policy={"Name": "no"} if self._updatable() else self.restart_policy,
            log_config=log_config_for(self.client()),
        )

    # --- recovery --------------------------------------------------------------------

    def _get(self, cid: Any) -> Any | None:
        """The container ``cid``; None when it is gone (or no id was recorded)."""
        if not isinstance(cid, str) or not cid:
            return None
        try:
            return self._call(lambda: self.client().containers.get(cid))
        except EngineLost:
            raise
        except TargetError:
            return None

    def _healthy_now(self, c: Any) -> bool:
        """Running, not restarting, its HEALTHCHECK (if any) healthy, the URL (if any) 2xx."""
        state = c.attrs["State"]
        if not state.get("Running") or state.get("Restarting"):
            return False
        health = (state.get("Health") or {}).get("Status")
        if health is not None and health != "healthy":
            return False
        if not self.health_url:
            return True
        with HttpProber() as prober:
            for attempt in range(3):  # a just-started server may drop the first connection
                code = prober.probe(self.name, self.health_url, 2.0, float("inf")).status
                if code is not None and (
                    code == self.health_expect if self.health_expect else 200 <= code < 300
                ):
                    return True
                if attempt < 2:
                    time.sleep(0.3)
        return False

    def _recover(self, sink: OutputSink) -> str | None:
        """Finish or reverse a switch that did not end (lock held; EngineLost propagates).

        The new container is kept only if it is the one this switch created (or
        reused), running and healthy; otherwise what the switch created is removed
        and the previous container runs again under its own name and restart policy.
        """
        intent = self._intents.read()
        if intent is None:
            return None
        to = intent["to"]
        frm = intent.get("from") if isinstance(intent.get("from"), dict) else None
        version = str(to.get("version", "?"))
        what = f"an interrupted deploy of {version} to {self.name}"
        new = self._get(to.get("id"))
        if (
            intent.get("step") == "checking-new"
            and new is not None
            and (to.get("reused") or new.labels.get(LABEL_SWITCH) == intent.get("switch"))
            and self._healthy_now(new)
        ):
            self._set_policy(new, self.restart_policy)
            self._intents.clear()
            return self._recovered(
                f"{what} was finished: {new.name} is running and healthy",
                {"version": version, "outcome": "finished"},
            )
        self._remove_created(str(intent.get("switch", "")), sink)
        if to.get("reused") and new is not None:
            self._quietly(lambda: new.stop(timeout=self.grace))
        prev = self._get(frm.get("id")) if frm else None
        if frm is None or prev is None:
            self._intents.clear()
            return self._recovered(
                f"{what} was undone; nothing ran before it",
                {"version": None, "outcome": "reversed"},
            )
        back = str(frm.get("version") or prev.labels.get(LABEL_VERSION, "?"))
        still = bool(prev.attrs["State"].get("Running"))
        if frm.get("name") and prev.name != frm["name"]:
            self._call(lambda: prev.rename(frm["name"]))
        if not still:
            say(sink, f"starting {frm.get('name') or prev.name} again")
            self._call(prev.start)
        self._call(prev.reload)
        ok, why = self._call(lambda: self._await(prev, sink, CancelToken()))
        self._set_policy(prev, self.restart_policy)
        self._intents.clear()
        state = "is healthy" if ok else f"is not healthy: {why}"
        if still:
            return self._recovered(
                f"{what} never stopped {back}: it still runs and {state}",
                {"version": back, "outcome": "kept", "healthy": ok},
            )
        return self._recovered(
            f"{what} was reversed: {back} runs again and {state}",
            {"version": back, "outcome": "reversed", "healthy": ok},
        )

    def _recovered(self, message: str, data: dict[str, Any]) -> str:
        return switch.report(self._on_recovered, self.name, message, data)

    def _recover_first(self, sink: OutputSink) -> None:
        """At the start of an operation (lock held): settle a switch that did not end."""
        switch.recover_first(self._recover, sink)

    def recover(self, sink: OutputSink) -> str | None:
        """:meth:`_recover` under the environment's lock; None when nothing was pending,
        the engine does not answer (the intent stays), or another shipdeck holds the
        lock (it is mid-switch, not interrupted)."""
        pending = self._intents.read() is not None
        return switch.recover_pending(pending, self._locked, self._recover, sink)

    def _prune(self, sink: OutputSink) -> None:
        """Keep the newest ``keep`` stopped containers for rollback; remove the rest."""
        for old in self.containers()[1 + self.keep :]:
            say(sink, f"removing old container {old.name}")
            with contextlib.suppress(TargetError):
                self._call(partial(old.remove, force=True))

    # --- operate ---------------------------------------------------------------------------

    def restart(self, sink: OutputSink) -> DeployResult:
        with self._locked():
            self._recover_first(sink)
            kept = self.containers()
            if not kept:
                raise NothingDeployed(f"nothing is deployed to {self.name}")
            current = kept[0]
            version = current.labels.get(LABEL_VERSION, "?")
            say(sink, f"restarting {current.name}")
            self._set_policy(current, self.restart_policy)
            self._call(lambda: current.restart(timeout=self.grace))
            current.reload()
            ok, reason = self._await(current, sink, CancelToken())
            verb = "restarted" if ok else "restarted but not healthy: " + reason
            return DeployResult(ok, version, f"{version} {verb}")

    def prepare(self) -> None:
        """Nothing to load: the Docker SDK and the probe came with this module."""

    def stop(self, sink: OutputSink) -> None:
        with self._locked():
            self._recover_first(sink)
            running = self._running()
            if not running:
                say(sink, f"nothing is running in {self.name}")
            for c in running:
                say(sink, f"stopping {c.name}")
                self._call(partial(c.stop, timeout=self.grace))

    def scale(self, replicas: int, sink: OutputSink) -> None:
        if replicas != 1:
            raise TargetError(
                "the docker target runs one container per environment; use target: swarm to scale"
            )
        say(sink, f"{self.name} runs one container already")

    def status(self) -> EnvStatus:
        """What the engine says now; an unreachable engine is a state, never an exception.

        A switch that did not end is finished or reversed first ("recovered" in
        the detail); while the engine does not answer it stays pending ("pending")."""
        recovered = self.recover(lambda _lines: None)
        st = self._status()
        if recovered:
            st.detail["recovered"] = recovered
        pending = self._intents.read()
        if pending is not None:
            to = pending["to"].get("version", "?")
            st.detail["pending"] = f"a deploy of {to} did not end; its state is unknown"
        return st

    def _status(self) -> EnvStatus:
        st = EnvStatus(env=self.name, target=self.target, replicas=1)
        try:
            kept = self.containers()
        except TargetError as exc:
            st.state, st.detail = "unreachable", {"error": str(exc), "host": self.host}
            return st
        if not kept:
            return st
        c = kept[0]
        state = c.attrs["State"]
        st.version = c.labels.get(LABEL_VERSION)
        st.restarts = c.attrs.get("RestartCount", 0)
        st.pid = state.get("Pid") or None
        st.detail = {"container": c.name, "id": c.short_id, "host": self.host}
        st.detail["image"] = str(c.attrs["Config"].get("Image", ""))
        health = (state.get("Health") or {}).get("Status")
        if state.get("Running"):
            st.state = "starting" if state.get("Restarting") or health == "starting" else "running"
            st.replicas_running = 1
            st.started_at = parse_time(state.get("StartedAt"))
        else:
            dead = state.get("Status") == "dead" or state.get("OOMKilled")
            st.state = "failed" if dead else "stopped"
            st.replicas_running = 0
            st.detail["exit_code"] = str(state.get("ExitCode"))
        if health:
            st.healthy = health == "healthy"
            st.detail["health"] = health
        elif self.health_url and st.state == "running":
            with HttpProber() as prober:
                code = prober.probe(self.name, self.health_url, 1.0, float("inf")).status
            st.healthy = code is not None and 200 <= code < 300
        return st

    # --- logs and stats ------------------------------------------------------------------

    def _log_sources(self) -> list[LogSource]:
        return [source_of(c.attrs) for c in self._running()]

    def logs(
        self,
        *,
        follow: bool,
        tail: int | None,
        cancel: CancelToken,
        mask: Callable[[str], str] | None = None,
        since: datetime | float | str | None = None,
        timestamps: bool = False,
    ) -> Iterator[Sequence[Line]]:
        """The current container's output; following, it reattaches across restarts and deploys."""
        kept = self.containers()
        sources = [source_of(kept[0].attrs)] if kept else []
        api = self.client().api
        batches = container_logs(
            api,
            sources,
            follow=follow,
            tail=tail,
            since=since,
            timestamps=timestamps,
            cancel=cancel,
            resolve=self._log_sources if follow else None,
        )
        if mask is None:
            return batches
        return ([Line(s, mask(t)) for s, t in batch] for batch in batches)

    def stats(self) -> list[ContainerStats]:
        """One sample per running container, from background readers of the stats stream."""
        if self._stats is None:
            self._stats = StatsPoller(lambda: self.client().api)
        return self._stats.sample([source_of(c.attrs) for c in self._running()])

    def close(self) -> None:
        if self._stats is not None:
            self._stats.close()
