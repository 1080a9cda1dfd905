"""Deadline benchmark: how long calls that must end by a deadline, a cancel or a signal
take to end, and how long the calls that must never block take.

The tests prove each of these ends (tests/faults/test_slow_endpoints.py,
tests/integration/test_process.py, test_probe.py, test_local_target.py,
tests/tui/test_log_view.py, tests/unit/test_metrics.py) without timing anything, so a
loaded machine never fails them. The figures they used to assert live here instead:
measured, printed as one JSON object, never asserted. ``budget_s`` is the bound the
test once asserted and ``within_budget`` compares with it, for a reader's convenience.

Run ``python benchmarks/deadlines.py`` (``--quick`` skips the demo-repository part,
``shipdeck restart`` ended by SIGINT/SIGTERM, which deploys a real service first).
Figures are medians of ``--runs`` repeats (3; 1 with ``--quick``), in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shipdeck.backends.local.runner import LocalProcessRunner
from shipdeck.backends.metrics import HostMetrics
from shipdeck.backends.notify import WebhookNotifier
from shipdeck.backends.probe import HttpProber, wait_healthy
from shipdeck.lifecycle.ports import CancelToken
from tests.faults.servers import FaultServer, full_backlog

ROOT = Path(__file__).resolve().parent.parent
PY = shlex.quote(sys.executable)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def seconds(call: Callable[[], object]) -> float:
    start = time.monotonic()
    call()
    return time.monotonic() - start


def figure(samples: list[float], budget: float | None = None) -> dict[str, Any]:
    median = statistics.median(samples)
    out: dict[str, Any] = {"median_s": round(median, 3), "max_s": round(max(samples), 3)}
    if budget is not None:
        out["budget_s"] = budget
        out["within_budget"] = max(samples) < budget
    return out


def repeat(runs: int, call: Callable[[], object], budget: float | None = None) -> dict[str, Any]:
    return figure([seconds(call) for _ in range(runs)], budget)


@contextmanager
def fault_server() -> Iterator[FaultServer]:
    """The misbehaving loopback server of the fault tests (drip, silent, huge, ...)."""
    other = FaultServer()
    srv = FaultServer(other_port=other.port)
    try:
        yield srv
    finally:
        srv.close()
        other.close()


def cancelled_after(delay: float, call: Callable[[CancelToken], object]) -> float:
    """Seconds from the cancel to ``call`` returning."""
    token = CancelToken()
    threading.Timer(delay, token.cancel).start()
    return seconds(lambda: call(token)) - delay


def probes(runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with fault_server() as fault, full_backlog() as backlog, HttpProber() as prober:
        for path in ("drip", "drip-body", "silent"):
            url = f"{fault.url}/{path}"
            out[f"probe_1s_deadline_{path}"] = repeat(
                runs, lambda u=url: prober.probe("p", u, 1.0, 300), 1.5
            )
        out["probe_1s_deadline_full_backlog"] = repeat(
            runs, lambda: prober.probe("p", backlog, 1.0, 300), 1.5
        )
        for path in ("drip", "drip-body", "silent", "huge-fail", "away"):
            url = f"{fault.url}/{path}"
            out[f"wait_healthy_2s_timeout_{path}"] = repeat(
                runs, lambda u=url: prober.wait_healthy(u, timeout=2, interval=0.2), 2.5
            )
        for path in ("drip", "silent"):
            url = f"{fault.url}/{path}"
            out[f"health_wait_ends_after_cancel_{path}"] = figure(
                [
                    cancelled_after(0.5, lambda c, u=url: wait_healthy(u, 30, 0.5, cancel=c))
                    for _ in range(runs)
                ],
                0.3,
            )
        out["health_wait_ends_after_cancel_full_backlog"] = figure(
            [
                cancelled_after(0.5, lambda c: wait_healthy(backlog, 30, 0.5, cancel=c))
                for _ in range(runs)
            ],
            0.3,
        )
        out["probe_of_a_10gb_body"] = repeat(
            runs, lambda: prober.probe("p", f"{fault.url}/huge", 2, 10_000), 1.0
        )
        out["wait_healthy_3s_on_a_10gb_500"] = repeat(
            runs,
            lambda: prober.wait_healthy(f"{fault.url}/huge-fail", timeout=3, interval=0.01),
            3.5,
        )
    return out


def webhooks(runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    send, report, close = [], [], []
    with fault_server() as fault:
        for _ in range(runs):
            got = threading.Event()
            hook = WebhookNotifier(
                f"{fault.url}/silent", timeout=1, project="p", on_failure=lambda _f, g=got: g.set()
            )
            start = time.monotonic()
            hook.send({"type": "deployed", "env": "staging"})
            send.append(time.monotonic() - start)
            got.wait(30)
            report.append(time.monotonic() - start)
            close.append(seconds(lambda h=hook: h.close(1.0)))
        out["webhook_send_to_a_stuck_server"] = figure(send, 0.05)
        out["webhook_failure_reported_after_send_1s_timeout"] = figure(report, 1.5)
        out["webhook_close_after_the_failure"] = figure(close, 1.2)
        twenty, closing = [], []
        for _ in range(runs):
            hook = WebhookNotifier(f"{fault.url}/silent", timeout=5, queue_size=5)
            twenty.append(
                seconds(
                    lambda h=hook: [
                        h.send({"type": "deployed", "version": f"0.{n}.0"}) for n in range(20)
                    ]
                )
            )
            closing.append(seconds(lambda h=hook: h.close(1.0)))
        out["webhook_20_sends_into_a_full_queue"] = figure(twenty, 1.0)
        out["webhook_close_1s_with_one_in_flight_and_5_queued"] = figure(closing, 1.2)
    return out


def processes(runs: int) -> dict[str, Any]:
    def run(command: str, **kw: Any) -> Any:
        return LocalProcessRunner(grace=kw.pop("grace", 0.5)).run(
            command,
            cwd=str(ROOT),
            env=ENV,
            sink=kw.pop("sink", lambda _lines: None),
            cancel=kw.pop("cancel", CancelToken()),
            **kw,
        )

    huge = "import sys; sys.stdout.write('x' * 5_000_000 + 'y\\nafter')"
    tree = "(sleep 300 & sleep 300 & sleep 0.1; echo ready; wait) & wait"

    def cancel_when_ready(command: str, grace: float) -> float:
        token = CancelToken()
        at: list[float] = []

        def sink(lines: Any) -> None:
            if any(li.text == "ready" for li in lines) and not at:
                at.append(time.monotonic())
                token.cancel()

        run(command, grace=grace, sink=sink, cancel=token)
        return time.monotonic() - at[0]

    cleanup = "trap 'sleep 0.2; echo cleaned up; exit 0' TERM"
    side_by_side = []
    for _ in range(runs):
        threads = [threading.Thread(target=run, args=("sleep 0.3",)) for _ in range(4)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        side_by_side.append(time.monotonic() - start)
    return {
        "step_writing_a_5mb_line": repeat(runs, lambda: run(f"{PY} -c {shlex.quote(huge)}"), 5),
        "step_whose_child_holds_stdout_ends_with_its_shell": repeat(
            runs, lambda: run("sleep 300 & echo done"), 2
        ),
        "cancelled_tree_ends_after_sigterm": figure(
            [cancel_when_ready(tree, 0.5) for _ in range(runs)], 2
        ),
        "cancelled_tree_that_ignores_sigterm_ends_after_the_0.5s_grace": figure(
            [cancel_when_ready("trap '' TERM; " + tree, 0.5) for _ in range(runs)], 3
        ),
        "cancelled_tree_that_cleans_up_ends_before_its_3s_grace": figure(
            [
                cancel_when_ready(f"({cleanup}; sleep 300 & sleep 0.1; echo ready; wait) & wait", 3)
                for _ in range(runs)
            ],
            2,
        ),
        "run_with_a_1s_timeout": repeat(runs, lambda: run(tree, timeout=1.0), 3),
        "four_0.3s_steps_side_by_side": figure(side_by_side, 1.5),
    }


def local_target(runs: int) -> dict[str, Any]:
    """A release that crashes at start: the deploy fails on the exit, not the health wait."""
    from tests.integration.test_local_target import World, deploy

    samples = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            world = World(Path(tmp))
            target = world.target(health_timeout=2)
            try:
                deploy(target, world.release("0.1.0", "v1"))
                broken = world.release("0.2.0", "v2", "crash")
                samples.append(seconds(lambda t=target, b=broken: deploy(t, b)))
            finally:
                target.stop(lambda _lines: None)
    return {"deploy_of_a_release_that_crashes_at_start": figure(samples, 2)}


def in_process(runs: int) -> dict[str, Any]:
    metrics = HostMetrics(str(ROOT))
    return {
        "host_metrics_two_samples": repeat(runs, lambda: (metrics.sample(), metrics.sample()), 1),
        "log_view_5mb_line_written_wrapped_searched": figure(
            [asyncio.run(log_view_5mb_line()) for _ in range(runs)], 3
        ),
    }


async def log_view_5mb_line() -> float:
    from shipdeck.widgets.log.pane import LogPane
    from tests.tui.host import PaneApp
    from tests.tui.log_helpers import SIZE, out, settle

    app = PaneApp(LogPane())
    async with app.run_test(size=SIZE) as pilot:
        view = app.pane.log_view
        start = time.monotonic()
        view.write_lines(out("y" * 5_000_000, "after"))
        await settle(pilot, view)
        await pilot.press("w")
        await settle(pilot, view)
        view.search("after")
        await settle(pilot, view)
        await pilot.press("w", "home", "end")
        await settle(pilot, view)
        return time.monotonic() - start


def restart_signals(runs: int) -> dict[str, Any]:
    """``shipdeck restart`` on the demo, its health url drip-fed: exit after the signal."""
    from tests.faults.test_slow_endpoints import Deployed, Run
    from tests.helpers import shipdeck

    out: dict[str, Any] = {}
    fault = FaultServer()
    with tempfile.TemporaryDirectory() as tmp:
        made = shipdeck("demo", "demo", "--no-open", "--no-docker", cwd=Path(tmp))
        assert made.returncode == 0, made.stderr
        repo = Path(tmp) / "demo"
        config = repo / "shipdeck.yaml"
        config.write_text(config.read_text() + f'notify:\n  webhook: "{fault.url}/silent"\n')
        advance = Run(repo, "advance", "SD-1", "--to", "deploy", "--env", "staging")
        start = time.monotonic()
        code = advance.wait(240)
        out["advance_to_deploy_with_a_webhook_that_never_answers"] = {
            "exit_code": code,
            "seconds": round(time.monotonic() - start, 2),
        }
        world = Deployed(repo, fault, advance, code)
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                samples = []
                for _ in range(runs):
                    world.set_health(f"{fault.url}/drip")
                    run = Run(repo, "restart", "staging")
                    run.seen("waiting for", 60)
                    time.sleep(1.0)
                    run.proc.send_signal(signum)
                    samples.append(seconds(lambda r=run: r.wait(30)))
                    world.set_health("http://127.0.0.1:{port}/health")
                    shipdeck("stop", "staging", cwd=repo, timeout=30)
                name = signal.Signals(signum).name
                out[f"restart_exits_after_{name}"] = figure(samples, 1.0)
        finally:
            world.set_health("http://127.0.0.1:{port}/health")
            shipdeck("stop", "staging", cwd=repo, timeout=60)
            fault.close()
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run each, no demo repository")
    parser.add_argument("--runs", type=int, help="repeats of each figure (3)")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "runs": runs,
    }
    for part in (probes, webhooks, processes, local_target, in_process):
        result[part.__name__] = part(runs)
    if not args.quick:
        result["restart_signals"] = restart_signals(runs)
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
