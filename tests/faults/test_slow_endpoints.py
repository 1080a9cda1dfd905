"""Health checks, probes and webhooks against servers that misbehave on purpose.

Every server here is real and on 127.0.0.1: one that drip-feeds a byte every
0.5 s (in the status line, or in the body), one that sends an endless body
claiming 10 GB, one that accepts and never answers, one whose listen backlog is
full (connects hang), and redirects off the configured host. Each attempt must
end by its deadline, read a few KB at most, and stop at a cancel or a signal.

Nothing here times a call. A stuck server (tests/faults/servers.py) holds a client
far longer than tests.waiting's generous DEADLINE, so a call that returns by then was
ended by its own deadline, cancel or signal (and its error says which). How close to
its deadline each call ends is measured by benchmarks/deadlines.py, on the same servers.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil
import pytest

from shipdeck.backends.local.target import LocalTarget
from shipdeck.backends.notify import WebhookFailure, WebhookNotifier
from shipdeck.backends.probe import MAX_BODY, HttpProber, wait_healthy
from shipdeck.lifecycle.ports import CancelToken, Line, Release
from tests.faults import servers
from tests.faults.servers import FaultServer
from tests.helpers import free_port, processes_under, root_on_path, shipdeck
from tests.waiting import DEADLINE, returns, wait_until

pytestmark = pytest.mark.slow  # misbehaving servers waited out, real deploys and signals


@pytest.fixture
def other() -> Iterator[FaultServer]:
    srv = FaultServer()
    yield srv
    srv.close()


@pytest.fixture
def fault(other: FaultServer) -> Iterator[FaultServer]:
    srv = FaultServer(other_port=other.port)
    yield srv
    srv.close()


@pytest.fixture
def prober() -> Iterator[HttpProber]:
    with HttpProber() as p:
        yield p


@pytest.fixture
def full_backlog() -> Iterator[str]:
    with servers.full_backlog() as url:
        yield url


# --- probes and health waits: deadlines ------------------------------------------------

STUCK = ["drip", "drip-body", "silent"]


@pytest.mark.parametrize("path", STUCK)
def test_a_probe_ends_by_its_deadline(fault: FaultServer, prober: HttpProber, path: str) -> None:
    result = returns(lambda: prober.probe("p", f"{fault.url}/{path}", 1.0, 300), what=path)
    assert not result.ok and result.error == "timed out after 1s"


def test_a_probe_to_a_port_that_never_accepts_ends_by_its_deadline(
    full_backlog: str, prober: HttpProber
) -> None:
    result = returns(lambda: prober.probe("p", full_backlog, 1.0, 300), what="the probe")
    assert result.error == "timed out after 1s"


@pytest.mark.parametrize("path", [*STUCK, "huge-fail", "away"])
def test_wait_healthy_ends_by_its_overall_timeout(
    fault: FaultServer, prober: HttpProber, path: str
) -> None:
    result = returns(
        lambda: prober.wait_healthy(f"{fault.url}/{path}", timeout=2, interval=0.2), what=path
    )
    assert not result.ok
    assert result.error.startswith("not healthy after 2s")


@pytest.mark.parametrize("path", ["drip", "silent"])
def test_a_cancel_ends_a_blocked_health_wait_within_a_tick(fault: FaultServer, path: str) -> None:
    cancel = CancelToken()
    timer = threading.Timer(0.5, cancel.cancel)
    timer.start()
    # Its own timeout is far beyond the deadline on the call: only the cancel ends it.
    result = returns(lambda: wait_healthy(f"{fault.url}/{path}", 600, 0.5, cancel=cancel))
    timer.join()
    assert result.error == "cancelled"


def test_a_cancel_ends_a_hanging_connect_within_a_tick(full_backlog: str) -> None:
    cancel = CancelToken()
    timer = threading.Timer(0.5, cancel.cancel)
    timer.start()
    result = returns(lambda: wait_healthy(full_backlog, 600, 0.5, cancel=cancel))
    timer.join()
    assert result.error == "cancelled"


# --- redirects -------------------------------------------------------------------------


def test_a_redirect_off_the_configured_port_is_refused(
    fault: FaultServer, other: FaultServer, prober: HttpProber
) -> None:
    result = prober.probe("p", f"{fault.url}/away", 2, 300)
    assert not result.ok and result.status == 302
    assert result.error == f"redirected off {fault.url} to {other.url}"
    assert other.requests == []


def test_a_redirect_off_the_configured_host_is_refused(
    fault: FaultServer, prober: HttpProber
) -> None:
    result = prober.probe("p", f"{fault.url}/evil", 2, 300)
    assert result.error == f"redirected off {fault.url} to http://evil.invalid:80"


def test_same_origin_redirects_are_followed_three_times_at_most(
    fault: FaultServer, prober: HttpProber
) -> None:
    assert prober.probe("p", f"{fault.url}/hop", 2, 300).status == 200
    looped = prober.probe("p", f"{fault.url}/loop", 2, 300)
    assert not looped.ok and looped.error == "too many redirects (more than 3)"
    assert [p for _m, p in fault.requests].count("/loop") == 4


# --- a 10 GB body -----------------------------------------------------------------------


class PeakRss:
    """The largest RSS of this process, sampled every 20 ms while in the block."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.before = self.peak = self.proc.memory_info().rss
        self._done = threading.Event()

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.before) / 1e6


def test_a_10gb_body_is_read_4kb_at_a_time_and_rss_stays_flat(
    fault: FaultServer, prober: HttpProber, capsys: pytest.CaptureFixture[str]
) -> None:
    with PeakRss() as rss:
        ok = returns(lambda: prober.probe("p", f"{fault.url}/huge", 2, 10_000))
        failed = returns(
            lambda: prober.wait_healthy(f"{fault.url}/huge-fail", timeout=3, interval=0.01)
        )
        with WebhookNotifier(f"{fault.url}/huge", timeout=2) as hook:
            assert hook.deliver({"type": "deployed"}) is None
    attempts = [p for _m, p in fault.requests].count("/huge-fail")
    assert ok.ok
    assert not failed.ok and "HTTP 500" in failed.error
    assert failed.error.startswith("not healthy after 3s")
    assert attempts >= 10
    assert rss.growth_mb < 50, f"RSS grew {rss.growth_mb:.1f} MB"
    # what the server got into the sockets' kernel buffers before each close, not what was read
    per_connection = fault.sent / (attempts + 2)
    assert per_connection < 32e6
    with capsys.disabled():
        print(
            f"\n10 GB bodies: {attempts + 2} attempts, RSS +{rss.growth_mb:.1f} MB "
            f"(peak), <= {MAX_BODY} B read each; {per_connection / 1e6:.1f} MB per connection "
            "reached the socket buffers before the close"
        )


# --- webhooks ----------------------------------------------------------------------------


class Failures:
    """The failures a notifier reports. With ``after``, each report first waits for that
    event (set by the test once ``send`` returned) and notes whether it came: a ``send``
    that waited for its POST would be waiting for its own report, and note False."""

    def __init__(self, after: threading.Event | None = None) -> None:
        self.got: queue.Queue[WebhookFailure] = queue.Queue()
        self.after = after
        self.after_send: list[bool] = []

    def __call__(self, failure: WebhookFailure) -> None:
        if self.after is not None:
            self.after_send.append(self.after.wait(DEADLINE))
        self.got.put(failure)

    def next(self, timeout: float = DEADLINE) -> WebhookFailure:
        return self.got.get(timeout=timeout)


@pytest.mark.parametrize("path", STUCK)
def test_a_stuck_webhook_never_delays_send_and_its_failure_is_reported(
    fault: FaultServer, path: str
) -> None:
    sent = threading.Event()
    failures = Failures(after=sent)
    hook = WebhookNotifier(f"{fault.url}/{path}", timeout=1, project="p", on_failure=failures)
    try:
        hook.send({"type": "deployed", "env": "staging"})
        sent.set()
        failure = failures.next()
    finally:
        returns(lambda: hook.close(1.0), what="close")
    assert failures.after_send == [True]  # send() returned before its POST had ended
    assert failure.error == "timed out after 1s"
    assert failure.attempts == 1  # a timeout is not retried: the POST may have arrived
    assert failure.journal_data() == {
        "event": "deployed",
        "env": "staging",
        "error": "timed out after 1s",
        "attempts": 1,
        "webhook": fault.url,
    }


def test_a_refused_webhook_is_retried_with_backoff_then_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sent = threading.Event()
    failures = Failures(after=sent)
    with WebhookNotifier(
        f"http://127.0.0.1:{port}/hook", timeout=1, on_failure=failures, backoff=0.05
    ) as hook:
        hook.send({"type": "deployed", "item": "SD-3"})
        sent.set()
        failure = failures.next()
    assert failures.after_send == [True]  # the retries ran after send() had returned
    assert (failure.error, failure.attempts, failure.item) == ("connection refused", 4, "SD-3")
    assert failure.webhook == f"http://127.0.0.1:{port}"


def test_a_5xx_webhook_is_retried_3_times(fault: FaultServer) -> None:
    failures = Failures()
    with WebhookNotifier(f"{fault.url}/fail", on_failure=failures, backoff=0.05) as hook:
        hook.send({"type": "deployed"})
        failure = failures.next()
    assert (failure.error, failure.attempts) == ("HTTP 500", 4)
    assert fault.requests == [("POST", "/fail")] * 4


def test_a_webhook_redirect_is_not_followed(fault: FaultServer, other: FaultServer) -> None:
    failures = Failures()
    with WebhookNotifier(f"{fault.url}/away", on_failure=failures) as hook:
        hook.send({"type": "deployed"})
        failure = failures.next()
    assert (failure.error, failure.attempts) == ("HTTP 302 (redirects are not followed)", 1)
    assert other.requests == []


def test_a_full_webhook_queue_drops_the_oldest_and_says_so(fault: FaultServer) -> None:
    failures = Failures()
    # A POST times out after 600 s and the server never answers: only close() can end the
    # one in flight before the deadline on the wait for its report.
    hook = WebhookNotifier(f"{fault.url}/silent", timeout=600, on_failure=failures, queue_size=5)
    for n in range(20):  # a full queue drops the oldest: send() never waits for room
        hook.send({"type": "deployed", "version": f"0.{n}.0"})
    assert hook.dropped >= 14
    dropped = [failures.next() for _ in range(hook.dropped)]
    assert all(f.error == "dropped: 5 newer events were waiting" for f in dropped)
    assert dropped[-1].event["version"] in ("0.13.0", "0.14.0")
    returns(lambda: hook.close(1.0), what="close")  # the one in flight is cancelled
    rest = [failures.next() for _ in range(20 - hook.dropped)]  # queued, or in flight
    assert {f.event["version"] for f in rest} >= {f"0.{n}.0" for n in range(15, 20)}
    assert all(f.error.startswith("not delivered before the notifier closed") for f in rest)
    assert hook.failed == 20


# --- a deploy of the local target with a faulty health url -------------------------------

SERVICE = """\
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


class FlipOnRollback:
    """A sink that makes the health url good again once the deploy starts rolling back."""

    def __init__(self, fault: FaultServer) -> None:
        self.fault = fault
        self.lines: list[Line] = []

    def __call__(self, batch: Sequence[Line]) -> None:
        self.lines.extend(batch)
        if any("rolling back" in line.text for line in batch):
            self.fault.mode = "ok"

    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["drip", "drip-body", "silent", "huge-fail", "away"])
def test_a_deploy_with_a_faulty_health_url_rolls_back_in_time(
    tmp_path: Path, fault: FaultServer, mode: str
) -> None:
    port = free_port()
    health_timeout = 2.0
    target = LocalTarget(
        "staging",
        root=tmp_path,
        command=f"{shlex.quote(sys.executable)} service.py {port}",
        port=port,
        health_url=f"{fault.url}/switch",
        health_timeout=health_timeout,
        health_interval=0.1,
        grace=3,
    )

    def release(version: str) -> Release:
        workdir = tmp_path / ".shipdeck" / "releases" / version
        workdir.mkdir(parents=True)
        (workdir / "service.py").write_text(SERVICE)
        return Release(version, "0" * 40, f"v{version}", workdir=str(workdir))

    try:
        assert target.deploy(release("0.1.0"), FlipOnRollback(fault), CancelToken()).ok
        fault.mode = mode
        sink = FlipOnRollback(fault)
        result = returns(lambda: target.deploy(release("0.2.0"), sink, CancelToken()), what=mode)
        assert not result.ok, sink.text()
        assert result.rolled_back_to == "0.1.0", sink.text()
        assert "health check failed: not healthy after 2s" in sink.text()
        assert target.status().version == "0.1.0"
    finally:
        target.stop(FlipOnRollback(fault))


# --- the real command: SIGINT/SIGTERM end `shipdeck restart` at once ----------------------


class Run:
    """A ``shipdeck`` subprocess whose stdout lines are read as they arrive."""

    def __init__(self, repo: Path, *args: str) -> None:
        env = root_on_path(os.environ)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shipdeck", *args],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr = ""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def stdout(self) -> str:
        return "".join(self.lines)

    def seen(self, text: str, timeout: float) -> None:
        """Wait (up to ``timeout``) for a stdout line containing ``text``."""

        def found() -> bool:
            return any(text in line for line in list(self.lines))

        wait_until(lambda: found() or not self._reader.is_alive(), timeout, interval=0.02)
        assert found(), f"no {text!r} in the output:\n{self.stdout}"

    def wait(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()
        return code


class Deployed:
    def __init__(self, repo: Path, fault: FaultServer, advance: Run, code: int) -> None:
        self.repo = repo
        self.fault = fault
        self.advance = advance
        self.advance_code = code

    def journal(self) -> list[dict[str, object]]:
        path = self.repo / ".shipdeck" / "journal.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def set_health(self, url: str) -> None:
        config = self.repo / "shipdeck.yaml"
        text = re.sub(r'health: \{url: "[^"]*"', f'health: {{url: "{url}"', config.read_text())
        config.write_text(text)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """The demo, its webhook on a server that never answers, SD-1 deployed to staging."""
    tmp = tmp_path_factory.mktemp("faults")
    fault = FaultServer()
    made = shipdeck("demo", "demo", "--no-open", "--no-docker", cwd=tmp)
    assert made.returncode == 0, made.stderr
    repo = tmp / "demo"
    config = repo / "shipdeck.yaml"
    config.write_text(config.read_text() + f'notify:\n  webhook: "{fault.url}/silent"\n')
    advance = Run(repo, "advance", "SD-1", "--to", "deploy", "--env", "staging")
    code = advance.wait(240)
    world = Deployed(repo, fault, advance, code)
    try:
        yield world
    finally:
        world.set_health("http://127.0.0.1:{port}/health")
        shipdeck("stop", "staging", cwd=repo)
        fault.close()
        left = processes_under(tmp)
        for proc in left:
            proc.kill()
        assert not left, f"processes left behind: {[p.cmdline() for p in left]}"


@pytest.mark.slow
def test_a_webhook_that_never_answers_does_not_hold_the_deploy(deployed: Deployed) -> None:
    """Neither the deploy nor the exit waits for the webhook's 5 s timeout: had either
    waited, its POST would have failed "timed out after 5s"; it was still in flight when
    the process closed the notifier at exit, and is journaled so."""
    advance = deployed.advance
    assert deployed.advance_code == 0, advance.stdout + advance.stderr
    assert re.search(r"SD-1: Deploy passed in [0-9.]+s", advance.stdout), advance.stdout
    advance.seen("SD-1 is in Deploy (passed)", 0)
    item = json.loads(shipdeck("item", "show", "SD-1", "--json", cwd=deployed.repo).stdout)
    assert item["stage"] == "deploy" and item["states"]["deploy"]["state"] == "passed"
    failed = [e for e in deployed.journal() if e["type"] == "webhook.failed"]
    assert len(failed) == 1, "the undelivered webhook was not journaled"
    assert failed[0]["event"] == "deployed" and failed[0]["env"] == "staging"
    assert failed[0]["item"] == "SD-1"
    assert str(failed[0]["error"]).startswith("not delivered before the notifier closed")
    assert failed[0]["webhook"] == deployed.fault.url  # never the path: it may hold a token
    assert ("POST", "/silent") in deployed.fault.requests


def _restart_then_signal(deployed: Deployed, signum: int) -> tuple[int, Run]:
    """``shipdeck restart staging`` with the health url drip-fed; the signal 1 s into the wait.

    Had the signal not ended the wait, its health timeout (20 s) would: exit code 1."""
    deployed.set_health(f"{deployed.fault.url}/drip")
    run = Run(deployed.repo, "restart", "staging")
    try:
        run.seen("waiting for", DEADLINE)
        time.sleep(1.0)
        assert run.proc.poll() is None, "restart ended before the signal:\n" + run.stdout
        run.proc.send_signal(signum)
    finally:
        code = run.wait(DEADLINE)
    return code, run


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_restart_within_a_second(deployed: Deployed, signum: int) -> None:
    code, run = _restart_then_signal(deployed, signum)
    out, err = run.stdout, run.stderr
    assert code == 130, out + err
    assert "Traceback" not in err and "Traceback" not in out
    assert err.strip().endswith("interrupted"), err
    assert "interrupted" in out  # the health wait says why it stopped
    # the environment's lock is free again: the next operation need not wait
    stop = shipdeck("stop", "staging", cwd=deployed.repo, timeout=30)
    assert stop.returncode == 0, stop.stderr
