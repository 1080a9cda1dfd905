"""The "local" deploy target: the service as one supervised process on this machine.

One port, one process. A new release cannot bind the port while the old one holds
it, so a deploy goes: stop old -> start new -> wait for health -> on failure stop
new and start old again (from its own work dir) and wait for its health. The
issue's "start new, then stop the previous" order needs two ports; SO_REUSEPORT
would let both serve at once and split the traffic, so it is not used. After a
failed deploy exactly the previous release runs again, never two, never none.

Processes are detached (see ``backends.local.supervise``) and recorded in
``.shipdeck/state/<env>.json``: the current run and a history of deploys with
whether each became healthy, which is what ``rollback`` goes back to. Output goes
to ``.shipdeck/state/<env>/<version>.out`` and ``.err`` (rotated by size through
``backends/mask_relay.py``: ``.out.1``, ``.out.2``); as two files, the order
between stdout and stderr lines is only as good as the 100 ms polling of ``logs``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from shipdeck.backends import switch
from shipdeck.backends.local import supervise
from shipdeck.backends.local.supervise import RunRecord, label, psutil
from shipdeck.lifecycle.items import format_time, parse_time, utcnow
from shipdeck.lifecycle.masking import url_password
from shipdeck.lifecycle.missing_module import MissingModules
from shipdeck.lifecycle.paths import ShipdeckPaths
from shipdeck.lifecycle.ports import (
    CancelToken,
    ContainerStats,
    DeployResult,
    EnvStatus,
    Interpreter,
    Line,
    NothingDeployed,
    OutputSink,
    Release,
    Stream,
    TargetError,
    say,
)

_HISTORY_KEEP = 50
_SETTLE = 1.0  # without a health url: alive this long counts as started


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"


class LocalTarget:
    """A ``DeployTarget`` running ``command`` in the release's exported work dir."""

    target = "local"

    def __init__(
        self,
        name: str,
        *,
        root: Path,
        command: str = "",
        port: int | None,
        health_url: str | None,
        health_timeout: float = 30,
        health_interval: float = 0.5,
        env: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        also_masked: Iterable[str] = (),
        base_env: Mapping[str, str] | None = None,
        grace: float = 10,
        on_recovered: Callable[[str, dict[str, Any]], None] | None = None,
        python: Interpreter | None = None,
        data_dir: Path | None = None,
        workdir: str | None = None,
        log_rotate: tuple[int, int] | None = (10 << 20, 3),
        launch: Callable[[], tuple[str, Interpreter | None]] | None = None,
    ) -> None:
        self.name = name
        # (bytes, files): a service's log file is rotated before it passes this size,
        # keeping this many files (``<version>.out``, ``.out.1``, ...); None: never
        self.log_rotate = log_rotate
        # ``command`` and the interpreter it names, recorded with each release started from
        # it: restart and rollback use the recorded ones, whatever shell they run from.
        # ``launch`` makes both when a deploy first needs them: naming the interpreter
        # may ask a pyenv shim (~0.1 s), which status, stop and logs need not wait for.
        self._launch_spec: tuple[str, Interpreter | None] | None = (
            None if launch else (command, python)
        )
        self._launch = launch
        self.workdir = workdir  # where to run, relative to the release's export; None: there
        self._on_recovered = on_recovered  # journals what recovery found and did
        self.port = port
        self.health_url = health_url
        self.health_timeout = health_timeout
        self.health_interval = health_interval
        self.grace = grace
        self._env = dict(env or {})
        self._secrets = dict(secrets or {})  # never written to disk by this class
        self._gates: list[int] = []  # started, held until recorded (_start, _save)
        # Secrets the config names for other environments: the service inherits
        # shipdeck's environment, theirs included, and its relay masks them too.
        self._also_masked = set(also_masked)
        self._base_env = base_env
        shipdeck_dir = ShipdeckPaths(Path(root)).dir  # a linked work tree's is the main's
        state_dir = shipdeck_dir / "state"
        self.state_path = state_dir / f"{_safe(name)}.json"
        self.log_dir = state_dir / _safe(name)
        self.data_dir = data_dir or shipdeck_dir / "data" / _safe(name)
        self._lock_path = state_dir / f"{_safe(name)}.lock"
        self._sampled: dict[int, psutil.Process] = {}  # for CPU between stats() calls

    def launch_spec(self) -> tuple[str, Interpreter | None]:
        """(the command a deploy starts, the interpreter it names), made once."""
        if self._launch_spec is None:
            assert self._launch is not None
            self._launch_spec = self._launch()  # twice at worst, with the same answer
        return self._launch_spec

    # --- state file ---------------------------------------------------------

    def _load(self) -> tuple[RunRecord | None, list[dict[str, Any]]]:
        raw = supervise.read_json(self.state_path) or {}
        current = raw.get("current")
        rec = RunRecord.from_dict(current) if isinstance(current, dict) else None
        history = [h for h in raw.get("history", []) if isinstance(h, dict)]
        return rec, history

    def _save(
        self,
        current: RunRecord | None,
        history: list[dict[str, Any]],
        intent: dict[str, Any] | None = None,
    ) -> None:
        """The state file; ``intent`` is a switch in progress (see :meth:`_recover`)."""
        data: dict[str, Any] = {
            "schema": 1,
            "env": self.name,
            "current": current.to_dict() if current else None,
            "history": history[-_HISTORY_KEEP:],
        }
        if intent is not None:
            data["intent"] = intent
        try:
            supervise.write_json_atomic(self.state_path, data)
        except BaseException:
            self._open_gates(go=False)  # unrecorded: what was started exits before it runs
            raise
        self._open_gates(go=True)

    def _open_gates(self, go: bool) -> None:
        """Let the processes started since the last save run (``go``), now that the
        state file names them; or close their gates, and they exit without running."""
        from shipdeck.backends.mask_relay import GO

        gates, self._gates = self._gates, []
        for fd in gates:
            try:
                if go:
                    os.write(fd, GO)
            except OSError:
                pass  # gone already (killed meanwhile): nothing to start
            finally:
                os.close(fd)

    def _intent(self) -> dict[str, Any] | None:
        raw = supervise.read_json(self.state_path) or {}
        intent = raw.get("intent")
        return intent if isinstance(intent, dict) else None

    def _recover(self, sink: OutputSink) -> str | None:
        """Finish or reverse a switch a killed shipdeck left half done (lock held).

        The new release is kept only if it is the process shipdeck started, alive,
        and healthy; otherwise whatever was started is stopped and the previous
        release is started again. Returns what was done, also journaled.
        """
        intent = self._intent()
        if intent is None:
            return None
        current, history = self._load()
        to = intent.get("to") or {}
        old = RunRecord.from_dict(intent["from"]) if isinstance(intent.get("from"), dict) else None
        version = str(to.get("version", "?"))
        if (
            intent.get("step") == "checking-new"
            and current is not None
            and current.version == version
            and self._alive(current)
            and self._healthy_now(current)
        ):
            history.append(to | {"port": self.port, "deployed_at": current.started_at,
                                 "healthy": True})  # fmt: skip
            self._save(current, history)
            return self._recovered(
                f"an interrupted deploy of {label(version)} to {self.name} was finished: "
                "it is running and healthy",
                {"version": version, "outcome": "finished"},
            )
        still_old = current is not None and old is not None and current.pid == old.pid
        if still_old and current is not None and old is not None and self._alive(current):
            self._save(current, history)  # killed before the old one was stopped
            return self._recovered(
                f"an interrupted deploy of {label(version)} to {self.name} never started:"
                f" {label(old.version)} still runs",
                {"version": old.version, "outcome": "kept"},
            )
        if current is not None and self._alive(current):
            self._stop(current, sink, " (left by an interrupted deploy)")
        if old is None or not Path(old.workdir).is_dir():
            self._save(None, history)
            return self._recovered(
                f"an interrupted deploy of {label(version)} to {self.name} was undone;"
                " nothing ran before it",
                {"version": None, "outcome": "reversed"},
            )
        if self.port is not None:
            supervise.wait_port_free(self.port, 5.0)
        back = self._restart(old, sink)
        self._save(back, history)
        ok, why = self._await(back, sink, CancelToken(), restoring=True)
        state = "is healthy" if ok else f"is not healthy: {why}"
        return self._recovered(
            f"an interrupted deploy of {label(version)} to {self.name} was reversed:"
            f" {label(old.version)} runs again and {state}",
            {"version": old.version, "outcome": "reversed", "healthy": ok},
        )

    def _recovered(self, message: str, data: dict[str, Any]) -> str:
        return switch.report(self._on_recovered, self.name, message, data)

    def _owns_port(self, rec: RunRecord, deadline: float, stop: CancelToken) -> tuple[bool, str]:
        """Wait (until ``deadline``) for ``rec`` to be the listener on the port."""
        if self.port is None:
            return True, ""
        while not stop.cancelled:
            if not self._alive(rec):
                return False, "exited"  # _await reports how: holds_port's None means gone too
            if supervise.holds_port(rec.pid, rec.create_time, self.port) is not False:
                return True, ""
            if time.monotonic() >= deadline:
                return False, (
                    f"port {self.port} is answered by another process, not"
                    f" {label(rec.version)} (pid {rec.pid})"
                )
            stop.wait(0.1)
        return False, "cancelled"

    def _healthy_now(self, rec: RunRecord | None = None) -> bool:
        """Health as a deploy judges it: the URL answers 2xx and ``rec`` holds the port."""
        port = self.port
        if rec and port and supervise.holds_port(rec.pid, rec.create_time, port) is False:
            return False
        if not self.health_url:
            return True
        from shipdeck.backends.probe import HttpProber  # httpx: see _await

        with HttpProber() as prober:
            code = prober.probe(self.name, self.health_url, 2.0, float("inf")).status
        return code is not None and 200 <= code < 300

    def recover(self, sink: OutputSink) -> str | None:
        """:meth:`_recover` under the environment's lock; None when nothing was pending
        (or another shipdeck holds the lock: it is mid-switch, not interrupted)."""
        return switch.recover_pending(self._intent() is not None, self._locked, self._recover, sink)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return switch.env_lock(self.name, self._lock_path)

    def _masked(self) -> list[str]:
        """What the service's relay masks: every secret the config names (this
        environment's, and others' it inherits), and the password of each URL in the
        environment's ``env:`` (by name, so no value is on a command line)."""
        from shipdeck.backends.mask_relay import PASSWORD_OF  # loaded to start one anyway

        passwords = [f"{n}{PASSWORD_OF}" for n, v in self._env.items() if url_password(v)]
        return sorted(self._secrets.keys() | self._also_masked) + sorted(passwords)

    def log_paths(self, version: str) -> tuple[Path, Path]:
        base = self.log_dir / _safe(version)
        return base.with_name(base.name + ".out"), base.with_name(base.name + ".err")

    # --- processes ----------------------------------------------------------

    def _alive(self, rec: RunRecord | None) -> bool:
        return rec is not None and supervise.find_alive(rec.pid, rec.create_time) is not None

    def _left(self, rec: RunRecord | None) -> list[int]:
        """The processes of a release whose leader is gone that still run (the output
        relay killed alone: the service runs on, holding the port, its output lost)."""
        if rec is None or rec.stopped:
            return []  # stopped by shipdeck: its group went with it (a scan of every process)
        return supervise.left_in_group(rec.pgid, rec.create_time)

    def _running(self, rec: RunRecord | None) -> bool:
        """Anything of the release running: what stop, restart and a deploy stop first."""
        return self._alive(rec) or bool(self._left(rec))

    def _stop(self, rec: RunRecord, sink: OutputSink, why: str = "") -> None:
        say(sink, f"stopping {label(rec.version)} (pid {rec.pid}){why}")
        supervise.stop_tree(rec.pid, rec.pgid, rec.create_time, self.grace)

    def _start(
        self,
        version: str,
        workdir: str,
        command: str,
        sink: OutputSink,
        python: Mapping[str, Any] | None = None,
        cwd: str | None = None,
    ) -> RunRecord:
        """Start ``command`` with the recorded interpreter's environment activated, in
        ``cwd`` (default: the release's ``workdir``), with the environment's data dir."""
        env = dict(os.environ if self._base_env is None else self._base_env)
        interpreter = Interpreter.from_dict(python)
        if interpreter is not None:
            env = interpreter.activate(env, tree=workdir)  # its editable folders, the release's
            env["SHIPDECK_PYTHON"] = interpreter.python
        env.update(self._env)
        env.update(self._secrets)
        env["SHIPDECK_ENV"] = self.name
        env["SHIPDECK_VERSION"] = version
        env["SHIPDECK_DATA_DIR"] = str(self.data_dir)
        env["SHIPDECK_RELEASE_DIR"] = workdir
        env.setdefault("PYTHONUNBUFFERED", "1")  # output reaches `logs --follow` at once
        run_in = cwd or workdir
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            Path(run_in).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TargetError(f"cannot make {exc.filename}: {exc.strerror or exc}") from exc
        out, err = self.log_paths(version)
        offsets = [p.stat().st_size if p.exists() else 0 for p in (out, err)]
        # Held until the next save records it (_open_gates): shipdeck killed between the
        # start and the record (or a full disk refusing the record) left a service running
        # that no command knew of, holding the port from every later deploy.
        gate, opener = os.pipe()
        try:
            proc, created = supervise.spawn(
                command,
                cwd=run_in,
                env=env,
                out=out,
                err=err,
                mask=self._masked(),
                rotate=self.log_rotate,
                gate=gate,
            )
        except OSError as exc:
            os.close(opener)
            raise TargetError(f"cannot start {label(version)}: {exc.strerror or exc}") from exc
        finally:
            os.close(gate)
        self._gates.append(opener)
        where = f" on port {self.port}" if self.port is not None else ""
        say(sink, f"starting {label(version)}{where} (pid {proc.pid})")
        return RunRecord(
            version=version,
            pid=proc.pid,
            pgid=proc.pid,  # start_new_session: the shell leads its own group
            create_time=created,
            started_at=format_time(utcnow()) or "",
            workdir=workdir,
            command=command,
            port=self.port,
            out_offset=offsets[0],
            err_offset=offsets[1],
            python=dict(python) if python else None,
            cwd=cwd,
        )

    def _restart(self, rec: RunRecord, sink: OutputSink) -> RunRecord:
        """Start ``rec``'s release again, exactly as it was started (interpreter, cwd)."""
        return self._start(rec.version, rec.workdir, rec.command, sink, rec.python, rec.cwd)

    def _cwd(self, release_dir: str) -> str | None:
        """The environment's ``workdir:`` for a release: relative to its export."""
        if not self.workdir:
            return None
        return str(Path(release_dir) / self.workdir)  # an absolute workdir stays as it is

    def _await(
        self, rec: RunRecord, sink: OutputSink, cancel: CancelToken, *, restoring: bool = False
    ) -> tuple[bool, str]:
        """Wait for health while relaying early output; fail fast if the process exits.

        Healthy means the health URL answers *and* ``rec`` is the process listening on
        the port: a stranger answering is not this release. ``restoring`` (the previous
        release put back) is not ended by SIGINT/SIGTERM, which already ended the deploy.
        """
        local = CancelToken()
        undo = cancel.on_cancel(local.cancel)
        done = threading.Event()
        exited: list[int | None] = []
        out, err = self.log_paths(rec.version)
        relay = [
            (Stream.STDOUT, supervise.Follower(out, rec.out_offset)),
            (Stream.STDERR, supervise.Follower(err, rec.err_offset)),
        ]
        stderr_tail: list[str] = []
        missing = MissingModules()

        def pump(final: bool = False) -> None:
            batch = []
            for stream, follower in relay:
                lines = follower.flush() if final else follower.read()
                batch += [Line(stream, t) for t in lines]
                if stream is Stream.STDERR:
                    stderr_tail[:] = (stderr_tail + lines)[-3:]
            if batch:
                missing.feed(batch)
                sink(batch)

        def watch() -> None:
            while not done.is_set():
                pump()
                code = supervise.exit_code(rec.pid)
                if code is not None or not self._alive(rec):
                    # _alive reaps a child that exited just after the first look: ask again
                    exited.append(code if code is not None else supervise.exit_code(rec.pid))
                    local.cancel()
                    return
                done.wait(0.1)

        if self.health_url:
            say(sink, f"waiting for {self.health_url}")
        start = time.monotonic()
        # The probe (httpx) is loaded by prepare() on the way to a deploy; a restart or a
        # rollback imports it only now, once the service is started, to overlap its start.
        from shipdeck.backends.probe import wait_healthy

        watcher = threading.Thread(target=watch, name=f"shipdeck-watch-{rec.pid}", daemon=True)
        watcher.start()
        try:
            if self.health_url:
                result = wait_healthy(
                    self.health_url,
                    self.health_timeout,
                    self.health_interval,
                    cancel=local,
                    interruptible=not restoring,
                )
                ok, reason = result.ok, result.error or f"HTTP {result.status}"
                if ok:
                    ok, reason = self._owns_port(rec, start + self.health_timeout, local)
            else:
                ok, reason = not local.wait(min(_SETTLE, self.health_timeout)), ""
        finally:
            done.set()
            watcher.join()
            undo()
        if not exited and not self._alive(rec):  # died after the watcher's last look
            exited.append(supervise.exit_code(rec.pid))
        pump(final=True)  # the sink is only ever called from one thread at a time
        if exited:
            code = exited[0]
            how = "exited"
            if code is not None:
                how = f"exited with code {code}" if code >= 0 else f"was killed by signal {-code}"
            last = f" (stderr: {stderr_tail[-1]})" if stderr_tail else ""
            interpreter = Interpreter.from_dict(rec.python)
            python, venv = (interpreter.python, interpreter.venv) if interpreter else (None, None)
            for said in missing.hint(python, venv, Path(rec.cwd or rec.workdir)):
                say(sink, said)
            return False, f"{label(rec.version)} {how} before it was healthy{last}"
        if ok:
            say(sink, f"healthy after {time.monotonic() - start:.1f} s")
            return True, ""
        return False, "cancelled" if cancel.cancelled else reason

    # --- the DeployTarget operations -------------------------------------------

    def deploy(self, release: Release, sink: OutputSink, cancel: CancelToken) -> DeployResult:
        """Run ``release`` in place of the current one; on failure put the old one back."""
        if not release.workdir or not Path(release.workdir).is_dir():
            raise TargetError(f"{label(release.version)} has no exported work dir to run from")
        cancel.raise_if_cancelled()
        command, interpreter = self.launch_spec()

        def choose(current: RunRecord | None, history: list[dict[str, Any]]) -> dict[str, Any]:
            entry = {"version": release.version, "sha": release.sha, "tag": release.tag}
            python = interpreter.to_dict() if interpreter else None
            where = {"cwd": self._cwd(release.workdir or ""), "python": python}
            return entry | {"workdir": release.workdir, "command": command} | where

        return self._switch(choose, sink, cancel)

    def rollback(self, sink: OutputSink, cancel: CancelToken) -> DeployResult:
        """Deploy the most recent healthy release other than the current one.

        ``version`` is the release rolled back to; ``rolled_back_to`` is set only
        when that one failed too and the current one was put back.
        """

        def choose(current: RunRecord | None, history: list[dict[str, Any]]) -> dict[str, Any]:
            now = current.version if current else None
            for old in reversed(history):
                if old.get("healthy") and old["version"] != now and Path(old["workdir"]).is_dir():
                    say(sink, f"rolling back {self.name} to {label(old['version'])}")
                    keep = ("version", "sha", "tag", "workdir", "command", "python", "cwd")
                    return {k: old.get(k) for k in keep} | {"rollback": True}
            raise TargetError(f"{self.name} has no previous healthy release to roll back to")

        return self._switch(choose, sink, cancel)

    def _switch(
        self,
        choose: Callable[[RunRecord | None, list[dict[str, Any]]], dict[str, Any]],
        sink: OutputSink,
        cancel: CancelToken,
    ) -> DeployResult:
        """Stop the running release, start the chosen one, keep it or put the old one back."""
        with self._locked():
            switch.recover_first(self._recover, sink)
            current, history = self._load()
            entry = choose(current, history)
            version = entry["version"]
            prev = current if self._running(current) else None
            intent = {"to": entry, "from": prev.to_dict() if prev else None}
            self._save(current, history, intent | {"step": "stopping-old"})
            switch.fault("stopping-old")
            if prev is not None:
                self._stop(prev, sink, f" to free port {self.port}" if self.port else "")
                switch.fault("old-stopped")
                if self.port is not None and not supervise.wait_port_free(self.port, 5.0):
                    say(sink, f"port {self.port} is still in use after stopping")
            elif self.port is not None and supervise.port_busy(self.port):
                holder = supervise.port_holder(self.port)
                who = f": {holder}" if holder else ""
                why = f"port {self.port} is in use by a process shipdeck did not start{who}"
                return DeployResult(False, version, why)
            new = self._start(
                version,
                entry["workdir"],
                entry["command"],
                sink,
                entry.get("python"),
                entry.get("cwd"),
            )
            switch.fault("new-spawned")  # started, held: not running until recorded
            # recorded at once: a crash of shipdeck orphans nothing, and recovery knows
            self._save(new, history, intent | {"step": "checking-new"})
            switch.fault("new-started")
            ok, reason = self._await(new, sink, cancel)
            switch.fault("new-checked")
            entry |= {"port": self.port, "deployed_at": new.started_at, "healthy": ok}
            history.append(entry)
            if ok:
                self._save(new, history)
                where = f" on port {self.port}" if self.port is not None else ""
                return DeployResult(True, version, f"{label(version)} is running{where}")
            what = "deploy cancelled" if reason == "cancelled" else f"health check failed: {reason}"
            say(sink, what + (f"; rolling back to {label(prev.version)}" if prev else ""))
            self._save(new, history, intent | {"step": "restoring-old"})
            self._stop(new, sink)
            switch.fault("new-stopped")
            if prev is None:
                self._save(None, history)
                return DeployResult(False, version, what)
            back = self._restart(prev, sink)
            switch.fault("old-respawned")
            self._save(back, history)
            ok_back, why_back = self._await(back, sink, CancelToken(), restoring=True)
            message = f"{label(version)}: {what}"  # rolled_back_to says where it went back to
            if not ok_back:
                message += f" ({label(prev.version)} is not healthy either: {why_back})"
            return DeployResult(False, version, message, rolled_back_to=prev.version)

    def restart(self, sink: OutputSink) -> DeployResult:
        """Stop and start the current version (also one that was stopped or crashed)."""
        with self._locked():
            self._recover(sink)
            current, history = self._load()
            if current is None:
                raise NothingDeployed(f"nothing is deployed to {self.name}")
            if not Path(current.workdir).is_dir():
                raise TargetError(f"the work dir of {label(current.version)} is gone")
            if self._running(current):
                self._stop(current, sink)
            new = self._restart(current, sink)
            self._save(new, history)
            ok, reason = self._await(new, sink, CancelToken())
            verb = "restarted" if ok else "restarted but not healthy: " + reason
            return DeployResult(ok, current.version, f"{label(current.version)} {verb}")

    def prepare(self) -> None:
        """Import the HTTP client (httpx, ~45 ms) and psutil (~7 ms) a deploy waits on, so
        that the import does not share the CPU with the service's start-up; and make the
        command it starts."""
        for module in ("psutil", "shipdeck.backends.probe"):
            importlib.import_module(module)
        self.launch_spec()

    def stop(self, sink: OutputSink) -> None:
        with self._locked():
            self._recover(sink)
            current, history = self._load()
            if current is None or not self._running(current):
                say(sink, f"nothing is running in {self.name}")
            else:
                self._stop(current, sink)
            if current is not None:
                current.stopped = True
                self._save(current, history)

    def scale(self, replicas: int, sink: OutputSink) -> None:
        if replicas != 1:
            raise TargetError("the local target runs one process; scaling needs target swarm")
        say(sink, f"{self.name} runs one process already")

    def stats(self) -> list[ContainerStats]:
        """The running release's process tree as one row, in ``docker stats`` terms (psutil).

        Network counters are per host, not per process, so they stay 0 here."""
        current, _history = self._load()
        proc = supervise.find_alive(current.pid, current.create_time) if current else None
        if current is None or proc is None:
            self._sampled.clear()
            return []
        got = supervise.tree_sample(proc, self._sampled)
        return [
            ContainerStats(
                name=f"{self.name} {label(current.version)}",
                id=str(current.pid),
                cpu=got["cpu"],
                memory=got["memory"],
                memory_limit=psutil.virtual_memory().total,
                net_rx=0,
                net_tx=0,
                block_read=got["read"],
                block_write=got["written"],
                pids=got["pids"],
            )
        ]

    def status(self) -> EnvStatus:
        """What runs now, found again from the state file (pid and create_time must match).

        A switch a killed shipdeck left half done is finished or reversed first."""
        recovered = self.recover(lambda _lines: None)
        current, history = self._load()
        st = EnvStatus(env=self.name, target=self.target)
        if recovered:
            st.detail["recovered"] = recovered
        if current is None:
            if history:
                st.version = history[-1]["version"]
                st.state = "stopped" if history[-1].get("healthy") else "failed"
            return st
        st.version = current.version
        st.detail["workdir"] = current.cwd or current.workdir
        st.detail["data_dir"] = str(self.data_dir)
        if current.python and isinstance(current.python.get("python"), str):
            st.detail["python"] = current.python["python"]
        if current.port is not None:
            st.detail["port"] = str(current.port)
        if not self._alive(current):
            st.state = "stopped"
            left = self._left(current)
            if left:
                st.detail["reason"] = (
                    f"process {current.pid} is gone, and its service's processes"
                    f" ({', '.join(map(str, left))}) run on without it, their output"
                    f" unread: restart or stop {self.name}"
                )
            elif not current.stopped:
                st.detail["reason"] = f"process {current.pid} is gone"
            return st
        st.state, st.pid = "running", current.pid
        st.started_at = parse_time(current.started_at)
        if self.health_url:
            from shipdeck.backends.probe import HttpProber  # httpx: see _await

            with HttpProber() as prober:
                code = prober.probe(self.name, self.health_url, 1.0, float("inf")).status
            st.healthy = code is not None and 200 <= code < 300  # as a deploy would judge it
            if st.healthy and current.port is not None:
                owned = supervise.holds_port(current.pid, current.create_time, current.port)
                if owned is False:
                    st.healthy = False
                    st.detail["reason"] = (
                        f"port {current.port} is answered by another process, not pid {current.pid}"
                    )
        return st

    def logs(
        self,
        *,
        follow: bool,
        tail: int | None,
        cancel: CancelToken,
        mask: Callable[[str], str] | None = None,
    ) -> Iterator[Sequence[Line]]:
        """The current version's output, then (``follow``) new lines every ~100 ms.

        The backlog is the last ``tail`` lines of stdout, then of stderr (two files
        carry no common order). A deploy or restart shows as a ``---`` marker line.
        """
        reader = supervise.LogReader(
            lambda: self._load()[0], self.log_paths, mask or (lambda text: text)
        )
        return reader.run(follow, tail, cancel)


def releases_in_use(state_dir: Path) -> set[str]:
    """The release work dirs local environments need (``.shipdeck/state/*.json``, also of
    an environment no longer in the config): each one's current release, the one its
    ``rollback`` would go back to, and both sides of a switch in progress."""
    used: set[str] = set()
    for path in sorted(state_dir.glob("*.json")):
        raw = supervise.read_json(path) or {}
        current = raw.get("current") if isinstance(raw.get("current"), dict) else None
        history = [h for h in raw.get("history", []) if isinstance(h, dict)]
        intent = raw.get("intent") if isinstance(raw.get("intent"), dict) else {}
        records = [current, *(intent.get(k) for k in ("to", "from"))] if intent else [current]
        used |= {str(r["workdir"]) for r in records if isinstance(r, dict) and r.get("workdir")}
        now = current.get("version") if current else None
        for old in reversed(history):  # what LocalTarget.rollback would choose
            workdir = str(old.get("workdir") or "")
            wanted = old.get("healthy") and old.get("version") != now
            if wanted and workdir and Path(workdir).is_dir():
                used.add(workdir)
                break
    return used
