"""The metrics pane's charts as a user sees them: per-environment rows, full width,
a time axis from the interval, alerts marked on their chart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rich.text import Text

from shipdeck.lifecycle.alerts import Alert, History
from shipdeck.lifecycle.ports import ContainerStats, HostSample, ProbeResult
from shipdeck.widgets.ops.chart import FAIL_MARK
from shipdeck.widgets.ops.chart_stack import ChartModel, ChartStack
from shipdeck.widgets.ops.metrics import MetricsPane
from tests.tui.host import PaneApp

SIZE = (120, 40)
T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def local_stats(cpu: float | None, version: str = "v0.1.0", env: str = "staging") -> ContainerStats:
    return ContainerStats(
        name=f"{env} {version}",
        id="4242",
        cpu=cpu,
        memory=22_000_000,
        memory_limit=16_000_000_000,
        net_rx=0,
        net_tx=0,
        block_read=4096,
        block_write=49152,
        pids=2,
    )


def sample(n: int) -> tuple[HostSample, list[ProbeResult], History, History]:
    host, probes = History(), History()
    for i in range(n):
        host.add("cpu", 40.0 + i % 7)
        host.add("memory", 6.1 if i % 2 else 7.3)
        host.add("disk", 22.0)
        host.add("net_recv", 900.0)
        host.add("net_sent", 300.0)
        probes.add("staging", None if i == n - 2 else 40.0 + i)
    now = HostSample(cpu=46.0, memory=7.3, disk=22.0, net_sent=300.0, net_recv=900.0)
    result = ProbeResult("staging", "http://127.0.0.1:8081/health", True, 200, 40.0 + n)
    return now, [result], host, probes


@pytest.mark.slow  # a Pilot test on the demo repository
async def test_a_local_environment_gets_cpu_and_memory_rows_at_120x40() -> None:
    pane = MetricsPane(tz=UTC, interval=1.0)
    app = PaneApp(pane)
    async with app.run_test(size=SIZE) as pilot:
        for cpu in (None, 2.5, 3.0):
            pane.show_containers([local_stats(cpu)], {})
        host, probes, host_history, probe_history = sample(30)
        pane.show_sample(host, probes, host_history, probe_history, [])
        await pilot.pause()
        rows = pane.env_rows
        assert [r.key for r in rows] == ["staging"]
        env = rows[0]
        # the title, the heading, and two charts as tall as the pane's others
        assert pane.envs.display and pane.envs.region.height == 2 + 2 * pane.chart_height
        lines = pane.envs.plain_lines()
        assert len(lines) == 2 + 2 * pane.chart_height
        assert lines[0].startswith("Environments") and "now" in lines[0]
        assert "staging v0.1.0" in lines[1] and "2 pids" in lines[1]
        cpu_line = lines[2]
        assert "cpu" in cpu_line and "3.0%" in cpu_line and cpu_line.endswith("100%      ")
        memory_line = lines[2 + pane.chart_height]
        assert "memory" in memory_line and "21.0 MB" in memory_line
        assert env.history.series("cpu") == [None, 2.5, 3.0]  # the first reading is a gap
        # A new release of the same environment stays on its chart.
        pane.show_containers([local_stats(4.0, "v0.2.0")], {})
        await pilot.pause()
        assert pane.env_rows == [env] and len(env.history.series("cpu")) == 4
        assert "staging v0.2.0" in pane.envs.plain_lines()[1]
        # The environment going away takes its rows with it.
        pane.show_containers([], {})
        await pilot.pause()
        assert not pane.env_rows and not pane.envs.display


async def test_charts_span_the_width_with_a_time_axis_from_the_interval() -> None:
    pane = MetricsPane(tz=UTC, interval=1.0)
    app = PaneApp(pane)
    async with app.run_test(size=SIZE) as pilot:
        pane.show_sample(*sample(60), [])
        await pilot.pause()
        host = pane.host
        assert host.size.width >= 110
        line = host.plain_lines(pane.host_charts["cpu"])[0]
        assert len(line) == host.size.width
        assert line.startswith("cpu") and "46.0%" in line[:24]  # label and value by the chart
        axis = host.plain_lines()[0]
        assert axis.startswith("Host") and "-1m" in axis and axis.rstrip().endswith("now")
        # 6.1% <-> 7.3% memory stays on the bottom row, an eighth apart: no spike.
        memory = host.plain_lines(pane.host_charts["memory"])
        assert set(memory[-1][25:-11]) <= {"▁", "▂"}
        assert all(not line[25:-11].strip() for line in memory[:-1])
        # A failed probe is a mark, its chart labelled with its top.
        probe = pane.probe_rows[0]
        chart_lines = pane.probes.plain_lines(probe.chart)
        assert FAIL_MARK in chart_lines[-1] and "100 ms" in chart_lines[0]


async def test_an_active_alert_marks_its_chart() -> None:
    pane = MetricsPane(tz=UTC, interval=2.0)
    app = PaneApp(pane)
    async with app.run_test(size=(120, 70)) as pilot:
        host, probes, host_history, probe_history = sample(20)
        for _ in range(5):
            host_history.add("cpu", 95.0)
        alert = Alert("AL-1", "cpu", 95.0, 90.0, "cpu at 95% (threshold 90%)", T0)
        pane.show_sample(host, probes, host_history, probe_history, [alert])
        await pilot.pause()
        cpu, memory = pane.host_charts["cpu"], pane.host_charts["memory"]
        assert cpu.alerting and not memory.alerting
        assert pane.chart_height >= 2  # room for taller charts at 70 rows
        assert pane.host.chart_height == pane.chart_height
        lines = pane.host.plain_lines(cpu)
        assert len(lines) == pane.chart_height
        text = "\n".join(lines)
        assert "AL-1 ≥ 90%" in text  # the threshold, next to the label
        assert "90" in lines[0] or "╌" in text  # threshold line or its value
        # The label and the bars are drawn in the alert colour, as painted on screen.
        top = pane.host.region.y + 1  # the cpu chart's first line, under the title
        label = app.screen.get_style_at(pane.host.region.x, top)
        normal = app.screen.get_style_at(pane.host.region.x, top + pane.chart_height)
        assert label.color != normal.color and label.bold and not normal.bold


async def test_a_chart_repaints_only_when_what_it_draws_changed(monkeypatch) -> None:
    """Memory moving 6.1% -> 6.2% stays in the same eighth of a one-row bar: no repaint;
    6.1% -> 60% and a new value in the gutter each repaint, and only the chart's own
    lines (the compositor renders every widget a repainted line meets)."""
    first, chart = ChartModel("cpu"), ChartModel("memory")
    stack = ChartStack([first, chart])
    app = PaneApp(stack)
    async with app.run_test(size=(80, 5)) as pilot:
        await pilot.pause()
        repaints: list[tuple[object, ...]] = []
        original = ChartStack.refresh

        def counted(self: ChartStack, *regions: object, **kwargs: object) -> ChartStack:
            repaints.append(regions)
            return original(self, *regions, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(ChartStack, "refresh", counted)

        def show(values: list[float], value: str) -> None:
            if chart.set(values, Text(value), high=100.0, scale="100%"):
                stack.changed(chart)

        show([6.1] * 10, "6.1%")
        assert len(repaints) == 1
        await pilot.pause()
        drawn = stack.plain_lines(chart)
        show([6.1] * 9 + [6.2], "6.1%")  # same eighth, same text: nothing to draw
        assert len(repaints) == 1
        assert stack.plain_lines(chart) == drawn
        show([6.1] * 9 + [6.2], "6.2%")  # the gutter's value changed
        assert len(repaints) == 2
        assert [r.y for r in repaints[-1]] == [1]  # the second line: memory's, alone
        show([6.1] * 9 + [60.0], "6.2%")  # a higher bar
        assert len(repaints) == 3
        assert stack.plain_lines(chart) != drawn
        await pilot.pause()
        assert "6.2%" in stack.render_line(1).text  # the strip painted is the new one
        assert "6.1%" not in stack.render_line(1).text
