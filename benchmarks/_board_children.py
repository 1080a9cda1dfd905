"""Idle children for ``benchmarks/board.py``, and the board app subclass it shares.

``python benchmarks/_board_children.py idle MODE REPO SECONDS WARMUP`` runs one app
headless and prints one JSON line when it exits. MODE is

- ``metrics``: the board with the metrics pane shown (``m``), sampling at the
  config's ``monitor.interval``;
- ``logs``: the board as it opens, the log pane shown and metrics never shown;
- ``toggled``: the metrics pane shown at start, the log pane shown again after
  one second, so sampling has to stop;
- ``minimal``: a minimal Textual app (a Static and a Footer), the baseline.

After WARMUP seconds (the first sample imports psutil and httpx and reads the
journal) the child records its CPU time (user + system, all threads: what psutil's
``cpu_times`` reports), runs SECONDS more, records again and exits.
``Sampler.sample`` is wrapped to count samples (in the window and since start), their
alerts and the CPU they took on their worker thread (``sampling_cpu_s``; the rest of
``cpu_s`` is the UI), and ``Screen._compositor_refresh`` to count frames painted.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = (120, 40)


def board_app_class() -> type:
    """ShipdeckApp, unchanged but for its stylesheet path (relative paths resolve
    next to the subclass's own file, so it is made absolute)."""
    from shipdeck.tui.app import ShipdeckApp

    class BenchBoard(ShipdeckApp):
        CSS_PATH = str(ROOT / "tui" / "app.tcss")

    return BenchBoard


class Counters:
    samples = 0
    sample_seconds = 0.0
    sample_cpu = 0.0
    alerts = 0
    frames = 0
    last_probes: list[dict[str, Any]] = []


def _count_samples() -> None:
    from shipdeck.lifecycle.sampling import Sampler

    original = Sampler.sample

    def sample(self: Any) -> Any:
        t0, cpu0 = time.perf_counter(), time.thread_time()
        try:
            out = original(self)
        finally:
            Counters.samples += 1
            Counters.sample_seconds += time.perf_counter() - t0
            Counters.sample_cpu += time.thread_time() - cpu0
        Counters.alerts += len(out.alerts)
        Counters.last_probes = [
            {"name": p.name, "ok": p.ok, "latency_ms": p.latency_ms, "error": p.error}
            for p in out.probes
        ]
        return out

    Sampler.sample = sample  # type: ignore[method-assign]


def _count_frames() -> None:
    from textual.screen import Screen

    original = Screen._compositor_refresh

    def refresh(self: Any) -> None:
        Counters.frames += 1
        original(self)

    Screen._compositor_refresh = refresh  # type: ignore[method-assign]


def cpu_seconds() -> float:
    """User + system CPU of this process, all threads (ns resolution; ``os.times()``
    and psutil's ``cpu_times()`` count the same in 10 ms ticks)."""
    return time.process_time()


def run_idle(mode: str, repo: Path, seconds: float, warmup: float) -> dict[str, Any]:
    _count_frames()
    result: dict[str, Any] = {"mode": mode}
    window: dict[str, float] = {}

    def start_window() -> None:
        window.update(
            t=time.monotonic(),
            cpu=cpu_seconds(),
            samples=Counters.samples,
            sample_cpu=Counters.sample_cpu,
            alerts=Counters.alerts,
            frames=Counters.frames,
        )
        app.set_timer(seconds, end_window)

    def end_window() -> None:
        wall = time.monotonic() - window["t"]
        cpu = cpu_seconds() - window["cpu"]
        samples = Counters.samples - window["samples"]
        result.update(
            window_s=round(wall, 3),
            cpu_s=round(cpu, 4),
            cpu_percent_of_core=round(100 * cpu / wall, 3),
            samples_in_window=samples,
            samples_per_s=round(samples / wall, 3),
            samples_total=Counters.samples,
            mean_sample_ms=round(1000 * Counters.sample_seconds / max(1, Counters.samples), 2),
            sampling_cpu_s=round(Counters.sample_cpu - window["sample_cpu"], 4),
            alerts_in_window=Counters.alerts - window["alerts"],
            frames_in_window=Counters.frames - window["frames"],
            threads_at_end=_threads(),
        )
        if mode != "minimal":
            result["metrics_pane_showing"] = app.board.query_one("#metrics-pane").showing
            result["last_probes"] = Counters.last_probes
        app.exit()

    if mode == "minimal":
        from textual.app import App, ComposeResult
        from textual.widgets import Footer, Static

        class Minimal(App[None]):
            def compose(self) -> ComposeResult:
                yield Static("hello")
                yield Footer()

            def on_ready(self) -> None:
                self.set_timer(warmup, start_window)

        app: Any = Minimal()
    else:
        _count_samples()
        from shipdeck.project.repo import Project

        class IdleBoard(board_app_class()):  # type: ignore[misc]
            async def on_ready(self) -> None:
                if mode in ("metrics", "toggled"):
                    await self.board.action_show_pane("metrics")
                if mode == "toggled":
                    self.set_timer(1.0, lambda: self.board.action_show_pane("logs"))
                self.set_timer(warmup, start_window)

        app = IdleBoard(Project(repo))
    app.run(headless=True, size=SIZE)
    return result


def _threads() -> int:
    import threading

    return threading.active_count()


def main(argv: list[str]) -> None:
    _, command, mode, repo, seconds, warmup = argv
    assert command == "idle"
    result = run_idle(mode, Path(repo), float(seconds), float(warmup))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
