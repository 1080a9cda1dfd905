"""The step guard: leads a step's process group and takes it down if shipdeck dies.

shipdeck cannot clean up after a SIGKILL, so every step runs under this tiny
process, started in a new session (it is the group leader) as::

    python -I -S _guard.py FD GRACE SHELL COMMAND

``FD`` is one end of a socketpair whose other end only shipdeck holds. The guard
spawns ``SHELL -c COMMAND`` in its own group, then:

- reports the child's exit as ``X <code>\\n`` on FD (signal deaths as 128+n, the
  shell convention) and waits: shipdeck SIGKILLs the whole group, guard included,
  once it has read the report, so leftovers die while the group leader still
  exists and its id cannot be reused;
- forwards a SIGTERM sent to it to the group, once;
- on EOF on FD (shipdeck is gone) sends SIGTERM to the group, waits up to GRACE
  seconds for the group to empty, then SIGKILLs it, itself included.

Once the command runs, the guard points its own stdout and stderr at /dev/null:
it never writes to the step's pipes, and their EOF tells shipdeck that every
process of the step has gone. A spawn failure is reported as ``E <reason>\\n``
on FD. Stdlib only, no site: it starts in ~10 ms.
Processes that leave the group with setsid() (daemons) escape it.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

# Handled here, so restored to the default in the child (SIGPIPE: Python ignores it).
_RESET = (signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT)


def _code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def main(argv: list[str]) -> int:
    fd, grace, shell, command = int(argv[1]), float(argv[2]), argv[3], argv[4]
    os.set_inheritable(fd, False)
    group = os.getpgrp()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    state = {"child": 0, "term": False, "forwarded": False}

    def forward() -> None:
        if state["child"] and not state["forwarded"]:
            state["forwarded"] = True
            os.killpg(group, signal.SIGTERM)  # reaches us too; the flag stops the echo

    def on_term(signum: int, frame: object) -> None:
        state["term"] = True
        forward()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        child = os.posix_spawn(
            shell, [shell, "-c", command], os.environ, setsigdef=_RESET, setsigmask=()
        )
    except OSError as exc:
        os.write(fd, f"E cannot run {shell}: {exc.strerror or exc}\n".encode())
        _wait_readable([fd], None)
        return 127
    state["child"] = child
    if state["term"]:
        forward()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    devnull = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(devnull, std)
    os.close(devnull)

    status: int | None = None
    while True:
        ready = _wait_readable([fd, wake_r], None)
        if wake_r in ready:
            os.read(wake_r, 512)
        if status is None:
            pid, raw = os.waitpid(child, os.WNOHANG)
            if pid:
                status = _code(raw)
                try:
                    os.write(fd, f"X {status}\n".encode())
                except OSError:
                    break  # shipdeck is gone
        if fd in ready:
            try:
                data = os.read(fd, 64)
            except OSError:
                data = b""
            if not data:
                break  # shipdeck is gone (or gave up on us)

    # Orphaned: take the group down, gently first.
    state["term"] = True
    forward()
    deadline = time.monotonic() + grace
    while (left := deadline - time.monotonic()) > 0:
        if status is None and os.waitpid(child, os.WNOHANG)[0]:
            status = 0
        if status is not None and not _others_in_group(group):
            break
        if _wait_readable([wake_r], min(left, 0.05)):
            os.read(wake_r, 512)
    os.killpg(group, signal.SIGKILL)
    return 137  # not reached


def _others_in_group(group: int) -> bool:
    """Whether a live process other than us is in ``group`` (True when unknowable)."""
    me = os.getpid()
    try:
        names = os.listdir("/proc")
    except OSError:
        return True  # no procfs: wait out the whole grace period
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        state, _ppid, pgrp = stat[stat.rindex(b")") + 2 :].split()[:3]
        if int(pgrp) == group and state != b"Z":
            return True
    return False


def _wait_readable(fds: list[int], timeout: float | None) -> list[int]:
    ready, _, _ = select.select(fds, [], [], timeout)
    return ready


if __name__ == "__main__":
    sys.exit(main(sys.argv))
