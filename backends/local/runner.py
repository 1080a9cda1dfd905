"""Local processes for build, test and deploy steps (implements ``ProcessRunner``).

Each step runs as ``/bin/sh -c COMMAND`` under a small guard process
(``backends/local/guard.py``) that leads a new session and process group and, on Linux,
is a child subreaper: every process the step starts stays its descendant, even a
daemon that double-forks and calls setsid(), or a child that calls setpgid(). So:

- cancel and timeout reach every process of the step: SIGTERM, then, after a grace
  period, the guard SIGKILLs them all;
- the step ends when its command (the shell) exits, with the command's exit code;
  whatever it left running, in the background or daemonised, is killed then. A build
  or test step cannot leave a server running;
- nothing survives shipdeck being SIGKILLed: the guard notices that its lifeline
  socket closed and takes the step down;
- the step has no controlling terminal, so a tool prompting on /dev/tty fails
  instead of scribbling over the board.

A guard is an interpreter start (~13 ms), so the runner starts them ahead where it can:
``prepare(n)`` (the engine calls it when an advance begins, with the number of command
steps on the way) starts the first step's guard at once and each next one's while the
step before it runs. A guard started ahead waits for its order (directory, command,
environment) on its socket, and exits if none comes: ``prepare(0)``, shipdeck gone, or
its idle limit passed.

The guard's docstring says what escapes all the same (a setuid program, processes
started by a service on the step's behalf, everything outside the group without
the subreaper or if the guard itself is SIGKILLed). shipdeck SIGKILLs the guard's
group itself only if the guard does not exit in time.

Output is read from two pipes as it comes and handed to the sink in batches
(at most one call per ``flush_interval`` unless ``max_batch`` lines are waiting).
The guard exits once the step's processes are dead, which closes the pipes; if one
that escaped keeps them open, reading stops ``drain_timeout`` after the guard
exited rather than hanging.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping

from shipdeck.backends.local import guard as _guard
from shipdeck.lifecycle.ports import CancelToken, Line, OutputSink, StepResult, Stream

# Tools that buffer or go quiet when stdout is a pipe; set only if the caller did not.
UNBUFFERED_ENV: Mapping[str, str] = {"PYTHONUNBUFFERED": "1"}
COLOR_ENV: Mapping[str, str] = {"FORCE_COLOR": "1", "CLICOLOR_FORCE": "1", "PY_COLORS": "1"}

_READ_SIZE = 64 * 1024
_GUARD = os.path.abspath(_guard.__file__)
# How long the guard may take to kill the step and exit before we kill its group.
_GUARD_EXIT = _guard.SWEEP_LIMIT + 1.0
_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)
# A guard started ahead is used while it has a minute left before it stops waiting.
_FRESH_FOR = _guard.IDLE_LIMIT - 60.0


class LocalProcessRunner:
    """Runs shell commands as guarded process groups, streaming their output."""

    def __init__(
        self,
        *,
        grace: float = 5.0,
        shell: str = "/bin/sh",
        force_color: bool = False,
        flush_interval: float = 0.05,
        max_batch: int = 1000,
        max_line: int = 1 << 20,
        drain_timeout: float = 0.5,
    ) -> None:
        self.grace = grace
        self.shell = shell
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.max_line = max_line
        self.drain_timeout = drain_timeout
        self.extra_env = dict(UNBUFFERED_ENV) | (dict(COLOR_ENV) if force_color else {})
        self._lock = threading.Lock()
        self._spare: _Guard | None = None  # a guard started ahead, waiting for its step
        self._ahead = 0  # steps said to be coming (prepare), each gets a guard ahead
        self._meanwhile: list[Callable[[], None]] = []  # for the next step's run

    def prepare(self, steps: int) -> None:
        """``steps`` steps are about to run, one after another: start the first one's
        guard now, and each next one's while the step before it runs (a guard is an
        interpreter start, ~13 ms). 0: none is coming; a guard started ahead goes."""
        with self._lock:
            self._ahead = max(0, steps)
            if not self._ahead:
                self._drop_spare()
                self._meanwhile.clear()
            elif self._spare is None:
                self._spare = _spawn_quietly(self)

    def meanwhile(self, work: Callable[[], None]) -> None:
        """``work`` on a helper thread once the next step's guard has its order."""
        with self._lock:
            self._meanwhile.append(work)

    def _start_meanwhile(self) -> None:
        with self._lock:
            works, self._meanwhile = self._meanwhile, []
        for work in works:
            threading.Thread(target=work, name="shipdeck-meanwhile", daemon=True).start()

    def _drop_spare(self) -> None:  # under the lock
        if self._spare is not None:
            self._spare.let_go()
            self._spare = None

    def _take_guard(self) -> _Guard:
        """The guard for a step about to run: the one started ahead, if fresh, else a new one."""
        with self._lock:
            spare, self._spare = self._spare, None
            self._ahead = max(0, self._ahead - 1)
        if spare is not None and spare.fresh():
            return spare
        if spare is not None:
            spare.let_go()
        return _Guard.spawn(self)

    def _start_next(self) -> None:
        """A guard for the next step said to be coming, while this one runs."""
        with self._lock:
            if self._ahead and self._spare is None:
                self._spare = _spawn_quietly(self)

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
        """Run ``command`` in its own process group; never raises for a step that fails."""
        started = time.monotonic()
        if cancel.cancelled:
            return StepResult(exit_code=None, duration=0.0, cancelled=True)
        full_env = dict(env)
        for key, value in self.extra_env.items():
            full_env.setdefault(key, value)
        try:
            order = _order(cwd, command, full_env)
            guard = self._take_guard()
        except (OSError, ValueError) as exc:
            return StepResult(None, time.monotonic() - started, error=_start_error(exc, cwd))
        if not guard.give(order):  # a guard started ahead died meanwhile (killed?)
            guard.let_go()
            try:
                guard = _Guard.spawn(self)
            except (OSError, ValueError) as exc:
                return StepResult(None, time.monotonic() - started, error=_start_error(exc, cwd))
            guard.give(order)  # if this one is gone too, the step reports it
        self._start_next()
        self._start_meanwhile()
        step = _Step(self, guard.proc, guard.sock, sink, started, timeout)
        undo = cancel.on_cancel(step.cancel)
        try:
            return step.pump()
        finally:
            undo()
            step.close()


class _Guard:
    """A guard process: started (maybe ahead of its step), then given its order."""

    def __init__(self, proc: subprocess.Popen[bytes], sock: socket.socket) -> None:
        self.proc = proc
        self.sock = sock
        self.born = time.monotonic()

    @classmethod
    def spawn(cls, runner: LocalProcessRunner) -> _Guard:
        """A guard waiting for its order, in a session of its own; raises OSError."""
        ours, theirs = socket.socketpair()
        args = [sys.executable, "-I", "-S", _GUARD, str(theirs.fileno()), str(runner.grace)]
        try:
            proc = subprocess.Popen(
                [*args, runner.shell],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return cls(proc, ours)

    def fresh(self) -> bool:
        """Still waiting, with time to spare before it would give up waiting."""
        return self.proc.poll() is None and time.monotonic() - self.born < _FRESH_FOR

    def give(self, order: bytes) -> bool:
        """Send the step; False if the guard is gone."""
        try:
            self.sock.sendall(order, _NOSIGNAL)
        except OSError:
            return False
        return True

    def let_go(self) -> None:
        """Close our ends: a guard without an order exits by itself, and is reaped then
        (by a thread that waits for it: an open board would keep a zombie otherwise)."""
        self.sock.close()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        threading.Thread(target=self.proc.wait, name="shipdeck-guard-reaper", daemon=True).start()


def _spawn_quietly(runner: LocalProcessRunner) -> _Guard | None:
    """A guard started ahead; None if it cannot start (the step will say why)."""
    try:
        return _Guard.spawn(runner)
    except (OSError, ValueError):
        return None


def _order(cwd: str, command: str, env: Mapping[str, str]) -> bytes:
    """What the guard waits for: ``C<size>\\n``, then the directory, the command and the
    environment, NUL apart (guard.py). ValueError for a NUL inside one of them."""
    if any("=" in key or not key for key in env):
        raise ValueError("illegal environment variable name")
    # Absolute: a guard started ahead has the directory shipdeck had then.
    fields = [os.fsencode(os.path.abspath(cwd)), os.fsencode(command)]
    fields += [os.fsencode(f"{key}={value}") for key, value in env.items()]
    if any(b"\0" in field for field in fields):
        raise ValueError("embedded null byte")
    body = b"\0".join(fields)
    return b"C%d\n%s" % (len(body), body)


class _Step:
    """One running step: the select loop, deadlines and clean-up."""

    def __init__(
        self,
        runner: LocalProcessRunner,
        proc: subprocess.Popen[bytes],
        sock: socket.socket,
        sink: OutputSink,
        started: float,
        timeout: float | None,
    ) -> None:
        self.r = runner
        self.proc = proc
        self.sock = sock
        self.started = started
        self.deadline = None if timeout is None else started + timeout
        self.lock = threading.Lock()
        self.finished = False  # the command's exit was reported, or the guard is gone
        self.reaped = False
        self.cancelled = False
        self.timed_out = False
        self.kill_at: float | None = None  # when the grace period of a cancel runs out
        self.killed = False  # the guard was told to kill the step
        self.give_up_at: float | None = None  # when we kill the guard's group ourselves
        self.reported = False  # the guard told us how the command ended
        self.guard_gone = False  # its end of the socket closed: it exited
        self.exit_code: int | None = None
        self.error: str | None = None
        self.batch = _Batcher(sink, runner.flush_interval, runner.max_batch)

    def cancel(self) -> None:
        """CancelToken callback; runs on whichever thread cancelled."""
        with self.lock:
            if self.finished:
                return
            self.cancelled = True
        self._terminate()

    def _terminate(self) -> None:
        with self.lock:
            if self.reaped or self.kill_at is not None:
                return
            self.kill_at = time.monotonic() + self.r.grace
            # The guard forwards it to every process of the step.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)

    def _kill_step(self) -> None:
        """Tell the guard to kill the step now; it exits when that is done."""
        self.killed = True
        self.give_up_at = time.monotonic() + _GUARD_EXIT
        with contextlib.suppress(OSError):
            self.sock.send(b"K\n", _NOSIGNAL)

    def _kill_group(self) -> None:
        """The last resort: the guard's group, guard included (a setsid daemon survives)."""
        with self.lock:
            if self.reaped:
                return  # the group id could belong to someone else by now
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def pump(self) -> StepResult:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        sel = selectors.DefaultSelector()
        splitters: dict[int, tuple[Stream, _LineSplitter]] = {}
        for pipe, stream in ((self.proc.stdout, Stream.STDOUT), (self.proc.stderr, Stream.STDERR)):
            splitters[pipe.fileno()] = (stream, _LineSplitter(self.r.max_line))
            sel.register(pipe.fileno(), selectors.EVENT_READ)
        sel.register(self.sock.fileno(), selectors.EVENT_READ)
        reports = b""
        guard_gone_at: float | None = None
        try:
            while True:
                now = time.monotonic()
                if guard_gone_at is not None and (
                    len(sel.get_map()) == 0 or now - guard_gone_at >= self.r.drain_timeout
                ):
                    break
                for key, _ in sel.select(self._wait_time(now, guard_gone_at)):
                    fd = key.fd
                    if fd == self.sock.fileno():
                        data = _read(fd)
                        reports += data
                        while b"\n" in reports:
                            line, reports = reports.split(b"\n", 1)
                            self._on_report(line.decode("utf-8", "replace"))
                        if not data:
                            sel.unregister(fd)
                            with self.lock:
                                self.finished = True
                            self.guard_gone = True
                            guard_gone_at = time.monotonic()
                        continue
                    stream, splitter = splitters[fd]
                    data = _read(fd)
                    if not data:
                        sel.unregister(fd)
                    self.batch.add(stream, splitter.feed(data, final=not data))
                if self.reported and self.kill_at is None and self.give_up_at is None:
                    # The command is done: the guard kills what it left and exits.
                    self.give_up_at = time.monotonic() + _GUARD_EXIT
                self._check_deadlines(time.monotonic())
                self.batch.flush_if_due()
            for stream, splitter in splitters.values():  # an escaped process kept a pipe
                self.batch.add(stream, splitter.feed(b"", final=True))
            self.batch.flush()
        finally:
            sel.close()
        self._reap()
        rc = self.proc.returncode
        unexplained = not (self.cancelled or self.timed_out or self.error)
        if self.exit_code is None and unexplained and rc is not None and rc >= 0:
            self.error = f"step guard exited with status {rc}"
        return StepResult(
            exit_code=self.exit_code,
            duration=time.monotonic() - self.started,
            timed_out=self.timed_out,
            cancelled=self.cancelled,
            error=self.error,
        )

    def _on_report(self, report: str) -> None:
        kind, _, value = report.partition(" ")
        with self.lock:
            self.finished = True
        if kind == "X":
            self.exit_code = int(value)
        elif kind == "E":
            self.error = value
        self.reported = True

    def _wait_time(self, now: float, guard_gone_at: float | None) -> float:
        waits = [0.1, self.batch.due_in(now)]
        if self.deadline is not None and not self.timed_out:
            waits.append(self.deadline - now)
        if self.kill_at is not None and not self.killed:
            waits.append(self.kill_at - now)
        if self.give_up_at is not None and not self.guard_gone:
            waits.append(self.give_up_at - now)
        if guard_gone_at is not None:
            waits.append(guard_gone_at + self.r.drain_timeout - now)
        return max(0.0, min(waits))

    def _check_deadlines(self, now: float) -> None:
        if self.deadline is not None and now >= self.deadline:
            with self.lock:
                fire = not self.finished and not self.timed_out
                self.timed_out = self.timed_out or fire
            if fire:
                self._terminate()
        if self.kill_at is not None and not self.killed and now >= self.kill_at:
            self._kill_step()
        if self.give_up_at is not None and not self.guard_gone and now >= self.give_up_at:
            self.give_up_at = float("inf")
            self._kill_group()

    def _reap(self) -> None:
        if not self.guard_gone:  # we are bailing out (the sink raised)
            self._kill_step()
            self._wait_guard_gone()
        self._kill_group()  # harmless: the guard, not yet waited for, holds the group id
        self.proc.wait()
        with self.lock:
            self.reaped = True

    def _wait_guard_gone(self) -> None:
        assert self.give_up_at is not None
        while (left := self.give_up_at - time.monotonic()) > 0:
            ready, _, _ = select.select([self.sock], [], [], left)
            if ready and not _read(self.sock.fileno()):
                self.guard_gone = True
                return

    def close(self) -> None:
        """Leave nothing behind, even when the sink raised mid-run."""
        if not self.reaped:
            self._reap()
        self.sock.close()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


class _Batcher:
    """Collects lines and hands them to the sink at most every ``interval`` seconds."""

    def __init__(self, sink: OutputSink, interval: float, max_batch: int) -> None:
        self.sink = sink
        self.interval = interval
        self.max_batch = max_batch
        self.lines: list[Line] = []
        self.last = float("-inf")

    def add(self, stream: Stream, texts: list[str]) -> None:
        self.lines.extend(Line(stream, text) for text in texts)

    def due_in(self, now: float) -> float:
        return self.last + self.interval - now if self.lines else float("inf")

    def flush_if_due(self) -> None:
        full = len(self.lines) >= self.max_batch
        if full or (self.lines and time.monotonic() - self.last >= self.interval):
            self.flush()

    def flush(self) -> None:
        if not self.lines:
            return
        lines, self.lines = self.lines, []
        self.last = time.monotonic()
        for i in range(0, len(lines), self.max_batch):
            self.sink(lines[i : i + self.max_batch])


class _LineSplitter:
    """Bytes in, lines out: keeps a partial last line, cut into pieces past ``max_line``."""

    def __init__(self, max_line: int) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.pending = ""
        self.max_line = max_line

    def feed(self, data: bytes, *, final: bool = False) -> list[str]:
        text = self.decoder.decode(data, final)
        if "\n" not in text:
            self.pending += text
            lines = []
        else:
            parts = (self.pending + text).split("\n")
            self.pending = parts.pop()
            lines = [_clean(part) for part in parts]
        cut = self.pending.rfind("\r", 0, len(self.pending) - 1)
        if cut >= 0:  # a progress bar redrawing itself: only its last state matters
            self.pending = self.pending[cut + 1 :]
        while len(self.pending) > self.max_line:
            lines.append(self.pending[: self.max_line])
            self.pending = self.pending[self.max_line :]
        if final and self.pending:
            lines.append(_clean(self.pending))
            self.pending = ""
        return lines


def _clean(line: str) -> str:
    """Drop a CRLF's CR; of a line redrawn with lone CRs keep the last drawing."""
    if "\r" not in line:
        return line
    line = line.rstrip("\r")
    return line.rsplit("\r", 1)[-1]


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, _READ_SIZE)
    except OSError:
        return b""


def _start_error(exc: BaseException, cwd: str) -> str:
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else f" in {cwd}"
        return f"cannot start step: {exc.strerror or exc}{where}"
    return f"cannot start step: {exc}"
