"""The step guard: runs one step and makes sure nothing the step started outlives it.

Every step runs under this tiny process, started by shipdeck in a new session (it
leads the session and its process group) as::

    python -I -S guard.py FD GRACE SHELL

``FD`` is one end of a socketpair whose other end only shipdeck holds. The guard
waits there for its order, ``C<size>\\n`` and then ``size`` bytes: the working
directory, the command and the step's environment (``NAME=value`` entries), NUL
apart. So shipdeck can start a guard ahead of its step, and the step does not wait
for an interpreter to start (~13 ms). A guard that gets no order within
``IDLE_LIMIT`` seconds, or sees FD close first, exits and runs nothing. With its
order it changes to the directory and spawns ``SHELL -c COMMAND`` in its own group.
From its start, on Linux, it is a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``):
a process of the step whose parent dies is re-parented to the guard instead of init,
so a daemon that double-forks and calls setsid(), or a child that moves to a group of
its own with setpgid(), is still the guard's descendant. The step's processes are the
guard's descendants plus, as a fallback, the members of its session, both found by
reading /proc.

*Killing the step* means: SIGKILL every process of the step, reap, and repeat until a
scan finds none (a process may fork while it is being killed), for at most
``SWEEP_LIMIT`` seconds; then the guard SIGKILLs its own group, itself included. The
step is killed:

- when the command exits, right after its exit is reported as ``X <code>\\n`` on FD
  (signal deaths as 128+n, the shell convention). The step's result is its main
  process's exit code, and whatever it left running dies with it: a build or test
  step cannot leave a server running;
- when shipdeck writes ``K`` on FD (its grace period for a cancel or timeout ran
  out); nothing more is reported;
- when FD reaches EOF (shipdeck is gone): the step first gets SIGTERM and GRACE
  seconds to exit on its own.

A SIGTERM sent to the guard (cancel, timeout) is forwarded once to every process of
the step; the guard then ends as soon as the command has exited and no process of
the step is left, or when ``K`` comes. Once the command runs, the guard points its
own stdout and stderr at /dev/null: it never writes to the step's pipes, so their EOF
tells shipdeck that the step's processes have gone. A spawn failure is reported as
``E <reason>\\n`` on FD. The guard starts for every step, so it is kept lean: stdlib
only, no site, and ``_ctypes`` rather than ``ctypes`` (whose import alone costs ~5 ms,
a third of a bare interpreter's start).

What is not contained: a process the guard may not signal (one that became another
user through a setuid binary); processes started on the step's behalf by a service
(``systemd-run``, ``docker run -d``, ``at``, ssh to another host); and, if the guard
itself is SIGKILLed while the step runs, the step's processes outside its group
(shipdeck can only kill the group then). Without the subreaper (not Linux, or prctl
failed) a process whose parent died escapes unless it stayed in the guard's session
(setpgid() is caught, a setsid() daemon is not); without /proc (not Linux) only the
guard's group is killed, by the final killpg. No cgroup is used: few machines let an
unprivileged process create one, and the subreaper already sees every descendant.
"""

from __future__ import annotations

# The C module: ``signal`` wraps it in enums, and importing enum costs ~4 ms a step.
import _signal as signal
import os
import select
import sys
import time

# Handled here, so restored to the default in the child (SIGPIPE: Python ignores it).
_RESET = (signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT)
PR_SET_CHILD_SUBREAPER = 36
SWEEP_LIMIT = 2.0  # seconds the guard keeps killing before it gives up and exits
IDLE_LIMIT = 900.0  # seconds a guard started ahead waits for its order


def _code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def _become_subreaper() -> bool:
    """prctl(PR_SET_CHILD_SUBREAPER, 1) through libc; False where that is impossible."""
    if not sys.platform.startswith("linux"):
        return False
    try:  # _ctypes directly: `import ctypes` alone costs ~5 ms more
        import _ctypes

        # typeshed makes _SimpleCData generic; at run time it is not subscriptable
        class Int(_ctypes._SimpleCData):  # type: ignore[type-arg]
            _type_ = "i"

        class ULong(_ctypes._SimpleCData):  # type: ignore[type-arg]
            _type_ = "L"

        class Func(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = Int

        libc = _ctypes.dlopen(None)  # type: ignore[arg-type]  # None: the process's own symbols
        prctl = Func(_ctypes.dlsym(libc, "prctl"))
        one, zero = ULong(1), ULong(0)
    except (ImportError, AttributeError, TypeError, OSError):
        return _become_subreaper_with_ctypes()
    return bool(prctl(PR_SET_CHILD_SUBREAPER, one, zero, zero, zero) == 0)


def _become_subreaper_with_ctypes() -> bool:
    """The same through ``ctypes``, where ``_ctypes`` alone would not do."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None).prctl
        one, zero = ctypes.c_ulong(1), ctypes.c_ulong(0)
    except (ImportError, AttributeError, OSError):
        return False
    return bool(prctl(PR_SET_CHILD_SUBREAPER, one, zero, zero, zero) == 0)


def main(argv: list[str]) -> int:
    fd, grace, shell = int(argv[1]), float(argv[2]), argv[3]
    os.set_inheritable(fd, False)
    subreaper = _become_subreaper()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    terms: list[int] = []  # SIGTERMs received, or 0 for "shipdeck is gone"
    signal.signal(signal.SIGTERM, lambda signum, frame: terms.append(signum))
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    order = _await_order(fd, wake_r, terms)
    if order is None:
        return 0  # let go before any step came: nothing ran, nothing to kill
    cwd, command, env = order
    try:
        os.chdir(cwd)
    except OSError as exc:
        where = cwd.decode("utf-8", "replace")
        _send(fd, f"E cannot start step: {exc.strerror or exc}: {where}\n")
        return 127
    try:
        child = os.posix_spawn(shell, (shell, "-c", command), env, setsigdef=_RESET, setsigmask=())
    except OSError as exc:
        _send(fd, f"E cannot run {shell}: {exc.strerror or exc}\n")
        return 127
    devnull = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(devnull, std)
    os.close(devnull)

    status: int | None = None
    fds = [fd, wake_r]
    forwarded = False
    give_up_at: float | None = None  # only once shipdeck is gone
    while True:
        if terms and not forwarded:
            forwarded = True
            _signal_step(signal.SIGTERM)  # reaches us too: the flag stops the echo
        code, no_children = _reap(child)
        if code is not None:
            status = code
            _send(fd, f"X {status}\n")  # fails if shipdeck is gone: the step is done anyway
        if status is not None and not forwarded:
            break  # the command is done: what it left running goes now
        if status is not None and (no_children if subreaper else _step_processes() == []):
            break  # terminating, and every process of the step went on its own
        timeout = None if subreaper or status is None else 0.05  # nothing to wake us
        if give_up_at is not None:
            if (left := give_up_at - time.monotonic()) <= 0:
                break
            timeout = left if timeout is None else min(timeout, left)
        ready, _, _ = select.select(fds, [], [], timeout)
        if wake_r in ready:
            os.read(wake_r, 512)
        if fd in ready:
            try:
                data = os.read(fd, 64)
            except OSError:
                data = b""
            if b"K" in data:
                break  # shipdeck's grace period ran out
            if not data:  # shipdeck is gone: the step goes too, gently first
                fds.remove(fd)
                terms.append(0)
                give_up_at = time.monotonic() + grace
    if not (subreaper and _reap(0)[1]):  # with no children, there is nothing to kill
        _kill_step()
    os.killpg(os.getpgrp(), signal.SIGKILL)  # the group, us included
    return 137  # not reached


def _await_order(
    fd: int, wake_r: int, terms: list[int]
) -> tuple[bytes, bytes, dict[bytes, bytes]] | None:
    """The step to run (directory, command, environment), or None: FD closed, a
    SIGTERM came, ``IDLE_LIMIT`` passed, or what came is not an order."""
    give_up_at = time.monotonic() + IDLE_LIMIT
    data = b""
    while not terms:
        left = give_up_at - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd, wake_r], [], [], left)
        if wake_r in ready:
            os.read(wake_r, 512)
        if fd not in ready:
            continue
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:
            chunk = b""
        if not chunk or not (data := data + chunk).startswith(b"C"):
            return None
        head, newline, body = data.partition(b"\n")
        if newline and len(body) >= (size := int(head[1:])):
            cwd, command, *entries = body[:size].split(b"\0")
            return cwd, command, dict(entry.split(b"=", 1) for entry in entries)
    return None


def _reap(child: int) -> tuple[int | None, bool]:
    """Reap every exited child: ``child``'s exit code if it was one, and whether none is left."""
    code = None
    while True:
        try:
            pid, raw = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return code, True
        if not pid:
            return code, False
        if pid == child:
            code = _code(raw)


def _signal_step(signum: int) -> None:
    """Once to each process: a shell running its TERM trap may not survive a second one."""
    os.killpg(os.getpgrp(), signum)  # atomic for the group, even against a fork
    for pid in _step_processes(outside_group=True) or ():
        _kill(pid, signum)


def _kill_step() -> None:
    """SIGKILL and reap the step's processes until none is left (or SWEEP_LIMIT passed)."""
    give_up_at = time.monotonic() + SWEEP_LIMIT
    while True:
        pids = _step_processes() or []
        # By pid: one is recycled between scan and kill only if a live parent of the
        # step reaped it within those microseconds (we reap ours after the kills).
        for pid in pids:
            _kill(pid, signal.SIGKILL)
        _reap(0)
        if not pids or time.monotonic() >= give_up_at:
            return
        time.sleep(0.005)  # SIGKILLed processes take a moment to exit


def _kill(pid: int, signum: int) -> bool:
    """False if ``pid`` is gone meanwhile, or not ours to signal (a setuid program)."""
    try:
        os.kill(pid, signum)
    except OSError:
        return False
    return True


def _send(fd: int, report: str) -> bool:
    """False if shipdeck is gone. (No contextlib here: importing it costs milliseconds.)"""
    try:
        os.write(fd, report.encode())
    except OSError:
        return False
    return True


def _step_processes(*, outside_group: bool = False) -> list[int] | None:
    """Live processes of the step: our descendants and our session's members, not us
    (nor, with ``outside_group``, our group's members).

    None without procfs: unknowable (the final killpg is all there is then).
    """
    me = os.getpid()
    session = me if os.getsid(0) == me else None  # never someone else's session
    group = os.getpgrp() if outside_group else None
    try:
        names = os.listdir("/proc")
    except OSError:
        return None
    found: list[int] = []
    children: dict[int, list[int]] = {}
    groups: dict[int, int] = {}
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        state, ppid, pgrp, sid = stat[stat.rindex(b")") + 2 :].split()[:4]
        pid = int(name)
        if state in (b"Z", b"X") or pid == me:
            continue
        groups[pid] = int(pgrp)
        if int(sid) == session:
            found.append(pid)
        else:
            children.setdefault(int(ppid), []).append(pid)
    todo = [me, *found]
    while todo:  # the descendants of us and of our session (a setsid daemon's children)
        kids = children.pop(todo.pop(), ())
        found.extend(kids)
        todo.extend(kids)
    return [pid for pid in found if groups[pid] != group]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
