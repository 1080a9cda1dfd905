"""The metrics pane shows what its data says after any sequence of samples and resizes.

Its sections are Line-API stacks (widgets/ops/chart_stack.py) that keep drawn rows
and strips between samples and repaint only the lines they think moved; a line
they forget to repaint stays stale on screen. Each generated case is a run of
samples (host values, probes coming, going, failing and slowing, an alert on and
off), environments coming and going, and terminal resizes; after every step the
screen as Textual would paint it now (its compositor, through each widget's line
cache) must read, line for line, as the stacks' rows drawn afresh.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipdeck.lifecycle.alerts import Alert, History
from shipdeck.lifecycle.ports import HostSample, ProbeResult
from shipdeck.widgets.ops.chart_stack import ChartStack
from shipdeck.widgets.ops.metrics import MetricsPane
from tests.tui.host import PaneApp
from tests.tui.test_metrics_charts import local_stats

pytestmark = pytest.mark.slow  # Pilot runs of generated cases

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
PROBES = ("staging", "api", "a-probe-with-a-name-longer-than-the-gutter")
ENVS = ("staging", "production")

percent = st.floats(0, 100, allow_nan=False)
probe = st.tuples(
    st.sampled_from(PROBES),
    st.booleans(),  # ok
    st.booleans(),  # slow
    st.floats(0.5, 3000, allow_nan=False),
)
sample = st.tuples(
    st.just("sample"),
    percent,
    percent,
    st.floats(0, 5e7, allow_nan=False),
    st.lists(probe, max_size=3, unique_by=lambda p: p[0]),
    st.booleans(),  # a cpu alert open
)
envs = st.tuples(
    st.just("envs"), st.lists(st.tuples(st.sampled_from(ENVS), percent), unique_by=lambda e: e[0])
)
resize = st.tuples(st.just("resize"), st.integers(40, 220), st.integers(10, 70))
STEPS = st.lists(st.one_of(sample, sample, envs, resize), min_size=1, max_size=10)


def _screen_mismatches(app: PaneApp, pane: MetricsPane) -> list[str]:
    """Lines of a stack on screen that differ from its rows drawn afresh."""
    strips = app.screen._compositor.render_strips()
    visible = pane.content_region
    found = []
    for stack in pane.query(ChartStack):
        if not stack.display or not stack.region:
            continue
        region = stack.region
        fresh = stack.plain_lines()
        for y in range(region.y, region.bottom):
            if not visible.y <= y < visible.bottom or y >= len(strips):
                continue
            shown = strips[y].crop(region.x, region.right).text
            want = fresh[y - region.y] if y - region.y < len(fresh) else ""
            if shown.rstrip() != want.rstrip():
                found.append(
                    f"#{stack.id} line {y - region.y}:\n  on screen {shown!r}\n  drawn {want!r}"
                )
    return found


async def _run(steps: list[tuple[object, ...]]) -> None:
    pane = MetricsPane(tz=UTC, interval=1.0)
    app = PaneApp(pane)
    host_history, probe_history = History(60), History(60)
    async with app.run_test(size=(120, 40)) as pilot:
        for step in steps:
            if step[0] == "resize":
                _, width, height = step
                await pilot.resize_terminal(width, height)  # type: ignore[arg-type]
            elif step[0] == "envs":
                pane.show_containers([local_stats(cpu, env=name) for name, cpu in step[1]], {})  # type: ignore[attr-defined]
            else:
                _, cpu, memory, net, probes, alerting = step
                for key, value in (("cpu", cpu), ("memory", memory), ("disk", 40.0)):
                    host_history.add(key, value)  # type: ignore[arg-type]
                host_history.add("net_recv", net)  # type: ignore[arg-type]
                host_history.add("net_sent", net / 3)  # type: ignore[operator]
                results = []
                for name, ok, slow, latency in probes:  # type: ignore[attr-defined]
                    probe_history.add(name, latency if ok else None)
                    error = None if ok else "ConnectError: [Errno 111] Connection refused"
                    results.append(
                        ProbeResult(
                            name,
                            "http://x/health",
                            ok,
                            200 if ok else None,
                            latency,
                            error=error,
                            slow=slow,
                        )
                    )
                now = HostSample(cpu=cpu, memory=memory, disk=40.0, net_recv=net, net_sent=net / 3)  # type: ignore[arg-type]
                active = [Alert("AL-1", "cpu", cpu, 90.0, "cpu high", T0)] if alerting else []  # type: ignore[arg-type]
                pane.show_sample(now, results, host_history, probe_history, active)
            await pilot.pause()
            await pilot.pause()  # the pane's refit runs after a refresh
            mismatches = _screen_mismatches(app, pane)
            assert not mismatches, f"after {step!r}:\n" + "\n".join(mismatches[:4])


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=STEPS)
def test_the_metrics_pane_shows_its_data_after_any_samples_and_resizes(
    steps: list[tuple[object, ...]],
) -> None:
    asyncio.run(_run(steps))
