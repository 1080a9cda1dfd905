"""Local processes for build, test and deploy steps (implements ``ProcessRunner``).

Each step runs as ``/bin/sh -c COMMAND`` under a small guard process
(``backends/_guard.py``) that leads a new session and process group, so that:

- cancel and timeout reach the whole tree: SIGTERM to the group, SIGKILL after
  a grace period;
- whatever the step left running in the background dies when the step ends;
- nothing survives shipdeck being SIGKILLed: the guard notices that its
  lifeline socket closed and takes the group down;
- the step has no controlling terminal, so a tool prompting on /dev/tty fails
  instead of scribbling over the board.

Output is read from two pipes as it comes and handed to the sink in batches
(at most one call per ``flush_interval`` unless ``max_batch`` lines are waiting).
Processes that leave the group with ``setsid()`` (daemons) are out of reach;
if one keeps the output pipes open, reading stops ``drain_timeout`` after the
step ended rather than hanging.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping

from backends import _guard
from lifecycle.ports import CancelToken, Line, OutputSink, StepResult, Stream

# Tools that buffer or go quiet when stdout is a pipe; set only if the caller did not.
UNBUFFERED_ENV: Mapping[str, str] = {"PYTHONUNBUFFERED": "1"}
COLOR_ENV: Mapping[str, str] = {"FORCE_COLOR": "1", "CLICOLOR_FORCE": "1", "PY_COLORS": "1"}

_READ_SIZE = 64 * 1024
_GUARD = os.path.abspath(_guard.__file__)


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
        ours, theirs = socket.socketpair()
        guard = [sys.executable, "-I", "-S", _GUARD, str(theirs.fileno()), str(self.grace)]
        try:
            proc = subprocess.Popen(
                [*guard, self.shell, command],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=full_env,
                start_new_session=True,
                pass_fds=(theirs.fileno(),),
            )
        except (OSError, ValueError) as exc:
            ours.close()
            return StepResult(None, time.monotonic() - started, error=_start_error(exc, cwd))
        finally:
            theirs.close()
        step = _Step(self, proc, ours, sink, started, timeout)
        undo = cancel.on_cancel(step.cancel)
        try:
            return step.pump()
        finally:
            undo()
            step.close()


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
        self.kill_at: float | None = None
        self.killed = False  # the SIGKILL escalation was sent
        self.reported = False  # the guard told us how the command ended
        self.group_killed = False
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
            # The guard forwards it to the group once it has spawned the command.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)

    def _kill_group(self) -> None:
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
        pipes_open = 2
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
                            guard_gone_at = time.monotonic()
                        continue
                    stream, splitter = splitters[fd]
                    data = _read(fd)
                    if not data:
                        sel.unregister(fd)
                        pipes_open -= 1
                    self.batch.add(stream, splitter.feed(data, final=not data))
                if (
                    self.reported
                    and not self.group_killed
                    and (self.kill_at is None or pipes_open == 0)
                ):
                    # The command is done. Leftovers go now (the guard with them); when
                    # cancelling, only once they closed the pipes or the grace ran out.
                    self.group_killed = True
                    self._kill_group()
                self._check_deadlines(time.monotonic())
                self.batch.flush_if_due()
            for stream, splitter in splitters.values():  # a daemon kept a pipe open
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
            self.killed = True
            self._kill_group()

    def _reap(self) -> None:
        self._kill_group()
        self.proc.wait()
        with self.lock:
            self.reaped = True

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
