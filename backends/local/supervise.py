"""Detached service processes: start, find again, stop, state files and log files.

A service started here lives in its own session (``start_new_session``) with
stdin from /dev/null and stdout/stderr appended to files, so it has no pipe back
to shipdeck and survives shipdeck's exit. It is found again from a JSON record
by pid *and* psutil ``create_time``, so a reused pid is never mistaken for it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipdeck.backends.local import listeners
from shipdeck.lifecycle import atomic
from shipdeck.lifecycle.errors import StorageError
from shipdeck.lifecycle.filelock import hold
from shipdeck.lifecycle.ports import CancelToken, Line, Stream
from shipdeck.lifecycle.runlog import complete_end, read_back
from shipdeck.lifecycle.text import escape_controls


class _Deferred:
    """A module imported at its first use rather than with this one. psutil takes ~7 ms
    to import, and a deploy first needs it once its service is started: the import then
    overlaps the service's start-up instead of delaying it."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)  # the import lock: one load


if TYPE_CHECKING:
    import psutil as psutil  # re-exported: target.py takes this one
else:
    psutil = _Deferred("psutil")

# Popen objects of services this shipdeck process started, so a dead one is reaped
# through its own Popen (never left a zombie, never polled after its pid is reused).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
_CHILDREN_LOCK = threading.Lock()
_CREATE_TIME_SLACK = 0.05  # psutil create_time is exact per boot; allow float noise


@dataclass
class RunRecord:
    """One started service process, as stored in ``.shipdeck/state/<env>.json``."""

    version: str
    pid: int
    pgid: int
    create_time: float
    started_at: str
    workdir: str
    command: str
    port: int | None
    out_offset: int = 0  # size of <version>.out when this process started
    err_offset: int = 0
    stopped: bool = False  # stopped on purpose (stop), not crashed
    python: dict[str, Any] | None = None  # the interpreter (ports.Interpreter.to_dict)
    cwd: str | None = None  # where it runs, when not ``workdir`` (the environment's workdir:)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RunRecord:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def label(version: str) -> str:
    """``0.2.0`` -> ``v0.2.0`` for messages; a version with its own prefix stays."""
    return f"v{version}" if version[:1].isdigit() else version


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when missing or unreadable (a fresh start)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Temp file, fsync, rename: a reader (another shipdeck) never sees half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        atomic.write_text(path, text)
    except OSError as exc:  # read-only or full: no half-written file left, one clear line
        raise StorageError.wrap(exc, os.path.relpath(path)) from None


@contextlib.contextmanager
def exclusive(path: Path, wait: float, busy: Exception) -> Iterator[None]:
    """Hold an flock on ``path`` (across threads and processes); raise ``busy`` if taken."""
    with hold(path, wait, lambda: busy):
        yield


def spawn(
    command: str,
    *,
    cwd: str,
    env: Mapping[str, str],
    out: Path,
    err: Path,
    mask: Sequence[str] = (),
    rotate: tuple[int, int] | None = None,
    gate: int | None = None,
) -> tuple[subprocess.Popen[bytes], float]:
    """Start ``/bin/sh -c command`` detached; returns the Popen and its create_time.

    With ``mask`` (names of secret variables in ``env``) or ``rotate`` (a file's size
    limit in bytes and how many files to keep), the command runs under ``mask_relay``,
    which writes its output to the files, those values masked, rotated by size.

    With ``gate`` (a pipe's read end), the process waits on it before the command runs:
    the command starts when ``mask_relay.GO`` is written to the pipe, and never if the
    pipe closes first (the caller records the process in between).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = ["/bin/sh", "-c", command]
    if gate is not None:  # the shell reads the gate, then becomes the command (same pid)
        wait = 'IFS= read -r go && [ "$go" = go ] && exec /bin/sh -c "$1" </dev/null'
        argv = ["/bin/sh", "-c", wait, "sh", command]
    if mask or (rotate and rotate[0] > 0):
        from shipdeck.backends import mask_relay

        sizes = [f"--rotate={rotate[0]}:{rotate[1]}"] if rotate and rotate[0] > 0 else []
        sizes += ["--held"] if gate is not None else []
        relay = [sys.executable, *mask_relay.FLAGS, mask_relay.__file__, str(out), str(err), *sizes]
        argv = [*relay, *mask, "--", "/bin/sh", "-c", command]
    with open(out, "ab") as out_fh, open(err, "ab") as err_fh:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL if gate is None else gate,
            stdout=out_fh,
            stderr=err_fh,
            start_new_session=True,
            close_fds=True,
        )
    with _CHILDREN_LOCK:
        for pid in [pid for pid, old in _CHILDREN.items() if old.returncode is not None]:
            del _CHILDREN[pid]  # reaped long ago; keeps the table small
        _CHILDREN[proc.pid] = proc
    try:
        created = psutil.Process(proc.pid).create_time()
    except psutil.Error:  # exited already; the caller sees it through poll()
        created = time.time()
    return proc, created


def exit_code(pid: int) -> int | None:
    """Reap ``pid`` if this process started it; its exit code once it has exited."""
    with _CHILDREN_LOCK:
        proc = _CHILDREN.get(pid)
    return None if proc is None else proc.poll()


def _running(proc: psutil.Process) -> bool:
    exit_code(proc.pid)
    try:
        return bool(proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def find_alive(pid: int, create_time: float) -> psutil.Process | None:
    """The live process ``pid`` if it is the one started at ``create_time``."""
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - create_time) > _CREATE_TIME_SLACK:
            return None  # the pid was reused by another process
    except psutil.Error:
        return None
    return proc if _running(proc) else None


def _group(pgid: int, not_before: float) -> list[psutil.Process]:
    """Live members of process group ``pgid`` created no earlier than its leader."""
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.create_time() >= not_before - 1:
                found.append(proc)
        except (OSError, psutil.Error):
            continue
    return found


def left_in_group(pgid: int, create_time: float) -> list[int]:
    """Pids of the group's processes still running: the service when its leader (the
    output relay) was killed on its own, and the service outlived it."""
    return [p.pid for p in _group(pgid, create_time) if _running(p)]


def _signal(pgid: int, procs: list[psutil.Process], sig: signal.Signals) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, sig)
    for proc in procs:  # children that left the group (setsid) are signalled directly
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in procs if _running(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def stop_tree(pid: int, pgid: int, create_time: float, grace: float) -> bool:
    """SIGTERM the service's group and descendants, SIGKILL what is left after ``grace``.

    Returns False when nothing of it was running. Descendants are collected before
    the first signal, since after the leader dies they are re-parented and lost.
    """
    procs: dict[int, psutil.Process] = {}
    leader = find_alive(pid, create_time)
    if leader is not None:
        procs[leader.pid] = leader
        with contextlib.suppress(psutil.Error):
            procs.update((c.pid, c) for c in leader.children(recursive=True))
    procs.update((p.pid, p) for p in _group(pgid, create_time) if _running(p))
    if not procs:
        exit_code(pid)
        return False
    members = list(procs.values())
    _signal(pgid, members, signal.SIGTERM)
    left = _wait_gone(members, grace)
    if left:
        _signal(pgid, left, signal.SIGKILL)
        _wait_gone(left, 5.0)
    exit_code(pid)
    return True


def port_busy(port: int) -> bool:
    """True when something listens on ``port`` (a bind on all addresses fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def port_holder(port: int) -> str | None:
    """Who listens on ``port``, for a message: ``python3 -m http.server 5000 (pid 812)``;
    None when the kernel will not say (another user's process, not Linux). Only asked
    when a deploy finds its port taken, so psutil's full walk of the table is fine."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return None
    pids = {c.pid for c in conns if c.status == psutil.CONN_LISTEN and c.laddr
            and c.laddr.port == port and c.pid}  # fmt: skip
    for pid in sorted(pids):
        try:
            words = psutil.Process(pid).cmdline()
        except psutil.Error:
            continue
        if words:  # the program by its name: its folder would crowd out the arguments
            words = [os.path.basename(words[0]), *words[1:]]
        command = escape_controls(" ".join(words))
        short = command if len(command) <= 72 else command[:71] + "…"
        return f"{short} (pid {pid})"
    return None


def tree_sample(proc: psutil.Process, known: dict[int, psutil.Process]) -> dict[str, Any]:
    """CPU (percent of one core, summed), RSS, disk I/O and size of ``proc``'s tree.

    ``known`` keeps the Process objects between calls: psutil measures CPU as the
    difference from the previous call on the same object, so the first sample of a
    process has no CPU figure (None), as ``docker stats`` has none before two reads.
    """
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        members = [proc]
    if len(members) > 1 and _is_relay(proc):
        members = members[1:]  # the log relay is shipdeck's, not the service's
    first = known.get(proc.pid) != proc  # psutil has no earlier reading to compare with
    cpu = 0.0
    rss = read = written = 0
    alive: dict[int, psutil.Process] = {}
    for member in members:
        same = known.get(member.pid)
        tracked = same if same is not None and same == member else member
        try:
            with tracked.oneshot():
                percent = tracked.cpu_percent(interval=None)
                rss += tracked.memory_info().rss
                io = tracked.io_counters() if hasattr(tracked, "io_counters") else None
        except psutil.Error:
            continue
        if io is not None:
            read, written = read + io.read_bytes, written + io.write_bytes
        cpu += percent  # 0.0 for a child seen for the first time
        alive[member.pid] = tracked
    known.clear()
    known.update(alive)
    known.setdefault(proc.pid, proc)  # the relay, measured or not: the next call compares
    return {
        "cpu": None if first else cpu,
        "memory": rss,
        "read": read,
        "written": written,
        "pids": len(alive),
    }


def _is_relay(proc: psutil.Process) -> bool:
    try:
        return any(arg.endswith("mask_relay.py") for arg in proc.cmdline()[:4])
    except psutil.Error:
        return False


def holds_port(pid: int, create_time: float, port: int) -> bool | None:
    """Whether the process ``pid`` (or a descendant) is the one listening on ``port``.

    A health URL answered by another process proves nothing about the release shipdeck
    started (an old copy, a stranger on the port). None when it cannot be told: the
    process is gone, or /proc hides its sockets from this user.
    """
    leader = find_alive(pid, create_time)
    if leader is None:
        return None
    try:
        tree = [leader, *leader.children(recursive=True)]
    except psutil.Error:
        tree = [leader]
    # The deepest first: the listener is most often the service, under its shell and relay.
    tree.reverse()
    listening = listeners.listening_inodes(port)
    if listening is not None:  # the kernel's sock_diag: a fraction of a ms, not 8 ms
        unknown = False
        for proc in tree:
            inodes = listeners.socket_inodes(proc.pid)
            if inodes is None:
                unknown = unknown or _hidden(proc)
            elif inodes & listening:
                return True
        return None if unknown else False
    unknown = False
    for proc in tree:
        try:
            conns = proc.net_connections(kind="tcp")  # TCP: nothing else listens
        except psutil.AccessDenied:
            unknown = True
            continue
        except psutil.Error:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in conns):
            return True
    return None if unknown else False


def _hidden(proc: psutil.Process) -> bool:
    """Whether ``proc``'s sockets are hidden from us (another user's), not just gone (a
    zombie has none), as psutil's AccessDenied against its NoSuchProcess."""
    try:
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def wait_port_free(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while port_busy(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


_ROTATED_MAX = 9  # older files a reader looks for (service.out.1 .. .9)


def _rotated(path: Path, n: int) -> Path:
    return path.with_name(f"{path.name}.{n}") if n else path


def tail_lines(path: Path, count: int | None) -> tuple[list[str], int]:
    """The last ``count`` complete lines of ``path`` (all when None) and the offset after them.

    When ``path`` holds fewer, the rest come from its rotated files (``path.1`` ...).
    """
    lines, stop = _tail_one(path, count)
    for n in range(1, _ROTATED_MAX + 1):
        if count is not None and len(lines) >= count:
            break
        older = _rotated(path, n)
        if not older.exists():
            break
        more, _end = _tail_one(older, None if count is None else count - len(lines))
        lines = more + lines
    return lines, stop


def _tail_one(path: Path, count: int | None) -> tuple[list[str], int]:
    """Reads backwards a block at a time, so a tail of a large log costs a few reads; a
    trailing partial line is left to the follower."""
    try:
        with open(path, "rb") as fh:
            stop = complete_end(fh)
            if count is None:
                fh.seek(0)
                parts = fh.read(stop).split(b"\n")[:-1]
            else:
                parts = read_back(fh, stop, count)[1]
    except FileNotFoundError:
        return [], 0
    return [_decode(p) for p in parts], stop


class Follower:
    """Reads the complete lines appended to a file since the last call.

    A file rotated by ``mask_relay`` (renamed to ``path.1``, a new ``path`` begun) is
    followed across the rename: the follower knows its file by inode, reads the rest
    of it under its new name, then goes on at the start of the new file, so no line
    is lost or read twice. The relay closes a file before renaming it and renames it
    before making the new one, so when a new ``path`` is seen the old one is complete.
    """

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self.offset = offset
        self._partial = b""
        self._inode = _inode(path)  # the file ``offset`` is in (None: not there yet)

    def _older(self) -> list[Path]:
        """The rotated files from the one this follower read (oldest first) to the newest."""
        found: list[Path] = []
        for n in range(1, _ROTATED_MAX + 1):
            older = _rotated(self.path, n)
            ino = _inode(older)
            if ino is None:
                return []  # ours is gone (rotated out): nothing left to read of it
            found.append(older)
            if ino == self._inode:
                return found[::-1]
        return []

    def _drain(self, path: Path, offset: int) -> bytes:
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                return fh.read()
        except OSError:
            return b""

    def read(self, limit: int = 4 << 20, upto: int | None = None) -> list[str]:
        """Complete lines appended since the last call; only those before byte ``upto``
        when given (what an earlier process wrote, up to where the next one began)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []  # mid-rotation (renamed, not yet made again) or not started
        data = b""
        if self._inode is None:
            self._inode = st.st_ino
        elif st.st_ino != self._inode and upto is None:  # rotated since the last read
            for i, older in enumerate(self._older()):
                data += self._drain(older, self.offset if i == 0 else 0)
            self._inode, self.offset = st.st_ino, 0
        size = st.st_size
        if size < self.offset:  # truncated by hand: start over
            self.offset, self._partial = 0, b""
        if upto is not None:
            size = min(size, upto)
            limit = min(limit, max(0, upto - self.offset))
        if size > self.offset:
            with open(self.path, "rb") as fh:
                if os.fstat(fh.fileno()).st_ino == self._inode:  # not rotated meanwhile
                    fh.seek(self.offset)
                    got = fh.read(limit)
                    self.offset += len(got)
                    data += got
        if not data:
            return []
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [_decode(line) for line in lines]

    def flush(self, upto: int | None = None) -> list[str]:
        """The rest (up to byte ``upto``): new complete lines and a last unterminated one."""
        lines = self.read(upto=upto)
        if self._partial:
            lines.append(_decode(self._partial))
            self._partial = b""
        return lines


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


class LogReader:
    """A service's output as batches: the backlog, then (follow) what is appended.

    ``load`` returns the current run record; when its pid changes (deploy, restart,
    rollback) the reader drains the old files, yields a ``---`` marker and goes on
    from where the new process began writing.
    """

    def __init__(
        self,
        load: Callable[[], RunRecord | None],
        paths: Callable[[str], tuple[Path, Path]],
        mask: Callable[[str], str],
    ) -> None:
        self.load, self.paths, self.mask = load, paths, mask
        self.files: list[tuple[Stream, Follower]] = []

    def _lines(self, stream: Stream, texts: list[str]) -> list[Line]:
        return [Line(stream, self.mask(t)) for t in texts]

    def _open(self, rec: RunRecord) -> None:
        """Follow ``rec``'s files from where its process began writing."""
        out, err = self.paths(rec.version)
        self.files = [
            (Stream.STDOUT, Follower(out, rec.out_offset)),
            (Stream.STDERR, Follower(err, rec.err_offset)),
        ]

    def run(self, follow: bool, tail: int | None, cancel: CancelToken) -> Iterator[Sequence[Line]]:
        rec = self.load()
        if rec is not None:
            out, err = self.paths(rec.version)
            backlog: list[Line] = []
            self.files = []
            for stream, path in ((Stream.STDOUT, out), (Stream.STDERR, err)):
                lines, end = tail_lines(path, tail)
                backlog += self._lines(stream, lines)
                self.files.append((stream, Follower(path, end)))
            for i in range(0, len(backlog), 1000):
                yield backlog[i : i + 1000]
        while follow and not cancel.wait(0.1):
            batch: list[Line] = []
            # The record first: after a restart (same files) the new process's lines
            # must not be read as the old one's, ahead of the marker.
            now = self.load()
            if now is not None and (
                rec is None or (now.pid, now.stopped) != (rec.pid, rec.stopped)
            ):
                batch += self._switch(rec, now)
                rec = now
            else:
                for stream, follower in self.files:
                    batch += self._lines(stream, follower.read())
            if batch:
                yield batch

    def _switch(self, old: RunRecord | None, new: RunRecord) -> list[Line]:
        """Marker for what happened; a new version's output comes from its own files."""
        v = label(new.version)
        if old is not None and old.pid == new.pid:
            return [Line(Stream.INFO, f"--- {v} stopped ---")] if new.stopped else []
        rest: list[Line] = []
        same = old is not None and old.version == new.version
        # The old process's last lines; in the same files (a restart) only up to where
        # the new process began writing, so its first lines come after the marker.
        ends = (new.out_offset, new.err_offset) if same else (None, None)
        for (stream, follower), end in zip(self.files, ends, strict=False):
            rest += self._lines(stream, follower.flush(upto=end))
        if not same:
            self._open(new)
        rest.append(Line(Stream.INFO, f"--- {v} {'restarted' if same else 'started'} ---"))
        for stream, follower in self.files:
            rest += self._lines(stream, follower.read())
        return rest
