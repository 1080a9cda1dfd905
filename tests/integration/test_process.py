"""LocalProcessRunner against real processes: streaming, batching, cancel, timeout, orphans."""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import psutil
import pytest

from shipdeck.backends.local.runner import LocalProcessRunner
from shipdeck.lifecycle.ports import CancelToken, Line, StepResult, Stream
from tests.waiting import DEADLINE, TimedOut, returns, wait_until

pytestmark = pytest.mark.slow  # real process trees started, cancelled and killed

ROOT = Path(__file__).resolve().parents[2]
PY = shlex.quote(sys.executable)
# Two background sleeps in a subshell: the tree is guard > sh > sh > sleep, sleep.
# "ready" comes after both forks have exec'd sleep, so the whole tree exists when it is
# seen (a fork still running the shell's trap code would drop a SIGTERM meant for it).
TREE = "(sleep 300 & sleep 300 & sleep 0.1; echo ready; wait) & wait"
# Without the variables the runner adds, so the tests show that it adds them.
BASE_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


class Recorder:
    """A sink that remembers every batch."""

    def __init__(self) -> None:
        self.calls: list[list[Line]] = []

    def __call__(self, lines: Sequence[Line]) -> None:
        self.calls.append(list(lines))

    @property
    def lines(self) -> list[Line]:
        return [line for batch in self.calls for line in batch]

    def texts(self, stream: Stream = Stream.STDOUT) -> list[str]:
        return [line.text for line in self.lines if line.stream is stream]


def run(
    command: str,
    *,
    cwd: str = str(ROOT),
    env: dict[str, str] | None = None,
    cancel: CancelToken | None = None,
) -> tuple[StepResult, Recorder]:
    sink = Recorder()
    result = LocalProcessRunner().run(
        command,
        cwd=cwd,
        env=BASE_ENV if env is None else env,
        sink=sink,
        cancel=cancel or CancelToken(),
    )
    return result, sink


def tree_of_guard(parent: psutil.Process) -> list[psutil.Process]:
    """The guard under ``parent`` and everything it spawned."""

    def is_guard(p: psutil.Process) -> bool:
        return any(a.endswith("local/guard.py") for a in _cmdline(p))

    guards = [p for p in parent.children() if is_guard(p)]
    assert len(guards) == 1
    return [guards[0], *guards[0].children(recursive=True)]


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return [str(arg) for arg in proc.cmdline()]
    except (psutil.Error, OSError):  # exited meanwhile
        return []


def alive(procs: Iterable[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def wait_all_gone(procs: list[psutil.Process], within: float = DEADLINE) -> list[psutil.Process]:
    """The processes of ``procs`` still alive once all are gone or ``within`` passed."""
    with contextlib.suppress(TimedOut):
        wait_until(lambda: not alive(procs), within, interval=0.05)
    return alive(procs)


def test_output_is_streamed_as_it_comes(tmp_path: Path) -> None:
    # Python without flush(): only PYTHONUNBUFFERED makes the first line come early. The
    # script prints "second" only once the test has seen "first" (the sink answers with a
    # file), so ["first", "second"] proves the line came while the process still ran.
    seen = tmp_path / "seen-first"
    script = (
        "import os, time\n"
        "print('first')\n"
        f"for _ in range({int(DEADLINE * 100)}):\n"
        f"    if os.path.exists({str(seen)!r}): break\n"
        "    time.sleep(0.01)\n"
        f"print('second' if os.path.exists({str(seen)!r}) else 'first never reached shipdeck')\n"
    )
    sink = Recorder()

    def answer(lines: Sequence[Line]) -> None:
        sink(lines)
        if any(li.text == "first" for li in lines):
            seen.touch()

    result = LocalProcessRunner().run(
        f"{PY} -c {shlex.quote(script)}",
        cwd=str(ROOT),
        env=BASE_ENV,
        sink=answer,
        cancel=CancelToken(),
    )
    assert result.ok and sink.texts() == ["first", "second"]


def test_known_buffering_variables_are_added_unless_the_caller_set_them() -> None:
    show = "printf '%s\\n' \"$PYTHONUNBUFFERED\""
    assert run(show)[1].texts() == ["1"]
    assert run(show, env=dict(BASE_ENV, PYTHONUNBUFFERED="0"))[1].texts() == ["0"]


def test_stdout_and_stderr_are_told_apart_and_exit_code_propagates() -> None:
    result, sink = run("echo out; echo err >&2; printf 'no newline'; exit 3")
    assert result.exit_code == 3 and not result.ok and result.error is None
    assert sink.texts(Stream.STDOUT) == ["out", "no newline"]
    assert sink.texts(Stream.STDERR) == ["err"]


def test_missing_cwd_is_an_error_not_an_exception(tmp_path: Path) -> None:
    result, sink = run("echo never", cwd=str(tmp_path / "missing"))
    assert result.exit_code is None and not result.ok
    assert result.error and "missing" in result.error
    assert sink.lines == []


def test_missing_shell_is_an_error() -> None:
    result = LocalProcessRunner(shell="/no/such/sh").run(
        "true", cwd=str(ROOT), env=BASE_ENV, sink=Recorder(), cancel=CancelToken()
    )
    assert result.exit_code is None and result.error and "/no/such/sh" in result.error


def test_unknown_command_is_exit_127() -> None:
    result, sink = run("no-such-command-shipdeck")
    assert result.exit_code == 127
    assert any("no-such-command-shipdeck" in t for t in sink.texts(Stream.STDERR))


def test_many_lines_arrive_in_few_batches_and_in_order() -> None:
    result, sink = run(f"{PY} -c 'for i in range(100000): print(i)'")
    assert result.ok
    assert sink.texts() == [str(i) for i in range(100000)]
    assert len(sink.calls) < 500
    assert max(len(batch) for batch in sink.calls) <= 1000


def test_huge_line_without_newline_is_cut_into_pieces_intact() -> None:
    script = "import sys; sys.stdout.write('x' * 5_000_000 + 'y\\nafter')"
    result, sink = run(f"{PY} -c {shlex.quote(script)}")  # its speed: benchmarks/wall_clock.py
    assert result.ok
    texts = sink.texts()
    assert texts[-1] == "after"
    assert "".join(texts[:-1]) == "x" * 5_000_000 + "y"
    assert max(len(t) for t in texts) <= 1 << 20


def test_crlf_and_progress_redraws_keep_the_last_state() -> None:
    result, sink = run(r"printf 'win\r\n 10%%\r 50%%\r100%%\ndone\n'")
    assert result.ok and sink.texts() == ["win", "100%", "done"]


def test_utf8_split_across_reads_is_decoded_whole() -> None:
    # The odd offset puts read boundaries inside two-byte characters.
    result, sink = run(f"{PY} -c \"print('x' + 'é' * 100000)\"")
    assert result.ok and sink.texts() == ["x" + "é" * 100000]


def test_item_fields_reach_the_command_as_text_only(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    title = f"$(touch {marker}) `touch {marker}`; touch {marker}"
    env = dict(BASE_ENV, SHIPDECK_ITEM_TITLE=title)
    result, sink = run("printf '%s\\n' \"$SHIPDECK_ITEM_TITLE\"", env=env)
    assert result.ok and sink.texts() == [title]
    assert not marker.exists()


def test_background_leftovers_die_when_the_step_ends() -> None:
    result, sink = run("sleep 300 & echo $!")
    assert result.ok
    pid = int(sink.texts()[0])
    try:
        leftover = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return  # killed and reaped before run() returned: the guard is a subreaper
    assert wait_all_gone([leftover]) == []


def test_cancel_before_start_starts_nothing() -> None:
    token = CancelToken()
    token.cancel()
    result, sink = run("echo never", cancel=token)
    assert result.cancelled and result.exit_code is None and sink.lines == []


@pytest.mark.parametrize("ignore_term", [False, True], ids=["sigterm", "sigkill-after-grace"])
def test_cancel_kills_the_whole_tree(ignore_term: bool) -> None:
    token = CancelToken()
    tree: list[psutil.Process] = []
    me = psutil.Process()

    def sink(lines: Sequence[Line]) -> None:
        if any(li.text == "ready" for li in lines) and not tree:
            tree.extend(tree_of_guard(me))
            token.cancel()

    command = ("trap '' TERM; " if ignore_term else "") + TREE
    # Ignored, SIGTERM leaves it to the SIGKILL after a short grace; heeded, a grace far
    # longer than the wait for the run means only the SIGTERM can have ended it.
    runner = LocalProcessRunner(grace=0.5 if ignore_term else 600)
    result = returns(
        lambda: runner.run(command, cwd=str(ROOT), env=BASE_ENV, sink=sink, cancel=token),
        what="the cancelled run",
    )
    assert result.cancelled and not result.timed_out
    assert len(tree) >= 5, [p.cmdline() for p in tree]  # guard, sh, sh, sleep, sleep
    assert wait_all_gone(tree) == []
    if ignore_term:
        assert result.exit_code is None  # SIGKILLed after the grace period
    else:
        assert result.exit_code == 128 + 15  # sh died of the SIGTERM, not the SIGKILL


def test_cancel_lets_grandchildren_clean_up_before_the_kill() -> None:
    token = CancelToken()
    sink = Recorder()

    def cancel_when_ready(lines: Sequence[Line]) -> None:
        sink(lines)
        if any(li.text == "ready" for li in lines):
            token.cancel()

    cleanup = "trap 'sleep 0.2; echo cleaned up; exit 0' TERM"
    # A grace far longer than the wait for the run: it must end once the tree has gone,
    # not when the grace runs out.
    result = returns(
        lambda: LocalProcessRunner(grace=600).run(
            f"({cleanup}; sleep 300 & sleep 0.1; echo ready; wait) & wait",
            cwd=str(ROOT),
            env=BASE_ENV,
            sink=cancel_when_ready,
            cancel=token,
        ),
        what="the cancelled run whose tree cleaned up and exited",
    )
    assert result.cancelled
    # The top shell dies at once; its subshell got SIGTERM too and had time to finish.
    assert sink.texts() == ["ready", "cleaned up"]


def test_a_failing_sink_still_leaves_no_process_behind() -> None:
    tree: list[psutil.Process] = []

    def sink(lines: Sequence[Line]) -> None:
        tree.extend(tree_of_guard(psutil.Process()))
        raise RuntimeError("log pane gone")

    with pytest.raises(RuntimeError, match="log pane gone"):
        LocalProcessRunner().run(TREE, cwd=str(ROOT), env=BASE_ENV, sink=sink, cancel=CancelToken())
    assert len(tree) >= 5
    assert wait_all_gone(tree) == []


def test_timeout_kills_the_whole_tree() -> None:
    tree: list[psutil.Process] = []
    me = psutil.Process()

    def sink(lines: Sequence[Line]) -> None:
        if any(li.text == "ready" for li in lines):
            tree.extend(tree_of_guard(me))

    result = returns(  # the tree sleeps 300 s: only the timeout ends it in time
        lambda: LocalProcessRunner(grace=0.5).run(
            TREE, cwd=str(ROOT), env=BASE_ENV, sink=sink, cancel=CancelToken(), timeout=1.0
        ),
        what="the run with a 1 s timeout",
    )
    assert result.timed_out and not result.cancelled and not result.ok
    assert len(tree) >= 5  # not before the step was under way: "ready" came first
    assert wait_all_gone(tree) == []


KILLED_SCRIPT = """
import os, sys
sys.path.insert(0, {root!r})
from shipdeck.backends.local.runner import LocalProcessRunner
from shipdeck.lifecycle.ports import CancelToken

def sink(lines):
    for line in lines:
        print(line.text, flush=True)

LocalProcessRunner(grace={grace}).run(
    {command!r}, cwd={root!r}, env=dict(os.environ), sink=sink, cancel=CancelToken()
)
"""


@pytest.mark.parametrize("ignore_term", [False, True], ids=["sigterm", "sigkill-after-grace"])
def test_no_orphan_when_shipdeck_is_killed(tmp_path: Path, ignore_term: bool) -> None:
    marker = tmp_path / "cleaned-up"
    if ignore_term:
        command = "trap '' TERM; " + TREE
    else:  # the subshell may clean up on SIGTERM before the group is SIGKILLed
        command = f"(trap 'sleep 0.2; touch {marker}; exit 0' TERM; {TREE[1:]}"
    script = tmp_path / "fake_shipdeck.py"
    script.write_text(
        textwrap.dedent(KILLED_SCRIPT).format(root=str(ROOT), grace=1.0, command=command)
    )
    shipdeck = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert shipdeck.stdout is not None
        assert shipdeck.stdout.readline().strip() == "ready"
        tree = tree_of_guard(psutil.Process(shipdeck.pid))
        assert len(tree) >= 5
        shipdeck.kill()
        shipdeck.wait()
        assert wait_all_gone(tree) == []
        assert marker.exists() is not ignore_term
    finally:
        shipdeck.kill()
        shipdeck.wait()


def test_steps_run_side_by_side(tmp_path: Path) -> None:
    """Each step says it started, then waits until all four have: each prints "together"
    only if the four ran at the same time (one after another, the first would give up)."""
    results: list[tuple[StepResult, Recorder]] = []
    ticks = int(DEADLINE * 100)
    step = (
        "touch {d}/started-{i}; n=0; "
        "until [ $(ls {d} | wc -l) -ge 4 ] || [ $n -ge {ticks} ]; do sleep 0.01; n=$((n+1)); done; "
        "[ $(ls {d} | wc -l) -ge 4 ] && echo {i} together || echo {i} alone"
    )

    def one(i: int) -> None:
        results.append(run(step.format(d=tmp_path, i=i, ticks=ticks)))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sink.texts()[0] for _, sink in results) == [f"{i} together" for i in range(4)]
    assert all(r.ok for r, _ in results)


# --- guards started ahead (prepare) ----------------------------------------------------


def guards_under(parent: psutil.Process) -> list[psutil.Process]:
    return [
        p
        for p in alive(parent.children())
        if any(a.endswith("local/guard.py") for a in _cmdline(p))
    ]


def test_prepared_steps_run_under_guards_started_ahead(tmp_path: Path) -> None:
    runner = LocalProcessRunner()
    me = psutil.Process()
    runner.prepare(2)
    try:
        # started before any step was asked for (seen by its command line once it has
        # exec'd: a child read between fork and exec still shows pytest's)
        (first,) = wait_until(lambda: guards_under(me), what="the first guard")
        # $PPID is the guard's pid; the directory and environment came with the order.
        step = 'echo "$PPID $(pwd) $ANSWER"'
        result, sink = run_with(runner, step, cwd=str(tmp_path), env=dict(BASE_ENV, ANSWER="42"))
        assert result.ok and sink.texts() == [f"{first.pid} {tmp_path} 42"]
        # While the first step ran, the second one's guard was started.
        (second,) = wait_until(lambda: guards_under(me), what="the second guard")
        assert second.pid != first.pid
        result, sink = run_with(runner, step, cwd=str(ROOT), env=dict(BASE_ENV, ANSWER="43"))
        assert result.ok and sink.texts() == [f"{second.pid} {ROOT} 43"]
        assert guards_under(me) == []  # the two steps said to come came: none is ahead
        result, sink = run_with(runner, step, cwd=str(ROOT), env=dict(BASE_ENV, ANSWER="44"))
        assert result.ok and sink.texts()[0].endswith(f"{ROOT} 44")  # a guard of its own
    finally:
        runner.prepare(0)


def test_work_given_meanwhile_runs_on_a_helper_thread_while_the_next_step_runs(
    tmp_path: Path,
) -> None:
    """The step waits for a file only that work makes: it ends because the work ran
    while it ran, on another thread. Not before the step (meanwhile() only queues it),
    and not at all once prepare(0) said no step is coming."""
    runner = LocalProcessRunner()
    ran: list[str] = []

    def work() -> None:
        ran.append(threading.current_thread().name)
        (tmp_path / "go").touch()

    runner.prepare(1)
    runner.meanwhile(work)
    assert ran == []
    step = "for _ in $(seq 500); do [ -e go ] && echo went && exit 0; sleep 0.01; done; exit 1"
    result, sink = run_with(runner, step, cwd=str(tmp_path), env=BASE_ENV)
    assert result.ok and sink.texts() == ["went"]
    assert ran == ["shipdeck-meanwhile"]
    (tmp_path / "go").unlink()
    runner.prepare(1)
    runner.meanwhile(work)
    runner.prepare(0)  # the advance ended before the step: the work goes with it
    result, _ = run_with(runner, step.replace("500", "20"), cwd=str(tmp_path), env=BASE_ENV)
    assert result.exit_code == 1 and ran == ["shipdeck-meanwhile"]


def test_a_guard_started_ahead_goes_when_no_step_comes() -> None:
    runner = LocalProcessRunner()
    me = psutil.Process()
    runner.prepare(3)
    ahead = guards_under(me)
    assert len(ahead) == 1
    runner.prepare(0)  # the advance ended early (a step failed): nothing is coming
    assert wait_all_gone(ahead) == []
    # Reaped too, not a zombie an open board keeps: its pid is gone.
    wait_until(lambda: not psutil.pid_exists(ahead[0].pid), DEADLINE, interval=0.01)


def test_a_guard_started_ahead_and_killed_does_not_fail_the_step() -> None:
    runner = LocalProcessRunner()
    runner.prepare(1)
    (ahead,) = guards_under(psutil.Process())
    ahead.kill()
    assert wait_all_gone([ahead]) == []
    result, sink = run_with(runner, "echo fine", cwd=str(ROOT), env=BASE_ENV)
    assert result.ok and sink.texts() == ["fine"]


AHEAD_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from shipdeck.backends.local.runner import LocalProcessRunner

runner = LocalProcessRunner()
runner.prepare(1)
print("prepared", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("how", ["exits", "killed"])
def test_a_guard_started_ahead_goes_with_shipdeck(tmp_path: Path, how: str) -> None:
    script = tmp_path / "fake_shipdeck.py"
    script.write_text(textwrap.dedent(AHEAD_SCRIPT).format(root=str(ROOT)))
    shipdeck = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert shipdeck.stdout is not None and shipdeck.stdin is not None
        assert shipdeck.stdout.readline().strip() == "prepared"
        ahead = guards_under(psutil.Process(shipdeck.pid))
        assert len(ahead) == 1
        if how == "killed":
            shipdeck.kill()
        else:
            shipdeck.stdin.close()
        shipdeck.wait()
        assert wait_all_gone(ahead) == []  # its lifeline closed before any order came
    finally:
        shipdeck.kill()
        shipdeck.wait()


def test_a_guard_waiting_for_its_order_gives_up_after_its_idle_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shipdeck.backends.local import guard

    ours, theirs = socket.socketpair()
    wake_r, wake_w = os.pipe()
    try:
        monkeypatch.setattr(guard, "IDLE_LIMIT", 0.2)
        assert returns(lambda: guard._await_order(theirs.fileno(), wake_r, [])) is None
        monkeypatch.setattr(guard, "IDLE_LIMIT", DEADLINE)
        ours.sendall(b"C15\n/tmp\0true\0A=1")  # in pieces: the order is read whole
        rest = threading.Timer(0.2, lambda: ours.sendall(b"=2"))
        rest.start()
        order = returns(lambda: guard._await_order(theirs.fileno(), wake_r, []))
        rest.join()
        assert order == (b"/tmp", b"true", {b"A": b"1=2"})
        ours.sendall(b"X")  # not an order
        assert returns(lambda: guard._await_order(theirs.fileno(), wake_r, [])) is None
    finally:
        for fd in (wake_r, wake_w):
            os.close(fd)
        ours.close()
        theirs.close()


def run_with(
    runner: LocalProcessRunner, command: str, *, cwd: str, env: dict[str, str]
) -> tuple[StepResult, Recorder]:
    sink = Recorder()
    return runner.run(command, cwd=cwd, env=env, sink=sink, cancel=CancelToken()), sink
