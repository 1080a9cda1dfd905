"""The Protocols backends implement; the engine only ever talks to these.

Backends stream output as *batches* of :class:`Line` through an ``OutputSink``
callback, so a chatty build costs one call per chunk, not one per line.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from shipdeck.lifecycle.errors import ShipdeckError
from shipdeck.lifecycle.lines import Line as Line
from shipdeck.lifecycle.lines import OutputSink as OutputSink
from shipdeck.lifecycle.lines import Stream as Stream
from shipdeck.lifecycle.lines import say as say


class Cancelled(ShipdeckError):
    """Raised inside a run when its CancelToken was set."""


class CancelToken:
    """A flag a run checks; ``cancel()`` may be called from any thread."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks = list(self._callbacks)
        for cb in callbacks:
            cb()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds; True if cancelled meanwhile."""
        return self._event.wait(timeout)

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` on cancel (at once if already cancelled); returns an undo."""
        with self._lock:
            already = self._event.is_set()
            if not already:
                self._callbacks.append(callback)
        if already:
            callback()

        def undo() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return undo

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


# --- processes -------------------------------------------------------------


@dataclass(frozen=True)
class StepResult:
    exit_code: int | None  # None when it never started or was killed by a signal
    duration: float
    timed_out: bool = False
    cancelled: bool = False
    error: str | None = None  # could not start: the reason

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not (self.timed_out or self.cancelled or self.error)


class ProcessRunner(Protocol):
    def run(
        self,
        command: str,
        *,
        cwd: str,
        env: Mapping[str, str],
        sink: OutputSink,
        cancel: CancelToken,
        timeout: float | None = None,
    ) -> StepResult:
        """Run a shell command in its own process group, streaming its output."""
        ...

    def prepare(self, steps: int) -> None:
        """``steps`` commands will run soon, one after another (0: none will, and work
        given to :meth:`meanwhile` is dropped): a runner may start what they need ahead."""
        ...

    def meanwhile(self, work: Callable[[], None]) -> None:
        """Run ``work`` on a helper thread once the next command's process is running,
        while the caller only waits on it: loading what a later stage needs then slows
        no bookkeeping of this one (a thread importing holds the GIL)."""
        ...


# --- version control ---------------------------------------------------------


@dataclass(frozen=True)
class MergeResult:
    sha: str  # base head after the merge
    fast_forward: bool


@dataclass(frozen=True)
class RefUpdate:
    """One ref move inside an atomic :meth:`Vcs.publish`.

    ``ref`` is a full name (``refs/heads/main``); ``old`` None creates the ref
    (it must not exist), ``new`` None deletes it (it must still be at ``old``).
    """

    ref: str
    new: str | None
    old: str | None


@dataclass(frozen=True)
class PreparedRelease:
    """The objects of a release, written but not yet pointed at by any ref."""

    base: str  # the branch released into (short name)
    base_old: str  # its head the release was built on: publish fails if it moved
    merged: str  # the merge (or fast-forward) commit, before the changelog
    commit: str  # the release commit: the new head of base
    tag: str  # the tag name (short)
    tag_object: str  # the annotated tag object, pointing at ``commit``
    fast_forward: bool  # no merge commit was needed

    @property
    def base_ref(self) -> str:
        return f"refs/heads/{self.base}"

    @property
    def tag_ref(self) -> str:
        return f"refs/tags/{self.tag}"

    def ref_updates(self) -> tuple[RefUpdate, RefUpdate]:
        """What :meth:`Vcs.publish` moves: base from ``base_old`` and a new tag, together."""
        return (
            RefUpdate(self.base_ref, self.commit, self.base_old),
            RefUpdate(self.tag_ref, self.tag_object, None),
        )


@dataclass(frozen=True)
class FoundRelease:
    tag: str  # short tag name
    commit: str  # the commit it points at


class VcsError(ShipdeckError):
    """A version-control operation could not be done; the message says why."""


class RefRaceLost(VcsError):
    """A ref was not where a publish expected it (moved, created or deleted meanwhile).

    Nothing was published; recompute from the ref's new value and try again.
    """

    def __init__(self, ref: str, message: str = "") -> None:
        self.ref = ref
        super().__init__(message or f"{ref} was changed by someone else meanwhile")


class MergeConflict(VcsError):
    def __init__(self, files: Sequence[str]) -> None:
        super().__init__("merge conflict in " + ", ".join(files))
        self.files = list(files)


class DirtyWorkTree(VcsError):
    """The work tree has changes a checkout would lose; ``files`` names them."""

    def __init__(self, message: str = "", files: Sequence[str] = ()) -> None:
        self.files = list(files)
        if not message:
            message = "uncommitted changes would be lost"
            if self.files:
                message += ": " + ", ".join(self.files)
        super().__init__(message)


@runtime_checkable
class Vcs(Protocol):
    def head_sha(self, ref: str) -> str: ...
    def ensure_branch(self, branch: str, base: str) -> str:
        """Create ``branch`` from ``base`` if missing, check it out; return its head sha."""
        ...

    def branch_exists(self, branch: str) -> bool: ...
    def branch_tip(self, branch: str) -> str | None:
        """The commit ``branch`` points at; None when there is no such branch."""
        ...

    def commits_ahead(self, branch: str, base: str) -> int: ...
    def first_commit_time(self, branch: str, base: str) -> datetime | None: ...
    def merge(self, branch: str, base: str, message: str) -> MergeResult: ...
    def tags(self) -> list[str]: ...
    def tag(self, name: str, ref: str, message: str) -> None: ...
    def tag_exists(self, name: str) -> bool: ...
    def commit_file(self, path: str, content: str, message: str, branch: str) -> str: ...
    def export(self, ref: str, dest: str) -> None:
        """Write the tree of ``ref`` into ``dest`` (a clean copy of exactly that code)."""
        ...

    def current_branch(self) -> str | None:
        """The checked-out branch; None when HEAD is detached."""
        ...

    def latest_version(self, tag_template: str = "v{version}") -> str | None:
        """The highest semver among tags matching ``tag_template``; None before the first."""
        ...

    def log(self, base: str, branch: str, limit: int = 20) -> list[dict[str, Any]]:
        """Commits in ``base..branch``, newest first: sha, short, subject, author, time."""
        ...

    def read_file(self, path: str, ref: str) -> str | None:
        """A file's text at ``ref``; None when it does not exist there."""
        ...

    def create_branch(self, branch: str, base: str) -> str:
        """Create ``branch`` at ``base`` without checking it out; return its head sha."""
        ...

    def checkout_if_safe(self, branch: str) -> str | None:
        """Check ``branch`` out if nothing is in the way; else a one-line reason why not."""
        ...

    def prepare_release(
        self,
        *,
        sha: str,
        base: str,
        merge_message: str,
        changelog_path: str,
        changelog_text: Callable[[str], str],
        commit_message: str,
        tag: str,
        tag_message: str,
    ) -> PreparedRelease:
        """Write a release's objects (merge, changelog commit, tag); moves no ref."""
        ...

    def publish(self, updates: Sequence[RefUpdate]) -> None:
        """Move all refs in one transaction, or none (RefRaceLost when one moved meanwhile)."""
        ...

    def release_would_touch_checkout(self, base: str, old: str, new: str) -> str | None:
        """Why moving a checked-out ``base`` from ``old`` to ``new`` would hit local edits."""
        ...

    def detach_head(self, sha: str, reason: str) -> None:
        """Point HEAD at ``sha`` without touching the index or files."""
        ...

    def after_publish_checkout(self, base: str, old: str, new: str) -> str | None:
        """Bring a checked-out ``base`` from ``old`` to ``new``; else the command to run."""
        ...

    def find_release(self, item_id: str, sha: str) -> FoundRelease | None:
        """An annotated tag for ``item_id`` (its ``Shipdeck-Item:`` line) containing ``sha``."""
        ...

    def push_atomic(self, remote: str, refspecs: Sequence[str]) -> None:
        """Push all refspecs to ``remote`` together, or none of them."""
        ...

    def is_ancestor(self, a: str, b: str) -> bool: ...
    def ref_sha(self, ref: str) -> str | None:
        """What a full ref name (``refs/heads/main``) points at; None when missing."""
        ...


# --- deploy targets ------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    version: str
    sha: str
    tag: str
    image: str | None = None  # docker/swarm: the pushed image reference
    workdir: str | None = None  # local: a clean export of the tag (.shipdeck/releases/<version>)


@dataclass(frozen=True)
class Interpreter:
    """The project's interpreter (an absolute path, symlinks kept: a venv's python is a
    link) and the virtual environment it belongs to, if any. Found by
    project/interpreter.py; a local target records it with each release it starts."""

    python: str
    venv: str | None = None
    source: str = "PATH"  # config, .venv, venv, poetry, uv, PATH
    # Folders of the repository (relative: ``src``) that the venv's ``.pth`` files put on
    # sys.path: the project installed editable (``pip install -e .``), which imports
    # the work tree's code wherever it runs.
    editable: tuple[str, ...] = ()

    def activate(self, environ: Mapping[str, str], tree: str | None = None) -> dict[str, str]:
        """``environ`` as activating the venv would leave it: ``VIRTUAL_ENV`` set and its
        ``bin`` first on PATH, ``PYTHONHOME`` unset. Without a venv, another venv's
        activation is undone as ``deactivate`` does (its ``VIRTUAL_ENV`` goes, and its
        ``bin`` leaves PATH: it may be shipdeck's own, whose ``python3`` and ``pip`` are
        not the project's); ``{python}`` is an absolute path.
        ``tree``: the export a step or release runs in, whose copies of the editable
        folders go first on PYTHONPATH (:func:`tree_first`)."""
        env = dict(environ)
        env.pop("PYTHONHOME", None)
        env.pop(EDITABLE_VAR, None)  # another interpreter's, inherited
        if self.editable:
            env[EDITABLE_VAR] = os.pathsep.join(self.editable)
        if tree is not None:
            env = tree_first(env, tree)
        if not self.venv:
            other = env.pop("VIRTUAL_ENV", None)
            if other and "PATH" in env:
                env["PATH"] = path_without_venv(env["PATH"], other)
            return env
        first = str(Path(self.venv) / "bin")
        rest = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and p != first]
        env["VIRTUAL_ENV"] = self.venv
        env["PATH"] = os.pathsep.join([first, *rest])
        return env

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"python": self.python, "venv": self.venv, "source": self.source}
        if self.editable:
            out["editable"] = list(self.editable)
        return out

    @classmethod
    def from_dict(cls, raw: object) -> Interpreter | None:
        """A recorded interpreter; None for a record from before they were recorded."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("python"), str):
            return None
        venv, editable = raw.get("venv"), raw.get("editable")
        folders = (
            tuple(e for e in editable if isinstance(e, str)) if isinstance(editable, list) else ()
        )
        return cls(raw["python"], venv if isinstance(venv, str) else None,
                   str(raw.get("source") or "recorded"), folders)  # fmt: skip


# Where a step's environment says which folders an editable install of the project
# puts on sys.path (``src``, relative to the repository; os.pathsep between them).
EDITABLE_VAR = "SHIPDECK_EDITABLE"


def path_without_venv(path: str, venv: str | None) -> str:
    """``path`` (a PATH) without ``venv``'s bin folder, however it is spelled there."""
    if venv is None:
        return path
    bin_dir = os.path.realpath(os.path.join(venv, "bin"))
    kept = [d for d in path.split(os.pathsep) if d and os.path.realpath(d) != bin_dir]
    return os.pathsep.join(kept)


def venv_python(folder: Path) -> Path | None:
    """The python of the venv at ``folder`` (``bin/python`` or ``bin/python3``, runnable)."""
    for name in ("python", "python3"):
        candidate = folder / "bin" / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def tree_first(environ: Mapping[str, str], tree: str) -> dict[str, str]:
    """``environ`` with ``tree``'s copies of the editable folders first on PYTHONPATH,
    where they shadow the work tree's that the venv's ``.pth`` adds: a step tests, and a
    release runs, the code of its own commit, not whatever the work tree holds now."""
    env = dict(environ)
    folders = [f for f in env.get(EDITABLE_VAR, "").split(os.pathsep) if f]
    if folders:
        paths = [str(Path(tree) / f) for f in folders]
        rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p not in paths]
        env["PYTHONPATH"] = os.pathsep.join([*paths, *rest])
    return env


@dataclass
class EnvStatus:
    env: str
    target: str
    version: str | None = None
    state: str = "absent"  # absent, starting, running, stopped, failed
    healthy: bool | None = None
    started_at: datetime | None = None
    replicas: int | None = None
    replicas_running: int | None = None
    restarts: int | None = None
    pid: int | None = None
    detail: dict[str, str] = field(default_factory=dict)


class TargetError(ShipdeckError):
    """A deploy target cannot do what was asked; the message is one line for the user."""


class NothingDeployed(TargetError):
    """The target finds no release of the environment (never deployed, or its container
    or process record removed outside shipdeck); the journal may still know one."""


@dataclass(frozen=True)
class DeployResult:
    ok: bool
    version: str
    message: str
    rolled_back_to: str | None = None
    unknown: bool = False  # the target lost track mid-switch; it reconciles on its next call


class DeployTarget(Protocol):
    name: str  # the environment's
    target: str  # what it deploys on, as shipdeck.yaml's ``target:`` says: local, docker, swarm
    health_url: str | None  # rendered; what a deploy waits on and the monitor probes

    def prepare(self) -> None:
        """Load what a deploy will need, before it is asked for: called from a helper
        thread while the stages before Deploy run. Never raises; the deploy reports."""
        ...

    def deploy(self, release: Release, sink: OutputSink, cancel: CancelToken) -> DeployResult: ...
    def rollback(self, sink: OutputSink, cancel: CancelToken) -> DeployResult: ...
    def restart(self, sink: OutputSink) -> DeployResult: ...
    def stop(self, sink: OutputSink) -> None: ...
    def scale(self, replicas: int, sink: OutputSink) -> None: ...
    def status(self) -> EnvStatus: ...
    def logs(
        self, *, follow: bool, tail: int | None, cancel: CancelToken
    ) -> Iterator[Sequence[Line]]:
        """The environment's live output, in batches."""
        ...


# --- monitoring ------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeResult:
    name: str
    url: str
    ok: bool
    status: int | None
    latency_ms: float | None
    slow: bool = False
    error: str | None = None


class Prober(Protocol):
    def probe(self, name: str, url: str, timeout: float, slow_ms: float) -> ProbeResult: ...


@dataclass(frozen=True)
class HostSample:
    cpu: float | None  # percent of all cores; None before a long enough window (a gap)
    memory: float  # percent used
    disk: float  # percent used of the repository's filesystem
    net_sent: float  # bytes per second since the previous sample
    net_recv: float


class MetricsSource(Protocol):
    def sample(self) -> HostSample: ...


class Notifier(Protocol):
    def send(self, event: Mapping[str, object]) -> None: ...


# --- container images (docker_build / docker_run steps, Release push) ----------------


@dataclass(frozen=True)
class BuiltImage:
    id: str  # sha256:...
    tags: tuple[str, ...] = ()
    size: int | None = None  # bytes


@dataclass(frozen=True)
class PushedImage:
    reference: str  # repository:tag as pushed
    digest: str  # sha256:..., what a deploy can pin with repository@digest


class ImageBuilder(Protocol):
    def build(
        self,
        context: str,
        *,
        dockerfile: str = "Dockerfile",
        tags: Sequence[str] = (),
        buildargs: Mapping[str, str] | None = None,
        target: str | None = None,
        labels: Mapping[str, str] | None = None,
        sink: OutputSink,
        cancel: CancelToken,
    ) -> BuiltImage:
        """Build ``context``, streaming its output; TargetError names the failing step."""
        ...

    def push(
        self, image: str, reference: str, *, sink: OutputSink, cancel: CancelToken
    ) -> PushedImage:
        """Tag ``image`` as ``reference`` (repository:tag) and push it; TargetError says why not."""
        ...

    def tag(self, image: str, reference: str) -> None:
        """Tag ``image`` as ``reference`` (repository:tag) on the engine only; no registry."""
        ...


class ContainerRunner(Protocol):
    def run_once(
        self,
        image: str,
        command: str | Sequence[str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        sink: OutputSink,
        cancel: CancelToken,
        timeout: float | None = None,
    ) -> StepResult:
        """Run ``image`` once, streaming its output; the container is removed afterwards."""
        ...


# --- container stats (monitor pane, status --json) ---------------------------------


@dataclass(frozen=True)
class ContainerStats:
    """One sample of one container, as ``docker stats`` shows it."""

    name: str
    id: str
    cpu: float | None  # percent of one core x cores (200 = two cores busy); None until 2 samples
    memory: int  # bytes in use, page cache excluded
    memory_limit: int
    net_rx: int  # bytes since the container started
    net_tx: int
    block_read: int
    block_write: int
    pids: int | None

    @property
    def memory_percent(self) -> float:
        return 100.0 * self.memory / self.memory_limit if self.memory_limit else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "id": self.id[:12],
            "cpu": None if self.cpu is None else round(self.cpu, 2),
            "memory": self.memory,
            "memory_limit": self.memory_limit,
            "memory_percent": round(self.memory_percent, 2),
            "net_rx": self.net_rx,
            "net_tx": self.net_tx,
            "block_read": self.block_read,
            "block_write": self.block_write,
            "pids": self.pids,
        }


@runtime_checkable
class StatsSource(Protocol):
    """A deploy target that can sample what it runs: containers (docker, swarm) or the
    local service's process tree."""

    def stats(self) -> list[ContainerStats]: ...


# --- clusters (swarm nodes, autoscaling) --------------------------------------------


@dataclass(frozen=True)
class NodeInfo:
    """One machine of a cluster, as ``docker node ls`` shows it, and this service's tasks."""

    id: str
    name: str
    role: str  # manager, worker
    state: str  # ready, down, unknown, disconnected
    availability: str  # active, pause, drain
    addr: str = ""
    leader: bool = False
    tasks: int = 0  # this environment's running tasks on it

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "state": self.state,
            "availability": self.availability,
            "addr": self.addr,
            "leader": self.leader,
            "tasks": self.tasks,
        }


@runtime_checkable
class NodeSource(Protocol):
    """A deploy target that runs on a cluster whose machines can be listed (swarm)."""

    def nodes(self) -> list[NodeInfo]: ...


@runtime_checkable
class SpreadHealth(Protocol):
    """A target whose health is probed on each machine running it (swarm, host mode)."""

    def health_urls(self) -> dict[str, str]:
        """Where to probe now: a name (the node) to a URL."""
        ...


@runtime_checkable
class Scalable(Protocol):
    """A target whose replica count can be set at once, without waiting (the autoscaler's)."""

    def replica_count(self) -> int | None: ...
    def set_replicas(self, replicas: int) -> None: ...
