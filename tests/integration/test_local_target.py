"""The local deploy target with real processes and real HTTP on loopback.

Each "release" is a work dir holding a tiny stdlib HTTP service whose code says
which release it is, so a GET proves which code actually runs.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from shipdeck.backends.local.target import LocalTarget
from shipdeck.lifecycle.ports import CancelToken, Line, Release, Stream, TargetError
from tests.helpers import free_port
from tests.waiting import returns, wait_until

pytestmark = pytest.mark.slow  # real services deployed, health-checked and stopped

SERVICE = """\
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME, MODE = {name!r}, {mode!r}
if MODE == "crash":
    print("boom: cannot start " + NAME, file=sys.stderr)
    sys.exit(3)
if MODE == "idle":  # alive, but never listens on its port
    import time
    time.sleep(3600)
if MODE == "late":  # alive a while without listening, then gone (as on "address in use")
    import time
    time.sleep(1.0)
    print("port taken", file=sys.stderr)
    sys.exit(4)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            code, body = (503, "starting") if MODE == "nohealth" else (200, "ok")
        elif self.path == "/env":
            keys = ("SHIPDECK_ENV", "SHIPDECK_VERSION", "GREETING", "API_TOKEN", "LEAKED")
            code, body = 200, json.dumps({{k: os.environ.get(k) for k in keys}})
        elif self.path.startswith("/say/"):
            print(self.path[5:], flush=True)
            code, body = 200, "said"
        else:
            code, body = 200, NAME
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def procs_under(path: Path) -> list[psutil.Process]:
    """Live processes whose working directory is inside ``path``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and proc.cwd().startswith(str(path)):
                found.append(proc)
        except psutil.Error:
            continue
    return found


class Sink:
    def __init__(self) -> None:
        self.lines: list[Line] = []

    def __call__(self, batch: object) -> None:
        self.lines.extend(batch)  # type: ignore[arg-type]

    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


class World:
    """A repository root, release work dirs, and every target made, for teardown."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.root = tmp / "repo"
        self.root.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.targets: list[LocalTarget] = []

    def release(self, version: str, name: str, mode: str = "ok") -> Release:
        workdir = self.root / ".shipdeck" / "releases" / version
        workdir.mkdir(parents=True)
        (workdir / "service.py").write_text(SERVICE.format(name=name, mode=mode))
        return Release(version=version, sha="0" * 40, tag=f"v{version}", workdir=str(workdir))

    def target(self, **kw: object) -> LocalTarget:
        options: dict = {
            "root": self.root,
            "command": f"{shlex.quote(sys.executable)} service.py {self.port}",
            "port": self.port,
            "health_url": f"{self.url}/health",
            "health_timeout": 10,
            "health_interval": 0.05,
            "grace": 3,
        } | kw
        target = LocalTarget("staging", **options)
        self.targets.append(target)
        return target

    def get(self, path: str = "/") -> str:
        return httpx.get(self.url + path, timeout=5, trust_env=False).text


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    for target in w.targets:
        target.stop(Sink())
    leaked = procs_under(tmp_path)
    for proc in leaked:
        proc.kill()
    assert not leaked, f"processes leaked: {leaked}"


def deploy(target: LocalTarget, release: Release, sink: Sink | None = None):
    return target.deploy(release, sink or Sink(), CancelToken())


def test_deploy_runs_the_release_and_status_sees_it(world: World) -> None:
    target = world.target()
    sink = Sink()
    result = deploy(target, world.release("0.1.0", "v1"), sink)
    assert result.ok, result.message
    assert world.get() == "v1"
    status = target.status()
    assert (status.state, status.version, status.healthy) == ("running", "0.1.0", True)
    assert status.pid is not None and running(status.pid)
    assert status.started_at is not None
    assert f"starting v0.1.0 on port {world.port} (pid {status.pid})" in sink.text()
    assert "healthy after" in sink.text()
    # detached: its own session, no pipe back to shipdeck, output in the state dir
    assert os.getsid(status.pid) == status.pid
    assert os.readlink(f"/proc/{status.pid}/fd/0") == "/dev/null"
    out, err = target.log_paths("0.1.0")
    assert os.readlink(f"/proc/{status.pid}/fd/1") == str(out)
    assert os.readlink(f"/proc/{status.pid}/fd/2") == str(err)
    assert out.parent == world.root / ".shipdeck" / "state" / "staging"


@pytest.mark.parametrize("relay", [True, False], ids=["relay", "shell"])
def test_a_start_whose_record_cannot_be_written_never_runs(
    world: World, monkeypatch: pytest.MonkeyPatch, relay: bool
) -> None:
    """A full disk refusing the state file right after the start: the service ran on,
    unknown to shipdeck (``status`` said absent, ``stop`` stopped nothing), holding the
    port. A start is held until its record is written; refused, it exits unrun."""
    from shipdeck.backends.local import supervise
    from shipdeck.lifecycle.errors import StorageError

    real = supervise.write_json_atomic

    def full(path: Path, data: dict) -> None:  # type: ignore[type-arg]
        if (data.get("intent") or {}).get("step") == "checking-new":
            raise StorageError.wrap(OSError(28, "No space left on device"), "staging.json")
        real(path, data)

    monkeypatch.setattr(supervise, "write_json_atomic", full)
    target = world.target(log_rotate=(1 << 20, 2) if relay else None)
    with pytest.raises(StorageError, match="space left"):
        deploy(target, world.release("0.1.0", "v1"))
    wait_until(lambda: not procs_under(world.root), what="the unrecorded start gone")
    with pytest.raises(httpx.ConnectError):
        world.get()


def test_deploy_replaces_the_previous_release(world: World) -> None:
    target = world.target()
    assert deploy(target, world.release("0.1.0", "v1")).ok
    old_pid = target.status().pid
    assert old_pid is not None
    sink = Sink()
    assert deploy(target, world.release("0.2.0", "v2"), sink).ok
    assert world.get() == "v2"
    assert not running(old_pid)
    assert f"stopping v0.1.0 (pid {old_pid})" in sink.text()
    state = json.loads(target.state_path.read_text())
    assert [h["version"] for h in state["history"]] == ["0.1.0", "0.2.0"]
    assert all(h["healthy"] for h in state["history"])


@pytest.mark.parametrize("mode", ["crash", "nohealth"])
def test_failed_deploy_rolls_back_to_the_previous_release(world: World, mode: str) -> None:
    # A crash must end the deploy on the exit, not by the health timeout: with one far
    # longer than the wait for the deploy, only the exit can end it in time.
    target = world.target(health_timeout=2 if mode == "nohealth" else 600)
    assert deploy(target, world.release("0.1.0", "v1")).ok
    assert deploy(target, world.release("0.2.0", "v2")).ok
    broken = world.release("0.3.0", "v3", mode)
    sink = Sink()
    result = returns(lambda: deploy(target, broken, sink), what="the failed deploy")
    assert not result.ok
    assert result.version == "0.3.0"
    assert result.rolled_back_to == "0.2.0"
    assert world.get() == "v2"
    assert procs_under(Path(broken.workdir or "")) == []
    status = target.status()
    assert (status.state, status.version, status.healthy) == ("running", "0.2.0", True)
    history = json.loads(target.state_path.read_text())["history"]
    assert history[-1]["version"] == "0.3.0" and history[-1]["healthy"] is False
    if mode == "crash":  # fails on the exit (returns() above), with the exit code and stderr
        assert "exited with code 3" in result.message
        assert "not healthy after" not in result.message
        assert "boom: cannot start v3" in result.message
        assert Line(Stream.STDERR, "boom: cannot start v3") in sink.lines
    else:
        assert "not healthy after 2s" in result.message
    assert "rolling back to v0.2.0" in sink.text()


def test_failed_first_deploy_leaves_nothing_running(world: World) -> None:
    target = world.target()
    result = deploy(target, world.release("0.1.0", "v1", "crash"))
    assert not result.ok and result.rolled_back_to is None
    assert target.status().state == "failed"
    assert procs_under(world.root) == []


def test_rollback_goes_to_the_previous_healthy_release(world: World) -> None:
    target = world.target(health_timeout=2)
    with pytest.raises(TargetError):
        target.rollback(Sink(), CancelToken())
    assert deploy(target, world.release("0.1.0", "v1")).ok
    assert deploy(target, world.release("0.2.0", "v2")).ok
    assert not deploy(target, world.release("0.3.0", "v3", "crash")).ok
    result = target.rollback(Sink(), CancelToken())
    assert result.ok, result.message
    assert result.version == "0.1.0"
    assert world.get() == "v1"
    assert target.status().version == "0.1.0"
    # rolling back again returns to 0.2.0: the most recent healthy one that is not current
    assert target.rollback(Sink(), CancelToken()).version == "0.2.0"
    assert world.get() == "v2"


def test_restart_starts_a_new_process_of_the_same_version(world: World) -> None:
    target = world.target()
    assert deploy(target, world.release("0.1.0", "v1")).ok
    old_pid = target.status().pid
    result = target.restart(Sink())
    assert result.ok and result.version == "0.1.0"
    status = target.status()
    assert status.pid != old_pid and status.state == "running"
    assert old_pid is not None and not running(old_pid)
    assert world.get() == "v1"


def test_a_new_shipdeck_process_finds_the_running_service(world: World) -> None:
    assert deploy(world.target(), world.release("0.1.0", "v1")).ok
    fresh = world.target()  # a new object reads only the state file
    status = fresh.status()
    assert (status.state, status.version) == ("running", "0.1.0")
    pid = status.pid
    assert pid is not None
    fresh.stop(Sink())
    assert not running(pid)
    assert fresh.status().state == "stopped"
    with pytest.raises(httpx.ConnectError):
        world.get()


def test_the_service_survives_the_shipdeck_process_that_started_it(world: World) -> None:
    release = world.release("0.1.0", "v1")
    target = world.target()  # its stop() in teardown cleans up after the child process
    script = (
        "import sys; from pathlib import Path;"
        "from shipdeck.backends.local.target import LocalTarget;"
        "from shipdeck.lifecycle.ports import CancelToken, Release;"
        f"t = LocalTarget('staging', root=Path({str(world.root)!r}),"
        f" command={target.launch_spec()[0]!r}, port={world.port},"
        f" health_url={world.url + '/health'!r}, health_interval=0.05);"
        f"r = t.deploy(Release('0.1.0', '0'*40, 'v0.1.0', workdir={release.workdir!r}),"
        " lambda b: None, CancelToken()); sys.exit(0 if r.ok else 1)"
    )
    repo = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", script], cwd=repo, check=True, timeout=60)
    assert world.get() == "v1"
    assert target.status().state == "running"


def test_a_dead_or_reused_pid_is_not_taken_for_the_service(world: World) -> None:
    target = world.target()
    assert deploy(target, world.release("0.1.0", "v1")).ok
    state = json.loads(target.state_path.read_text())
    target.stop(Sink())
    state["current"]["stopped"] = False  # as if it had crashed
    target.state_path.write_text(json.dumps(state))
    status = target.status()
    assert status.state == "stopped" and status.pid is None
    assert "is gone" in status.detail["reason"]
    # the pid now belongs to an unrelated process (different create_time)
    other = subprocess.Popen(["sleep", "60"])
    try:
        state["current"] |= {"pid": other.pid, "pgid": other.pid}
        target.state_path.write_text(json.dumps(state))
        assert target.status().state == "stopped"
        target.stop(Sink())
        assert other.poll() is None, "stop killed a process it did not start"
    finally:
        other.kill()
        other.wait()


def test_stop_leaves_no_child_of_the_service_behind(world: World) -> None:
    command = f"sleep 300 & {shlex.quote(sys.executable)} service.py {world.port}"
    target = world.target(command=command)
    assert deploy(target, world.release("0.1.0", "v1")).ok
    pid = target.status().pid
    assert pid is not None
    tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    assert any(p.name() == "sleep" for p in tree)
    target.stop(Sink())
    assert not any(running(p.pid) for p in tree)


def test_env_and_secrets_reach_the_service(world: World) -> None:
    os.environ["LEAKED"] = "should not pass"
    try:
        target = world.target(
            env={"GREETING": "hello"},
            secrets={"API_TOKEN": "s3cr3t"},
            base_env={"PATH": os.environ["PATH"]},
        )
        assert deploy(target, world.release("0.1.0", "v1")).ok
    finally:
        del os.environ["LEAKED"]
    seen = json.loads(world.get("/env"))
    assert seen == {
        "SHIPDECK_ENV": "staging",
        "SHIPDECK_VERSION": "0.1.0",
        "GREETING": "hello",
        "API_TOKEN": "s3cr3t",
        "LEAKED": None,
    }
    assert "s3cr3t" not in target.state_path.read_text()
    world.get("/say/token=s3cr3t")
    time.sleep(0.2)
    lines = list(target.logs(follow=False, tail=None, cancel=CancelToken(), mask=mask_token))
    texts = [line.text for batch in lines for line in batch]
    assert "token=***" in texts
    assert not any("s3cr3t" in t for t in texts)


def mask_token(text: str) -> str:
    return text.replace("s3cr3t", "***")


def test_logs_tail_returns_the_request_log(world: World) -> None:
    target = world.target()
    assert deploy(target, world.release("0.1.0", "v1")).ok
    for n in range(8):
        world.get(f"/page{n}")
    time.sleep(0.3)
    batches = list(target.logs(follow=False, tail=5, cancel=CancelToken()))
    err = [line.text for batch in batches for line in batch if line.stream is Stream.STDERR]
    assert len(err) == 5
    assert all(f"GET /page{n} " in text for n, text in zip(range(3, 8), err, strict=True))


def collect(target: LocalTarget, cancel: CancelToken) -> tuple[list[Line], threading.Thread]:
    seen: list[Line] = []

    def run() -> None:
        for batch in target.logs(follow=True, tail=0, cancel=cancel):
            seen.extend(batch)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return seen, thread


def test_logs_follow_sees_new_lines_and_the_next_version(world: World) -> None:
    target = world.target()
    assert deploy(target, world.release("0.1.0", "v1")).ok
    world.get("/say/before")
    time.sleep(0.2)
    cancel = CancelToken()
    seen, thread = collect(target, cancel)
    try:
        time.sleep(0.3)
        world.get("/say/after-one")
        wait_until(lambda: Line(Stream.STDOUT, "after-one") in seen, what="after-one in the log")
        assert deploy(target, world.release("0.2.0", "v2")).ok
        world.get("/say/from-two")
        wait_until(lambda: Line(Stream.STDOUT, "from-two") in seen, what="from-two in the log")
        assert target.restart(Sink()).ok
        world.get("/say/after-restart")
        wait_until(
            lambda: Line(Stream.STDOUT, "after-restart") in seen, what="after-restart in the log"
        )
    finally:
        cancel.cancel()
        thread.join(5)
    assert not thread.is_alive(), "follow did not stop on cancel"
    assert Line(Stream.STDOUT, "before") not in seen  # tail=0: no backlog
    marker = seen.index(Line(Stream.INFO, "--- v0.2.0 started ---"))
    assert marker < seen.index(Line(Stream.STDOUT, "from-two"))
    assert seen.index(Line(Stream.STDOUT, "after-one")) < marker
    again = seen.index(Line(Stream.INFO, "--- v0.2.0 restarted ---"))
    assert seen.index(Line(Stream.STDOUT, "from-two")) < again
    assert again < seen.index(Line(Stream.STDOUT, "after-restart"))
    assert seen.count(Line(Stream.STDOUT, "from-two")) == 1  # a restart re-reads nothing


def test_scale_is_refused_and_an_unused_env_is_absent(world: World) -> None:
    target = world.target()
    with pytest.raises(TargetError, match="scaling needs target swarm"):
        target.scale(3, Sink())
    assert target.status().state == "absent"
    with pytest.raises(TargetError, match="nothing is deployed"):
        target.restart(Sink())
    assert list(target.logs(follow=False, tail=10, cancel=CancelToken())) == []


def test_a_service_with_secrets_logs_them_masked_and_stops_whole(world: World) -> None:
    secret = "tok-9f8e7d6c5b4a"
    command = f"echo key={secret}; echo err={secret} >&2; exec {shlex.quote(sys.executable)}"
    target = world.target(
        command=f"{command} service.py {world.port}", secrets={"API_TOKEN": secret}
    )
    result = deploy(target, world.release("0.1.0", "v1"))
    assert result.ok, result.message
    out, err = target.log_paths("0.1.0")
    wait_until(lambda: "err=" in err.read_text(), what="the service's stderr")
    assert "key=***" in out.read_text() and "err=***" in err.read_text()
    assert secret not in out.read_text() + err.read_text()
    relay = psutil.Process(target.status().pid or 0)
    service = relay.children()
    assert service, "the relay leads the service"
    target.stop(Sink())
    assert not relay.is_running() or relay.status() == psutil.STATUS_ZOMBIE
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in service)


class Stranger:
    """A process shipdeck did not start, answering 200 on every path of ``port``."""

    def __init__(self, port: int) -> None:
        code = (
            "import sys\n"
            "from http.server import BaseHTTPRequestHandler, HTTPServer\n"
            "class H(BaseHTTPRequestHandler):\n"
            "    def do_GET(self):\n"
            "        self.send_response(200); self.send_header('Content-Length', '8')\n"
            "        self.end_headers(); self.wfile.write(b'stranger')\n"
            "HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n"
        )
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(port)])
        url = f"http://127.0.0.1:{port}/"

        def answers() -> bool:
            try:
                httpx.get(url, timeout=1, trust_env=False)
            except httpx.HTTPError:
                return False
            return True

        wait_until(answers, what="the stranger to answer", interval=0.05)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def test_a_health_url_answered_by_a_stranger_is_not_this_release(world: World) -> None:
    """The release runs but never listens on its port; another process answers health."""
    stranger = Stranger(free_port())
    try:
        health = f"http://127.0.0.1:{stranger.proc.args[-1]}/health"  # type: ignore[index]
        target = world.target(health_url=health, health_timeout=1.5)
        result = deploy(target, world.release("0.1.0", "idle", "idle"))
        assert not result.ok
        assert f"port {world.port} is answered by another process" in result.message
        assert procs_under(world.root) == []  # the idle release was stopped
    finally:
        stranger.close()


def test_a_release_that_dies_while_a_stranger_answers_is_not_healthy(world: World) -> None:
    """The port check outlives the process: a gone process does not own the port.

    CI found this as a race (the restart below); here the order is forced: health
    answers at once (the stranger), the release lives 1 s without listening, then exits.
    """
    stranger = Stranger(free_port())
    try:
        health = f"http://127.0.0.1:{stranger.proc.args[-1]}/health"  # type: ignore[index]
        target = world.target(health_url=health, health_timeout=5)
        result = deploy(target, world.release("0.1.0", "late", "late"))
        assert not result.ok, result.message
        assert "exited with code 4 before it was healthy" in result.message
        assert "port taken" in result.message
    finally:
        stranger.close()


def test_restart_with_a_stranger_on_the_port_is_not_reported_healthy(world: World) -> None:
    """Its own process dies on "address in use" while a stranger answers the health URL."""
    target = world.target(health_timeout=3)
    assert deploy(target, world.release("0.1.0", "v1")).ok
    target.stop(Sink())
    stranger = Stranger(world.port)
    try:
        result = target.restart(Sink())
        assert not result.ok, result.message
        assert "not healthy" in result.message
        status = target.status()
        assert status.healthy is not True and status.state != "running"
        assert world.get() == "stranger"  # it was never stopped: not ours
    finally:
        stranger.close()


def test_an_interrupted_deploy_puts_the_previous_release_back_healthy(world: World) -> None:
    """SIGINT ends the new release's health wait at once, not the wait for the old one."""
    from shipdeck.backends import probe

    # A health timeout far longer than the wait for the deploy: only the interrupt ends it.
    target = world.target(health_timeout=600)
    assert deploy(target, world.release("0.1.0", "v1")).ok
    timer = threading.Timer(1.0, probe.interrupt)
    timer.start()
    try:
        result = returns(
            lambda: deploy(target, world.release("0.2.0", "v2", "nohealth")),
            what="the interrupted deploy",
        )
    finally:
        timer.cancel()
        probe._interrupted.clear()  # module state: the next tests probe again
    assert not result.ok and result.rolled_back_to == "0.1.0", result.message
    assert "interrupted" in result.message
    assert "not healthy either" not in result.message, result.message
    assert "not healthy after" not in result.message, result.message
    assert world.get() == "v1"
    assert target.status().healthy is True


def test_stats_sample_the_service_process_tree(world: World) -> None:
    """CPU and memory of the local service, as `docker stats` gives them for a container."""
    target = world.target()
    assert target.stats() == []  # nothing runs yet
    assert deploy(target, world.release("0.1.0", "v1")).ok
    pid = target.status().pid
    first = target.stats()
    assert len(first) == 1 and first[0].cpu is None  # psutil needs two readings
    assert first[0].id == str(pid) and "v0.1.0" in first[0].name
    assert first[0].memory > 1 << 20 and first[0].pids in (1, 2)  # the shell, maybe
    assert first[0].memory_limit == psutil.virtual_memory().total
    for _ in range(50):
        world.get()
    again = target.stats()
    assert again[0].cpu is not None and again[0].cpu > 0
    target.stop(Sink())
    assert target.stats() == []


def test_a_port_held_by_a_stranger_names_the_process(world: World) -> None:
    """First deploy, the environment's port already taken: the refusal says by what, as
    a user asks next (``lsof -i :PORT``), the program by its name and its pid."""
    stranger = Stranger(world.port)
    try:
        target = world.target()
        result = deploy(target, world.release("0.1.0", "idle", "idle"))
        assert not result.ok
        said = f"port {world.port} is in use by a process shipdeck did not start: "
        assert said in result.message, result.message
        program = Path(sys.executable).name
        assert f"{program} -c import sys" in result.message, result.message
        assert f"(pid {stranger.proc.pid})" in result.message, result.message
        assert procs_under(world.root) == []  # nothing was started
    finally:
        stranger.close()
